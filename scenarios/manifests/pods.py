"""Pod building blocks: restricted containers with resources, queue/priority labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlplatform.config.gpu import GPU_RESOURCE
from mlplatform.kueue_objects import PRIORITY_LABEL, QUEUE_LABEL
from mlplatform.manifests import Obj, meta

SCRATCH = "scratch"  # emptyDir at /tmp: HOME, outputs and caches on a read-only root
SCRATCH_PATH = "/tmp"
RUN_AS = 65532


@dataclass(frozen=True)
class Size:
    """Requests equal limits (Guaranteed QoS, and what Kueue counts against quota)."""

    cpu: str = "250m"
    memory: str = "256Mi"
    gpus: int = 0

    def resources(self) -> dict[str, dict[str, str]]:
        amounts = {"cpu": self.cpu, "memory": self.memory}
        if self.gpus:
            amounts[GPU_RESOURCE] = str(self.gpus)
        return {"requests": dict(amounts), "limits": dict(amounts)}


def container_security(read_only_root: bool = True) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    command: list[str]
    args: list[str] = field(default_factory=list)
    size: Size = Size()
    env: dict[str, str] = field(default_factory=dict)
    env_from_secret: dict[str, tuple[str, str]] = field(default_factory=dict)
    env_from_field: dict[str, str] = field(default_factory=dict)  # name -> fieldPath
    ports: list[int] = field(default_factory=list)
    mounts: dict[str, str] = field(default_factory=dict)  # volume name -> mount path

    def build(self) -> Obj:
        env: list[dict[str, Any]] = [
            {"name": k, "valueFrom": {"secretKeyRef": {"name": s, "key": key}}}
            for k, (s, key) in self.env_from_secret.items()
        ]
        env += [
            {"name": k, "valueFrom": {"fieldRef": {"fieldPath": f}}}
            for k, f in self.env_from_field.items()
        ]
        env += [{"name": k, "value": v} for k, v in self.env.items()]
        c: Obj = {
            "name": self.name,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": self.command,
            "args": self.args,
            "resources": self.size.resources(),
            "securityContext": container_security(),
            "volumeMounts": [{"name": SCRATCH, "mountPath": SCRATCH_PATH}]
            + [{"name": v, "mountPath": p} for v, p in self.mounts.items()],
        }
        if env:
            c["env"] = env
        if self.ports:
            c["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in self.ports]
        return c


def pod_spec(
    containers: list[Container],
    restart_policy: str = "Never",
    *,
    init_containers: list[Container] | None = None,
    service_account: str | None = None,
    volumes: list[Obj] | None = None,
    node_selector: dict[str, str] | None = None,
    tolerations: list[Obj] | None = None,
) -> Obj:
    """A restricted PodSpec; the API token is mounted only for a named ServiceAccount."""
    spec: Obj = {
        "restartPolicy": restart_policy,
        "automountServiceAccountToken": service_account is not None,
        "securityContext": pod_security(),
        "containers": [c.build() for c in containers],
        "volumes": [{"name": SCRATCH, "emptyDir": {"sizeLimit": "1Gi"}}, *(volumes or [])],
    }
    if init_containers:
        spec["initContainers"] = [c.build() for c in init_containers]
    if service_account:
        spec["serviceAccountName"] = service_account
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    return spec


def queue_labels(queue: str, priority: str | None = None) -> dict[str, str]:
    """What joins a job to a tenant's LocalQueue (and a WorkloadPriorityClass)."""
    labels = {QUEUE_LABEL: queue}
    if priority:
        labels[PRIORITY_LABEL] = priority
    return labels


def template(spec: Obj, labels: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"labels": labels or {}}, "spec": spec}


def queued_job(
    name: str,
    namespace: str,
    spec: Obj,
    labels: dict[str, str],
    *,
    backoff_limit: int = 0,
    ttl_s: int | None = None,
    deadline_s: int | None = None,
    pod_labels: dict[str, str] | None = None,
) -> Obj:
    """A batch Job created suspended, for Kueue to admit through the queue in `labels`."""
    job: dict[str, Any] = {"suspend": True, "backoffLimit": backoff_limit}
    if ttl_s is not None:
        job["ttlSecondsAfterFinished"] = ttl_s
    if deadline_s is not None:
        job["activeDeadlineSeconds"] = deadline_s
    job["template"] = template(spec, {**labels, **(pod_labels or {})})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(name, namespace, **labels),
        "spec": job,
    }


def all_pod_specs(obj: Obj) -> list[Obj]:
    """Every PodSpec inside a workload object (Pod, Job, PyTorchJob, TrainingRuntime, ...)."""
    found: list[Obj] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "containers" in node and isinstance(node["containers"], list):
                found.append(node)
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    if obj.get("kind") == "Pod":
        return [obj["spec"]]
    walk(obj.get("spec", {}))
    return found
