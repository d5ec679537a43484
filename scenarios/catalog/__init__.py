"""One module per conformance scenario; ALL is the run order."""

from mlplatform.scenarios.catalog import (
    ai_metrics,
    gang_scheduling,
    gpu_scheduling,
    inference_traffic,
    katib_tuning,
    notebook_access,
    pipeline_run,
    pod_autoscaling,
    quota_preemption,
    registry_serving,
    robust_controller,
    secure_accelerator_access,
    serve_and_load,
    tenant_isolation,
    train_queued,
)

ALL = (
    tenant_isolation.SCENARIO,
    train_queued.SCENARIO,
    quota_preemption.SCENARIO,
    gang_scheduling.SCENARIO,
    gpu_scheduling.SCENARIO,
    secure_accelerator_access.SCENARIO,
    robust_controller.SCENARIO,
    serve_and_load.SCENARIO,
    pod_autoscaling.SCENARIO,
    inference_traffic.SCENARIO,
    ai_metrics.SCENARIO,
    pipeline_run.SCENARIO,
    katib_tuning.SCENARIO,
    registry_serving.SCENARIO,
    notebook_access.SCENARIO,
)
