"""Kueue config: the controller, its ResourceFlavors, WorkloadPriorityClasses and cohorts.

Tenants reference flavors, priority classes and cohorts by name, so names are validated
here once: DNS labels, unique, and the default priority class must exist.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from mlplatform.config.base import DnsLabel, Model, Replicas, ResourceList, Resources
from mlplatform.config.gpu import GPU_PRESENT_LABEL, Toleration

# Go's time.ParseDuration units (Kueue parses timeouts with it): no days.
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}$")
_LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?$")


def _go_duration(value: str) -> str:
    if not _GO_DURATION.match(value):
        raise ValueError(f"{value!r} is not a Go duration such as 90s, 5m or 1h30m")
    return value


def _node_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        if not _LABEL_KEY.match(key):
            raise ValueError(f"{key!r} is not a label key such as nvidia.com/gpu.present")
        if not _LABEL_VALUE.match(value):
            raise ValueError(f"label {key}: {value!r} is not a label value (≤63 alphanumerics)")
    return labels


GoDuration = Annotated[str, AfterValidator(_go_duration)]
NodeLabels = Annotated[dict[str, str], AfterValidator(_node_labels)]


class Taint(Model):
    """A taint the flavor's nodes carry; admitted workloads must tolerate it."""

    key: str = Field(min_length=1)
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

    def as_k8s(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump(by_alias=True).items() if v is not None}


class Flavor(Model):
    """A ResourceFlavor: which nodes a quota means (labels), and the taints they carry."""

    name: DnsLabel
    gpu: bool = False
    node_labels: NodeLabels = {}
    node_taints: list[Taint] = []
    tolerations: list[Toleration] = []

    @model_validator(mode="after")
    def _gpu_selects_nodes(self) -> Flavor:
        if self.gpu and not self.node_labels:
            raise ValueError(
                f"flavor {self.name!r} is a gpu flavor without nodeLabels: GPU quota would be "
                f'admitted onto any node; add e.g. nodeLabels: {{{GPU_PRESENT_LABEL}: "true"}}'
            )
        return self


class PriorityClassSpec(Model):
    """A WorkloadPriorityClass (jobs pick it with the kueue.x-k8s.io/priority-class label)."""

    name: DnsLabel
    value: int = Field(ge=-2_147_483_648, le=1_000_000_000)
    description: str = ""


class CohortSpec(Model):
    """A cohort tenants' ClusterQueues may join to borrow each other's unused quota."""

    name: DnsLabel


class WaitForPodsReady(Model):
    """All-or-nothing admission: evict and requeue a workload whose pods are not ready in time."""

    enabled: bool = True
    timeout: GoDuration = "5m"


def _default_priorities() -> list[PriorityClassSpec]:
    return [
        PriorityClassSpec(name="low", value=100, description="Preemptible batch work"),
        PriorityClassSpec(name="default", value=1000, description="Regular training jobs"),
        PriorityClassSpec(name="high", value=10000, description="Urgent jobs; may preempt"),
    ]


class Kueue(Model):
    enabled: bool = True
    replicas: Replicas = 1
    # The chart's own defaults (controllerManager.manager.resources, 0.11-0.16).
    resources: Resources = Resources(
        requests=ResourceList(cpu="500m", memory="512Mi"),
        limits=ResourceList(cpu="2", memory="512Mi"),
    )
    wait_for_pods_ready: WaitForPodsReady = WaitForPodsReady()
    flavors: list[Flavor] = Field(default_factory=lambda: [Flavor(name="cpu")], min_length=1)
    priority_classes: list[PriorityClassSpec] = Field(
        default_factory=_default_priorities, min_length=1
    )
    default_priority_class: DnsLabel = "default"
    cohorts: list[CohortSpec] = []

    @model_validator(mode="after")
    def _names_resolve(self) -> Kueue:
        for field, names in (
            ("flavors", [f.name for f in self.flavors]),
            ("priorityClasses", [p.name for p in self.priority_classes]),
            ("cohorts", [c.name for c in self.cohorts]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{field} repeat the name(s) {repeated}; names must be unique")
        priorities = [p.name for p in self.priority_classes]
        if self.default_priority_class not in priorities:
            raise ValueError(
                f"defaultPriorityClass {self.default_priority_class!r} is not one of "
                f"priorityClasses: {', '.join(priorities)}"
            )
        return self

    @property
    def flavor_names(self) -> list[str]:
        return [f.name for f in self.flavors]
