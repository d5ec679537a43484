"""Kueue: the job queueing controller (OCI chart) and the platform's flavors and priorities.

The manager configuration is built as a typed dict and handed to the chart as one YAML
string. What differs by Kueue version comes from the catalogue: the job frameworks the
pinned version integrates, and the config API version (v1beta2 dropped
`waitForPodsReady.enable`: the block's presence switches it on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import yaml
from packaging.version import Version

from mlplatform import kueue_objects, manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.components.monitoring import NAMESPACE as MONITORING_NAMESPACE
from mlplatform.config import PlatformConfig

NAMESPACE = "kueue-system"
WEBHOOK_PORT = 9443
METRICS_PORT = 8443
VISIBILITY_PORT = 8082  # the aggregated visibility API the API server proxies to
HEALTH_PORT = 8081
# A job without `kueue.x-k8s.io/queue-name` joins its namespace's LocalQueue `default` only
# with feature gate LocalQueueDefaulting: alpha and off in Kueue 0.10-0.11, beta and on from
# 0.12 (kubernetes-sigs/kueue pkg/features/kube_features.go at v0.11.4, v0.14.8, v0.16.1).
# Without it a tenant's unlabelled job is not a Kueue workload at all: outside its queue.
LOCAL_QUEUE_DEFAULTING_ON_FROM = Version("0.12")
# Which platform piece must be deployed for Kueue to manage a framework's jobs.
FRAMEWORK_NEEDS: dict[str, str] = {
    "kubeflow.org/pytorchjob": "operator",
    "jobset.x-k8s.io/jobset": "trainer",  # JobSet ships as the Trainer chart's subchart
    "trainer.kubeflow.org/trainjob": "trainer",
}


class WaitForPodsReadyConfig(TypedDict):
    enable: NotRequired[bool]
    timeout: str
    blockAdmission: bool


class ManagerConfig(TypedDict):
    apiVersion: str
    kind: str
    health: dict[str, str]
    metrics: dict[str, Any]
    webhook: dict[str, int]
    leaderElection: dict[str, Any]
    internalCertManagement: NotRequired[dict[str, bool]]
    waitForPodsReady: NotRequired[WaitForPodsReadyConfig]
    integrations: dict[str, list[str]]


def frameworks(config: PlatformConfig) -> list[str]:
    """The catalogue's Kueue integrations whose job controller this platform deploys."""
    training = config.components.training
    deployed = {"operator": training.operator, "trainer": training.trainer_on(config.release)}
    supported = config.catalogue.component("kueue").integrations
    return [f for f in supported if f not in FRAMEWORK_NEEDS or deployed[FRAMEWORK_NEEDS[f]]]


def manager_config(config: PlatformConfig) -> ManagerConfig:
    """Kueue's controller_manager_config.yaml for the release's Kueue version."""
    api = config.catalogue.component("kueue").api("config")
    out: ManagerConfig = {
        "apiVersion": api,
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": f":{HEALTH_PORT}"},
        "metrics": {"bindAddress": f":{METRICS_PORT}", "enableClusterQueueResources": True},
        "webhook": {"port": WEBHOOK_PORT},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "integrations": {"frameworks": frameworks(config)},
    }
    if config.components.cert_manager.enabled:
        out["internalCertManagement"] = {"enable": False}
    wait = config.components.kueue.wait_for_pods_ready
    if wait.enabled:
        ready: WaitForPodsReadyConfig = {"timeout": wait.timeout, "blockAdmission": False}
        if api.endswith("/v1beta1"):  # v1beta2 removed the switch: the block's presence is it
            ready["enable"] = True
        out["waitForPodsReady"] = ready
    return out


def feature_gates(version: str) -> dict[str, Any]:
    """`controllerManager.featureGates` for the pinned Kueue (the chart's list of name/enabled)."""
    if Version(version.lstrip("v")) < LOCAL_QUEUE_DEFAULTING_ON_FROM:
        return {"featureGates": [{"name": "LocalQueueDefaulting", "enabled": True}]}
    return {}


def platform_objects(config: PlatformConfig) -> list[manifests.Obj]:
    """ResourceFlavors and WorkloadPriorityClasses in the release's Kueue API version."""
    api = config.catalogue.component("kueue").api("kueue")
    cfg = config.components.kueue
    flavors = [
        kueue_objects.resource_flavor(
            api,
            f.name,
            node_labels=f.node_labels,
            node_taints=[t.as_k8s() for t in f.node_taints],
            tolerations=[t.as_k8s() for t in f.tolerations],
        )
        for f in cfg.flavors
    ]
    priorities = [
        kueue_objects.workload_priority_class(api, p.name, p.value, p.description)
        for p in cfg.priority_classes
    ]
    return flavors + priorities


class Kueue(PlatformComponent):
    """Outputs `flavors` (names tenants quota against), `api_version`, `default_priority_class`.

    Tenants' queues depend on `self.platform` (flavors exist, CRDs and webhooks are up).
    """

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("kueue:Kueue", "kueue", ctx, depends_on)
        cfg = ctx.config.components.kueue
        components = ctx.config.components
        monitoring = components.monitoring.enabled
        base = self.objects(
            "kueue-namespace",
            [
                manifests.namespace(NAMESPACE),
                *netpol.baseline(NAMESPACE, self.ctx.config.network.api_server_cidrs),
                netpol.allow_webhooks(NAMESPACE, [WEBHOOK_PORT, VISIBILITY_PORT]),
                *(
                    [netpol.allow_prometheus_scrape(NAMESPACE, [METRICS_PORT])]
                    if monitoring
                    else []
                ),
            ],
        )
        self.helm = self.chart(
            "kueue",
            "kueue",
            NAMESPACE,
            {
                "enablePrometheus": monitoring,
                "enableCertManager": components.cert_manager.enabled,
                "controllerManager": {
                    **feature_gates(ctx.component("kueue").version),
                    "replicas": cfg.replicas,
                    "manager": {"resources": cfg.resources.as_k8s()},
                    "podDisruptionBudget": {
                        "enabled": ctx.config.high_availability and cfg.replicas > 1,
                        "minAvailable": 1,
                    },
                },
                "managerConfig": {
                    "controllerManagerConfigYaml": yaml.safe_dump(
                        dict(manager_config(ctx.config)), sort_keys=False
                    )
                },
                "metrics": {"prometheusNamespace": MONITORING_NAMESPACE},
            },
            depends_on=[base],
        )
        self.platform = self.objects(
            "kueue-platform-objects", platform_objects(ctx.config), depends_on=[self.helm]
        )
        self.flavors = cfg.flavor_names
        self.api_version = ctx.component("kueue").api("kueue")
        self.default_priority_class = cfg.default_priority_class
        self.register_outputs(
            {
                "flavors": self.flavors,
                "api_version": self.api_version,
                "default_priority_class": self.default_priority_class,
            }
        )
