"""Kueue: pending and admitted workloads, admission wait, quota usage and borrowing.

Metrics and labels from kubernetes-sigs/kueue pkg/metrics/metrics.go (v0.11.4, v0.14.8,
v0.16.1): `cluster_queue`, `status` on pending workloads; `cohort`, `cluster_queue`, `flavor`,
`resource` on the ClusterQueue resource metrics, which Kueue exports only with
`metrics.enableClusterQueueResources` (components/kueue.py sets it).
"""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from mlplatform.config import PlatformConfig
from mlplatform.dashboards import panels as p

UID = "mlplatform-kueue"
FOLDER = "Queues"
CQ = 'cluster_queue=~"$cluster_queue"'
BY_QUOTA = "cohort, cluster_queue, flavor, resource"


def enabled(config: PlatformConfig) -> bool:
    return config.components.kueue.enabled


def build(config: PlatformConfig) -> Dashboard:
    rate = "$__rate_interval"
    dash = (
        p.new(
            "Kueue",
            UID,
            "Workloads waiting for and admitted by each ClusterQueue, how long admission "
            "takes, and quota usage and borrowing per ClusterQueue and cohort.",
        )
        .with_variable(
            p.variable(
                "cluster_queue",
                "ClusterQueue",
                "label_values(kueue_cluster_queue_status, cluster_queue)",
            )
        )
        .with_row(p.row("Workloads"))
        .with_panel(
            p.graph(
                "Pending workloads",
                "Workloads waiting per ClusterQueue: active (may be admitted when quota frees) "
                "and inadmissible (cannot be admitted as the queue is configured).",
                [
                    (
                        f"sum by (cluster_queue, status) (kueue_pending_workloads{{{CQ}}})",
                        "{{cluster_queue}} {{status}}",
                    )
                ],
                "none",
                stacked=True,
            )
        )
        .with_panel(
            p.graph(
                "Admitted active workloads",
                "Workloads admitted and not finished, per ClusterQueue.",
                [
                    (
                        f"sum by (cluster_queue) (kueue_admitted_active_workloads{{{CQ}}})",
                        "{{cluster_queue}}",
                    )
                ],
                "none",
                stacked=True,
            )
        )
        .with_panel(
            p.graph(
                "Admission wait (p50, p95)",
                "Time from creation (or requeue) to admission, per ClusterQueue.",
                [
                    (
                        f"histogram_quantile({q}, sum by (cluster_queue, le) (rate("
                        f"kueue_admission_wait_time_seconds_bucket{{{CQ}}}[{rate}])))",
                        f"{{{{cluster_queue}}}} p{int(q * 100)}",
                    )
                    for q in (0.5, 0.95)
                ],
                "s",
            )
        )
        .with_panel(
            p.graph(
                "Admissions and evictions",
                "Workloads admitted and evicted per second, per ClusterQueue.",
                [
                    (
                        f"sum by (cluster_queue) (rate(kueue_admitted_workloads_total{{{CQ}}}"
                        f"[{rate}]))",
                        "{{cluster_queue}} admitted",
                    ),
                    (
                        f"sum by (cluster_queue) (rate(kueue_evicted_workloads_total{{{CQ}}}"
                        f"[{rate}]))",
                        "{{cluster_queue}} evicted",
                    ),
                ],
                "ops",
            )
        )
        .with_row(p.row("Quota"))
        .with_panel(
            p.bars(
                "Usage / nominal quota",
                "Resources used by admitted workloads over the ClusterQueue's nominal quota, "
                "per flavor and resource; above 100% the queue is borrowing from its cohort.",
                [
                    (
                        f"sum by ({BY_QUOTA}) (kueue_cluster_queue_resource_usage{{{CQ}}}) "
                        f"/ sum by ({BY_QUOTA}) (kueue_cluster_queue_nominal_quota{{{CQ}}} > 0)",
                        "{{cluster_queue}} {{flavor}}/{{resource}}",
                    )
                ],
                "percentunit",
                maximum=1.5,
            )
        )
        .with_panel(
            p.graph(
                "Borrowed",
                "Usage above nominal quota (borrowed from the cohort), per ClusterQueue, "
                "flavor and resource, against the ClusterQueue's borrowing limit.",
                [
                    (
                        f"clamp_min(sum by ({BY_QUOTA}) (kueue_cluster_queue_resource_usage"
                        f"{{{CQ}}}) - sum by ({BY_QUOTA}) (kueue_cluster_queue_nominal_quota"
                        f"{{{CQ}}}), 0)",
                        "{{cluster_queue}} {{flavor}}/{{resource}}",
                    ),
                    (
                        f"sum by ({BY_QUOTA}) (kueue_cluster_queue_borrowing_limit{{{CQ}}})",
                        "{{cluster_queue}} {{flavor}}/{{resource}} limit",
                    ),
                ],
                "none",
            )
        )
        .with_panel(
            p.graph(
                "Cohort usage / nominal quota",
                "Per cohort: what its ClusterQueues use over what they own together.",
                [
                    (
                        "sum by (cohort, flavor, resource) (kueue_cluster_queue_resource_usage"
                        '{cohort!=""}) / sum by (cohort, flavor, resource) '
                        '(kueue_cluster_queue_nominal_quota{cohort!=""} > 0)',
                        "{{cohort}} {{flavor}}/{{resource}}",
                    )
                ],
                "percentunit",
                width=24,
            )
        )
    )
    return p.finish(dash)
