"""katib-tuning: a Katib experiment in a tenant namespace finishes with every trial admitted
through the team's LocalQueue, its metrics collected under the platform's NetworkPolicies and
Istio sidecars (the namespace carries what a platform tenant's does: tenancy/objects.py)."""

from __future__ import annotations

from mlplatform.components import katib
from mlplatform.components.kubeflow_namespace import NAMESPACE as KUBEFLOW
from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests import tuning
from mlplatform.scenarios.manifests.tenancy import Egress, Quota, ScenarioTenant
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import JOB

NAME = "katib-tuning"
EXPERIMENT = "tune-lr"
TRIALS = 3
EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"  # on every trial's Job (util/labels.go)


def build(t: Target) -> Plan:
    egress = (Egress(KUBEFLOW, (katib.DB_MANAGER_PORT,)), Egress("istio-system", (15012, 15017)))
    labels = {**katib.INJECTION_LABEL, "istio-injection": "enabled"}
    tenant = ScenarioTenant(
        t.namespace(NAME), NAME, t.flavor(NAME), Quota(cpu="2", memory="2Gi"), egress=egress,
        labels=labels,
    )  # fmt: skip
    ns = tenant.namespace
    from_controller = katib.tenant_network_policies(ns)[1]  # suggestions answer the controller
    api = t.release.component("katib").api("katib")
    experiment = tuning.experiment(
        EXPERIMENT, ns, tenant.local_queue, t.images.scenario, api, TRIALS
    )

    def start(s: Session) -> None:
        s.create(from_controller)
        s.create(experiment)

    def trials_queued(s: Session) -> None:
        def done() -> dict | None:
            live = s.live(experiment)
            if (failed := condition(live, "Failed")) is not None:
                raise StepFailed(f"experiment failed: {failed.get('message', '')}")
            return live if condition(live, "Succeeded") else None

        status = lambda: str((s.live(experiment) or {}).get("status", {}))  # noqa: E731
        live = s.waiter.until(done, JOB, f"experiment {EXPERIMENT} Succeeded", status)
        jobs = s.cluster.list("batch/v1", "Job", ns, {EXPERIMENT_LABEL: EXPERIMENT})
        if len(jobs) != TRIALS:
            raise StepFailed(f"{len(jobs)} trial Jobs, expected {TRIALS}")
        for job in jobs:  # each trial was a Kueue workload of the team's queue, admitted
            s.admitted(job)
        s.state["experiment"] = live

    def metrics(s: Session) -> None:
        observed = s.state["experiment"]["status"].get("currentOptimalTrial", {})
        names = {m.get("name"): m for m in observed.get("observation", {}).get("metrics", [])}
        if tuning.METRIC not in names:
            raise StepFailed(f"no {tuning.METRIC} observed: collection did not reach Katib")
        s.metrics["tuning_best_accuracy"] = float(names[tuning.METRIC]["latest"])

    steps = [
        Step("experiment starts", "the Experiment is accepted in a restricted tenant namespace",
             start),
        Step("every trial queued", f"{TRIALS} trials run as Jobs admitted through the team's "
             "LocalQueue; the experiment succeeds", trials_queued),
        Step("metrics collected", f"the best trial's {tuning.METRIC} reached Katib through the "
             "network policies and the mesh", metrics),
    ]  # fmt: skip
    return Plan([tenant], [tenant.flavor.build(t.release)], [from_controller, experiment], steps,
                ["kueue"])  # fmt: skip


SCENARIO = Scenario(
    NAME,
    "a Katib experiment's trials are queued through the team's quota and report their metrics",
    ("katib",),
    build,
)
