"""Rung 3b: the pinned kube-prometheus-stack templates carry our namespace enforcement to the
Prometheus CR, and every rule and monitor the platform applies (ours and every chart's and
kustomize application's) is excluded from it, so platform alerts keep their namespaces.

Needs the charts' templates (a pulled cache, e.g. MLPLATFORM_UPSTREAM_CACHE=/work/fullcache);
with a data-only cache each test skips with one line. Exclusion follows prometheus-operator
v0.81.0/v0.86.2/v0.89.0 pkg/namespacelabeler/labeler.go IsExcluded (namespace and resource,
a reference without a name matching every object); `ignoreNamespaceSelectors` applies to
every monitor (pkg/prometheus/promcfg.go getNamespacesFromNamespaceSelector).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml

from mlplatform import render
from mlplatform.components import monitoring
from mlplatform.graph import CHART
from mlplatform.tenancy.spec import platform_namespaces
from tests.crd_schema import schema_problems, to_json_schema
from tests.upstream import CACHE, CASE_IDS, CASES, facts, needs_cache, upstream_graph
from tests.upstream.test_chart_semantics import applied, chart_dir, install_of, templated

pytestmark = [needs_cache, pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)]
Obj = dict[str, Any]
RESOURCES = {
    "PrometheusRule": "prometheusrules",
    "ServiceMonitor": "servicemonitors",
    "PodMonitor": "podmonitors",
    "Probe": "probes",
    "ScrapeConfig": "scrapeconfigs",
}
MONITORS = ("ServiceMonitor", "PodMonitor", "Probe")


@cache
def prometheus(env: str, release: str) -> Obj:
    """The Prometheus CR the pinned chart renders with our values."""
    g = upstream_graph(env, release)
    objs = applied(g, templated(install_of(g, monitoring.RELEASE)))
    (cr,) = [o for o in objs if o["kind"] == "Prometheus"]
    return cr


@cache
def platform_objects(env: str, release: str) -> tuple[Obj, ...]:
    """Every rule and monitor the stack applies, charts and kustomize applications included."""
    rendered = render.render(upstream_graph(env, release), CACHE)
    if rendered.missing:
        pytest.skip(f"cannot render every chart: {rendered.missing[0]}")
    return tuple(o for o in rendered.all() if o.get("kind") in RESOURCES)


def install_version(env: str, release: str) -> str:
    return install_of(upstream_graph(env, release), monitoring.RELEASE).version


def is_excluded(cr: Obj, kind: str, namespace: str, name: str) -> bool:
    return any(
        ref.get("group", "monitoring.coreos.com") == "monitoring.coreos.com"
        and ref["resource"] == RESOURCES[kind]
        and ref["namespace"] == namespace
        and ref.get("name", "") in ("", name)
        for ref in cr["spec"].get("excludedFromEnforcement") or []
    )


def test_the_pinned_chart_reads_our_enforcement_values(env, release):
    """From the facts (a data-only cache too): the chart templates read every value we set."""
    g = upstream_graph(env, release)
    install = install_of(g, monitoring.RELEASE)
    chart_dir("kube-prometheus-stack", install.version)
    read = set(facts("kube-prometheus-stack", install.version)["values_read"])
    spec = g.named(monitoring.RELEASE, CHART).inputs["values"]["prometheus"]["prometheusSpec"]
    for key in monitoring.namespace_enforcement():
        assert key in spec
        assert f"prometheus.prometheusSpec.{key}" in read, key


def test_the_prometheus_cr_enforces_namespaces_outside_the_platform(env, release):
    spec = prometheus(env, release)["spec"]
    assert spec["enforcedNamespaceLabel"] == "namespace"
    ours = monitoring.namespace_enforcement()["excludedFromEnforcement"]
    assert all(ref in spec["excludedFromEnforcement"] for ref in ours)
    # The pinned CRD (the chart's crds subchart, operator v0.81.0/v0.86.2/v0.89.0) accepts it.
    crd_path = chart_dir("kube-prometheus-stack", install_version(env, release))
    crd = yaml.safe_load((crd_path / "charts/crds/crds/crd-prometheuses.yaml").read_text())
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = served["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    for key in monitoring.namespace_enforcement():
        if key in spec:
            assert not schema_problems(spec[key], to_json_schema(schema[key])), key
    excluded = {ref["namespace"] for ref in spec["excludedFromEnforcement"]}
    assert excluded == set(platform_namespaces())  # the chart's own refs are in `monitoring`
    assert "team-a" not in excluded


def test_every_platform_rule_and_monitor_is_excluded(env, release):
    cr = prometheus(env, release)
    objs = platform_objects(env, release)
    assert any(o["kind"] == "PrometheusRule" for o in objs)
    for o in objs:
        meta = o["metadata"]
        assert is_excluded(cr, o["kind"], meta["namespace"], meta["name"]), (o["kind"], meta)


def selected_namespaces(monitor: Obj) -> set[str] | None:
    """The namespaces a monitor's selector names (None: any)."""
    selector = (monitor.get("spec") or {}).get("namespaceSelector") or {}
    if selector.get("any"):
        return None
    return set(selector.get("matchNames") or [monitor["metadata"]["namespace"]])


def test_ignore_namespace_selectors_stays_off_while_platform_monitors_look_elsewhere(env, release):
    """The chart's kubelet, apiserver, coredns, ... ServiceMonitors select kube-system and
    default from `monitoring`: ignoreNamespaceSelectors would leave them without targets."""
    monitors = [o for o in platform_objects(env, release) if o["kind"] in MONITORS]
    elsewhere = [
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in monitors
        if selected_namespaces(o) != {o["metadata"]["namespace"]}
    ]
    assert (monitoring.NAMESPACE, "kps-kubelet") in elsewhere
    assert prometheus(env, release)["spec"].get("ignoreNamespaceSelectors") is not True


def namespace_writers(endpoint: Obj) -> list[Obj]:
    """An endpoint's relabelings that may set `namespace` from anything but the target's
    namespace: another source, a labelmap (e.g. of pod labels), any metric relabeling."""
    found = []
    for rule in endpoint.get("relabelings") or []:
        action = (rule.get("action") or "replace").lower()
        if action == "labelmap" or (
            rule.get("targetLabel") == "namespace"
            and rule.get("sourceLabels") != ["__meta_kubernetes_namespace"]
        ):
            found.append(rule)
    for rule in endpoint.get("metricRelabelings") or []:
        action = (rule.get("action") or "replace").lower()
        if action == "labelmap" or rule.get("targetLabel") == "namespace":
            found.append(rule)
    return found


def test_no_platform_monitor_lets_tenant_targets_choose_their_namespace(env, release):
    """An excluded monitor is not relabelled: one that could scrape a tenant's pods (Istio's
    envoy-stats PodMonitor selects every namespace) must keep the target's own namespace (the
    operator's default relabeling): no honorLabels, nothing else writing `namespace`."""
    platform = set(platform_namespaces())
    for o in platform_objects(env, release):
        if o["kind"] not in MONITORS:
            continue
        spec = o.get("spec") or {}
        selected = selected_namespaces(o)
        if selected is not None and selected <= platform:
            continue
        endpoints = spec.get("endpoints") or spec.get("podMetricsEndpoints") or []
        assert not any(e.get("honorLabels") for e in endpoints), o["metadata"]
        assert not [r for e in endpoints for r in namespace_writers(e)], o["metadata"]
