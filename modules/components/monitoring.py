"""Monitoring: kube-prometheus-stack plus the platform's alert rules (overlays/monitoring).

The chart's prometheus-operator serves its admission webhooks and metrics over TLS from the
Secret `<fullname>-admission`, which by default only the Helm hook Job `<fullname>-admission-
create` writes (and `-admission-patch` puts its CA into the webhook configurations); Pulumi
never applies hooks. So cert-manager issues that Secret (`admissionWebhooks.certManager`: the
chart's own self-signed CA Issuer and Certificate `<fullname>-admission`, and the webhook
configurations carry `cert-manager.io/inject-ca-from` for cert-manager's CA injector), and
monitoring is installed after cert-manager. Without cert-manager the webhooks and the
operator's TLS are off. Read in prometheus-community/helm-charts, tags
kube-prometheus-stack-{70.4.2,79.12.0,82.4.0}: templates/prometheus-operator/deployment.yaml
(tls-secret volume), certmanager.yaml, admission-webhooks/job-patch/*.yaml (rendered only
without certManager) and admission-webhooks/*WebhookConfiguration.yaml.

Grafana (on in every environment) serves under `/grafana/` on the platform gateway, behind the
platform login like every UI; kube-prometheus-stack provisions Prometheus as its default
datasource. Our dashboards (`mlplatform.dashboards`) are ConfigMaps its dashboard sidecar loads,
one folder per area (the sidecar's folder annotation), applied after the chart.

Prometheus selects PrometheusRules and monitors in every namespace, so a rule or monitor made
in a tenant namespace could label its alerts `namespace="<another team>"` and reach that
team's receivers (tenant AlertmanagerConfigs match on the namespace label). The operator's
namespace enforcement closes that: see `namespace_enforcement`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlplatform import alerting, manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from mlplatform.components.istio import PLATFORM_GATEWAY
from mlplatform.dashboards import config_maps as dashboard_config_maps
from mlplatform.dashboards import sidecar_values as dashboard_sidecar_values
from mlplatform.tenancy.spec import platform_namespaces

NAMESPACE = "monitoring"
RELEASE = "kube-prometheus-stack"
GRAFANA_SECRET = "grafana-admin"
GRAFANA_PORT = 3000
# The grafana subchart's Service `<release>-grafana`, port 80 (its `service.port`; rendered from
# kube-prometheus-stack 79.12.0 with grafana 10.3.0).
GRAFANA_SERVICE = f"{RELEASE}-grafana"
GRAFANA_SERVICE_PORT = 80
GRAFANA_PATH = "/grafana/"
OPERATOR_WEBHOOK_PORT = 10250
RULES_OVERLAYS = Path(__file__).resolve().parents[2] / "overlays" / "monitoring"
# Prometheus pods carry this label; NetworkPolicies allow scraping from it.
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
# The operator's config-reloader sidecar (and init container) in every Prometheus and
# Alertmanager pod; the chart passes these as operator flags, default 0 (unbounded).
RELOADER_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "24Mi"},
    "limits": {"cpu": "100m", "memory": "64Mi"},
}
# Namespace enforcement, read in prometheus-operator v0.81.0/v0.86.2/v0.89.0 (the operators
# of kube-prometheus-stack 70.4.2/79.12.0/82.4.0), pkg/namespacelabeler/labeler.go: for every
# PrometheusRule not excluded, EnforceNamespaceLabel sets the label `enforcedNamespaceLabel`
# to the rule's own namespace on every rule (rule labels override the series' labels) and
# injects `<label>="<namespace>"` into every vector selector of its expression, dropping the
# selector's own matchers on that label (prom-label-proxy v0.11.0/v0.12.1, the operators'
# go.mod, injectproxy/enforce.go EnforceMatchers with errorOnReplace false); for every monitor
# not excluded (ServiceMonitor, PodMonitor, Probe, ScrapeConfig: pkg/prometheus/promcfg.go),
# GetRelabelingConfigs appends `target_label: <label>, replacement: <namespace>` as the last
# relabeling and metric relabeling, overriding any other. IsExcluded matches an
# `excludedFromEnforcement` reference by namespace and resource, a reference without `name`
# matching every object of that resource in the namespace (ObjectReference,
# pkg/apis/monitoring/v1/types.go; resources enum in the Prometheus CRD,
# charts/crds/crds/crd-prometheuses.yaml of each chart). The chart copies both values to the
# Prometheus CR and adds its own default rules to the exclusions (templates/prometheus/
# prometheus.yaml at the three tags). Excluded here: every platform namespace (Kubernetes'
# own and every component's, tenancy.spec.platform_namespaces, which no tenant may be named),
# so the platform's rules and monitors keep their series' namespaces; every other namespace,
# i.e. every tenant's, is enforced.
ENFORCED_LABEL = "namespace"
ENFORCED_RESOURCES = (
    "prometheusrules",
    "servicemonitors",
    "podmonitors",
    "probes",
    "scrapeconfigs",
)
# Grafana's dashboard/datasource sidecars (k8s-sidecar, Python).
GRAFANA_SIDECAR_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"cpu": "200m", "memory": "128Mi"},
}


def rules_overlay(environment: str) -> Path:
    """The kustomize overlay holding this environment's PrometheusRules."""
    path = RULES_OVERLAYS / environment
    if not (path / "kustomization.yaml").is_file():
        raise ValueError(
            f"no alert-rule overlay for environment {environment!r}: create "
            f"overlays/monitoring/{environment}/kustomization.yaml (copy dev's)"
        )
    return path


class Monitoring(PlatformComponent):
    """Prometheus selects every ServiceMonitor, PodMonitor and PrometheusRule in the cluster."""

    def __init__(
        self,
        ctx: Context,
        depends_on: Sequence[pulumi.Resource | None] = (),
        monitors: Sequence[manifests.Obj] = (),
    ) -> None:
        """`monitors`: ServiceMonitors/PodMonitors of components installed before monitoring
        (their charts cannot create them without its CRDs), applied after the chart."""
        super().__init__("monitoring:Monitoring", "monitoring", ctx, depends_on)
        cfg = ctx.config.components.monitoring
        ha = ctx.config.high_availability
        cert_manager = ctx.config.components.cert_manager.enabled
        password = self.password("grafana-admin-password", 24)
        # node-exporter needs host namespaces, so this namespace is privileged.
        base = self.objects(
            "monitoring-base",
            [
                manifests.namespace(NAMESPACE, "privileged"),
                *netpol.baseline(NAMESPACE, self.ctx.config.network.api_server_cidrs),
                netpol.allow_same_namespace(NAMESPACE),
                netpol.allow_webhooks(NAMESPACE, [OPERATOR_WEBHOOK_PORT]),
                # Prometheus scrapes every namespace's pods and the nodes' kubelet/exporter.
                netpol.allow_to(
                    "allow-scrape-egress",
                    NAMESPACE,
                    [netpol.any_namespace(), {"ipBlock": {"cidr": "0.0.0.0/0"}}],
                    [],
                    pods=PROMETHEUS_POD_LABELS,
                ),
                netpol.allow_from_gateway(NAMESPACE, [GRAFANA_PORT]),
                manifests.secret(
                    GRAFANA_SECRET,
                    NAMESPACE,
                    {
                        "admin-user": "admin",
                        "admin-password": password,
                    },
                ),
                # Alert routing: our configuration Secret (read before the chart's
                # Alertmanager starts) and the Alertmanager's egress to its receivers.
                alerting.config_secret(
                    NAMESPACE, ctx.config.alerting, alerting.platform_secrets(ctx.config)
                ),
                alerting.egress_policy(NAMESPACE, ctx.config.alerting),
            ],
        )
        open_selectors = {
            f"{kind}SelectorNilUsesHelmValues": False
            for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")
        }
        self.helm = self.chart(
            RELEASE,
            "monitoring",
            NAMESPACE,
            {
                "fullnameOverride": "kps",
                "prometheusOperator": {
                    "resources": cfg.operator_resources.as_k8s(),
                    "prometheusConfigReloader": {"resources": RELOADER_RESOURCES},
                    **operator_tls(cert_manager),
                },
                "prometheus": {
                    "prometheusSpec": {
                        "replicas": cfg.prometheus_replicas,
                        "retention": cfg.retention,
                        "resources": cfg.resources.as_k8s(),
                        "storageSpec": {
                            "volumeClaimTemplate": {
                                "spec": {
                                    "accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": str(cfg.storage)}},
                                }
                            }
                        },
                        **open_selectors,
                        **namespace_enforcement(),
                    },
                    "podDisruptionBudget": {"enabled": ha and cfg.prometheus_replicas > 1},
                },
                "alertmanager": {
                    "alertmanagerSpec": {
                        "replicas": cfg.alertmanager_replicas,
                        "resources": cfg.alertmanager_resources.as_k8s(),
                        **alerting.alertmanager_values(),
                    },
                    "podDisruptionBudget": {"enabled": ha and cfg.alertmanager_replicas > 1},
                },
                "kube-state-metrics": {"resources": cfg.kube_state_metrics_resources.as_k8s()},
                "prometheus-node-exporter": {"resources": cfg.node_exporter_resources.as_k8s()},
                "grafana": {
                    "enabled": cfg.grafana,
                    "admin": {
                        "existingSecret": GRAFANA_SECRET,
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    },
                    "resources": cfg.grafana_resources.as_k8s(),
                    # A Role in `monitoring` for the sidecars, not a ClusterRole over all Secrets.
                    "rbac": {"namespaced": True},
                    "sidecar": {
                        "resources": GRAFANA_SIDECAR_RESOURCES,
                        "dashboards": dashboard_sidecar_values(),
                    },
                    "env": grafana_env(ctx.config.ingress.domain),
                    "testFramework": {"enabled": False},  # `helm test` hooks only
                },
            },
            depends_on=[base],
        )
        if monitors:
            self.monitors = self.objects("platform-monitors", list(monitors), [self.helm])
        self.rules = k8s.kustomize.v2.Directory(
            "platform-alert-rules",
            directory=str(rules_overlay(ctx.config.environment)),
            opts=self._opts([self.helm]),
        )
        if cfg.grafana:
            self.dashboards = self.objects(
                "platform-dashboards", dashboard_config_maps(ctx.config), [self.helm]
            )
        self.register_outputs({"namespace": NAMESPACE})

    def route_grafana(self, istio: pulumi.Resource) -> None:
        """Grafana on the platform gateway (after Istio's CRDs), where Grafana is on."""
        if self.ctx.config.components.monitoring.grafana:
            self.grafana_route = self.objects(
                "grafana-route", [grafana_route(self.ctx)], [self.helm, istio]
            )


def grafana_env(domain: str) -> dict[str, str]:
    """Grafana serves from `/grafana/` (the gateway passes the path on unchanged). Its
    environment overrides grafana.ini's [server] section (GF_<SECTION>_<KEY>)."""
    return {
        "GF_SERVER_DOMAIN": domain,
        "GF_SERVER_ROOT_URL": f"https://{domain}{GRAFANA_PATH}",
        "GF_SERVER_SERVE_FROM_SUB_PATH": "true",
    }


def grafana_route(ctx: Context) -> manifests.Obj:
    """`https://<domain>/grafana/` to Grafana, bound to the platform gateway like KFP's routes."""
    return {
        "apiVersion": ctx.component("istio").api("networking"),
        "kind": "VirtualService",
        "metadata": manifests.meta("grafana", NAMESPACE),
        "spec": {
            "gateways": [f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"],
            "hosts": [ctx.config.ingress.domain],
            "http": [
                {
                    "match": [{"uri": {"prefix": GRAFANA_PATH}}],
                    "route": [
                        {
                            "destination": {
                                "host": f"{GRAFANA_SERVICE}.{NAMESPACE}.svc.cluster.local",
                                "port": {"number": GRAFANA_SERVICE_PORT},
                            }
                        }
                    ],
                }
            ],
        },
    }


def namespace_enforcement() -> dict[str, Any]:
    """`prometheus.prometheusSpec` values: every tenant namespace's rules and monitors carry
    `namespace=<their namespace>` (see ENFORCED_LABEL), platform namespaces are excluded.

    `ignoreNamespaceSelectors` stays off: it has no exclusions (promcfg.go
    getNamespacesFromNamespaceSelector applies it to every monitor) and the chart's kubelet,
    coredns, etcd, controller-manager, scheduler and kube-proxy ServiceMonitors (in
    `monitoring`) select `kube-system`, its apiserver one `default`; they would find no
    targets. Tenants cannot create monitors (their roles grant nothing in
    monitoring.coreos.com), and a tenant monitor's series would get its own namespace anyway.
    """
    return {
        "enforcedNamespaceLabel": ENFORCED_LABEL,
        "excludedFromEnforcement": [
            {"group": "monitoring.coreos.com", "resource": resource, "namespace": namespace}
            for namespace in platform_namespaces()
            for resource in ENFORCED_RESOURCES
        ],
        "ignoreNamespaceSelectors": False,
    }


def operator_tls(cert_manager: bool) -> dict[str, Any]:
    """`prometheusOperator` values for its webhook certificate: issued by cert-manager, or
    (without cert-manager) no admission webhooks and no TLS, so nothing mounts the Secret."""
    if cert_manager:
        return {"admissionWebhooks": {"certManager": {"enabled": True}}}
    return {"admissionWebhooks": {"enabled": False}, "tls": {"enabled": False}}
