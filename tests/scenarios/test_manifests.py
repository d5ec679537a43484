"""Every scenario manifest, for every release: schema-valid, queued, restricted, sized,
policy-clean; and the release-dependent fields follow the catalogue."""

from __future__ import annotations

import pytest

from mlplatform import releases
from mlplatform.kueue_objects import PRIORITY_LABEL, QUEUE_LABEL
from mlplatform.manifests import Obj
from mlplatform.policies.core import View
from mlplatform.policies.registry import evaluate
from mlplatform.scenarios.catalog import (
    notebook_access,
    quota_preemption,
    registry_serving,
    serve_and_load,
    train_queued,
)
from mlplatform.scenarios.images import Images, scenario_image
from mlplatform.scenarios.library import Scenario, Target, scenarios
from mlplatform.scenarios.manifests.serving import MODE_ANNOTATION
from mlplatform.tenancy import objects as tenant_objects
from tests.scenarios import crs

RELEASES = releases.available()
SCENARIOS = list(scenarios())
QUEUED_KINDS = {"Job", "PyTorchJob", "TrainJob"}


def target(release: str, **kw) -> Target:
    rel = releases.load(release)
    return Target(rel, Images.for_release(rel), "t3st01", **kw)


def manifests(release: str, scenario: str) -> list[Obj]:
    t = target(release)
    return scenarios()[scenario].build(t).manifests(t.release)


def containers(obj: Obj) -> list[tuple[Obj, Obj]]:
    """(pod spec, container) for every container our pods run (an InferenceService's
    pod-level settings and model container; the image comes from its ServingRuntime)."""
    return [(spec, c) for spec in crs.pod_specs(obj)
            for c in [*spec.get("initContainers", []), *spec["containers"]]]  # fmt: skip


@pytest.fixture(
    params=[(r, s) for r in RELEASES for s in SCENARIOS], ids=lambda p: f"{p[0]}-{p[1]}"
)
def built(request) -> tuple[str, str, list[Obj]]:
    release, scenario = request.param
    return release, scenario, manifests(release, scenario)


def test_schema_valid(built):
    release, _, objs = built
    rel = releases.load(release)
    legacy = rel.has("trainer") and rel.component("trainer").num_proc_per_node_in == "runtime"
    found = [f"{o['kind']}/{o['metadata'].get('name')}: {p}"
             for o in objs for p in crs.problems(o, rel.kubernetes.min, legacy)]  # fmt: skip
    assert found == []


# Scenarios that run in platform tenants' namespaces (fenced by tenancy/objects.py, each with
# its LocalQueue `default`), built offline for placeholder namespaces.
IN_PLATFORM_TENANT = {
    registry_serving.NAME: (registry_serving.PLACEHOLDER,),
    notebook_access.NAME: (notebook_access.PLACEHOLDER, notebook_access.OTHER),
}


def test_workloads_carry_their_tenant_queue(built):
    _, scenario, objs = built
    queues = {(o["metadata"]["namespace"], o["metadata"]["name"])
              for o in objs if o["kind"] == "LocalQueue"}  # fmt: skip
    if scenario in IN_PLATFORM_TENANT:
        queues |= {(ns, tenant_objects.LOCAL_QUEUE) for ns in IN_PLATFORM_TENANT[scenario]}
    workloads = [o for o in objs if o["kind"] in QUEUED_KINDS] + [
        # a Katib trial: the Job Katib creates from the template, in the Experiment's namespace
        {
            **t,
            "metadata": {**t["metadata"], "name": "trial", "namespace": o["metadata"]["namespace"]},
        }
        for o in objs
        if o["kind"] == "Experiment"
        for t in [o["spec"]["trialTemplate"]["trialSpec"]]
    ]
    assert workloads
    for o in workloads:
        label = o["metadata"]["labels"].get(QUEUE_LABEL)
        assert (o["metadata"]["namespace"], label) in queues, f"{o['metadata']['name']}: {label}"
        if o["kind"] == "Job":
            assert o["spec"]["suspend"] is True  # Kueue resumes it on admission


def test_every_container_is_restricted_and_sized(built):
    _, _, objs = built
    checked = 0
    for o in objs:
        for spec, c in containers(o):
            checked += 1
            sc = c["securityContext"]
            where = f"{o['kind']}/{o['metadata']['name']}/{c['name']}"
            # A ServingRuntime has no pod level: the InferenceService's predictor sets it.
            pod = spec.get("securityContext", {"runAsNonRoot": o["kind"] == "ServingRuntime"})
            assert sc["runAsNonRoot"] and pod["runAsNonRoot"], where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            # A Notebook is as the spawner writes it: Jupyter and the image's s6-overlay write
            # under /run, /tmp and $HOME (users' notebooks have a writable root too).
            assert sc.get("readOnlyRootFilesystem") is (o["kind"] != "Notebook" or None), where
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), where
    assert checked


def test_tenants_are_fenced(built):
    _, scenario, objs = built
    namespaces = [o for o in objs if o["kind"] == "Namespace"]
    if scenario in IN_PLATFORM_TENANT:  # creates no namespace, works inside the tenant's
        assert namespaces == []
        assert {o["metadata"]["namespace"] for o in objs} == set(IN_PLATFORM_TENANT[scenario])
        return
    assert namespaces
    for ns in namespaces:
        name = ns["metadata"]["name"]
        kinds = {o["kind"] for o in objs if o["metadata"].get("namespace") == name}
        assert {
            "NetworkPolicy",
            "ResourceQuota",
            "LimitRange",
            "LocalQueue",
            "RoleBinding",
        } <= kinds
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] in (
            "restricted",
            "baseline",
        )
        assert name.startswith("scn-") and len(name) <= 63


def test_policies_pass(built):
    """The policy pack's rules on the scenario objects (no waivers apply to them)."""
    _, _, objs = built
    views = [View(f"kubernetes:{o['apiVersion']}:{o['kind']}", o["metadata"].get("name", o["kind"]),
                  o) for o in objs]  # fmt: skip
    findings = [f"{f.level} {f.policy.name} {f.resource}: {f.violation.message}"
                for f in evaluate(views)]  # fmt: skip
    assert findings == []


def test_images_come_from_one_place():
    for release in RELEASES:
        rel = releases.load(release)
        mc = rel.component("minio").images["mc"]
        notebook = notebook_access.notebook_image(target(release))  # the spawner's default
        for scenario in SCENARIOS:
            for o in manifests(release, scenario):
                for _, c in containers(o):
                    assert c.get("image", mc if o["kind"] == "InferenceService" else None) in (
                        scenario_image(),
                        mc,
                        *([notebook] if o["kind"] == "Notebook" else []),
                    ), o["metadata"]["name"]
    mirrored = Images.for_release(releases.load(RELEASES[-1]), registry="mirror.local:5000")
    assert mirrored.scenario.startswith("mirror.local:5000/") and mirrored.mc.startswith(
        "mirror.local:5000/"
    )


@pytest.mark.parametrize("release", RELEASES)
def test_training_objects_follow_the_catalogue(release):
    rel = releases.load(release)
    objs = train_queued.build(target(release)).objects
    ptj = next(o for o in objs if o["kind"] == "PyTorchJob")
    assert ptj["apiVersion"] == rel.component("training_operator").api("training")
    replicas = ptj["spec"]["pytorchReplicaSpecs"]
    assert replicas["Master"]["replicas"] == 1 and replicas["Worker"]["replicas"] == 1
    for spec in replicas.values():
        assert spec["template"]["spec"]["containers"][0]["name"] == "pytorch"
    kinds = {o["kind"] for o in objs}
    if not rel.has("trainer"):
        assert "TrainJob" not in kinds
        return
    tj = next(o for o in objs if o["kind"] == "TrainJob")
    runtime = next(o for o in objs if o["kind"] == "TrainingRuntime")
    assert tj["apiVersion"] == runtime["apiVersion"] == rel.component("trainer").api("trainer")
    assert tj["spec"]["runtimeRef"]["name"] == runtime["metadata"]["name"] == "torch-distributed"
    in_runtime = "numProcPerNode" in runtime["spec"]["mlPolicy"]["torch"]
    in_trainjob = "numProcPerNode" in tj["spec"]["trainer"]
    expected = rel.component("trainer").num_proc_per_node_in
    assert (in_runtime, in_trainjob) == (expected == "runtime", expected == "trainjob")


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("mode", ["standard", "knative"])
def test_inference_service_mode_follows_the_catalogue(release, mode):
    rel = releases.load(release)
    objs = serve_and_load.build(target(release, serving_mode=mode)).objects
    isvc = next(o for o in objs if o["kind"] == "InferenceService")
    assert isvc["apiVersion"] == rel.component("kserve").api("serving")
    assert (
        isvc["metadata"]["annotations"][MODE_ANNOTATION]
        == rel.component("kserve").deployment_modes[mode]
    )
    model = isvc["spec"]["predictor"]["model"]
    assert model["storageUri"].startswith("s3://models/scenarios/")
    assert isvc["spec"]["predictor"]["serviceAccountName"] == "s3-reader"
    account = next(o for o in objs if o["kind"] == "ServiceAccount")
    assert account["secrets"] == [{"name": "s3-credentials"}]


@pytest.mark.parametrize("release", RELEASES)
def test_preemption_uses_priorities_and_one_cohort(release):
    api = releases.load(release).component("kueue").api("kueue")
    plan = quota_preemption.build(target(release))
    objs = plan.manifests(releases.load(release))
    cqs = [o for o in objs if o["kind"] == "ClusterQueue"]
    field = "cohortName" if api.endswith("v1beta2") else "cohort"
    assert len({cq["spec"][field] for cq in cqs}) == 1 and len(cqs) == 2
    priorities = {o["metadata"]["name"]: o["value"] for o in objs
                  if o["kind"] == "WorkloadPriorityClass"}  # fmt: skip
    jobs = {o["metadata"]["name"]: o["metadata"]["labels"][PRIORITY_LABEL]
            for o in objs if o["kind"] == "Job"}  # fmt: skip
    assert priorities[jobs["urgent"]] > priorities[jobs["nominal"]]


def test_unsupported_scenario_says_why():
    spec = Scenario("needs-trainer", "x", ("kueue", "trainer"), train_queued.build)
    assert spec.unsupported(releases.load("1.10")) == "release 1.10 ships no trainer"
    assert spec.unsupported(releases.load("1.11")) is None
