"""GPU: the NVIDIA device plugin chart with time-slicing and MIG strategy, on labelled nodes.

The device plugin serves no metrics endpoint (GPU metrics come from DCGM exporter), so its
observability hook is a PrometheusRule over kube-state-metrics' view of the DaemonSet.

The chart also renders an MPS control daemon whenever the plugin is on (no value turns it off
at 0.17.1, 0.18.0 or 0.20.0: NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin/
templates/daemonset-mps-control-daemon.yml). GPUs are shared by time-slicing here, never MPS,
so its pods (which select `nvidia.com/mps.capable: "true"` nodes) never schedule; it keeps no
host PID namespace where the chart lets us say so, and policies/security.py allows its
privileged containers by exact name.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pulumi
import yaml

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.config.gpu import GPU_RESOURCE, Gpu

NAMESPACE = "nvidia-device-plugin"
RELEASE = "nvidia-device-plugin"
# The chart's DaemonSets: its fullname (the release name, which contains the chart name) and
# `<fullname>-mps-control-daemon` (templates/_helpers.tpl, daemonset-*.yml at every pin).
MPS_CONTROL_DAEMON = f"{RELEASE}-mps-control-daemon"
DAEMONSETS = (RELEASE, MPS_CONTROL_DAEMON)
CONFIG_NAME = "default"
CONFIG_MANAGER = "config-manager"  # the chart's config-file sidecar and init command
# `mps.enableHostPID` (default true) is read from chart 0.18.0 on; 0.17.1 runs the MPS daemon
# without host PID (values.yaml and daemonset-mps-control-daemon.yml at v0.17.1, v0.18.0).
MPS_HOST_PID_SWITCH_FROM = (0, 18, 0)


class GpuDevicePlugin(PlatformComponent):
    """Outputs `resource`: the extended resource name GPU workloads request."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        cfg = ctx.config.components.gpu
        opts = pulumi.ResourceOptions(transforms=[bound_containers(cfg)])
        super().__init__("gpu:GpuDevicePlugin", "gpu", ctx, depends_on, opts)
        version = ctx.component("nvidia_device_plugin").version
        # Privileged: the plugin mounts the kubelet's device-plugin socket directory (hostPath).
        base = self.objects(
            "gpu-base",
            [
                manifests.namespace(NAMESPACE, "privileged"),
                *netpol.baseline(NAMESPACE, self.ctx.config.network.api_server_cidrs),
            ],
        )
        self.helm = self.chart(
            RELEASE, "nvidia_device_plugin", NAMESPACE, values(cfg, version), depends_on=[base]
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


def _version(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.lstrip("v").split(".")[:3])


def values(cfg: Gpu, version: str) -> dict[str, Any]:
    """Chart values: one named config, node selection replacing the chart's NFD affinity,
    resources (the plugin and MPS containers read `resources`), no host PID for MPS."""
    terms = [
        {"key": k, "operator": "In", "values": [v]} for k, v in sorted(cfg.node_selector.items())
    ]
    mps = {"mps": {"enableHostPID": False}} if _version(version) >= MPS_HOST_PID_SWITCH_FROM else {}
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
        "resources": cfg.resources.as_k8s(),
        **mps,
    }


def bound_containers(cfg: Gpu) -> pulumi.ResourceTransform:
    """Resources for the containers no chart value reaches: the config-manager init and
    sidecar containers (`command: ["config-manager"]`) render without `resources` in both
    DaemonSets at every pin (daemonset-device-plugin.yml, daemonset-mps-control-daemon.yml)."""
    token = "kubernetes:apps/v1:DaemonSet"
    resources = cfg.resources.as_k8s()

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        meta = args.props.get("metadata") or {}
        if args.type_ != token or meta.get("name") not in DAEMONSETS:
            return None
        props = copy.deepcopy(dict(args.props))
        pod = ((props.get("spec") or {}).get("template") or {}).get("spec") or {}
        for key in ("initContainers", "containers"):
            for c in pod.get(key) or []:
                if (c.get("command") or [None])[0] == CONFIG_MANAGER:
                    c.setdefault("resources", copy.deepcopy(resources))
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


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
