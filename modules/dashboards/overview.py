"""Platform overview: health of every enabled component's namespace, restarts, certificates."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from mlplatform.config import PlatformConfig
from mlplatform.dashboards import panels as p

UID = "mlplatform-overview"
FOLDER = "Platform"


def platform_namespaces(config: PlatformConfig) -> list[str]:
    """The namespaces the enabled components run in (each component module's own constant)."""
    from mlplatform.components import (
        certmanager,
        gpu,
        identity,
        istio,
        kubeflow_namespace,
        kueue,
        minio,
        monitoring,
        serving,
        training,
    )

    c = config.components
    pairs = [
        (c.cert_manager.enabled, [certmanager.NAMESPACE]),
        (c.istio.enabled, [istio.NAMESPACE, identity.DEX_NAMESPACE, identity.PROXY_NAMESPACE]),
        (c.minio.enabled, [minio.NAMESPACE]),
        (c.monitoring.enabled, [monitoring.NAMESPACE]),
        (c.kueue.enabled, [kueue.NAMESPACE]),
        (c.serving.enabled, [serving.NAMESPACE]),
        (c.serving.enabled and c.serving.mode == "knative", [serving.KNATIVE_NAMESPACE]),
        (c.gpu.enabled, [gpu.NAMESPACE]),
        (c.training.trainer_on(config.release), [training.TRAINER_NAMESPACE]),
        (
            c.training.operator or c.pipelines.enabled or c.katib.enabled,
            [kubeflow_namespace.NAMESPACE],
        ),
    ]
    return sorted({ns for on, names in pairs if on for ns in names})


def enabled(config: PlatformConfig) -> bool:
    return True


def build(config: PlatformConfig) -> Dashboard:
    ns = f'namespace=~"{"|".join(platform_namespaces(config))}"'
    dash = (
        p.new(
            "Platform overview",
            UID,
            "Health of the platform's components: workloads, restarts, scrape targets and "
            "certificates.",
        )
        .with_row(p.row("Components"))
        .with_panel(
            p.single(
                "Workloads below desired",
                "Deployments, StatefulSets and DaemonSets in platform namespaces with fewer "
                "ready replicas than desired.",
                f"count(kube_deployment_status_replicas_available{{{ns}}} "
                f"< kube_deployment_spec_replicas{{{ns}}}) or vector(0)",
                "none",
                bad=1,
            )
        )
        .with_panel(
            p.single(
                "Crash-looping containers",
                "Containers in platform namespaces waiting in CrashLoopBackOff.",
                f'sum(kube_pod_container_status_waiting_reason{{reason="CrashLoopBackOff", {ns}}})'
                " or vector(0)",
                "none",
                bad=1,
            )
        )
        .with_panel(
            p.single(
                "Scrape targets down",
                "Prometheus targets whose last scrape failed (`up == 0`), all namespaces.",
                "count(up == 0) or vector(0)",
                "none",
                warn=1,
            )
        )
        .with_panel(
            p.single(
                "Pods not running",
                "Pods in platform namespaces that are Pending, Failed or Unknown.",
                f'sum(kube_pod_status_phase{{phase=~"Pending|Failed|Unknown", {ns}}}) or vector(0)',
                "none",
                warn=1,
            )
        )
        .with_panel(
            p.listing(
                "Workloads: ready / desired",
                "Ready replicas over desired, per workload; below 1 means degraded.",
                [
                    (
                        f"kube_deployment_status_replicas_available{{{ns}}} "
                        f"/ kube_deployment_spec_replicas{{{ns}}}",
                        "",
                    ),
                    (
                        f"kube_statefulset_status_replicas_ready{{{ns}}} "
                        f"/ kube_statefulset_replicas{{{ns}}}",
                        "",
                    ),
                    (
                        f"kube_daemonset_status_number_ready{{{ns}}} "
                        f"/ kube_daemonset_status_desired_number_scheduled{{{ns}}}",
                        "",
                    ),
                ],
                "percentunit",
                width=24,
            )
        )
        .with_row(p.row("Restarts"))
        .with_panel(
            p.graph(
                "Container restarts per namespace",
                "Restarts in the last 15 minutes.",
                [
                    (
                        "sum by (namespace) (increase("
                        f"kube_pod_container_status_restarts_total{{{ns}}}[15m]))",
                        "{{namespace}}",
                    )
                ],
                "none",
            )
        )
        .with_panel(
            p.listing(
                "Most restarted containers (24h)",
                "Containers in platform namespaces restarted in the last day.",
                [
                    (
                        "topk(20, sum by (namespace, pod, container) (increase("
                        f"kube_pod_container_status_restarts_total{{{ns}}}[24h])) > 0)",
                        "",
                    )
                ],
                "none",
            )
        )
    )
    if config.components.cert_manager.enabled:
        dash = (
            dash.with_row(p.row("Certificates"))
            .with_panel(
                p.single(
                    "Certificates not ready",
                    "cert-manager Certificates whose Ready condition is not True.",
                    'sum(certmanager_certificate_ready_status{condition!="True"}) or vector(0)',
                    "none",
                    bad=1,
                )
            )
            .with_panel(
                p.single(
                    "Soonest expiry",
                    "Days until the first cert-manager certificate expires.",
                    "min(certmanager_certificate_expiration_timestamp_seconds - time()) / 86400",
                    "d",
                )
            )
            .with_panel(
                p.listing(
                    "Days to expiry",
                    "Every certificate cert-manager manages, soonest first.",
                    [
                        (
                            "sort((certmanager_certificate_expiration_timestamp_seconds "
                            "- time()) / 86400)",
                            "",
                        )
                    ],
                    "d",
                )
            )
        )
    return p.finish(dash)
