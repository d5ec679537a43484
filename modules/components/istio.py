"""Istio: base CRDs, istiod, the ingress gateway, and the platform Gateway with its TLS cert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.components import gateway_api, istio_metrics
from mlplatform.config import Istio as IstioConfig
from mlplatform.mirror import rewrite_image

NAMESPACE = "istio-system"
# Kubeflow's profile controller and AuthorizationPolicies expect this principal:
# cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account.
GATEWAY_RELEASE = "istio-ingressgateway"
GATEWAY_SERVICE_ACCOUNT = "istio-ingressgateway-service-account"
GATEWAY_LABELS = {"app": "istio-ingressgateway", "istio": "ingressgateway"}
PLATFORM_GATEWAY = "mlplatform-gateway"
GATEWAY_PORTS = [8080, 8443]  # the gateway chart's container ports behind 80/443
ISTIOD_PORTS = [15010, 15012, 15017]  # xDS plaintext, xDS mTLS, injection webhook
GATEWAY_PRINCIPAL = f"cluster.local/ns/{NAMESPACE}/sa/{GATEWAY_SERVICE_ACCOUNT}"
ISTIO_HUB = "docker.io/istio"  # the charts' default `global.hub` (istiod values.yaml, 1.26-1.29)


class Istio(PlatformComponent):
    """Outputs `gateway`: `<namespace>/<name>` of the platform's HTTPS Gateway."""

    def __init__(
        self,
        ctx: Context,
        issuer_name: pulumi.Input[str],
        depends_on: Sequence[pulumi.Resource | None] = (),
        extension_providers: Sequence[dict[str, Any]] = (),
        monitoring_crds: pulumi.Resource | None = None,
    ) -> None:
        """`extension_providers`: istiod meshConfig.extensionProviders (e.g. ext-authz);
        `monitoring_crds`: monitoring's chart (its CRDs), after which the proxies' monitors
        apply; not the whole component, whose Grafana route waits for this one."""
        super().__init__("istio:Istio", "istio", ctx, depends_on)
        cfg = ctx.config.components.istio
        ha = ctx.config.high_availability
        # Baseline: the gateway sets the (baseline-safe) ip_unprivileged_port_start sysctl.
        ns = self.objects(
            "istio-namespace",
            [
                manifests.namespace(NAMESPACE, "baseline"),
                *netpol.baseline(NAMESPACE, self.ctx.config.network.api_server_cidrs),
                # Clients reach the gateway from outside the cluster.
                netpol.allow_from(
                    "allow-gateway-ingress", NAMESPACE, [], GATEWAY_PORTS, pods=GATEWAY_LABELS
                ),
                # The gateway proxies to services in any namespace (tenants, KFP, KServe).
                netpol.allow_to(
                    "allow-gateway-egress", NAMESPACE, [netpol.any_namespace()], [], GATEWAY_LABELS
                ),
                # Sidecars everywhere fetch config/certs; the API server calls the injector.
                netpol.allow_from(
                    "allow-istiod", NAMESPACE, [], ISTIOD_PORTS, pods={"app": "istiod"}
                ),
                netpol.allow_same_namespace(NAMESPACE),
                # istiod's metrics and the gateway's merged metrics (istio_metrics).
                netpol.allow_prometheus_scrape(
                    NAMESPACE,
                    [istio_metrics.ISTIOD_METRICS_PORT, istio_metrics.MERGED_METRICS_PORT],
                ),
                *gateway_api.network_policies(),
            ],
        )
        # Gateway API CRDs before istiod, whose Gateway API controller serves them.
        self.gateway_api_crds = self.manifests("gateway-api-crds", "gateway_api", depends_on=[ns])
        base = self.chart(
            "istio-base", "istio", NAMESPACE, {"defaultRevision": "default"}, depends_on=[ns]
        )
        istiod = self.chart(
            "istiod",
            "istio",
            NAMESPACE,
            # Top-level keys: istiod's templates read them there (facts.json values_read);
            # `pilot.*` is only a legacy alias the chart copies up (zzy_descope_legacy.yaml).
            {
                "replicaCount": cfg.pilot_replicas,
                "autoscaleEnabled": False,
                "resources": cfg.resources.as_k8s(),
                # Istio CNI (istio_cni.py) redirects traffic, so the injector emits the
                # unprivileged `istio-validation` instead of `istio-init` (uid 0, NET_ADMIN),
                # which Pod Security refuses (files/injection-template.yaml, 1.28.0, 1.29.1).
                "cni": {"enabled": True},
                "global": {
                    "defaultPodDisruptionBudget": {"enabled": ha},
                    # The injected containers' seccomp profile: restricted requires one.
                    "proxy": {"seccompProfile": {"type": "RuntimeDefault"}},
                    **_hub(ctx),
                },
                "meshConfig": {
                    "accessLogFile": "/dev/stdout",
                    "extensionProviders": list(extension_providers),
                },
            },
            chart="istiod",
            depends_on=[base, self.gateway_api_crds],
        )
        self.gateway_chart = self.chart(
            GATEWAY_RELEASE,
            "istio",
            NAMESPACE,
            {
                "replicaCount": cfg.gateway_replicas,
                "autoscaling": {"enabled": False},
                "labels": GATEWAY_LABELS,
                "serviceAccount": {"create": True, "name": GATEWAY_SERVICE_ACCOUNT},
                "service": _service(cfg),
                "resources": cfg.resources.as_k8s(),
                "podDisruptionBudget": {"maxUnavailable": 1} if ha else {},
            },
            chart="gateway",
            depends_on=[istiod],
        )
        api = ctx.component("istio").api("networking")
        cert_api = ctx.component("cert_manager").api("cert-manager")
        domain = ctx.config.ingress.domain
        self.ingress = self.objects(
            "platform-gateway",
            [
                {
                    "apiVersion": cert_api,
                    "kind": "Certificate",
                    "metadata": manifests.meta("mlplatform-ingress", NAMESPACE),
                    "spec": {
                        "secretName": "mlplatform-ingress-tls",
                        "dnsNames": [domain, f"*.{domain}"],
                        "issuerRef": {"name": issuer_name, "kind": "ClusterIssuer"},
                    },
                },
                {
                    "apiVersion": api,
                    "kind": "Gateway",
                    "metadata": manifests.meta(PLATFORM_GATEWAY, NAMESPACE),
                    "spec": {
                        "selector": {"istio": "ingressgateway"},
                        "servers": [
                            {
                                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                                "hosts": [domain, f"*.{domain}"],
                                "tls": {
                                    "mode": "SIMPLE",
                                    "credentialName": "mlplatform-ingress-tls",
                                },
                            },
                            {
                                "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                                "hosts": [domain, f"*.{domain}"],
                                "tls": {"httpsRedirect": True},
                            },
                        ],
                    },
                },
            ],
            depends_on=[self.gateway_chart],
        )
        # The internal inference Gateway (gateway_api.py), deployed and programmed by istiod.
        self.inference_gateway = self.objects(
            "inference-gateway",
            gateway_api.inference_gateway(ctx.component("gateway_api").api("gateway")),
            depends_on=[istiod, self.gateway_api_crds],
        )
        if monitoring_crds is not None:
            # Every proxy's and istiod's metrics; the CRDs come with monitoring's chart.
            self.monitors = self.objects(
                "istio-monitors",
                istio_metrics.monitors(ctx.component("monitoring").api("monitoring"), NAMESPACE),
                depends_on=[ns, monitoring_crds],
            )
        self.gateway = pulumi.Output.from_input(f"{NAMESPACE}/{PLATFORM_GATEWAY}")
        self.register_outputs({"gateway": self.gateway})


def _hub(ctx: Context) -> dict[str, str]:
    """istiod's `global.hub` behind a mirror: the injector builds every sidecar and gateway
    image (`image: auto`) from it, in a ConfigMap no image transform can see."""
    mirror = ctx.config.mirror
    if mirror is None:
        return {}
    # The hub is an image path without a name: rewrite one of its images, keep the parent.
    return {"hub": rewrite_image(f"{ISTIO_HUB}/pilot", mirror.registry).rsplit("/", 1)[0]}


def _service(cfg: IstioConfig) -> dict[str, Any]:
    """Gateway Service values; fixed NodePorts (kind maps them to the host) when configured."""
    service: dict[str, Any] = {"type": cfg.gateway_service_type}
    if cfg.gateway_node_ports:
        # The chart renders `service.ports` verbatim; these are its default ports plus nodePort.
        service["ports"] = [
            {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
            {
                "name": "http2",
                "port": 80,
                "protocol": "TCP",
                "targetPort": 80,
                "nodePort": cfg.gateway_node_ports.http,
            },
            {
                "name": "https",
                "port": 443,
                "protocol": "TCP",
                "targetPort": 443,
                "nodePort": cfg.gateway_node_ports.https,
            },
        ]
    return service
