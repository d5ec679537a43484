"""Kueue config: the controller, its ResourceFlavors, WorkloadPriorityClasses and cohorts.

Tenants reference flavors, priority classes and cohorts by name, so names are validated
here once: DNS labels, unique, and the default priority class must exist.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from mlplatform.config.base import (
    DnsLabel,
    LabelKey,
    Labels,
    LabelValue,
    Model,
    Replicas,
    ResourceList,
    Resources,
    problem,
    raise_all,
)
from mlplatform.config.gpu import GPU_PRESENT_LABEL, Toleration

# Go's time.ParseDuration units (Kueue parses timeouts with it): no days.
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


def _go_duration(value: str) -> str:
    if not _GO_DURATION.match(value):
        raise ValueError(f"{value!r} is not a Go duration such as 90s, 5m or 1h30m")
    return value


GoDuration = Annotated[str, AfterValidator(_go_duration)]
NodeLabels = Labels


class Taint(Model):
    """A taint the flavor's nodes carry; admitted workloads must tolerate it."""

    key: LabelKey
    value: LabelValue | None = None
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
            raise problem(
                "nodeLabels",
                f"flavor {self.name!r} is a gpu flavor without nodeLabels: GPU quota would be "
                f'admitted onto any node; add e.g. nodeLabels: {{{GPU_PRESENT_LABEL}: "true"}}',
            )
        return self


class PriorityClassSpec(Model):
    """A WorkloadPriorityClass (jobs pick it with the kueue.x-k8s.io/priority-class label)."""

    name: DnsLabel
    value: int = Field(ge=-2_147_483_648, le=1_000_000_000)
    description: str = Field("", max_length=1024)


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
        found: list[tuple[tuple[str | int, ...], str]] = []
        for field, names in (
            ("flavors", [f.name for f in self.flavors]),
            ("priorityClasses", [p.name for p in self.priority_classes]),
            ("cohorts", [c.name for c in self.cohorts]),
        ):
            first: dict[str, int] = {}
            for i, name in enumerate(names):
                if name in first:
                    found.append(
                        (
                            (field, i, "name"),
                            f"{name!r} is already {field}.{first[name]}; names must be unique "
                            "(rename or remove one)",
                        )
                    )
                first.setdefault(name, i)
        priorities = [p.name for p in self.priority_classes]
        if self.default_priority_class not in priorities:
            found.append(
                (
                    ("defaultPriorityClass",),
                    f"{self.default_priority_class!r} is not one of priorityClasses: "
                    f"{', '.join(priorities)}",
                )
            )
        raise_all(found)
        return self

    @property
    def flavor_names(self) -> list[str]:
        return [f.name for f in self.flavors]
