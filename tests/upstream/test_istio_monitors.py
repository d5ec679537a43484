"""Rung 3b: Istio's monitors against the real CRDs and the pinned Istio charts.

The PodMonitor and ServiceMonitor validate against each release's prometheus-operator CRDs
(the operator kube-prometheus-stack pins) and v0.93.0's. Where the cache holds the istiod and
gateway charts' templates (a pulled cache; the shared one in CI has none and those tests skip
with one line), the rendered objects are what the monitors rely on: istiod's Service carries
`istio: pilot` and port `http-monitoring`, the gateway's pods an `istio-proxy` container and
the scrape annotations (so the PodMonitor scrapes them at 15020), the injector's sidecar
template the container and the `security.istio.io/tlsMode` label, its values the status port.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import pytest
import yaml

from mlplatform import releases, render
from mlplatform.components import istio, istio_metrics
from tests.conftest import KUBERNETES_FOR
from tests.crd_schema import Catalogue, schema_problems
from tests.relabel import scraped
from tests.upstream import CACHE, needs_cache, upstream_graph

RELEASES = releases.available()
OPERATOR = "prometheus-operator"
pytestmark = [needs_cache, pytest.mark.parametrize("release", RELEASES)]


@cache
def catalogue() -> Catalogue:
    assert CACHE is not None
    return Catalogue(CACHE.root)


def monitors(release: str) -> list[dict[str, Any]]:
    g = upstream_graph("dev", release)
    return [o.obj for o in g.objects() if o.owner.name == "istio-monitors"]


def test_monitors_validate_against_the_releases_crds(release):
    found = monitors(release)
    assert {o["kind"] for o in found} == {"PodMonitor", "ServiceMonitor"}
    for obj in found:
        assert catalogue().problems(obj, release) == [], obj["kind"]


def test_monitors_validate_against_operator_v0_93_0(release):
    crds = {c.kind: c for c in catalogue().crds(OPERATOR, "v0.93.0")}
    for obj in monitors(release):
        served, schema = crds[obj["kind"]].versions["v1"]
        assert served and schema_problems(obj, schema) == [], obj["kind"]


def test_the_crd_check_catches_a_wrong_relabeling(release):
    (pod_monitor,) = [o for o in monitors(release) if o["kind"] == "PodMonitor"]
    wrong = copy.deepcopy(pod_monitor)
    wrong["spec"]["podMetricsEndpoints"][0]["relabelings"][0]["action"] = "keepif"
    wrong["spec"]["podMetricsEndpoints"][0]["sourceLabel"] = "x"
    found = catalogue().problems(wrong, release)
    assert len(found) == 2
    assert any("relabelings[0].action: 'keepif' is not one of" in p for p in found)
    assert any(".sourceLabel: unknown field" in p for p in found)


def _install(release: str, name: str) -> render.ChartInstall:
    assert CACHE is not None
    (found,) = [i for i in render.charts(upstream_graph("dev", release)) if i.name == name]
    if not CACHE.has_templates(found.chart_name, found.version):
        pytest.skip(
            f"charts/{found.chart_name}/{found.version} (with templates) not in {CACHE.root}"
        )
    return found


@cache
def rendered(release: str, name: str) -> tuple[dict[str, Any], ...]:
    return tuple(render.helm_template(_install(release, name), KUBERNETES_FOR[release]))


def one(objs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_istiod_service_is_what_the_service_monitor_selects(release):
    service = one(rendered(release, "istiod"), "Service", "istiod")
    assert service["metadata"]["labels"]["istio"] == "pilot"  # the monitor's selector
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    assert ports["http-monitoring"] == istio_metrics.ISTIOD_METRICS_PORT


def test_the_gateway_is_scraped_at_its_merged_metrics_port(release):
    objs = rendered(release, istio.GATEWAY_RELEASE)
    template = one(objs, "Deployment", istio.GATEWAY_RELEASE)["spec"]["template"]
    pod = {
        "metadata": {**template["metadata"], "name": "gw-0", "namespace": istio.NAMESPACE},
        "spec": template["spec"],
    }
    (pod_monitor,) = [o for o in monitors(release) if o["kind"] == "PodMonitor"]
    relabelings = pod_monitor["spec"]["podMetricsEndpoints"][0]["relabelings"]
    assert scraped(pod, "10.244.0.7", relabelings) == {"10.244.0.7:15020"}
    assert istio_metrics.IGNORE_LABEL not in template["metadata"]["labels"]


def test_the_injector_writes_what_the_pod_monitor_keeps(release):
    objs = rendered(release, "istiod")
    injector = one(objs, "ConfigMap", "istio-sidecar-injector")["data"]
    values = json.loads(injector["values"])
    assert values["global"]["proxy"]["statusPort"] == istio_metrics.MERGED_METRICS_PORT
    templates = yaml.safe_load(injector["config"])["templates"]
    for name in ("sidecar", "gateway"):
        assert f"- name: {istio_metrics.SIDECAR_CONTAINER}\n" in templates[name], name
    label = next(iter(istio_metrics.SIDECAR_POD_LABELS))
    assert f"{label}: " in templates["sidecar"] and label not in templates["gateway"]
    mesh = yaml.safe_load(one(objs, "ConfigMap", "istio")["data"]["mesh"])
    assert mesh.get("enablePrometheusMerge", True) is True  # the merged port is annotated
