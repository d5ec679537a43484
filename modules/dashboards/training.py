"""Training: PyTorchJob (Training Operator v1) and TrainJob (Trainer v2) runs, durations, failures.

The Training Operator counts jobs itself (kubeflow/trainer v1.9.2 pkg/common/metrics.go:
`training_operator_jobs_{created,successful,failed,restarted}_total`, labels `job_namespace`,
`framework`). Trainer v2.1.0 exports no job metrics of its own, so TrainJobs are followed through
the JobSet it creates (named like the TrainJob) and that JobSet's Jobs, from kube-state-metrics
(`kube_job_owner{owner_kind="JobSet"}`); PyTorchJob run times from its pods
(`kube_pod_owner{owner_kind="PyTorchJob"}`).
"""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from mlplatform.config import PlatformConfig
from mlplatform.dashboards import panels as p

UID = "mlplatform-training"
FOLDER = "Training"
NS = 'namespace=~"$namespace"'
PYTORCH_PODS = 'kube_pod_owner{owner_kind="PyTorchJob", namespace=~"$namespace"}'
JOBSET_JOBS = 'kube_job_owner{owner_kind="JobSet", namespace=~"$namespace"}'


def enabled(config: PlatformConfig) -> bool:
    t = config.components.training
    return t.operator or t.trainer_on(config.release)


def build(config: PlatformConfig) -> Dashboard:
    t = config.components.training
    dash = p.new(
        "Training",
        UID,
        "Distributed training runs: how many start, succeed, fail and restart, and how long "
        "they take, per tenant namespace.",
    ).with_variable(
        p.variable("namespace", "Namespace", "label_values(kube_resourcequota, namespace)")
    )
    if t.operator:
        counters = ("created", "successful", "failed", "restarted")
        dash = (
            dash.with_row(p.row("PyTorchJob (Training Operator)"))
            .with_panel(
                p.graph(
                    "Jobs per hour",
                    "PyTorchJobs created, succeeded, failed and restarted in the last hour, as "
                    "counted by the Training Operator.",
                    [
                        (
                            f"sum by (job_namespace) (increase(training_operator_jobs_{c}_total"
                            '{job_namespace=~"$namespace"}[1h]))',
                            f"{{{{job_namespace}}}} {c}",
                        )
                        for c in counters
                    ],
                    "none",
                )
            )
            .with_panel(
                p.single(
                    "Failed in range",
                    "PyTorchJobs that failed in the selected time range.",
                    "sum(increase(training_operator_jobs_failed_total"
                    '{job_namespace=~"$namespace"}[$__range])) or vector(0)',
                    "none",
                    bad=1,
                )
            )
            .with_panel(
                p.single(
                    "Running pods",
                    "PyTorchJob pods running now.",
                    f'sum(kube_pod_status_phase{{phase="Running", {NS}}} * on (namespace, pod) '
                    f"group_left () {PYTORCH_PODS}) or vector(0)",
                    "none",
                )
            )
            .with_panel(
                p.listing(
                    "PyTorchJob run time",
                    "Per PyTorchJob: from its first pod's start to its last pod's completion "
                    "(still-running jobs have no completion time yet).",
                    [
                        (
                            "max by (namespace, owner_name) (kube_pod_completion_time * on "
                            f"(namespace, pod) group_left (owner_name) {PYTORCH_PODS}) - min by "
                            "(namespace, owner_name) (kube_pod_start_time * on (namespace, pod) "
                            f"group_left (owner_name) {PYTORCH_PODS})",
                            "",
                        )
                    ],
                    "s",
                    width=24,
                )
            )
        )
    if t.trainer_on(config.release):
        dash = (
            dash.with_row(p.row("TrainJob (Trainer)"))
            .with_panel(
                p.graph(
                    "Active Jobs per TrainJob",
                    "Jobs of each TrainJob's JobSet with running pods.",
                    [
                        (
                            "sum by (namespace, owner_name) (kube_job_status_active * on "
                            f"(namespace, job_name) group_left (owner_name) {JOBSET_JOBS})",
                            "{{namespace}}/{{owner_name}}",
                        )
                    ],
                    "none",
                    stacked=True,
                )
            )
            .with_panel(
                p.graph(
                    "Failed pods per TrainJob",
                    "Failed pods of each TrainJob's Jobs.",
                    [
                        (
                            "sum by (namespace, owner_name) (kube_job_status_failed * on "
                            f"(namespace, job_name) group_left (owner_name) {JOBSET_JOBS})",
                            "{{namespace}}/{{owner_name}}",
                        )
                    ],
                    "none",
                )
            )
            .with_panel(
                p.listing(
                    "TrainJob run time",
                    "Per TrainJob: from its first Job's start to its last Job's completion.",
                    [
                        (
                            "max by (namespace, owner_name) (kube_job_status_completion_time * on "
                            f"(namespace, job_name) group_left (owner_name) {JOBSET_JOBS}) - min "
                            "by (namespace, owner_name) (kube_job_status_start_time * on "
                            f"(namespace, job_name) group_left (owner_name) {JOBSET_JOBS})",
                            "",
                        )
                    ],
                    "s",
                    width=24,
                )
            )
        )
    return p.finish(dash)
