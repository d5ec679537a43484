"""What a rendered stack runs: objects per component, images, CPU/memory requests and limits.

Steady state only: Deployments, StatefulSets and the pods the Prometheus operator makes from
Prometheus/Alertmanager resources count with their replicas, DaemonSets once (per node);
Jobs run to completion and are listed but not summed. A container without requests or
limits is named, because the footprint cannot be bounded without them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mlplatform.quantity import parse_quantity

Obj = dict[str, Any]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
OPERATOR_PODS = {"Prometheus", "Alertmanager"}  # monitoring.coreos.com: pods from a spec
JOBS = {"Job", "CronJob"}
RESOURCES = ("cpu", "memory")


@dataclass
class Footprint:
    """Summed requests and limits (cpu in cores, memory in bytes)."""

    requests: dict[str, Decimal] = field(
        default_factory=lambda: dict.fromkeys(RESOURCES, Decimal(0))
    )
    limits: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(RESOURCES, Decimal(0)))

    def add(self, other: Footprint) -> None:
        for r in RESOURCES:
            self.requests[r] += other.requests[r]
            self.limits[r] += other.limits[r]

    def as_dict(self) -> dict[str, str]:
        return {
            "cpuRequests": cores(self.requests["cpu"]),
            "memoryRequests": mebibytes(self.requests["memory"]),
            "cpuLimits": cores(self.limits["cpu"]),
            "memoryLimits": mebibytes(self.limits["memory"]),
        }


@dataclass
class ComponentInventory:
    objects: Counter[str] = field(default_factory=Counter)
    images: set[str] = field(default_factory=set)
    footprint: Footprint = field(default_factory=Footprint)
    unbounded: list[str] = field(default_factory=list)  # containers lacking requests/limits
    imageless: list[str] = field(default_factory=list)  # e.g. a patch naming a wrong container
    jobs: list[str] = field(default_factory=list)


def cores(value: Decimal) -> str:
    return f"{value.normalize():f}"


def mebibytes(value: Decimal) -> str:
    return f"{(value / 2**20).quantize(Decimal(1))}Mi"


def _pod_spec(obj: Obj) -> tuple[dict[str, Any] | None, int]:
    """(pod spec, replicas counted) of a workload; (None, 0) for anything else."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind in WORKLOADS:
        replicas = 1 if kind == "DaemonSet" else int(spec.get("replicas", 1) or 0)
        return (spec.get("template") or {}).get("spec") or {}, replicas
    if kind in JOBS:
        job = spec.get("jobTemplate", {}).get("spec", spec) if kind == "CronJob" else spec
        return (job.get("template") or {}).get("spec") or {}, 0
    if kind in OPERATOR_PODS and str(obj.get("apiVersion", "")).startswith("monitoring.coreos.com"):
        pod = {
            "containers": [
                {"name": kind.lower(), **{k: spec[k] for k in ("image", "resources") if k in spec}}
            ]
        }
        return pod, int(spec.get("replicas", 1) or 0)
    return None, 0


def _amount(resources: dict[str, Any], kind: str, resource: str) -> Decimal | None:
    value = (resources.get(kind) or {}).get(resource)
    return None if value is None else parse_quantity(str(value))


def add_object(inv: ComponentInventory, obj: Obj) -> None:
    inv.objects[str(obj.get("kind"))] += 1
    pod, replicas = _pod_spec(obj)
    if pod is None:
        return
    name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    if obj.get("kind") in JOBS:
        inv.jobs.append(name)
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        if container.get("image"):
            inv.images.add(str(container["image"]))
        else:
            inv.imageless.append(f"{name} {container.get('name')}")
        resources = container.get("resources") or {}
        missing = [
            f"{kind}.{r}"
            for kind in ("requests", "limits")
            for r in RESOURCES
            if _amount(resources, kind, r) is None
        ]
        if missing:
            inv.unbounded.append(f"{name} {container.get('name')}: no {', '.join(missing)}")
        is_init = container in (pod.get("initContainers") or [])
        if is_init or not replicas:
            continue
        for r in RESOURCES:
            for kind, target in (
                ("requests", inv.footprint.requests),
                ("limits", inv.footprint.limits),
            ):
                amount = _amount(resources, kind, r)
                if (
                    amount is None and kind == "requests"
                ):  # the API server defaults requests to limits
                    amount = _amount(resources, "limits", r)
                target[r] += (amount or Decimal(0)) * replicas


def inventory(objects: dict[str, list[Obj]]) -> dict[str, ComponentInventory]:
    out: dict[str, ComponentInventory] = {}
    for component, objs in objects.items():
        inv = out.setdefault(component, ComponentInventory())
        for obj in objs:
            add_object(inv, obj)
    return out


def total(inventories: dict[str, ComponentInventory]) -> Footprint:
    footprint = Footprint()
    for inv in inventories.values():
        footprint.add(inv.footprint)
    return footprint


def report(inventories: dict[str, ComponentInventory]) -> dict[str, Any]:
    """A JSON-ready summary: per component and in total, plus every image."""
    return {
        "components": {
            name: {
                "objects": dict(sorted(inv.objects.items())),
                **inv.footprint.as_dict(),
                "images": sorted(inv.images),
                "unboundedContainers": inv.unbounded,
                "jobs": inv.jobs,
            }
            for name, inv in sorted(inventories.items())
        },
        "total": {
            "objects": sum(sum(inv.objects.values()) for inv in inventories.values()),
            **total(inventories).as_dict(),
        },
        "images": sorted({i for inv in inventories.values() for i in inv.images}),
    }
