"""pipeline-run: the KFP pipeline (preprocess -> train -> evaluate -> conditional deploy)
is submitted through the KFP API with the tenant's identity and runs to success in the
tenant namespace."""

from __future__ import annotations

from mlplatform import kfp_pod_security
from mlplatform.manifests import PodSecurity
from mlplatform.releases import Release
from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests import pipelines
from mlplatform.scenarios.manifests.tenancy import Egress, Quota, ScenarioTenant
from mlplatform.scenarios.session import Session, StepFailed
from mlplatform.scenarios.waits import PIPELINE

NAME = "pipeline-run"
KFP_NAMESPACE_LABEL = {
    "pipelines.kubeflow.org/enabled": "true"
}  # KFP syncs its per-namespace objects


def pod_security(release: Release) -> PodSecurity:
    """`restricted` where the pinned KFP's run pods can pass it (KFP 2.16: the pipeline declares
    runAsNonRoot on its non-root image), else `baseline` (mlplatform.kfp_pod_security)."""
    blocker = kfp_pod_security.restricted(release.component("kfp").version).blocker
    return "restricted" if blocker is None else "baseline"


def build(t: Target) -> Plan:
    e = t.endpoints
    egress = (
        Egress(e.kfp_namespace, e.kfp_ports),
        Egress(e.minio_namespace, (int(e.minio_endpoint.rsplit(":", 1)[1]),)),
    )
    tenant = ScenarioTenant(t.namespace(NAME), NAME, t.flavor(NAME), Quota(cpu="2", memory="2Gi"),
                            egress=egress, pod_security=pod_security(t.release),
                            labels=KFP_NAMESPACE_LABEL)  # fmt: skip
    ns = tenant.namespace
    identities = pipelines.identities(ns)
    job = pipelines.submit_job(
        "pipeline-submit",
        ns,
        tenant.local_queue,
        t.images.scenario,
        e.kfp_host,
        int(PIPELINE.timeout_s),
    )

    def identity(s: Session) -> None:
        for obj in identities:
            s.create(obj)

    def runs(s: Session) -> None:
        s.create(job)
        s.admitted(job)
        s.finished(job, PIPELINE)
        m = s.payload_metrics(job)
        s.metrics["pipeline_duration_s"] = float(m["duration_s"])
        if m.get("state") != "SUCCEEDED":
            raise StepFailed(f"pipeline run {m.get('run_id')} ended {m.get('state')}")

    steps = [
        Step("tenant identities", "the submitter and run ServiceAccounts are bound", identity),
        Step("pipeline run succeeds", "submitted with the tenant's token, the run succeeds "
             "(deploy gate included)", runs),
    ]  # fmt: skip
    return Plan(
        [tenant], [tenant.flavor.build(t.release)], [*identities, job], steps, ["kfp", "kueue"]
    )


SCENARIO = Scenario(
    NAME,
    "A KFP pipeline submitted as the tenant runs to success.",
    ("kfp", "kueue", "minio"),
    build,
)
