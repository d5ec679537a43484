"""cert-manager and the platform's ClusterIssuer (self-signed CA for dev, ACME or existing).

cert-manager comes before monitoring (whose operator webhook certificate it issues), so its
chart's ServiceMonitor, which needs monitoring's CRDs, is ours (`CertManager.monitors`) and
monitoring applies it after its chart.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent

NAMESPACE = "cert-manager"
PLATFORM_ISSUER = "mlplatform"
WEBHOOK_PORT = 10250  # cert-manager webhook's secure port
METRICS_PORT = 9402
RELEASE = "cert-manager"


class CertManager(PlatformComponent):
    """Outputs `issuer_name`: the ClusterIssuer every platform certificate uses."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("certmanager:CertManager", "cert-manager", ctx, depends_on)
        cfg = ctx.config.components.cert_manager
        ha = ctx.config.high_availability
        api = ctx.component("cert_manager").api("cert-manager")
        monitoring = ctx.config.components.monitoring.enabled

        ns = self.objects(
            "cert-manager-namespace",
            [
                manifests.namespace(NAMESPACE),
                *netpol.baseline(NAMESPACE, self.ctx.config.network.api_server_cidrs),
                netpol.allow_webhooks(NAMESPACE, [WEBHOOK_PORT]),
                netpol.allow_prometheus_scrape(NAMESPACE, [METRICS_PORT]),
                # ACME HTTP-01 self-checks and the CA directory are outside the cluster.
                netpol.allow_to("allow-acme-egress", NAMESPACE, [], [80, 443]),
            ],
        )
        per_deployment = {
            "replicaCount": cfg.replicas,
            "resources": cfg.resources.as_k8s(),
            "podDisruptionBudget": {"enabled": ha, "maxUnavailable": 1},
        }
        self.helm = self.chart(
            RELEASE,
            "cert_manager",
            NAMESPACE,
            {
                "crds": {"enabled": True, "keep": True},
                **per_deployment,
                "webhook": per_deployment,
                "cainjector": per_deployment,
                # A post-install hook Job (never applied by Pulumi, which awaits the webhook).
                "startupapicheck": {"enabled": False},
                # The metrics Services; their ServiceMonitor is ours (`monitors`).
                "prometheus": {"enabled": monitoring, "servicemonitor": {"enabled": False}},
            },
            depends_on=[ns],
        )

        tls = ctx.config.ingress.tls
        if tls.issuer == "existing":
            self.issuer_name = pulumi.Output.from_input(tls.existing_cluster_issuer or "")
        else:
            self.issuers = self.objects(
                "cluster-issuers", issuer_objects(ctx, api), depends_on=[self.helm]
            )
            self.issuer_name = pulumi.Output.from_input(PLATFORM_ISSUER)
        # For Monitoring to apply once the ServiceMonitor CRD exists.
        self.monitors = (
            [service_monitor(ctx.component("monitoring").api("monitoring"))] if monitoring else []
        )
        self.register_outputs({"issuer_name": self.issuer_name})


def service_monitor(api: str) -> manifests.Obj:
    """What the chart's own ServiceMonitor selects and scrapes (cert-manager/cert-manager
    deploy/charts/cert-manager/templates/servicemonitor.yaml, v1.16.1 and v1.19.4): the
    metrics Services of the three Deployments, container port `http-metrics` (9402) in both.
    """
    return {
        "apiVersion": api,
        "kind": "ServiceMonitor",
        "metadata": manifests.meta(RELEASE, NAMESPACE),
        "spec": {
            "jobLabel": RELEASE,
            "selector": {
                "matchExpressions": [
                    {
                        "key": "app.kubernetes.io/name",
                        "operator": "In",
                        "values": ["cainjector", "cert-manager", "webhook"],
                    },
                    {"key": "app.kubernetes.io/instance", "operator": "In", "values": [RELEASE]},
                    {
                        "key": "app.kubernetes.io/component",
                        "operator": "In",
                        "values": ["cainjector", "controller", "webhook"],
                    },
                ]
            },
            "endpoints": [
                {
                    "targetPort": "http-metrics",
                    "path": "/metrics",
                    "interval": "60s",
                    "scrapeTimeout": "30s",
                }
            ],
        },
    }


def issuer_objects(ctx: Context, api: str) -> list[manifests.Obj]:
    """ClusterIssuer `mlplatform`: a self-signed CA chain (dev) or ACME over HTTP-01."""
    tls = ctx.config.ingress.tls
    if tls.issuer == "acme" and tls.acme is not None:
        return [
            {
                "apiVersion": api,
                "kind": "ClusterIssuer",
                "metadata": manifests.meta(PLATFORM_ISSUER),
                "spec": {
                    "acme": {
                        "server": tls.acme.server,
                        "email": tls.acme.email,
                        "privateKeySecretRef": {"name": f"{PLATFORM_ISSUER}-acme-account"},
                        "solvers": [{"http01": {"ingress": {"ingressClassName": "istio"}}}],
                    }
                },
            }
        ]
    root = f"{PLATFORM_ISSUER}-selfsigned"
    return [
        {
            "apiVersion": api,
            "kind": "ClusterIssuer",
            "metadata": manifests.meta(root),
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": api,
            "kind": "Certificate",
            "metadata": manifests.meta(f"{PLATFORM_ISSUER}-ca", NAMESPACE),
            "spec": {
                "isCA": True,
                "commonName": f"{PLATFORM_ISSUER} {ctx.config.environment} CA",
                "secretName": f"{PLATFORM_ISSUER}-ca",
                "duration": "8760h",
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {"name": root, "kind": "ClusterIssuer", "group": "cert-manager.io"},
            },
        },
        {
            "apiVersion": api,
            "kind": "ClusterIssuer",
            "metadata": manifests.meta(PLATFORM_ISSUER),
            "spec": {"ca": {"secretName": f"{PLATFORM_ISSUER}-ca"}},
        },
    ]
