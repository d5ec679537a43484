"""KFP v2 run pods under Pod Security `restricted`, rendered as Argo would from the built config.

For every case the `workflow-controller-configmap` of the built `kfp` kustomization is read and
the pods of a KFP v2 run (container driver, DAG driver, importer, executor) are assembled the
way Argo's controller does (argoproj/argo-workflows workflow/controller/workflowpod.go at
v3.5.14 and v3.7.3: `createWorkflowPod`, `newExecContainer`, `addInitContainers`,
`addSchedulingConstraints`), from the templates KFP's compiler writes (kubeflow/pipelines
backend/src/v2/compiler/argocompiler at the pinned tag; pinned below). Each pod is then checked
with tests/pod_security.py as the admission controller would. mlplatform.kfp_pod_security
(and the tenant warning built on it) must agree with what these pods show.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from mlplatform import kfp_pod_security, releases
from tests.pod_security import problems
from tests.upstream import CASE_IDS, CASES, needs_cache
from tests.upstream.test_kfp import case

pytestmark = needs_cache
Obj = dict[str, Any]
cases = pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)

RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
# kubeflow/pipelines 2.16.0 security_context.go: defaultContainerSecurityContext (drivers,
# importer, kfp-launcher), defaultUserContainerSecurityContext (the executor's `main`), the
# pod-level defaults of applyPodSecurityDefaults and applyPodSeccompProfileOnly.
HARDENED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": RUNTIME_DEFAULT,
}
USER_CONTAINER = {k: v for k, v in HARDENED.items() if k != "runAsNonRoot"}
POD_HARDENED = {"runAsNonRoot": True, "seccompProfile": RUNTIME_DEFAULT}
POD_SECCOMP = {"seccompProfile": RUNTIME_DEFAULT}
# What the most Argo's configuration can set: `executor` and `mainContainer` securityContext,
# `workflowDefaults.spec.securityContext` (config/config.go Executor, MainContainer,
# WorkflowDefaults at v3.5.14 and v3.7.3).
STRONGEST_ARGO_CONFIG: Obj = {
    "executor": {"securityContext": {**HARDENED, "runAsUser": 65532}},
    "mainContainer": {"securityContext": HARDENED},
    "workflowDefaults": {"spec": {"securityContext": {**POD_HARDENED, "runAsUser": 65532}}},
}
# The pipeline author's part in 2.16 (kfp-kubernetes 2.16.0 set_security_context; the driver
# merges it into `main`, backend/src/v2/driver/k8s.go line 724), as the conformance pipeline
# declares it.
AUTHOR = kfp_pod_security.NON_ROOT_TASK["securityContext"]
# The executor template's emptyDirs (container.go: volumeNameKFPLauncher, *ScratchName).
EXECUTOR_VOLUMES = ("kfp-launcher", "gcs-scratch", "s3-scratch", "minio-scratch")
EXECUTOR_VOLUMES += ("dot-local-scratch", "dot-cache-scratch", "dot-config-scratch")


@dataclass(frozen=True)
class Template:
    """The securityContexts of one KFP-compiled Argo template (None: the compiler sets none)."""

    name: str
    pod: Obj | None = None
    main: Obj | None = None
    init: tuple[tuple[str, Obj | None], ...] = ()
    volumes: tuple[str, ...] = ()
    user_main: bool = False  # `main` runs the component's image (the author's container)


def _templates(
    driver: Obj | None, driver_pod: Obj | None, main: Obj | None, pod: Obj | None
) -> tuple[Template, ...]:
    return (
        Template("system-container-driver", driver_pod, driver),
        Template("system-dag-driver", driver_pod, driver),
        Template("system-importer", driver_pod, driver),
        Template(
            "system-container-impl",
            pod,
            main,
            (("kfp-launcher", driver),),
            EXECUTOR_VOLUMES,
            user_main=True,
        ),
    )


# 2.5.0 / 2.15.0: no securityContext anywhere in argocompiler (container.go driver, executor
# with its `kfp-launcher` init container at 2.5.0 line 383 / 2.15.0 line 495, dag.go, importer.go);
# the Workflow's own securityContext only from PIPELINE_RUN_AS_USER (runAsUser), unset upstream.
KFP_TEMPLATES: dict[str, tuple[Template, ...]] = {
    "2.5.0": _templates(None, None, None, None),
    "2.15.0": _templates(None, None, None, None),
    "2.16.0": _templates(HARDENED, POD_HARDENED, USER_CONTAINER, POD_SECCOMP),
}
WORKFLOW_SECURITY_CONTEXT: dict[str, Obj | None] = {
    "2.5.0": None,
    "2.15.0": None,
    "2.16.0": POD_HARDENED,  # argo.go: wf.Spec.SecurityContext
}


def _merge(base: Obj, patch: Obj) -> Obj:
    """A strategic merge of securityContext-shaped objects (maps merge, lists replace)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def controller_config(c: Any) -> Obj:
    data = c.built("ConfigMap", "workflow-controller-configmap")["data"]
    keys = ("executor", "mainContainer", "workflowDefaults")
    return {k: yaml.safe_load(data[k]) for k in keys if k in data}


def argo_pod(t: Template, config: Obj, workflow: Obj | None, author: Obj | None = None) -> Obj:
    """The pod Argo creates for template `t` under controller `config`."""
    executor = config.get("executor") or {}

    def argo_container(name: str) -> Obj:  # newExecContainer: the executor's securityContext
        c: Obj = {"name": name, "image": "quay.io/argoproj/argoexec"}
        if executor.get("securityContext"):
            c["securityContext"] = copy.deepcopy(executor["securityContext"])
        return c

    main: Obj = {"name": "main", "image": "component"}
    if t.main is not None:
        main["securityContext"] = t.main
    main = _merge(config.get("mainContainer") or {}, main)  # the template wins
    if author and t.user_main:  # the driver's pod-spec-patch, applied last
        main = _merge(main, {"securityContext": author})
    defaults = (config.get("workflowDefaults") or {}).get("spec") or {}
    assert "podSpecPatch" not in defaults, "a workflow podSpecPatch reaches every pod: model it"
    wf = _merge(defaults.get("securityContext") or {}, workflow or {}) or None
    init = [argo_container("init")]
    for name, sc in t.init:
        init.append({"name": name, "image": "kfp", **({"securityContext": sc} if sc else {})})
    volumes = [{"name": v, "emptyDir": {}} for v in ("var-run-argo", "tmp-dir-argo", *t.volumes)]
    spec: Obj = {
        "initContainers": init,
        "containers": [argo_container("wait"), main],
        "volumes": volumes,
    }
    pod_sc = t.pod if t.pod is not None else wf  # the template's, else the Workflow's
    if pod_sc:
        spec["securityContext"] = pod_sc
    return {"metadata": {"name": t.name}, "spec": spec}


def run_problems(version: str, config: Obj, author: Obj | None = None) -> dict[str, list[str]]:
    workflow = WORKFLOW_SECURITY_CONTEXT[version]
    return {
        t.name: p
        for t in KFP_TEMPLATES[version]
        if (p := problems(argo_pod(t, config, workflow, author), "restricted"))
    }


def _version(release: str) -> str:
    return releases.load(release).component("kfp").version


@cases
def test_kfp_runs_pass_restricted_exactly_where_the_platform_says(env, release):
    version = _version(release)
    facts = kfp_pod_security.restricted(version)
    found = run_problems(version, controller_config(case(env, release)), AUTHOR)
    if facts.blocker is None:
        assert found == {}, f"{release}: {found}"
    else:
        assert "system-container-impl" in found, f"{release}: {found}"


@cases
def test_no_argo_setting_reaches_the_kfp_launcher_before_kfp_2_16(env, release):
    version = _version(release)
    found = run_problems(version, STRONGEST_ARGO_CONFIG, AUTHOR)
    if kfp_pod_security.restricted(version).blocker is None:
        assert found == {}
        return
    # Every other container and the pod pass; the compiled init container cannot: the two
    # fields restricted needs that exist on containers only.
    assert found == {
        "system-container-impl": [
            "container kfp-launcher: allowPrivilegeEscalation is not false",
            "container kfp-launcher: capabilities do not drop ALL",
        ]
    }


@cases
def test_kfp_2_16_leaves_only_the_authors_run_as_non_root(env, release):
    version = _version(release)
    if kfp_pod_security.restricted(version).blocker is not None:
        pytest.skip(f"KFP {version}: no run passes restricted (see the test above)")
    found = run_problems(version, controller_config(case(env, release)))
    assert found == {"system-container-impl": ["container main: runAsNonRoot is not true"]}


@cases
def test_argo_executor_settings_are_upstreams(env, release):
    """Our overlay changes only the artifact repository; 26.03's executor is restricted."""
    c = case(env, release)
    built = controller_config(c)
    (upstream,) = [
        o
        for o in c.upstream
        if (o["kind"], o["metadata"]["name"]) == ("ConfigMap", "workflow-controller-configmap")
    ]
    assert built["executor"] == yaml.safe_load(upstream["data"]["executor"])
    assert "mainContainer" not in built and "workflowDefaults" not in built
    executor = {"name": "executor", "image": "argoexec", **built["executor"]}
    hardened = not problems({"spec": {"containers": [executor]}}, "restricted")
    assert hardened is (_version(release) == "2.16.0"), built["executor"]
