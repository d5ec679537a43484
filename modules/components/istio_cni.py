"""Istio CNI: the node agent that sets up each injected pod's traffic redirection.

Without it istiod's injector adds the `istio-init` init container (uid 0, NET_ADMIN and
NET_RAW), which Pod Security `baseline` and `restricted` both refuse, so no sidecar-injected
pod could start in a tenant namespace. With the agent on every node and istiod's
`cni.enabled`, the injector emits the unprivileged `istio-validation` instead (istiod chart
files/injection-template.yaml, 1.28.0 and 1.29.1); the privilege moves here, into one
DaemonSet in its own namespace.

Chart `cni` (istio/istio manifests/charts/istio-cni at the tag of the pinned istio version):
the DaemonSet `istio-cni-node` mounts the node's CNI directories, /proc, /var/run/istio-cni and
/var/run/netns (hostPath) and adds NET_ADMIN, NET_RAW, SYS_PTRACE, SYS_ADMIN and DAC_OVERRIDE
without running privileged (templates/daemonset.yaml): its namespace enforces `privileged`,
and policies/security.py allows exactly that DaemonSet. `priorityClassName:
system-node-critical` is fixed in the template (no value).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.config import IstioCni as IstioCniConfig

# Not istio-system: that namespace stays `baseline` (istiod, the gateway); not kube-system,
# whose NetworkPolicies and labels the cluster owns. Istio installs the chart in any namespace.
NAMESPACE = "istio-cni"
RELEASE = "istio-cni"
# The chart's fixed names: `{{ template "name" . }}-node`, name = "istio-cni" (_helpers.tpl).
DAEMONSET = "istio-cni-node"


class IstioCni(PlatformComponent):
    """The Istio CNI node agent; istiod (and so every injected pod) comes after it."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("istio:IstioCni", "istio-cni", ctx, depends_on)
        cfg = ctx.config.components.istio.cni
        # Privileged: hostPath mounts and added capabilities (the module docstring).
        ns = self.objects(
            "istio-cni-namespace",
            [
                manifests.namespace(NAMESPACE, "privileged"),
                # The agent only talks to the API server (it watches pods to repair them);
                # the CNI plugin on the node reaches it over a host socket, not the network.
                *netpol.baseline(NAMESPACE, ctx.config.network.api_server_cidrs),
            ],
        )
        self.helm = self.chart(RELEASE, "istio_cni", NAMESPACE, values(cfg), depends_on=[ns])
        self.register_outputs({})


def values(cfg: IstioCniConfig) -> dict[str, Any]:
    """Chart values, each read at 1.28.0 and 1.29.1 (values.yaml, templates/)."""
    return {
        # Sidecar mode only: append the istio-cni plugin to the node's existing chain
        # (kindnet's /etc/cni/net.d/10-kindnet.conflist on kind), no ambient redirection.
        "chained": True,
        "ambient": {"enabled": False},
        "cniBinDir": cfg.bin_dir,
        "cniConfDir": cfg.conf_dir,
        # Pods started before the agent was ready on their node get their redirection set up
        # afterwards (repairPods, the chart's default: no RBAC, the SYS_ADMIN it already has).
        "repair": {"enabled": True, "repairPods": True, "deletePods": False, "labelPods": False},
        "resources": cfg.resources.as_k8s(),
    }
