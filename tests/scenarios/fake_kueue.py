"""A fake cluster with quota-aware Kueue admission and jobs that run on the fake clock.

Kueue: a queued Job/PyTorchJob becomes one Workload; it is admitted, all pod sets at once,
when its LocalQueue's ClusterQueue selects the namespace, covers every resource requested
and has the nominal quota left; pending workloads are retried whenever quota frees up.
Jobs: an admitted job's pods run for `durations[name]` seconds of the clock (default 0;
None: until deleted), then succeed. Controllers: deleting a controller pod brings up a
Ready replacement. Webhooks: `validate(obj)` may refuse a create with an ApiError.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from mlplatform.kueue_objects import QUEUE_LABEL
from mlplatform.quantity import parse_quantity
from tests.scenarios.fake import T0, FakeClock, FakeCluster, _set_condition

Obj = dict[str, Any]
DONE = {"Job": "Complete", "PyTorchJob": "Succeeded"}
POD_LABEL = {"Job": "job-name", "PyTorchJob": "training.kubeflow.org/job-name"}


def _at(t: float) -> str:
    return f"2026-01-01T00:{int(t) // 60:02d}:{int(t) % 60:02d}Z"


def pod_sets(obj: Obj) -> list[tuple[str, int, Obj]]:
    """(name, count, pod spec) per pod set of a queued job."""
    if obj["kind"] == "Job":
        return [("main", 1, obj["spec"]["template"]["spec"])]
    replicas = obj["spec"]["pytorchReplicaSpecs"]
    return [(k.lower(), r["replicas"], r["template"]["spec"]) for k, r in replicas.items()]


def requests(obj: Obj) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for _, count, spec in pod_sets(obj):
        for c in spec["containers"]:
            for res, amount in c.get("resources", {}).get("requests", {}).items():
                total[res] = total.get(res, Decimal(0)) + count * parse_quantity(amount)
    return total


def running_pod(name: str, namespace: str, labels: dict[str, str], node: str = "node-1") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "main"}]},
        "status": {"phase": "Running", "podIP": "10.1.0.9",
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }  # fmt: skip


class KueueCluster(FakeCluster):
    def __init__(self, clock: FakeClock, node: str = "node-1") -> None:
        super().__init__()
        self.clock = clock
        self.node = node
        self.durations: dict[str, float | None] = {}
        self.pod_logs: dict[str, str] = {}  # container name -> log line of every pod
        self.controllers: list[tuple[str, dict[str, str]]] = []  # (namespace, labels)
        self.validate: Callable[[Obj], None] = lambda obj: None
        self.on_delete: list[Callable[[KueueCluster, str, str, str | None], None]] = []
        self._pending: list[tuple[str, str, str]] = []  # (kind, namespace, name)
        self._running: dict[tuple[str, str, str], float | None] = {}  # -> end time
        self._names = itertools.count(1)
        self.hooks.append(lambda c, obj: self._on_create(obj))

    # --- controllers ---------------------------------------------------------------

    def add_controller(self, namespace: str, labels: dict[str, str]) -> None:
        self.controllers.append((namespace, labels))
        self.put(running_pod(f"ctrl-{next(self._names)}", namespace, labels))

    # --- Cluster protocol ------------------------------------------------------------

    def create(self, obj: Obj) -> Obj:
        self.validate(obj)
        return super().create(obj)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None):
        self._advance()
        return super().get(api_version, kind, name, namespace)

    def list(self, api_version: str, kind: str, namespace: str | None = None, labels=None):
        self._advance()
        return super().list(api_version, kind, namespace, labels)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        pod = self.objects.get(("Pod", namespace or "", name))
        super().delete(api_version, kind, name, namespace)
        key = (kind, namespace or "", name)
        if key in self._running or key in self._pending:
            self._running.pop(key, None)
            self._pending = [p for p in self._pending if p != key]
            self.objects.pop(("Workload", namespace or "", f"job-{name}"), None)
            for k in [k for k, o in self.objects.items() if k[0] == "Pod" and k[1] == key[1]
                      and o["metadata"]["labels"].get(POD_LABEL[kind]) == name]:  # fmt: skip
                del self.objects[k]
        if pod:
            for ns, labels in self.controllers:
                if ns == namespace and pod["metadata"]["labels"] == labels:
                    self.put(running_pod(f"ctrl-{next(self._names)}", ns, labels))
        for hook in self.on_delete:
            hook(self, kind, name, namespace)
        self._admit()

    # --- simulation ------------------------------------------------------------------

    def _on_create(self, obj: Obj) -> None:
        if obj["kind"] == "LocalQueue":
            _set_condition(obj, "Active")
        elif obj["kind"] in DONE and QUEUE_LABEL in obj["metadata"].get("labels", {}):
            md = obj["metadata"]
            self.put({
                "apiVersion": "kueue.x-k8s.io/v1beta1",
                "kind": "Workload",
                "metadata": {"name": f"job-{md['name']}", "namespace": md["namespace"],
                             "creationTimestamp": T0,
                             "ownerReferences": [{"uid": md["uid"], "name": md["name"]}]},
            })  # fmt: skip
            self._pending.append((obj["kind"], md["namespace"], md["name"]))
            self._admit()

    def _cluster_queue(self, job: Obj) -> Obj | None:
        md = job["metadata"]
        lq = self.objects.get(("LocalQueue", md["namespace"], md["labels"][QUEUE_LABEL]))
        cq = lq and self.objects.get(("ClusterQueue", "", lq["spec"]["clusterQueue"]))
        selected = cq and cq["spec"]["namespaceSelector"]["matchLabels"].get(
            "kubernetes.io/metadata.name"
        )
        return cq if selected == md["namespace"] else None

    def _used(self, cq: Obj) -> dict[str, Decimal]:
        used: dict[str, Decimal] = {}
        for key in self._running:
            job = self.objects.get(key)
            if job and self._cluster_queue(job) is cq and not self._done(job):
                for res, amount in requests(job).items():
                    used[res] = used.get(res, Decimal(0)) + amount
        return used

    @staticmethod
    def _done(job: Obj) -> bool:
        return any(
            c["type"] == DONE[job["kind"]] for c in job.get("status", {}).get("conditions", [])
        )

    def _admit(self) -> None:
        for key in list(self._pending):
            job = self.objects.get(key)
            cq = job and self._cluster_queue(job)
            if cq is None:
                continue
            flavor = cq["spec"]["resourceGroups"][0]["flavors"][0]
            nominal = {r["name"]: parse_quantity(r["nominalQuota"]) for r in flavor["resources"]}
            used, want = self._used(cq), requests(job)
            if any(res not in nominal or used.get(res, 0) + amount > nominal[res]
                   for res, amount in want.items()):  # fmt: skip
                continue
            self._pending.remove(key)
            kind, ns, name = key
            wl = self.objects[("Workload", ns, f"job-{name}")]
            _set_condition(wl, "Admitted", _at(self.clock.now() + 2))
            wl["status"]["admission"] = {"podSetAssignments": [
                {"name": n, "count": c, "flavors": {r: flavor["name"] for r in want}}
                for n, c, _ in pod_sets(job)]}  # fmt: skip
            for n, count, spec in pod_sets(job):
                for i in range(count):
                    pod = running_pod(f"{name}-{n}-{i}", ns, {POD_LABEL[kind]: name}, self.node)
                    pod["spec"]["containers"] = copy.deepcopy(spec["containers"])
                    self.put(pod)
                    for c in spec["containers"]:
                        self.logs_by_pod[(ns, pod["metadata"]["name"], c["name"])] = (
                            self.pod_logs.get(c["name"], "")
                        )
            duration = self.durations.get(name, 0.0)
            self._running[key] = None if duration is None else self.clock.now() + duration
        self._advance()

    def _advance(self) -> None:
        finished = False
        for key, end in list(self._running.items()):
            job = self.objects.get(key)
            if job is None or end is None or self.clock.now() < end or self._done(job):
                continue
            finished = True
            _set_condition(job, DONE[job["kind"]])
            for k, pod in self.objects.items():
                if (
                    k[0] == "Pod"
                    and k[1] == key[1]
                    and pod["metadata"]["labels"].get(POD_LABEL[job["kind"]]) == key[2]
                ):
                    pod["status"]["phase"] = "Succeeded"
        if finished:  # quota freed
            self._admit()
