"""Istio's proxies and istiod are scraped: upstream's monitors, after monitoring's CRDs, only
with monitoring; no tenant can steer a scrape; the serving panels' metrics are Istio's."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import dashboards, metrics, releases
from mlplatform.components import istio, istio_metrics, kubeflow_namespace, monitoring
from mlplatform.dashboards import serving
from mlplatform.graph import CHART, CONFIG_GROUP
from mlplatform.platform import load_config
from mlplatform.stackconfig import ROOT
from tests.conftest import stack_config
from tests.relabel import scraped
from tests.static.test_dashboards import dashboard_exprs, promql

MONITORING = "mlplatform:monitoring:Monitoring"
RULES = ROOT / "overlays" / "monitoring" / "base" / "platform-rules.yaml"
# istio/istio samples/addons/extras/prometheus-operator.yaml (1.28.0 = 1.29.1), transcribed.
UPSTREAM_RELABELINGS = [
    {"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_container_name"], "regex": "istio-proxy"},
    {"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape"]},
    {"action": "replace", "regex": r"(\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})",
     "replacement": "[$2]:$1",
     "sourceLabels": ["__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"],
     "targetLabel": "__address__"},
    {"action": "replace", "regex": r"(\d+);((([0-9]+?)(\.|$)){4})", "replacement": "$2:$1",
     "sourceLabels": ["__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"],
     "targetLabel": "__address__"},
    {"action": "labeldrop", "regex": "__meta_kubernetes_pod_label_(.+)"},
    {"sourceLabels": ["__meta_kubernetes_namespace"], "action": "replace", "targetLabel": "namespace"},
    {"sourceLabels": ["__meta_kubernetes_pod_name"], "action": "replace", "targetLabel": "pod"},
]  # fmt: skip
# What the injector writes on a pod it merges metrics for (pkg/kube/inject/webhook.go).
MERGED = {"prometheus.io/port": "15020", "prometheus.io/path": "/stats/prometheus",
          "prometheus.io/scrape": "true"}  # fmt: skip
PROXY = {"name": "istio-proxy", "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}]}
APP = {"name": "model", "ports": [{"containerPort": 8080}]}


def _monitors(g):
    group = g.named("istio-monitors", CONFIG_GROUP)
    return {o["kind"]: o for o in group.inputs["objs"]}


def _pod(annotations, containers, init=()):
    return {
        "metadata": {"name": "p", "namespace": "team-a", "annotations": annotations},
        "spec": {"containers": list(containers), "initContainers": list(init)},
    }


def _relabelings(g):
    (endpoint,) = _monitors(g)["PodMonitor"]["spec"]["podMetricsEndpoints"]
    return endpoint["relabelings"]


def test_monitors_in_istio_system_after_monitoring_and_the_namespace(program, env_release):
    env, release = env_release
    g = program(env, release)
    group = g.named("istio-monitors", CONFIG_GROUP)
    api = releases.load(release).component("monitoring").api("monitoring")
    found = _monitors(g)
    assert set(found) == {"PodMonitor", "ServiceMonitor"}
    for obj in found.values():
        assert obj["apiVersion"] == api and obj["metadata"]["namespace"] == istio.NAMESPACE
    assert found["PodMonitor"]["metadata"]["name"] == "envoy-stats-monitor"
    assert found["ServiceMonitor"]["metadata"]["name"] == "istio-component-monitor"
    assert g.depends_on(group, g.named("monitoring", MONITORING))
    assert g.depends_on(group, g.named("istio-namespace", CONFIG_GROUP))
    # monitoring's chart (the CRDs) is among what the group waits for.
    chart = g.named(monitoring.RELEASE, CHART)
    assert chart.urn in {d.urn for d in g.descendants(g.named("monitoring", MONITORING))}


def test_absent_without_monitoring(program):
    def off(cfg):
        cfg["platform"]["components"]["monitoring"] = {"enabled": False}

    g = program("dev", edit=off)
    assert g.has("istio") and not g.has("istio-monitors")
    names = {(o.namespace, o.name) for o in g.objects() if o.kind == "NetworkPolicy"}
    assert ("kubeflow", "sidecars-from-prometheus") not in names


def test_pod_monitor_is_upstreams_plus_the_port_pin(program):
    spec = _monitors(program("dev"))["PodMonitor"]["spec"]
    assert spec["selector"] == {
        "matchExpressions": [{"key": "istio-prometheus-ignore", "operator": "DoesNotExist"}]
    }
    assert spec["namespaceSelector"] == {"any": True} and spec["jobLabel"] == "envoy-stats"
    (endpoint,) = spec["podMetricsEndpoints"]
    assert endpoint["path"] == "/stats/prometheus" and endpoint["interval"] == "15s"
    assert "honorLabels" not in endpoint  # the target's namespace/pod labels win
    assert not {"port", "portNumber", "targetPort"} & set(endpoint)  # the address is relabeled
    pin = {
        "action": "keep",
        "sourceLabels": ["__meta_kubernetes_pod_annotation_prometheus_io_port"],
        "regex": "15020",
    }
    assert endpoint["relabelings"] == [*UPSTREAM_RELABELINGS[:2], pin, *UPSTREAM_RELABELINGS[2:]]


def test_istiod_monitor_looks_only_in_istio_system(program):
    spec = _monitors(program("dev"))["ServiceMonitor"]["spec"]
    assert spec["selector"] == {
        "matchExpressions": [{"key": "istio", "operator": "In", "values": ["pilot"]}]
    }
    assert spec["namespaceSelector"] == {"matchNames": [istio.NAMESPACE]}  # upstream: any
    assert spec["endpoints"] == [{"port": "http-monitoring", "interval": "15s"}]
    assert spec["jobLabel"] == "istio" and spec["targetLabels"] == ["app"]


def test_a_sidecar_is_scraped_at_its_merged_metrics_port(program):
    ours = _relabelings(program("dev"))
    assert scraped(_pod(MERGED, [APP, PROXY]), "10.1.2.3", ours) == {"10.1.2.3:15020"}
    assert scraped(_pod(MERGED, [APP], [PROXY]), "10.1.2.3", ours) == {"10.1.2.3:15020"}  # native
    assert scraped(_pod(MERGED, [PROXY]), "fd00::5", ours) == {"[fd00::5]:15020"}


def test_a_tenant_cannot_steer_the_scrape(program):
    ours = _relabelings(program("dev"))
    # Merging off (prometheus.istio.io/merge-metrics: "false"), its own port annotation kept:
    # upstream's monitor would scrape that port; ours scrapes nothing.
    own = {**MERGED, "prometheus.io/port": "9999"}
    assert scraped(_pod(own, [APP, PROXY]), "10.1.2.3", UPSTREAM_RELABELINGS) == {"10.1.2.3:9999"}
    assert scraped(_pod(own, [APP, PROXY]), "10.1.2.3", ours) == set()
    suffixed = {**MERGED, "prometheus.io/port": "15020x"}  # the pin is anchored
    assert scraped(_pod(suffixed, [PROXY]), "10.1.2.3", ours) == set()
    assert scraped(_pod(MERGED, [APP]), "10.1.2.3", ours) == set()  # no sidecar
    assert scraped(_pod({}, [APP, PROXY]), "10.1.2.3", ours) == set()  # not annotated


def test_kubeflow_sidecars_open_to_prometheus_on_the_merged_port_only(program):
    g = program("dev")
    policy = g.object("NetworkPolicy", "sidecars-from-prometheus", kubeflow_namespace.NAMESPACE)
    assert policy == kubeflow_namespace.sidecar_scrape()
    assert policy["spec"]["podSelector"] == {"matchLabels": istio_metrics.SIDECAR_POD_LABELS}
    assert [p["port"] for p in policy["spec"]["ingress"][0]["ports"]] == [15020]
    names = [(o.namespace, o.name) for o in g.objects() if o.kind == "NetworkPolicy"]
    assert len(names) == len(set(names))  # no name twice in a namespace


def _istio_names(expr: str) -> set[str]:
    return {n for n in metrics.metric_names(promql(expr)) if n.startswith("istio_")}


def _rule_exprs() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [r["expr"] for group in doc["spec"]["groups"] for r in group["rules"]]


@pytest.mark.parametrize("release", releases.available())
def test_every_istio_metric_the_panels_and_alerts_read_is_istios(release):
    config = load_config(stack_config("dev", release)).platform
    (board,) = [b for b in dashboards.dashboards(config) if b.uid == serving.UID]
    used = {n for e in _rule_exprs() for n in _istio_names(e)}
    used |= {n for _, e in dashboard_exprs(board) for n in _istio_names(e)}
    assert {"istio_requests_total", "istio_request_duration_milliseconds_bucket"} <= used
    shipped = metrics.known(release)["istio"]
    assert used <= shipped, sorted(used - shipped)


def test_the_proxies_series_keep_their_pods_namespaces(program):
    """Prometheus enforces `namespace=<monitor's namespace>` on monitors outside the excluded
    namespaces; ours sit in istio-system, so that must be excluded or every proxy's series
    would be labelled istio-system."""
    spec = program("dev").named(monitoring.RELEASE, CHART).inputs["values"]["prometheus"]
    excluded = spec["prometheusSpec"]["excludedFromEnforcement"]
    for resource in ("podmonitors", "servicemonitors"):
        ref = {"group": "monitoring.coreos.com", "resource": resource, "namespace": istio.NAMESPACE}
        assert ref in excluded, resource
