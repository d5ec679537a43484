"""GPU config: the NVIDIA device plugin, time-slicing, MIG strategy, GPU node selection and
GPU telemetry (NVIDIA DCGM exporter)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlplatform.config.base import (
    Duration,
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
# Node Feature Discovery's PCI vendor label: 10de is NVIDIA's PCI vendor ID, so only nodes with
# NVIDIA hardware carry it (the device plugin chart's own default affinity selects it:
# NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin/values.yaml, v0.17.1-v0.20.0).
NVIDIA_PCI_LABEL = "feature.node.kubernetes.io/pci-10de.present"
# The labels scripts/fake-gpu.sh puts on kind nodes whose GPU capacity it fakes (no hardware,
# no driver): anything selecting a real GPU must not match this set.
FAKE_GPU_LABELS: dict[str, str] = {GPU_PRESENT_LABEL: "true"}


# The exporter chart's ServiceMonitor `scrapeTimeout` (values.yaml, charts 4.7.1 and 4.8.1);
# Prometheus refuses a scrape timeout longer than the interval.
SCRAPE_TIMEOUT_SECONDS = 10
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    """A Prometheus duration (one number and unit, as `Duration` allows) in seconds."""
    unit = "ms" if duration.endswith("ms") else duration[-1]
    return float(duration.removesuffix(unit)) * _UNIT_SECONDS[unit]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a node with `labels` satisfies the nodeSelector `selector`."""
    return all(labels.get(k) == v for k, v in selector.items())


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


class Telemetry(Model):
    """NVIDIA DCGM exporter on real GPU nodes: per-GPU metrics attributed to the pods (and so
    namespaces) the GPUs are allocated to, scraped by Prometheus."""

    enabled: bool = True
    # Added to the device plugin's nodeSelector: DCGM needs the NVIDIA driver and hardware, and
    # crash-loops on kind nodes that only advertise fake capacity.
    node_selector: Labels = {NVIDIA_PCI_LABEL: "true"}
    scrape_interval: Duration = "30s"
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="128Mi"),
        limits=ResourceList(cpu="200m", memory="512Mi"),
    )

    @model_validator(mode="after")
    def _interval_fits_the_timeout(self) -> Telemetry:
        if seconds(self.scrape_interval) < SCRAPE_TIMEOUT_SECONDS:
            raise problem(
                "scrapeInterval",
                f"{self.scrape_interval} is shorter than the exporter's scrape timeout "
                f"({SCRAPE_TIMEOUT_SECONDS}s), which Prometheus rejects; use at least "
                f"{SCRAPE_TIMEOUT_SECONDS}s",
            )
        return self


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
    telemetry: Telemetry = Telemetry()

    @property
    def telemetry_node_selector(self) -> dict[str, str]:
        """Where the exporter runs: GPU nodes (the plugin's selector) with real hardware."""
        return {**self.node_selector, **self.telemetry.node_selector}

    @model_validator(mode="after")
    def _selects_gpu_nodes(self) -> Gpu:
        if not self.node_selector:
            raise problem(
                "nodeSelector",
                "nodeSelector is empty: the device plugin would run on every node; select GPU "
                f'nodes, e.g. {{"{GPU_PRESENT_LABEL}": "true"}}',
            )
        if (
            self.enabled
            and self.telemetry.enabled
            and matches(self.telemetry_node_selector, FAKE_GPU_LABELS)
        ):
            raise problem(
                ("telemetry", "nodeSelector"),
                "the DCGM exporter would run on nodes given fake GPUs by scripts/fake-gpu.sh "
                "and crash-loop there; select a label only real NVIDIA nodes carry, e.g. "
                f'{{"{NVIDIA_PCI_LABEL}": "true"}}',
            )
        return self
