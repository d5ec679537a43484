"""The shared `kubeflow` namespace: created here once, for every component deploying into it.

The Training Operator (v1) and Kubeflow Pipelines both live in `kubeflow`. Neither creates
the namespace: `mlplatform.platform.build` builds this component when any of them is enabled
and each of them depends on it, adding only its own NetworkPolicy allows (named after
itself, so they never collide).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent

NAMESPACE = "kubeflow"


class KubeflowNamespace(PlatformComponent):
    """Namespace `kubeflow` (Pod Security baseline: upstream pods are not all restricted)."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("kubeflow:KubeflowNamespace", "kubeflow-namespace", ctx, depends_on)
        # Pipelines: multi-user KFP relies on Istio sidecars (its AuthorizationPolicies and the
        # kubeflow-userid header), whose istio-init needs NET_ADMIN (privileged without Istio
        # CNI); its pods reach the platform MinIO.
        pipelines = ctx.config.components.pipelines.enabled
        labels = {"istio-injection": "enabled", **netpol.OBJECT_STORE_CLIENT} if pipelines else {}
        self.group = self.objects(
            "kubeflow-namespace-base",
            [
                manifests.namespace(NAMESPACE, "privileged" if pipelines else "baseline", labels),
                *netpol.baseline(NAMESPACE, self.ctx.config.network.api_server_cidrs),
            ],
        )
        self.name = NAMESPACE
        self.register_outputs({"name": self.name})
