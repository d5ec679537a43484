"""gang-scheduling: a 2-rank PyTorchJob whose ranks only fit together is admitted
all-or-nothing through Kueue (one Workload for every pod set).

The tenant's quota is 1.5 CPU; a holder job takes 1 CPU, leaving room for one 500m rank but
not both. While it holds, the PyTorchJob stays unadmitted with none of its pods created (a
per-pod scheduler would start one rank and deadlock); once the holder goes, both ranks are
admitted at once, run and succeed.
"""

from __future__ import annotations

from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests.batch import sleeper_job
from mlplatform.scenarios.manifests.pods import Size
from mlplatform.scenarios.manifests.tenancy import Quota, ScenarioTenant
from mlplatform.scenarios.manifests.training import TrainSpec, pytorch_job
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import CONSISTENT

NAME = "gang-scheduling"
HOLD_S = 900  # outlives the scenario; the step deletes it
GANG = ("gang_scheduling",)


def build(t: Target) -> Plan:
    tenant = ScenarioTenant(
        t.namespace(NAME), NAME, t.flavor(NAME), Quota(cpu="1500m", memory="3Gi")
    )
    ns, queue = tenant.namespace, tenant.local_queue
    spec = TrainSpec(t.images.scenario)  # 2 ranks of 500m
    gang = pytorch_job(t.release, "gang", ns, queue, spec)
    holder = sleeper_job(
        "holder", ns, t.images.scenario, queue, Size(cpu="1", memory="256Mi"), HOLD_S
    )

    def held(s: Session) -> None:
        s.create(holder)
        s.admitted(holder)

    def waits_whole(s: Session) -> None:
        s.create(gang)

        def nothing_started() -> bool:
            return not condition(s.workload(gang), "Admitted") and not s.pods(gang)

        s.waiter.consistently(
            nothing_started,
            CONSISTENT,
            f"PyTorchJob {ns}/gang unadmitted with no pods",
            lambda: f"{len(s.pods(gang))} pods; workload {s._workload_state(gang)}",
        )

    def runs_whole(s: Session) -> None:
        s.cluster.delete(holder["apiVersion"], holder["kind"], "holder", ns)
        wl = s.admitted(gang)
        pod_sets = wl.get("status", {}).get("admission", {}).get("podSetAssignments", [])
        admitted = sum(int(p.get("count", 0)) for p in pod_sets)
        if admitted != spec.nodes:
            raise StepFailed(f"admitted {admitted} of {spec.nodes} ranks in one admission")
        s.finished(gang)
        done = [p for p in s.pods(gang) if p.get("status", {}).get("phase") == "Succeeded"]
        if len(done) < spec.nodes:
            raise StepFailed(f"{len(done)} of {spec.nodes} ranks succeeded")

    steps = [
        Step("quota held", "a 1-CPU job leaves room for one 500m rank, not both", held),
        Step("gang waits whole", f"the 2-rank PyTorchJob stays unadmitted for {CONSISTENT} "
             "with none of its pods created", waits_whole, GANG),
        Step("gang runs whole", "once the holder is deleted, both ranks are admitted in one "
             "admission, run and succeed", runs_whole, GANG),
    ]  # fmt: skip
    return Plan(
        [tenant],
        [tenant.flavor.build(t.release)],
        [holder, gang],
        steps,
        ["kueue", "training_operator"],
    )


SCENARIO = Scenario(
    NAME,
    "A distributed job whose ranks only fit together is admitted all-or-nothing by Kueue.",
    ("kueue", "training_operator"),
    build,
)
