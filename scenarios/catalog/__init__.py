"""One module per conformance scenario; ALL is the run order."""

from mlplatform.scenarios.catalog import (
    gpu_scheduling,
    pipeline_run,
    quota_preemption,
    serve_and_load,
    tenant_isolation,
    train_queued,
)

ALL = (
    tenant_isolation.SCENARIO,
    train_queued.SCENARIO,
    quota_preemption.SCENARIO,
    gpu_scheduling.SCENARIO,
    serve_and_load.SCENARIO,
    pipeline_run.SCENARIO,
)
