"""Rung 2: Grafana, its route and the platform's dashboards under mocks, per environment.

Grafana is on everywhere, its sidecar files dashboards into folders, our dashboards are
ConfigMaps applied after the chart (only those of enabled components), Grafana is reached at
`/grafana/` through the platform gateway's login, and every PrometheusRule the program
registers parses with promtool and names only metrics the pinned exporters ship.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from mlplatform import dashboards
from mlplatform.components import identity, istio, monitoring
from mlplatform.graph import CHART, CONFIG_GROUP, Graph
from mlplatform.platform import load_config
from tests.conftest import stack_config
from tests.static.test_dashboards import promtool_check, recorded, rule_groups, unknown


def kps_values(g: Graph) -> dict[str, Any]:
    return g.named(monitoring.RELEASE, CHART).inputs["values"]


def provisioned(g: Graph) -> dict[str, dict[str, Any]]:
    """The dashboard ConfigMaps in the graph, by name."""
    group = g.named("platform-dashboards", CONFIG_GROUP)
    return {o.name: o.obj for o in g.objects() if o.owner == group and o.kind == "ConfigMap"}


def expected(env: str, release: str | None = None, edit: Any = None) -> list:
    values = stack_config(env, release)
    if edit:
        edit(values)
    return dashboards.dashboards(load_config(values).platform)


def test_grafana_is_on_with_folders_and_the_charts_default_datasource(program, env_release):
    kps = kps_values(program(*env_release))
    grafana = kps["grafana"]
    assert grafana["enabled"] is True
    assert grafana["sidecar"]["dashboards"] == {
        "folderAnnotation": dashboards.FOLDER_ANNOTATION,
        "provider": {"foldersFromFilesStructure": True},
        "searchNamespace": monitoring.NAMESPACE,  # not a tenant's ConfigMaps
        "resource": "configmap",
    }
    assert grafana["rbac"] == {"namespaced": True}  # no ClusterRole reading every Secret
    # kube-prometheus-stack provisions Prometheus (uid `prometheus`) itself: left to the chart.
    assert "datasources" not in grafana["sidecar"] and "forceDeployDatasources" not in grafana
    assert grafana["env"]["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true"
    assert grafana["env"]["GF_SERVER_ROOT_URL"].endswith(monitoring.GRAFANA_PATH)


def test_dashboards_are_config_maps_applied_after_the_chart(program, env_release):
    env, release = env_release
    g = program(env, release)
    group = g.named("platform-dashboards", CONFIG_GROUP)
    assert g.depends_on(group, g.named(monitoring.RELEASE, CHART))
    maps = provisioned(g)
    boards = expected(env, release)
    assert set(maps) == {f"dashboard-{b.uid}" for b in boards}
    for board in boards:
        cm = maps[f"dashboard-{board.uid}"]
        assert cm["metadata"]["namespace"] == monitoring.NAMESPACE
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"] == {dashboards.FOLDER_ANNOTATION: board.folder}
        assert json.loads(cm["data"][f"{board.uid}.json"])["uid"] == board.uid


@pytest.mark.parametrize(("env", "gpu"), [("dev", False), ("staging", False), ("prod", True)])
def test_each_environment_installs_its_components_dashboards(program, env, gpu):
    names = set(provisioned(program(env)))
    always = {"overview", "kueue", "training", "serving", "object-store", "tenants"}
    assert {f"dashboard-mlplatform-{n}" for n in always} <= names
    assert ("dashboard-mlplatform-gpu" in names) is gpu  # GPU telemetry on GPU nodes only


def test_disabled_components_have_no_dashboard(program):
    def no_serving_or_training(cfg: dict[str, Any]) -> None:
        components = cfg["platform"]["components"]
        components["serving"] = {"enabled": False}
        components["training"] = {"operator": False, "trainer": False}

    names = set(provisioned(program("dev", edit=no_serving_or_training)))
    assert "dashboard-mlplatform-serving" not in names
    assert "dashboard-mlplatform-training" not in names
    assert "dashboard-mlplatform-kueue" in names
    assert names == {f"dashboard-{b.uid}" for b in expected("dev", edit=no_serving_or_training)}


def test_without_grafana_no_dashboards_and_no_route(program):
    def no_grafana(cfg: dict[str, Any]) -> None:
        cfg["platform"]["components"]["monitoring"]["grafana"] = False

    g = program("dev", edit=no_grafana)
    assert kps_values(g)["grafana"]["enabled"] is False
    assert not g.has("platform-dashboards") and not g.has("grafana-route")


def test_grafana_is_routed_through_the_gateways_login(program, env_release):
    g = program(*env_release)
    route = g.named("grafana-route", CONFIG_GROUP)
    assert g.depends_on(route, g.named(monitoring.RELEASE, CHART))
    assert g.depends_on(route, g.named("istio"))
    vs = g.object("VirtualService", "grafana", monitoring.NAMESPACE)
    assert vs["spec"]["gateways"] == [f"{istio.NAMESPACE}/{istio.PLATFORM_GATEWAY}"]
    (http,) = vs["spec"]["http"]
    assert http["match"] == [{"uri": {"prefix": monitoring.GRAFANA_PATH}}]
    dest = http["route"][0]["destination"]
    assert dest["host"] == f"{monitoring.GRAFANA_SERVICE}.{monitoring.NAMESPACE}.svc.cluster.local"
    # oauth2-proxy checks every path but its public ones: Grafana is behind the login.
    path = f"{monitoring.GRAFANA_PATH}d/mlplatform-overview"
    assert not any(fnmatch.fnmatch(path, p) for p in identity.PUBLIC_PATHS)
    netpol = g.object("NetworkPolicy", "allow-from-ingress-gateway", monitoring.NAMESPACE)
    ports = [p["port"] for rule in netpol["spec"]["ingress"] for p in rule["ports"]]
    assert monitoring.GRAFANA_PORT in ports


def test_registered_prometheus_rules_parse_and_name_known_metrics(program, env_release, tmp_path):
    """PrometheusRules in the graph (components' own, e.g. the GPU alerts) with the overlays'."""
    env, release = env_release
    g = program(env, release)
    groups = rule_groups(env) + [
        group
        for o in g.objects()
        if o.kind == "PrometheusRule"
        for group in o.obj["spec"]["groups"]
    ]
    exprs = [
        (f"{g_['name']}/{r.get('alert') or r.get('record')}", r["expr"])
        for g_ in groups
        for r in g_["rules"]
    ]
    result = promtool_check(exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert unknown(exprs, release, recorded(groups)) == []
