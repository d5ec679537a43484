"""Serving: per InferenceService request rate, latency percentiles, errors and replicas.

Requests are measured by Istio at the calling proxy (the platform gateway, or a tenant pod's
sidecar): `istio_requests_total` and `istio_request_duration_milliseconds` with
`reporter="source"` (istio/istio pilot/pkg/model/telemetry.go, 1.28.0 and 1.29.1), addressed to
the predictor Service KServe names `<isvc>-predictor`. The error ratio is the platform's
recording rule (overlays/monitoring/base/platform-rules.yaml). The model server's own predict
latency (`request_predict_seconds`, kserve/kserve python/kserve/kserve/metrics.py) is there when
the predictor pods are scraped (a PodMonitor on their /metrics).
"""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from mlplatform.config import PlatformConfig
from mlplatform.dashboards import panels as p

UID = "mlplatform-serving"
FOLDER = "Serving"
DEST = (
    'reporter="source", destination_service_namespace=~"$namespace", '
    'destination_service_name=~"($isvc)-predictor"'
)
BY = "destination_service_namespace, destination_service_name"
LEGEND = "{{destination_service_namespace}}/{{destination_service_name}}"
ERROR_RATIO = "mlplatform:inference_request_error_ratio:rate5m"


def enabled(config: PlatformConfig) -> bool:
    return config.components.serving.enabled


def deployment_suffix(config: PlatformConfig) -> str:
    """How a predictor's Deployment is named after its InferenceService: `<isvc>-predictor`
    (standard, RawDeployment) or one per Knative revision `<isvc>-predictor-00001-deployment`."""
    knative = config.components.serving.mode == "knative"
    return "-predictor-[0-9]+-deployment" if knative else "-predictor"


def build(config: PlatformConfig) -> Dashboard:
    rate = "$__rate_interval"
    suffix = deployment_suffix(config)
    predictors = f'namespace=~"$namespace", deployment=~"($isvc){suffix}"'
    dash = (
        p.new(
            "Serving",
            UID,
            "InferenceServices: traffic, latency percentiles, errors and replicas.",
        )
        .with_variable(
            p.variable(
                "namespace",
                "Namespace",
                f'label_values(kube_deployment_spec_replicas{{deployment=~".+{suffix}"}}, '
                "namespace)",
            )
        )
        .with_variable(
            p.variable(
                "isvc",
                "InferenceService",
                'label_values(kube_deployment_spec_replicas{namespace=~"$namespace", '
                f'deployment=~".+{suffix}"}}, deployment)',
                regex=f"/(.+){suffix}/",
            )
        )
        .with_row(p.row("Traffic"))
        .with_panel(
            p.graph(
                "Request rate",
                "Requests per second to each InferenceService's predictor.",
                [(f"sum by ({BY}) (rate(istio_requests_total{{{DEST}}}[{rate}]))", LEGEND)],
                "reqps",
            )
        )
        .with_panel(
            p.graph(
                "Error ratio (5xx)",
                "Share of requests answered with a 5xx status over 5 minutes (the platform's "
                "recording rule; its alert fires above 5%).",
                [
                    (
                        f'{ERROR_RATIO}{{destination_service_namespace=~"$namespace", '
                        'destination_service_name=~"($isvc)-predictor"}',
                        LEGEND,
                    )
                ],
                "percentunit",
            )
        )
        .with_panel(
            p.graph(
                "Latency p50 / p95 / p99",
                "Request duration seen by the caller, per InferenceService.",
                [
                    (
                        f"histogram_quantile({q}, sum by ({BY}, le) (rate("
                        f"istio_request_duration_milliseconds_bucket{{{DEST}}}[{rate}])))",
                        f"{LEGEND} p{round(q * 100)}",
                    )
                    for q in (0.5, 0.95, 0.99)
                ],
                "ms",
                width=24,
            )
        )
        .with_row(p.row("Capacity"))
        .with_panel(
            p.graph(
                "Replicas",
                "Available predictor replicas against the desired count.",
                [
                    (
                        f"sum by (namespace, deployment) "
                        f"(kube_deployment_status_replicas_available{{{predictors}}})",
                        "{{namespace}}/{{deployment}} available",
                    ),
                    (
                        f"sum by (namespace, deployment) "
                        f"(kube_deployment_spec_replicas{{{predictors}}})",
                        "{{namespace}}/{{deployment}} desired",
                    ),
                ],
                "none",
            )
        )
        .with_panel(
            p.graph(
                "Model server predict latency p95",
                "The KServe model server's own predict time per model (predictor pods scraped "
                "by a PodMonitor only).",
                [
                    (
                        "histogram_quantile(0.95, sum by (namespace, model_name, le) (rate("
                        f'request_predict_seconds_bucket{{namespace=~"$namespace"}}[{rate}])))',
                        "{{namespace}}/{{model_name}}",
                    )
                ],
                "s",
            )
        )
    )
    return p.finish(dash)
