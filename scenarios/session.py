"""What a step runs against: the cluster, the waiter, the target, and shared helpers for
the outcomes scenarios check (Kueue admission, job completion, pod logs, metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlplatform.scenarios.client import Cluster, Obj, ref
from mlplatform.scenarios.library import Target
from mlplatform.scenarios.waits import JOB, LONG, Tier, Waiter
from mlplatform.scenarios.workloads.distenv import parse_metrics

# Terminal conditions per workload kind: (success, failure).
_TERMINAL = {
    "Job": ("Complete", "Failed"),
    "PyTorchJob": ("Succeeded", "Failed"),
    "TrainJob": ("Complete", "Failed"),
}
POD_SELECTORS = {
    "Job": lambda name: {"job-name": name},
    "PyTorchJob": lambda name: {"training.kubeflow.org/job-name": name},
    "TrainJob": lambda name: {"jobset.sigs.k8s.io/jobset-name": name},
}


class StepFailed(AssertionError):
    """An expected outcome did not happen (as opposed to a harness error)."""


def condition(obj: Obj | None, kind: str) -> Obj | None:
    for c in (obj or {}).get("status", {}).get("conditions", []) or []:
        if c.get("type") == kind and c.get("status") == "True":
            return c
    return None


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Session:
    cluster: Cluster
    waiter: Waiter
    target: Target
    work_dir: Path
    metrics: dict[str, float] = field(default_factory=dict)
    created: list[Obj] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # values steps hand to later steps

    @property
    def kueue_api(self) -> str:
        return self.target.release.component("kueue").api("kueue")

    def create(self, obj: Obj) -> Obj:
        live = self.cluster.create(obj)
        self.created.append(obj)
        return live

    def live(self, obj: Obj) -> Obj | None:
        md = obj["metadata"]
        return self.cluster.get(obj["apiVersion"], obj["kind"], md["name"], md.get("namespace"))

    # --- Kueue ---------------------------------------------------------------------

    def workload(self, obj: Obj) -> Obj | None:
        """The Kueue Workload owned by a job object (None until Kueue created it)."""
        live = self.live(obj)
        if not live:
            return None
        uid = live["metadata"].get("uid")
        for wl in self.cluster.list(self.kueue_api, "Workload", obj["metadata"]["namespace"]):
            if any(o.get("uid") == uid for o in wl["metadata"].get("ownerReferences", [])):
                return wl
        return None

    def _workload_state(self, obj: Obj) -> str:
        wl = self.workload(obj)
        if not wl:
            return "no Workload yet"
        conds = wl.get("status", {}).get("conditions", [])
        return "; ".join(f"{c['type']}={c['status']} {c.get('message', '')}" for c in conds) or "-"

    def admitted(self, obj: Obj, tier: Tier = LONG) -> Obj:
        """Wait until Kueue admits the job; records its admission latency."""
        wl = self.waiter.until(
            lambda: (w := self.workload(obj)) and condition(w, "Admitted") and w,
            tier,
            f"{ref(obj)} admitted by Kueue",
            lambda: self._workload_state(obj),
        )
        admitted = condition(wl, "Admitted") or {}
        created = wl["metadata"].get("creationTimestamp")
        if created and admitted.get("lastTransitionTime"):
            latency = (_ts(admitted["lastTransitionTime"]) - _ts(created)).total_seconds()
            self.metrics.setdefault("admission_latency_s", max(latency, 0.0))
        return wl

    def not_admitted(self, obj: Obj, tier: Tier) -> None:
        self.waiter.consistently(
            lambda: not condition(self.workload(obj), "Admitted"),
            tier,
            f"{ref(obj)} stays pending",
            lambda: self._workload_state(obj),
        )

    def evicted(self, obj: Obj, tier: Tier = LONG) -> Obj:
        return self.waiter.until(
            lambda: (
                (w := self.workload(obj))
                and (condition(w, "Evicted") or condition(w, "Preempted"))
                and w
            ),
            tier,
            f"{ref(obj)} preempted",
            lambda: self._workload_state(obj),
        )

    # --- jobs and pods -------------------------------------------------------------

    def finished(self, obj: Obj, tier: Tier = JOB) -> Obj:
        """Wait for success; a Failed condition fails the step at once with its message."""
        ok, bad = _TERMINAL[obj["kind"]]

        def check() -> Obj | None:
            live = self.live(obj)
            if (failed := condition(live, bad)) is not None:
                raise StepFailed(
                    f"{ref(obj)} failed: "
                    + " ".join(filter(None, (failed.get("reason"), failed.get("message"))))
                )
            return live if condition(live, ok) else None

        return self.waiter.until(
            check, tier, f"{ref(obj)} {ok}", lambda: str((self.live(obj) or {}).get("status", {}))
        )

    def pods(self, obj: Obj) -> list[Obj]:
        name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
        return self.cluster.list("v1", "Pod", ns, POD_SELECTORS[obj["kind"]](name))

    def payload_metrics(self, obj: Obj) -> dict[str, Any]:
        """The MLPLATFORM_METRICS line printed by the job's pods (rank 0 for training)."""
        for pod in self.pods(obj):
            for c in pod["spec"]["containers"]:
                found = parse_metrics(
                    self.cluster.logs(
                        obj["metadata"]["namespace"], pod["metadata"]["name"], c["name"]
                    )
                )
                if found is not None:
                    return found
        raise StepFailed(f"no metrics line in the logs of {ref(obj)}'s pods")

    def pod_logs(self, obj: Obj) -> str:
        """Every container's log of the job's pods, concatenated."""
        ns = obj["metadata"]["namespace"]
        return "\n".join(
            self.cluster.logs(ns, p["metadata"]["name"], c["name"])
            for p in self.pods(obj)
            for c in p["spec"]["containers"]
        )

    def running_pod_ip(self, obj: Obj, tier: Tier = LONG) -> str:
        def ip() -> str | None:
            for p in self.pods(obj):
                if p.get("status", {}).get("phase") == "Running" and p["status"].get("podIP"):
                    return str(p["status"]["podIP"])
            return None

        return self.waiter.until(ip, tier, f"{ref(obj)} has a running pod with an IP")
