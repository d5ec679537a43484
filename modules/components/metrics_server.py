"""metrics-server: the resource metrics API (`metrics.k8s.io`) that HorizontalPodAutoscalers and
`kubectl top` read. KServe's Standard-mode (RawDeployment) InferenceServices scale through an
HPA on CPU, which without it never gets a metric.

Read in kubernetes-sigs/metrics-server at tags metrics-server-helm-chart-3.12.2 and -3.13.0
(charts/metrics-server/):
- templates/apiservice.yaml registers `v1beta1.metrics.k8s.io` (`apiService.create`) on the
  Service's port 443, which targets the container's secure port 10250 (`containerPort`); the
  API server proxies every metrics request there (aggregation).
- The APIService carries `insecureSkipTLSVerify` (default true: the server's certificate is
  self-generated). From 3.13.0, `tls.type: cert-manager` has the chart issue the serving
  certificate from its own self-signed Issuer (templates/certificate.yaml) and cert-manager's
  CA injector fill the APIService's caBundle (`cert-manager.io/inject-ca-from`), so the API
  server verifies it; 3.12.2 has no `tls` values.
- templates/servicemonitor.yaml renders only with `serviceMonitor.enabled` and
  `metrics.enabled`, which adds `--authorization-always-allow-paths=/metrics` (Prometheus
  scrapes /metrics over https without a token; the metrics API itself stays authorised).
- Our `args` follow the chart's `defaultArgs` (kubelet address types, the node's kubelet
  port from its status, 15s resolution); the PDB reads `podDisruptionBudget.{enabled,
  minAvailable}`; `securityContext` and `priorityClassName` are the container's and pod's.
- No Helm hooks; one image, registry.k8s.io/metrics-server/metrics-server:v<appVersion>.
Its own namespace rather than kube-system: default-deny NetworkPolicies and Pod Security
"restricted" apply to it alone. `system-cluster-critical` is usable outside kube-system from
Kubernetes 1.17 on (what cilium/cilium#12151 relies on); every release here is far above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.config.metrics_server import MetricsServer as Config

NAMESPACE = "metrics-server"
RELEASE = "metrics-server"  # contains the chart name, so the chart's fullname is the release name
API_SERVICE = "v1beta1.metrics.k8s.io"
# values.yaml `containerPort` (the `https` port the Service targets), every pin; the kubelets
# serve their metrics on the same port number.
PORT = 10250
KUBELET_PORT = 10250
# templates/_helpers.tpl `metrics-server.selectorLabels` (name = the chart name), every pin.
POD_LABELS = {"app.kubernetes.io/name": "metrics-server", "app.kubernetes.io/instance": RELEASE}
PRIORITY_CLASS = "system-cluster-critical"  # the chart's default, kept: HPAs depend on it
# The chart's default container securityContext (values.yaml, every pin), restricted-compliant.
SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
}
KUBELET_INSECURE_TLS = "--kubelet-insecure-tls"
TLS_VALUES_FROM = (3, 13, 0)  # first chart reading `tls.*` (values.yaml, templates/*)


def _version(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.lstrip("v").split(".")[:3])


class MetricsServer(PlatformComponent):
    """The metrics-server chart in its own namespace and the network paths it needs."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        """After cert-manager (its Issuer and Certificate, its CA injector) and monitoring (the
        ServiceMonitor CRD) when those are on."""
        super().__init__("metrics_server:MetricsServer", "metrics-server", ctx, depends_on)
        components = ctx.config.components
        version = ctx.component("metrics_server").version
        base = self.objects(
            "metrics-server-base",
            [
                manifests.namespace(NAMESPACE),
                *netpol.baseline(NAMESPACE, ctx.config.network.api_server_cidrs),
                *network_policies(),
            ],
        )
        self.helm = self.chart(
            RELEASE,
            "metrics_server",
            NAMESPACE,
            values(
                components.metrics_server,
                version,
                monitored=components.monitoring.enabled,
                cert_manager=components.cert_manager.enabled,
            ),
            depends_on=[base],
        )
        self.register_outputs({"namespace": NAMESPACE, "api_service": API_SERVICE})


def network_policies() -> list[manifests.Obj]:
    """Beyond the baseline (DNS, the API server): kubelets and the aggregation path in."""
    return [
        # Kubelets listen on node addresses, not pods: any destination, the kubelet port only.
        netpol.allow_to("allow-kubelet-egress", NAMESPACE, [], [KUBELET_PORT], pods=POD_LABELS),
        # The API server proxies metrics.k8s.io here from a node (or konnectivity) address, not
        # a pod, so any source on the secure port; Prometheus scrapes /metrics through it too.
        netpol.policy(
            "allow-apiserver-aggregation",
            NAMESPACE,
            pods=POD_LABELS,
            ingress=[{"ports": [{"protocol": "TCP", "port": PORT}]}],
        ),
    ]


def verified_api_service(version: str, cert_manager: bool) -> bool:
    """Whether the API server verifies metrics-server's certificate (cert-manager issues it)."""
    return cert_manager and _version(version) >= TLS_VALUES_FROM


def values(cfg: Config, version: str, monitored: bool, cert_manager: bool) -> dict[str, Any]:
    """Chart values: sized, restricted, HA when replicated, scraped when monitoring is on, the
    APIService verified where the chart and cert-manager allow it."""
    verified = verified_api_service(version, cert_manager)
    replicated = cfg.replicas > 1
    out: dict[str, Any] = {
        "replicas": cfg.replicas,
        "resources": cfg.resources.as_k8s(),
        "args": [KUBELET_INSECURE_TLS] if cfg.kubelet_insecure_tls else [],
        "securityContext": SECURITY_CONTEXT,
        "priorityClassName": PRIORITY_CLASS,
        # Upstream's high-availability component (manifests/components/high-availability):
        # one replica per node, at least one always up.
        "podDisruptionBudget": {"enabled": replicated, "minAvailable": 1},
        "affinity": (
            {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {"matchLabels": POD_LABELS},
                            "topologyKey": "kubernetes.io/hostname",
                        }
                    ]
                }
            }
            if replicated
            else {}
        ),
        "metrics": {"enabled": monitored},
        "serviceMonitor": {"enabled": monitored},
        "apiService": {"create": True, "insecureSkipTLSVerify": not verified},
    }
    if verified:
        out["tls"] = {"type": "cert-manager"}
    return out
