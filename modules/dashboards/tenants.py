"""Tenants: one row per team (template variable `namespace`): quota, queue, GPU hours.

A tenant's namespace is its name and holds the ResourceQuota `tenant-quota`; its ClusterQueue
is `tenant-<name>` (tenancy/spec.py TenantSpec.namespace, .cluster_queue; tenancy/objects.py).
GPU hours are the GPUs requested by the tenant's running pods (kube-state-metrics), integrated
over the time range at one-minute resolution.
"""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from mlplatform.config import PlatformConfig
from mlplatform.dashboards import panels as p

UID = "mlplatform-tenants"
FOLDER = "Tenants"
QUOTA = "tenant-quota"
# TenantSpec.cluster_queue for the tenant in `$namespace` (tests check they agree).
CLUSTER_QUEUE = "tenant-$namespace"
GPU_RESOURCE = "nvidia_com_gpu"  # kube-state-metrics sanitises `nvidia.com/gpu` into a label


def enabled(config: PlatformConfig) -> bool:
    return True


def gpu_hours(namespace: str, window: str) -> str:
    """GPU hours requested by the running pods of `namespace` over `window`."""
    requests = (
        f'kube_pod_container_resource_requests{{namespace="{namespace}", '
        f'resource="{GPU_RESOURCE}"}} * on (namespace, pod) group_left () '
        f'(kube_pod_status_phase{{namespace="{namespace}", phase="Running"}} == 1)'
    )
    return f"sum(sum_over_time(({requests})[{window}:1m])) / 60 or vector(0)"


def build(config: PlatformConfig) -> Dashboard:
    ns = 'namespace="$namespace"'
    cq = f'cluster_queue="{CLUSTER_QUEUE}"'
    dash = (
        p.new(
            "Tenants",
            UID,
            "One row per team: namespace quota used, Kueue queue and wait, GPU hours.",
        )
        .with_variable(
            p.variable(
                "namespace",
                "Tenant",
                f'label_values(kube_resourcequota{{resourcequota="{QUOTA}"}}, namespace)',
            )
        )
        .with_row(p.row("$namespace", repeat="namespace"))
        .with_panel(
            p.bars(
                "Quota used",
                "Each resource of the namespace's ResourceQuota: used over hard.",
                [
                    (
                        f'kube_resourcequota{{{ns}, resourcequota="{QUOTA}", type="used"}} '
                        "/ ignoring (type) "
                        f'(kube_resourcequota{{{ns}, resourcequota="{QUOTA}", type="hard"}} > 0)',
                        "{{resource}}",
                    )
                ],
                "percentunit",
                width=8,
                maximum=1,
            )
        )
        .with_panel(
            p.single(
                "GPU hours",
                "GPU hours requested by the tenant's running pods in the selected range.",
                gpu_hours("$namespace", "$__range"),
                "h",
                width=4,
            )
        )
    )
    if config.components.kueue.enabled:
        dash = dash.with_panel(
            p.graph(
                "Queue",
                "Workloads of the tenant's ClusterQueue: pending (by status) and admitted.",
                [
                    (
                        f"sum by (status) (kueue_pending_workloads{{{cq}}})",
                        "pending {{status}}",
                    ),
                    (f"sum(kueue_admitted_active_workloads{{{cq}}})", "admitted"),
                ],
                "none",
                width=6,
            )
        ).with_panel(
            p.graph(
                "Queue wait p50 / p95",
                "Time the tenant's workloads waited for admission.",
                [
                    (
                        f"histogram_quantile({q}, sum by (le) (rate("
                        f"kueue_admission_wait_time_seconds_bucket{{{cq}}}[$__rate_interval])))",
                        f"p{round(q * 100)}",
                    )
                    for q in (0.5, 0.95)
                ],
                "s",
                width=6,
            )
        )
    return p.finish(dash)
