"""A fake `Cluster` (in-memory objects) with a tiny Kueue + job controller, and a fake clock."""

from __future__ import annotations

import base64
import copy
import itertools
import json
from collections.abc import Callable
from typing import Any

from mlplatform.kueue_objects import QUEUE_LABEL
from mlplatform.scenarios.client import ApiError
from mlplatform.scenarios.load import LoadConfig, LoadReport, LoadResult, evaluate, load_slo
from mlplatform.scenarios.manifests.serving import LOAD_PREFIX

Obj = dict[str, Any]
T0 = "2026-01-01T00:00:00Z"
ADMITTED_AT = "2026-01-01T00:00:02Z"
JOB_KINDS = {"Job": "Complete", "PyTorchJob": "Succeeded", "TrainJob": "Complete"}


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps = 0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.t += seconds


def _key(api_version: str, kind: str, name: str, namespace: str | None) -> tuple:
    return (kind, namespace or "", name)


class FakeCluster:
    """Objects by (kind, namespace, name). Hooks simulate controllers on create."""

    def __init__(self, user: str | None = None, parent: FakeCluster | None = None) -> None:
        self.objects: dict[tuple, Obj] = {} if parent is None else parent.objects
        self.logs_by_pod: dict[tuple[str, str, str], str] = {}
        self.fail_create: dict[str, ApiError] = {}
        self.fail_logs = False
        self.deleted: list[str] = []
        self.hooks: list[Callable[[FakeCluster, Obj], None]] = []
        self.access: Callable[[str, str], bool] = lambda user, ns: True
        self.user = user
        self.parent = parent
        self._uids = itertools.count(1)
        self.kubernetes = "1.34"
        self.proxied: dict[tuple[str, str, str], Callable[[dict[str, str]], str]] = {}

    # --- Cluster protocol ------------------------------------------------------------

    def create(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        if err := self.fail_create.get(obj["kind"]):
            raise err
        if obj["kind"] == "SubjectAccessReview":
            attrs = obj["spec"]["resourceAttributes"]
            obj["status"] = {"allowed": self.access(obj["spec"]["user"], attrs["namespace"])}
            return obj
        md = obj.setdefault("metadata", {})
        key = _key(obj["apiVersion"], obj["kind"], md["name"], md.get("namespace"))
        if key in self.objects:
            raise ApiError(409, "AlreadyExists")
        md.setdefault("uid", f"uid-{next(self._uids)}")
        md.setdefault("creationTimestamp", T0)
        self.objects[key] = obj
        for hook in self.hooks:
            hook(self, obj)
        return copy.deepcopy(obj)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None):
        found = self.objects.get(_key(api_version, kind, name, namespace))
        return copy.deepcopy(found) if found else None

    def list(self, api_version: str, kind: str, namespace: str | None = None, labels=None):
        self._authorise(namespace)
        out = []
        for (k, ns, _), obj in self.objects.items():
            obj_labels = obj["metadata"].get("labels", {})
            if (
                k == kind
                and (namespace is None or ns == namespace)
                and all(obj_labels.get(a) == b for a, b in (labels or {}).items())
            ):
                out.append(copy.deepcopy(obj))
        return out

    def patch(self, api_version: str, kind: str, name: str, patch: Obj, namespace=None) -> Obj:
        obj = self.objects[_key(api_version, kind, name, namespace)]
        obj.update(patch)
        return copy.deepcopy(obj)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        self.deleted.append(f"{kind}/{name}")
        self.objects.pop(_key(api_version, kind, name, namespace), None)
        if kind == "Namespace":
            for key in [k for k in self.objects if k[1] == name]:
                del self.objects[key]

    def logs(self, namespace: str, pod: str, container=None, tail_lines=None) -> str:
        if self.fail_logs:
            raise ApiError(500, "log backend down")
        return self.logs_by_pod.get((namespace, pod, container or ""), "")

    def version(self) -> str:
        return self.kubernetes

    def proxy_get(self, namespace: str, service: str, path: str, params=None) -> str:
        """Answered by `self.proxied[(namespace, service, path)](params)`; else 503."""
        if (handler := self.proxied.get((namespace, service, path))) is None:
            raise ApiError(503, f"no endpoints for service {namespace}/{service}")
        return handler(params or {})

    def impersonate(self, user: str, groups: list[str]) -> FakeCluster:
        view = FakeCluster(user, self)
        view.access = self.access
        return view

    def _authorise(self, namespace: str | None) -> None:
        if self.user and namespace and not self.access(self.user, namespace):
            raise ApiError(403, "Forbidden")

    # --- helpers ---------------------------------------------------------------------

    def put(self, obj: Obj) -> None:
        md = obj["metadata"]
        self.objects[_key(obj["apiVersion"], obj["kind"], md["name"], md.get("namespace"))] = obj

    def namespaces(self) -> set[str]:
        return {k[2] for k in self.objects if k[0] == "Namespace"}

    def kinds(self) -> set[str]:
        return {k[0] for k in self.objects}


def _set_condition(obj: Obj, kind: str, at: str = ADMITTED_AT, message: str = "") -> None:
    conds = obj.setdefault("status", {}).setdefault("conditions", [])
    conds.append({"type": kind, "status": "True", "lastTransitionTime": at, "message": message})


def kueue_and_jobs(
    admit: bool = True,
    complete: bool = True,
    node: str = "node-1",
    pod_log: str = "",
    fail_jobs: set[str] = frozenset(),
) -> Callable[[FakeCluster, Obj], None]:
    """On LocalQueue: Active. On a queued job: a Workload admitted when the LocalQueue's
    ClusterQueue selects the job's namespace, then a pod, then the terminal condition."""

    def hook(cluster: FakeCluster, obj: Obj) -> None:
        md = obj["metadata"]
        if obj["kind"] == "LocalQueue":
            _set_condition(obj, "Active")
            return
        if obj["kind"] not in JOB_KINDS or QUEUE_LABEL not in md.get("labels", {}):
            return
        ns, name = md["namespace"], md["name"]
        lq = cluster.get("", "LocalQueue", md["labels"][QUEUE_LABEL], ns)
        cq = lq and cluster.get("", "ClusterQueue", lq["spec"]["clusterQueue"])
        selects = (
            bool(cq)
            and cq["spec"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == ns
        )
        kueue_api = lq["apiVersion"] if lq else "kueue.x-k8s.io/v1beta1"
        workload: Obj = {
            "apiVersion": kueue_api,
            "kind": "Workload",
            "metadata": {
                "name": f"job-{name}",
                "namespace": ns,
                "creationTimestamp": T0,
                "ownerReferences": [{"uid": md["uid"], "name": name}],
            },
        }
        if admit and selects:
            flavor = cq["spec"]["resourceGroups"][0]["flavors"][0]["name"]
            _set_condition(workload, "Admitted")
            workload["status"]["admission"] = {
                "podSetAssignments": [{"name": "main", "flavors": {"cpu": flavor}}]
            }
        cluster.put(workload)
        if not (admit and selects):
            return
        template = (obj["spec"].get("template") or {}).get("metadata", {}).get("labels", {})
        selector = {
            "Job": {"job-name": name},
            "PyTorchJob": {"training.kubeflow.org/job-name": name},
            "TrainJob": {"jobset.sigs.k8s.io/jobset-name": name},
        }[obj["kind"]]
        server = template.get("mlplatform.io/probe") == "server"
        pods = 2 if obj["kind"] != "Job" else 1
        for i in range(pods):
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{name}-{i}", "namespace": ns, "labels": selector},
                "spec": {"nodeName": node, "containers": [{"name": "main"}]},
                "status": {
                    "phase": "Running" if server else "Succeeded",
                    "podIP": f"10.1.0.{i + 2}",
                },
            }
            cluster.put(pod)
            cluster.logs_by_pod[(ns, pod["metadata"]["name"], "main")] = pod_log
        if complete and not server:
            failed = name in fail_jobs
            _set_condition(
                obj,
                "Failed" if failed else JOB_KINDS[obj["kind"]],
                message="BackoffLimitExceeded" if failed else "",
            )

    return hook


def node(name: str, gpus: int = 0) -> Obj:
    labels = {"nvidia.com/gpu.present": "true"} if gpus else {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"allocatable": {"cpu": "8", "nvidia.com/gpu": str(gpus)}},
    }


def load_report(
    p95_ms: float, failures: int = 0, rps: float = 80.0, profile: str = "cluster"
) -> LoadReport:
    slo = load_slo(profile)
    requests = 5000
    result = LoadResult(requests=requests, failures=failures, fail_ratio=failures / requests,
                        rps=rps, p50_ms=20.0, p95_ms=p95_ms, p99_ms=p95_ms, avg_ms=25.0,
                        max_ms=p95_ms)  # fmt: skip
    return LoadReport(LoadConfig("http://x"), slo, result, evaluate(result, slo))


def serving_cluster(load: LoadReport) -> FakeCluster:
    """MinIO's root secret, Ready InferenceServices, jobs logging `load` as the harness does."""
    line = f"{LOAD_PREFIX}{json.dumps(json.loads(load.to_json()))}\n"
    cluster = FakeCluster()
    cluster.hooks.append(
        kueue_and_jobs(pod_log=line, fail_jobs=set() if load.gate.passed else {"load"})
    )
    cluster.put({"apiVersion": "v1", "kind": "Secret",
                 "metadata": {"name": "minio-root", "namespace": "minio"},
                 "data": {"rootUser": base64.b64encode(b"admin").decode(),
                          "rootPassword": base64.b64encode(b"pw").decode()}})  # fmt: skip

    def ready(c: FakeCluster, obj: Obj) -> None:
        if obj["kind"] == "InferenceService":
            obj["status"] = {"conditions": [{"type": "Ready", "status": "True"}],
                             "address": {"url": "http://iris.svc"}}  # fmt: skip

    cluster.hooks.append(ready)
    return cluster
