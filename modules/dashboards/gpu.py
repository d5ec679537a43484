"""GPU: utilisation and framebuffer memory per node and GPU, and per tenant namespace and pod.

NVIDIA DCGM exporter default counters (modules/releases/metrics/dcgm-exporter-*.yaml): the
exporter labels each GPU's series `Hostname` and `gpu`, and with its pod attribution `namespace`
and `pod` of the workload the GPU is allocated to (components/gpu_telemetry.py keeps those
instead of the scrape target's). `DCGM_FI_DEV_FB_USED`/`_FREE` are in MiB.
"""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from mlplatform.config import PlatformConfig
from mlplatform.dashboards import panels as p

UID = "mlplatform-gpu"
FOLDER = "GPU"
NODE = 'Hostname=~"$node"'
TENANT = 'namespace=~"$namespace", namespace!=""'


def enabled(config: PlatformConfig) -> bool:
    gpu = config.components.gpu
    return gpu.enabled and gpu.telemetry.enabled


def build(config: PlatformConfig) -> Dashboard:
    dash = (
        p.new(
            "GPU",
            UID,
            "GPU utilisation and memory from the DCGM exporter, per node and per tenant.",
        )
        .with_variable(p.variable("node", "Node", "label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)"))
        .with_variable(
            p.variable(
                "namespace",
                "Namespace",
                'label_values(DCGM_FI_DEV_GPU_UTIL{namespace!=""}, namespace)',
            )
        )
        .with_row(p.row("Fleet"))
        .with_panel(
            p.single(
                "GPUs",
                "GPUs reporting to DCGM on the selected nodes.",
                f"count(DCGM_FI_DEV_GPU_UTIL{{{NODE}}}) or vector(0)",
                "none",
            )
        )
        .with_panel(
            p.single(
                "GPUs allocated",
                "GPUs attributed to a pod (allocated by the device plugin).",
                f'count(DCGM_FI_DEV_GPU_UTIL{{{NODE}, namespace!=""}}) or vector(0)',
                "none",
            )
        )
        .with_panel(
            p.single(
                "Average utilisation",
                "Mean GPU utilisation over the selected nodes.",
                f"avg(DCGM_FI_DEV_GPU_UTIL{{{NODE}}})",
                "percent",
            )
        )
        .with_panel(
            p.single(
                "Framebuffer used",
                "Framebuffer memory used over total, selected nodes.",
                f"sum(DCGM_FI_DEV_FB_USED{{{NODE}}}) / (sum(DCGM_FI_DEV_FB_USED{{{NODE}}}) "
                f"+ sum(DCGM_FI_DEV_FB_FREE{{{NODE}}}))",
                "percentunit",
                warn=0.8,
                bad=0.95,
            )
        )
        .with_row(p.row("Per node"))
        .with_panel(
            p.graph(
                "Utilisation per GPU",
                "GPU utilisation (DCGM_FI_DEV_GPU_UTIL) per node and GPU index.",
                [
                    (
                        f"avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{{{NODE}}})",
                        "{{Hostname}} gpu{{gpu}}",
                    )
                ],
                "percent",
            )
        )
        .with_panel(
            p.graph(
                "Framebuffer memory used per GPU",
                "DCGM_FI_DEV_FB_USED per node and GPU index.",
                [
                    (
                        f"max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{{{NODE}}})",
                        "{{Hostname}} gpu{{gpu}}",
                    )
                ],
                "decmbytes",
            )
        )
        .with_panel(
            p.graph(
                "Power per node",
                "Board power draw (DCGM_FI_DEV_POWER_USAGE), summed per node.",
                [(f"sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE{{{NODE}}})", "{{Hostname}}")],
                "watt",
            )
        )
        .with_panel(
            p.graph(
                "Temperature per GPU",
                "GPU temperature (DCGM_FI_DEV_GPU_TEMP).",
                [
                    (
                        f"max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP{{{NODE}}})",
                        "{{Hostname}} gpu{{gpu}}",
                    )
                ],
                "celsius",
            )
        )
        .with_row(p.row("Per tenant"))
        .with_panel(
            p.graph(
                "GPUs in use per namespace",
                "GPUs attributed to pods of each namespace.",
                [(f"count by (namespace) (DCGM_FI_DEV_GPU_UTIL{{{TENANT}}})", "{{namespace}}")],
                "none",
                stacked=True,
            )
        )
        .with_panel(
            p.graph(
                "Utilisation per namespace",
                "Mean utilisation of the GPUs each namespace holds: low values are idle "
                "allocations.",
                [(f"avg by (namespace) (DCGM_FI_DEV_GPU_UTIL{{{TENANT}}})", "{{namespace}}")],
                "percent",
            )
        )
        .with_panel(
            p.listing(
                "Per pod",
                "Each pod holding a GPU: utilisation and framebuffer memory used (MiB).",
                [
                    (
                        f"avg by (namespace, pod) (DCGM_FI_DEV_GPU_UTIL{{{TENANT}}})",
                        "",
                    ),
                    (f"sum by (namespace, pod) (DCGM_FI_DEV_FB_USED{{{TENANT}}})", ""),
                ],
                "none",
                width=24,
            )
        )
    )
    return p.finish(dash)
