"""GPU: the NVIDIA device plugin chart with time-slicing and MIG strategy, on labelled nodes.

The device plugin serves no metrics endpoint (GPU metrics come from DCGM exporter), so its
observability hook is a PrometheusRule over kube-state-metrics' view of the DaemonSet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import yaml

from modules import manifests, netpol
from modules.component import Context, PlatformComponent
from modules.config.gpu import GPU_RESOURCE, Gpu

NAMESPACE = "nvidia-device-plugin"
RELEASE = "nvidia-device-plugin"
CONFIG_NAME = "default"


class GpuDevicePlugin(PlatformComponent):
    """Outputs `resource`: the extended resource name GPU workloads request."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("gpu:GpuDevicePlugin", "gpu", ctx, depends_on)
        cfg = ctx.config.components.gpu
        # Privileged: the plugin mounts the kubelet's device-plugin socket directory (hostPath).
        base = self.objects(
            "gpu-base",
            [
                manifests.namespace(NAMESPACE, "privileged"),
                *netpol.baseline(NAMESPACE, self.ctx.config.network.api_server_cidrs),
            ],
        )
        self.helm = self.chart(
            RELEASE, "nvidia_device_plugin", NAMESPACE, values(cfg), depends_on=[base]
        )
        if ctx.config.components.monitoring.enabled:
            api = ctx.component("monitoring").api("monitoring")
            self.rules = self.objects("gpu-alerts", [alert_rules(api)], depends_on=[self.helm])
        self.resource = pulumi.Output.from_input(GPU_RESOURCE)
        self.register_outputs({"resource": self.resource})


def plugin_config(cfg: Gpu) -> dict[str, Any]:
    """The device plugin's config file (`version: v1`): MIG strategy and time-slicing."""
    config: dict[str, Any] = {"version": "v1", "flags": {"migStrategy": cfg.mig_strategy}}
    if cfg.time_slicing.replicas > 1:
        config["sharing"] = {
            "timeSlicing": {
                "resources": [{"name": GPU_RESOURCE, "replicas": cfg.time_slicing.replicas}]
            }
        }
    return config


def values(cfg: Gpu) -> dict[str, Any]:
    """Chart values: one named config, node selection replacing the chart's NFD affinity."""
    terms = [
        {"key": k, "operator": "In", "values": [v]} for k, v in sorted(cfg.node_selector.items())
    ]
    return {
        "config": {
            "map": {CONFIG_NAME: yaml.safe_dump(plugin_config(cfg), sort_keys=False)},
            "default": CONFIG_NAME,
        },
        "nodeSelector": dict(cfg.node_selector),
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": terms}]
                }
            }
        },
        "tolerations": [t.as_k8s() for t in cfg.tolerations],
        "gfd": {"enabled": False},
    }


def alert_rules(api: str) -> manifests.Obj:
    """Alerts when the plugin is unavailable on a GPU node or matches no node at all."""
    ds = f'namespace="{NAMESPACE}"'
    return {
        "apiVersion": api,
        "kind": "PrometheusRule",
        "metadata": manifests.meta("nvidia-device-plugin", NAMESPACE),
        "spec": {
            "groups": [
                {
                    "name": "nvidia-device-plugin",
                    "rules": [
                        {
                            "alert": "NvidiaDevicePluginUnavailable",
                            "expr": f"kube_daemonset_status_number_unavailable{{{ds}}} > 0",
                            "for": "10m",
                            "labels": {"severity": "warning"},
                            "annotations": {
                                "summary": "NVIDIA device plugin pods unavailable; GPU nodes "
                                "advertise no nvidia.com/gpu capacity",
                            },
                        },
                        {
                            "alert": "NvidiaDevicePluginNoGpuNodes",
                            "expr": f"kube_daemonset_status_desired_number_scheduled{{{ds}}} == 0",
                            "for": "30m",
                            "labels": {"severity": "info"},
                            "annotations": {
                                "summary": "No node matches components.gpu.nodeSelector",
                            },
                        },
                    ],
                }
            ]
        },
    }
