"""Prometheus scrapes Istio: every proxy (sidecars and the gateway) and istiod.

The monitors are the ones Istio ships for the Prometheus Operator (istio/istio
samples/addons/extras/prometheus-operator.yaml, identical at 1.28.0 and 1.29.1): the
`envoy-stats-monitor` PodMonitor and the `istio-component-monitor` ServiceMonitor, with two
tightenings so that no tenant can steer a scrape (see `envoy_stats_monitor`, `istiod_monitor`).

Which port: upstream's PodMonitor scrapes whatever `prometheus.io/port` says, at
`/stats/prometheus`. Istio's injector writes the agent's status port there, 15020
(meshConfig.defaultConfig.statusPort; istio/istio pkg/kube/inject/webhook.go
applyPrometheusMerge, istio-discovery values.yaml `enablePrometheusMerge: true`), and the
gateway chart's pod annotations say the same (manifests/charts/gateway/values.yaml
podAnnotations). 15020 serves the merged metrics: Envoy's own stats (15090, where the
`istio_requests_total` family lives), the agent's, and the application's (the annotations the
injector replaced). Scraping 15090 too would duplicate every Envoy series, so 15020 only.
"""

from __future__ import annotations

from mlplatform import manifests

SIDECAR_CONTAINER = "istio-proxy"  # the injected container (sidecar and gateway templates)
MERGED_METRICS_PORT = 15020  # the agent's status port: merged Envoy, agent and app metrics
ISTIOD_METRICS_PORT = 15014  # istiod Service port `http-monitoring`
# What the injector labels every injected pod with (injection-template.yaml metadata.labels);
# the gateway template does not set it, hence the container rule in the PodMonitor.
SIDECAR_POD_LABELS = {"security.istio.io/tlsMode": "istio"}
IGNORE_LABEL = "istio-prometheus-ignore"  # upstream's per-pod opt-out
ENVOY_MONITOR = "envoy-stats-monitor"
COMPONENT_MONITOR = "istio-component-monitor"
LABELS = {"monitoring": "istio-proxies", "release": "istio"}  # upstream's metadata.labels


def envoy_stats_monitor(api: str, namespace: str) -> manifests.Obj:
    """Upstream's PodMonitor: pods in any namespace with an `istio-proxy` container and the
    injector's scrape annotation, their address rewritten to `<pod IP>:<prometheus.io/port>`.

    Tightened: a tenant can set `prometheus.io/port` on its own pod (merging off, or the
    annotation edited), which upstream would scrape at any port; only the status port is
    kept. The address stays the pod's own IP, and `honorLabels` stays off, so the target's
    `namespace` and `pod` labels win over any the scraped pod exposes.
    """
    md = manifests.meta(ENVOY_MONITOR, namespace)
    md["labels"] = LABELS
    return {
        "apiVersion": api,
        "kind": "PodMonitor",
        "metadata": md,
        "spec": {
            "selector": {"matchExpressions": [{"key": IGNORE_LABEL, "operator": "DoesNotExist"}]},
            "namespaceSelector": {"any": True},
            "jobLabel": "envoy-stats",
            "podMetricsEndpoints": [
                {
                    "path": "/stats/prometheus",
                    "interval": "15s",
                    "relabelings": [
                        {
                            "action": "keep",
                            "sourceLabels": ["__meta_kubernetes_pod_container_name"],
                            "regex": SIDECAR_CONTAINER,
                        },
                        {
                            "action": "keep",
                            "sourceLabels": [
                                "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape"
                            ],
                        },
                        # Ours: the port annotation must be the injector's (anchored regex).
                        {
                            "action": "keep",
                            "sourceLabels": ["__meta_kubernetes_pod_annotation_prometheus_io_port"],
                            "regex": str(MERGED_METRICS_PORT),
                        },
                        {
                            "action": "replace",
                            "regex": r"(\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})",
                            "replacement": "[$2]:$1",
                            "sourceLabels": [
                                "__meta_kubernetes_pod_annotation_prometheus_io_port",
                                "__meta_kubernetes_pod_ip",
                            ],
                            "targetLabel": "__address__",
                        },
                        {
                            "action": "replace",
                            "regex": r"(\d+);((([0-9]+?)(\.|$)){4})",
                            "replacement": "$2:$1",
                            "sourceLabels": [
                                "__meta_kubernetes_pod_annotation_prometheus_io_port",
                                "__meta_kubernetes_pod_ip",
                            ],
                            "targetLabel": "__address__",
                        },
                        {"action": "labeldrop", "regex": "__meta_kubernetes_pod_label_(.+)"},
                        {
                            "sourceLabels": ["__meta_kubernetes_namespace"],
                            "action": "replace",
                            "targetLabel": "namespace",
                        },
                        {
                            "sourceLabels": ["__meta_kubernetes_pod_name"],
                            "action": "replace",
                            "targetLabel": "pod",
                        },
                    ],
                }
            ],
        },
    }


def istiod_monitor(api: str, namespace: str) -> manifests.Obj:
    """Upstream's ServiceMonitor for istiod (`istio: pilot` Services, port `http-monitoring`):
    xDS pushes, config errors, injections. Tightened: upstream looks in every namespace, where a
    tenant's selector-less Service with hand-written endpoints could point Prometheus anywhere;
    istiod lives only in `namespace`."""
    md = manifests.meta(COMPONENT_MONITOR, namespace)
    md["labels"] = {"monitoring": "istio-components", "release": "istio"}
    return {
        "apiVersion": api,
        "kind": "ServiceMonitor",
        "metadata": md,
        "spec": {
            "jobLabel": "istio",
            "targetLabels": ["app"],
            "selector": {
                "matchExpressions": [{"key": "istio", "operator": "In", "values": ["pilot"]}]
            },
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": "http-monitoring", "interval": "15s"}],
        },
    }


def monitors(api: str, namespace: str) -> list[manifests.Obj]:
    """Both monitors, in Istio's namespace (as upstream installs them)."""
    return [envoy_stats_monitor(api, namespace), istiod_monitor(api, namespace)]
