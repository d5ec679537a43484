"""quota-and-preemption: over-quota work waits, borrowing within a cohort stops at its
limit, and a high-priority job preempts a low-priority one.

Tenant A (nominal 1 CPU, may borrow 1) and tenant B (nominal 1 CPU, idle, lends) share a
cohort; every job holds 1 CPU.
"""

from __future__ import annotations

from mlplatform import kueue_objects as kq
from mlplatform.manifests import Obj
from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests.batch import sleeper_job
from mlplatform.scenarios.manifests.pods import Size
from mlplatform.scenarios.manifests.tenancy import Quota, ScenarioTenant
from mlplatform.scenarios.session import Session
from mlplatform.scenarios.waits import CONSISTENT

NAME = "quota-and-preemption"
ONE_CPU = Size(cpu="1", memory="64Mi")
HOLD_S = 900  # long enough to outlive the scenario; cleanup deletes them


def build(t: Target) -> Plan:
    flavor = t.flavor(NAME)
    cohort = t.namespace(NAME, "cohort")
    a = ScenarioTenant(t.namespace(NAME, "a"), NAME, flavor,
                       Quota(cpu="1", memory="1Gi", borrowing_cpu="1"), cohort,
                       preemption={"withinClusterQueue": "LowerPriority",
                                   "reclaimWithinCohort": "Any"})  # fmt: skip
    b = ScenarioTenant(t.namespace(NAME, "b"), NAME, flavor, Quota(cpu="1", memory="1Gi"), cohort)
    api = t.release.component("kueue").api("kueue")
    low, high = t.namespace(NAME, "low"), t.namespace(NAME, "high")
    classes = [
        kq.workload_priority_class(api, low, 100, "scenario: preemptible"),
        kq.workload_priority_class(api, high, 10000, "scenario: preempts"),
    ]

    def job(name: str, priority: str) -> Obj:
        return sleeper_job(
            name, a.namespace, t.images.scenario, a.local_queue, ONE_CPU, HOLD_S, priority
        )

    nominal, borrowed, waiting, urgent = (
        job("nominal", low),
        job("borrowed", low),
        job("over-quota", low),
        job("urgent", high),
    )

    def within_quota(s: Session) -> None:
        s.create(nominal)
        s.admitted(nominal)

    def borrows(s: Session) -> None:
        s.create(borrowed)
        wl = s.admitted(borrowed)
        s.state["borrowed_workload"] = wl["metadata"]["name"]

    def waits(s: Session) -> None:
        s.create(waiting)
        s.not_admitted(waiting, CONSISTENT)

    def preempts(s: Session) -> None:
        s.create(urgent)
        s.admitted(urgent)
        victims = [
            j
            for j in (nominal, borrowed)
            if (w := s.workload(j))
            and any(
                c.get("type") in ("Evicted", "Preempted") and c.get("status") == "True"
                for c in w.get("status", {}).get("conditions", [])
            )
        ]
        if not victims:
            s.evicted(nominal)

    steps = [
        Step("nominal quota admits", "a 1-CPU low-priority job is admitted in A's own quota",
             within_quota),
        Step("borrowing within cohort", "a second job is admitted by borrowing B's idle CPU",
             borrows),
        Step("over quota waits", f"a third job stays pending for {CONSISTENT} (limit reached)",
             waits),
        Step("priority preempts", "a high-priority job is admitted by preempting a low one",
             preempts),
    ]  # fmt: skip
    return Plan(
        [a, b],
        [flavor.build(t.release), *classes],
        [nominal, borrowed, waiting, urgent],
        steps,
        ["kueue"],
    )


SCENARIO = Scenario(
    NAME,
    "Over-quota work waits, cohort borrowing stops at its limit, priority preempts.",
    ("kueue",),
    build,
)
