"""Istio CNI against the pinned charts: the pods istiod injects pass Pod Security `restricted`.

istiod's `istio-sidecar-injector` ConfigMap is rendered with `helm template` from the pinned
istiod chart and our values, and its `sidecar` template is executed (tests/upstream/gotemplate.py)
for a tenant pod that is itself restricted-clean: the injected init container and proxy must keep
it so (tests/pod_security.py). Without `cni.enabled` the injector adds `istio-init` (uid 0,
NET_ADMIN, NET_RAW), which restricted and baseline refuse. The `cni` chart renders our values.
Needs chart templates (a pulled cache, e.g. MLPLATFORM_UPSTREAM_CACHE=/work/fullcache); skips
with one line where the cache holds data only or lacks the chart.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from functools import cache
from typing import Any

import pytest
import yaml

from mlplatform import render
from mlplatform.components import istio_cni
from mlplatform.render import ChartInstall
from tests.pod_security import problems
from tests.upstream import CACHE, CASE_IDS, CASES, needs_cache, upstream_graph
from tests.upstream.gotemplate import render as execute
from tests.upstream.test_charts import INDIRECT_READS

pytestmark = needs_cache
cases = pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)
INJECTOR = "templates/istiod-injector-configmap.yaml"
Obj = dict[str, Any]

# A tenant workload that restricted admits on its own: everything set per container, nothing
# at pod level, so each injected container must carry its own settings too.
APP_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
APP_POD: Obj = {
    "metadata": {"name": "trainer-0", "namespace": "team-a", "labels": {"app": "trainer"}},
    "spec": {
        "serviceAccountName": "default-editor",
        "containers": [{"name": "main", "image": "trainer:1", "securityContext": APP_SECURITY}],
    },
}


@cache
def install(env: str, release: str, name: str) -> ChartInstall:
    found = next(i for i in render.charts(upstream_graph(env, release)) if i.name == name)
    assert CACHE is not None
    chart, version = found.chart.rstrip("/").split("/")[-2:]
    if not found.chart.startswith(str(CACHE.root)) or not CACHE.has_templates(chart, version):
        pytest.skip(f"{chart} {version}: no templates in {CACHE.root} (mlplatform upstream pull)")
    return found


def injector(chart: ChartInstall) -> tuple[Obj, str]:
    """The injector ConfigMap's `values` and `sidecar` template, as helm renders them."""
    (cm,) = [
        o
        for o in render.helm_template(chart)
        if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == "istio-sidecar-injector"
    ]
    return json.loads(cm["data"]["values"]), yaml.safe_load(cm["data"]["config"])["templates"][
        "sidecar"
    ]


def injected_pod(chart: ChartInstall, native_sidecars: bool) -> Obj:
    """APP_POD as istiod's sidecar template patches it (containers appended, volumes added)."""
    values, template = injector(chart)
    meta, spec = APP_POD["metadata"], APP_POD["spec"]
    data = {
        "Values": values,
        "ObjectMeta": {"Name": meta["name"], "Annotations": {}, "Labels": meta["labels"]},
        "Spec": {
            "Containers": [{"Name": c["name"], "Ports": []} for c in spec["containers"]],
            "ServiceAccountName": spec["serviceAccountName"],
        },
        "DeploymentMeta": {"Name": "trainer", "Namespace": meta["namespace"]},
        "TypeMeta": {"APIVersion": "v1", "Kind": "Pod"},
        # The mesh defaults (REDIRECT interception, no proxy metadata), our meshConfig sets none.
        "ProxyConfig": {
            "InterceptionMode": "REDIRECT",
            "ProxyMetadata": {},
            "HoldApplicationUntilProxyStarts": {"GetValue": False},
        },
        "MeshConfig": {},
        "Revision": "",
        "ProxyImage": f"docker.io/istio/proxyv2:{chart.version}",
        "NativeSidecars": native_sidecars,
        "InboundTrafficPolicyMode": "",
        "CompliancePolicy": "",
    }
    patch = yaml.safe_load(execute(template, data))["spec"]
    pod = copy.deepcopy(APP_POD)
    for key in ("initContainers", "containers", "volumes"):
        pod["spec"][key] = [*pod["spec"].get(key, []), *(patch.get(key) or [])]
    return pod


def with_values(chart: ChartInstall, edit: Any) -> ChartInstall:
    values = copy.deepcopy(chart.values)
    edit(values)
    return dataclasses.replace(chart, values=values)


def names(pod: Obj, key: str) -> list[str]:
    return [c["name"] for c in pod["spec"].get(key, [])]


@cases
@pytest.mark.parametrize("native", [False, True], ids=["sidecar", "native-sidecar"])
def test_injected_tenant_pod_passes_restricted(env, release, native):
    pod = injected_pod(install(env, release, "istiod"), native)
    init = names(pod, "initContainers")
    assert init[0] == "istio-validation" and "istio-init" not in init
    assert "istio-proxy" in (init if native else names(pod, "containers"))
    assert problems(APP_POD, "restricted") == []
    assert problems(pod, "restricted") == []


@pytest.mark.parametrize("release", sorted({r for _, r in CASES}))
def test_without_cni_the_injected_istio_init_is_refused(release):
    chart = with_values(install("dev", release, "istiod"), lambda v: v.pop("cni"))
    pod = injected_pod(chart, native_sidecars=False)
    assert names(pod, "initContainers") == ["istio-init"]
    for level in ("restricted", "baseline"):
        found = problems(pod, level)
        assert "container istio-init: adds capabilities ['NET_ADMIN', 'NET_RAW']" in found, level
    assert "container istio-init: runAsNonRoot is not true" in problems(pod, "restricted")


@pytest.mark.parametrize("release", sorted({r for _, r in CASES}))
def test_without_the_proxy_seccomp_profile_restricted_refuses(release):
    chart = with_values(
        install("dev", release, "istiod"), lambda v: v["global"]["proxy"].pop("seccompProfile")
    )
    found = problems(injected_pod(chart, native_sidecars=False), "restricted")
    assert sorted(found) == [
        "container istio-proxy: no RuntimeDefault or Localhost seccomp profile",
        "container istio-validation: no RuntimeDefault or Localhost seccomp profile",
    ]


@pytest.mark.parametrize("release", sorted({r for _, r in CASES}))
def test_the_chart_reads_cni_where_test_charts_says(release):
    """test_charts' INDIRECT_READS: istiod reads `cni` through `pick`, not `.Values.cni`."""
    chart = install("dev", release, "istiod")
    assert CACHE is not None
    root = CACHE.chart("istiod", chart.version)
    assert 'pick .Values "cni" "env"' in (root / INJECTOR).read_text()
    assert ".Values.pilot.cni.enabled" in (root / "files/injection-template.yaml").read_text()
    assert set(INDIRECT_READS["istiod"]) == {"cni"}


@cases
def test_cni_chart_renders_our_values(env, release):
    chart = install(env, release, istio_cni.RELEASE)
    values = chart.values
    objs = render.helm_template(chart)
    (ds,) = [o for o in objs if o["kind"] == "DaemonSet"]
    assert ds["metadata"]["name"] == istio_cni.DAEMONSET
    assert ds["metadata"]["namespace"] == istio_cni.NAMESPACE
    pod = ds["spec"]["template"]
    spec = pod["spec"]
    paths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    assert paths["cni-bin-dir"] == values["cniBinDir"]
    assert paths["cni-net-dir"] == values["cniConfDir"]
    assert spec["priorityClassName"] == "system-node-critical"
    assert not spec.get("hostNetwork")
    (agent,) = spec["containers"]
    assert agent["resources"] == values["resources"]
    (config,) = [o for o in objs if o["kind"] == "ConfigMap"]
    data = config["data"]
    assert data["CHAINED_CNI_PLUGIN"] == "true" and data["AMBIENT_ENABLED"] == "false"
    assert data["REPAIR_ENABLED"] == "true" and data["REPAIR_REPAIR_PODS"] == "true"
    # Repair looks for the init container the injector emits with cni.enabled.
    assert data["REPAIR_INIT_CONTAINER_NAME"] == "istio-validation"
    # Why its namespace enforces `privileged`: baseline refuses the agent.
    assert problems(pod, "baseline")
    ns = upstream_graph(env, release).object("Namespace", istio_cni.NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
