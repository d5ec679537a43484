"""GPU config: the NVIDIA device plugin, time-slicing, MIG strategy and GPU node selection."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlplatform.config.base import (
    LabelKey,
    Labels,
    LabelValue,
    Model,
    ResourceList,
    Resources,
    problem,
)

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"


class TimeSlicing(Model):
    replicas: int = Field(1, ge=1, le=64, description="virtual GPUs per physical GPU; 1 = off")


class Toleration(Model):
    key: LabelKey
    operator: Literal["Exists", "Equal"] = "Exists"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None

    @model_validator(mode="after")
    def _value_matches_operator(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise problem("value", f"operator Exists takes no value (got {self.value!r})")
        if self.operator == "Equal" and self.value is None:
            raise problem("value", "operator Equal needs a value")
        return self

    def as_k8s(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump(by_alias=True).items() if v is not None}


class Gpu(Model):
    enabled: bool = False
    time_slicing: TimeSlicing = TimeSlicing()
    mig_strategy: Literal["none", "single", "mixed"] = "none"
    node_selector: Labels = {GPU_PRESENT_LABEL: "true"}
    tolerations: list[Toleration] = [Toleration(key=GPU_RESOURCE, effect="NoSchedule")]
    # Each container of the device plugin chart's DaemonSets (the plugin, the MPS daemon and
    # their config-manager init and sidecar containers).
    resources: Resources = Resources(
        requests=ResourceList(cpu="10m", memory="64Mi"),
        limits=ResourceList(cpu="200m", memory="256Mi"),
    )

    @model_validator(mode="after")
    def _selects_gpu_nodes(self) -> Gpu:
        if not self.node_selector:
            raise problem(
                "nodeSelector",
                "nodeSelector is empty: the device plugin would run on every node; select GPU "
                f'nodes, e.g. {{"{GPU_PRESENT_LABEL}": "true"}}',
            )
        return self
