"""The shared `kubeflow` namespace: created here once, for every component deploying into it.

The Training Operator (v1), Kubeflow Pipelines and Katib live in `kubeflow`. Neither creates
the namespace: `mlplatform.platform.build` builds this component when any of them is enabled
and each of them depends on it, adding only its own NetworkPolicy allows (named after
itself, so they never collide).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.components import istio_metrics
from mlplatform.config import Components

NAMESPACE = "kubeflow"


def kubeflow_apps(components: Components) -> bool:
    """The dashboard or notebooks (sidecars, the gateway's user header) are on."""
    return components.dashboard.enabled or components.notebooks.enabled


class KubeflowNamespace(PlatformComponent):
    """Namespace `kubeflow` (Pod Security baseline: upstream pods are not all restricted)."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("kubeflow:KubeflowNamespace", "kubeflow-namespace", ctx, depends_on)
        # Pipelines: multi-user KFP relies on Istio sidecars (its AuthorizationPolicies and the
        # kubeflow-userid header); its pods reach the platform MinIO. The dashboard, kfam and
        # the notebook apps run with sidecars too (their pods opt in by label), so does
        # Katib's UI. Istio CNI (istio_cni.py) sets up their traffic redirection, so the
        # injected istio-validation and istio-proxy need no privilege: `baseline` holds.
        components = ctx.config.components
        pipelines = components.pipelines.enabled
        mesh = pipelines or components.katib.enabled or kubeflow_apps(components)
        labels = {"istio-injection": "enabled", **netpol.OBJECT_STORE_CLIENT} if pipelines else {}
        objs = [
            manifests.namespace(NAMESPACE, "baseline", labels),
            *netpol.baseline(NAMESPACE, self.ctx.config.network.api_server_cidrs),
        ]
        if mesh and components.monitoring.enabled:
            objs.append(sidecar_scrape())
        self.group = self.objects("kubeflow-namespace-base", objs)
        self.name = NAMESPACE
        self.register_outputs({"name": self.name})


def sidecar_scrape() -> manifests.Obj:
    """Prometheus reaches the sidecars' merged metrics (istio_metrics' PodMonitor), on
    injected pods only: the injector labels them, other pods keep their ports closed."""
    prometheus = netpol.peer(netpol.PROMETHEUS["namespace"], netpol.PROMETHEUS["pods"])
    return netpol.allow_from(
        "sidecars-from-prometheus",
        NAMESPACE,
        [prometheus],
        [istio_metrics.MERGED_METRICS_PORT],
        pods=istio_metrics.SIDECAR_POD_LABELS,
    )
