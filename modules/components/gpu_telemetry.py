"""GPU telemetry: NVIDIA's DCGM exporter chart on real GPU nodes, scraped by Prometheus.

Read in NVIDIA/dcgm-exporter at tags 4.2.3-4.2.0, 4.4.2-4.7.1 and 4.5.2-4.8.1 (charts 4.2.0,
4.7.1, 4.8.1; deployment/):
- templates/daemonset.yaml always sets `DCGM_EXPORTER_KUBERNETES=true` and mounts the kubelet's
  pod-resources directory (`kubeletPath`, hostPath): the exporter asks the kubelet which pod
  container each GPU is allocated to and labels that GPU's series `namespace`, `pod` and
  `container` (internal/pkg/transformation/const.go, kubernetes.go). That needs no API access;
  `kubernetes.enablePodLabels` (pod labels, cluster-wide pod reads) stays off.
- The container runs as root and adds SYS_ADMIN for the profiling fields (DCGM_FI_PROF_*) of the
  default counters (values.yaml `securityContext`); with the hostPath that needs a privileged
  namespace, so it shares the device plugin's (already privileged, gpu.py). policies/security.py
  allows its DaemonSet by exact name.
- The counters come from the chart's ConfigMap `exporter-metrics-config-map`, replaced whole by
  `customMetrics` (templates/metrics-configmap.yaml); the ServiceMonitor
  (templates/service-monitor.yaml) reads `serviceMonitor.{enabled,interval,relabelings}`.
- No Helm hooks.
The exporter's own `namespace`/`pod`/`container` labels collide with the ServiceMonitor's target
labels of the same names (which Prometheus would keep, renaming the exporter's to `exported_*`),
so the scrape drops the target's: a GPU series names the workload's namespace, or none.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import yaml

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.components import gpu
from mlplatform.config.gpu import Gpu

NAMESPACE = gpu.NAMESPACE
RELEASE = "dcgm-exporter"  # contains the chart name, so the chart's fullname is the release name
PORT = 9400  # values.yaml service.port / the container's `metrics` port, every pin
# templates/_helpers.tpl `dcgm-exporter.selectorLabels` (name = the chart name), every pin.
POD_LABELS = {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": RELEASE}
METRICS_DIR = Path(__file__).resolve().parents[1] / "releases" / "metrics"
# Fields the platform exposes beyond the chart's defaults: throttling time due to thermal limits
# (a counter, in us up to exporter 4.2.x and ns from 4.4 on: alerts use its rate being > 0).
ADDED_FIELDS = ("DCGM_FI_DEV_THERMAL_VIOLATION",)
# Prometheus types of the fields we expose (the exporter's CSV `type` column); others are gauges.
COUNTERS = frozenset(
    {
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
        "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
        "DCGM_FI_DEV_THERMAL_VIOLATION",
    }
)
# Drop the scrape target's pod-identity labels so the exporter's (the workload's) are kept.
TARGET_LABELS_DROPPED = "namespace|pod|container"
SECURITY_CONTEXT = {
    "runAsNonRoot": False,
    "runAsUser": 0,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
}


@cache
def metrics(version: str) -> tuple[str, ...]:
    """The metric names exporter chart `version` exposes as deployed here (the catalogue's
    modules/releases/metrics/dcgm-exporter-<version>.yaml)."""
    path = METRICS_DIR / f"dcgm-exporter-{version}.yaml"
    if not path.is_file():
        raise ValueError(
            f"catalogue: no {path.name} for dcgm_exporter {version}: write it from the chart's "
            "default counters at that tag"
        )
    return tuple(yaml.safe_load(path.read_text())["metrics"])


def counters_csv(version: str) -> str:
    """The exporter's counters file (`field, type, help` a line): its defaults plus ours."""
    lines = [
        f"{name}, {'counter' if name in COUNTERS else 'gauge'}, DCGM field {name}."
        for name in metrics(version)
    ]
    return "\n".join(lines) + "\n"


class GpuTelemetry(PlatformComponent):
    """The DCGM exporter DaemonSet, its ServiceMonitor and scrape access (Prometheus only)."""

    def __init__(
        self,
        ctx: Context,
        device_plugin: gpu.GpuDevicePlugin,
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        """After the device plugin (its namespace) and monitoring (the ServiceMonitor CRD)."""
        super().__init__(
            "gpu_telemetry:GpuTelemetry", "gpu-telemetry", ctx, [device_plugin, *depends_on]
        )
        cfg = ctx.config.components.gpu
        monitored = ctx.config.components.monitoring.enabled
        version = ctx.component("dcgm_exporter").version
        access = self.objects("gpu-telemetry-access", [scrape_policy()])
        self.helm = self.chart(
            RELEASE,
            "dcgm_exporter",
            NAMESPACE,
            values(cfg, version, monitored),
            depends_on=[access],
        )
        self.register_outputs({"namespace": NAMESPACE})


def scrape_policy() -> manifests.Obj:
    """Prometheus, and only Prometheus, reaches the exporter's metrics port (the namespace is
    default-deny, netpol.baseline in gpu.py)."""
    return netpol.allow_from(
        f"allow-prometheus-scrape-{RELEASE}",
        NAMESPACE,
        [netpol.peer(netpol.PROMETHEUS["namespace"], netpol.PROMETHEUS["pods"])],
        [PORT],
        pods=POD_LABELS,
    )


def values(cfg: Gpu, version: str, monitored: bool) -> dict[str, Any]:
    """Chart values: real GPU nodes only, the GPU taints tolerated, sized, our counters, and a
    ServiceMonitor keeping the exporter's pod attribution (when monitoring is on)."""
    return {
        "nodeSelector": cfg.telemetry_node_selector,
        "tolerations": [t.as_k8s() for t in cfg.tolerations],
        "resources": cfg.telemetry.resources.as_k8s(),
        "securityContext": SECURITY_CONTEXT,
        "customMetrics": counters_csv(version),
        "serviceMonitor": {
            "enabled": monitored,
            "interval": cfg.telemetry.scrape_interval,
            "relabelings": [{"action": "labeldrop", "regex": TARGET_LABELS_DROPPED}],
        },
    }
