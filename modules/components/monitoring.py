"""Monitoring: kube-prometheus-stack plus the platform's alert rules (overlays/monitoring)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from modules import manifests, netpol
from modules.component import Context, PlatformComponent

NAMESPACE = "monitoring"
RELEASE = "kube-prometheus-stack"
GRAFANA_SECRET = "grafana-admin"
GRAFANA_PORT = 3000
OPERATOR_WEBHOOK_PORT = 10250
RULES_OVERLAYS = Path(__file__).resolve().parents[2] / "overlays" / "monitoring"
# Prometheus pods carry this label; NetworkPolicies allow scraping from it.
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}


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

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("monitoring:Monitoring", "monitoring", ctx, depends_on)
        cfg = ctx.config.components.monitoring
        ha = ctx.config.high_availability
        password = random.RandomPassword(
            "grafana-admin-password",
            length=24,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
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
                        "admin-password": pulumi.Output.secret(password.result),
                    },
                ),
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
                    },
                    "podDisruptionBudget": {"enabled": ha and cfg.prometheus_replicas > 1},
                },
                "alertmanager": {
                    "alertmanagerSpec": {"replicas": cfg.alertmanager_replicas},
                    "podDisruptionBudget": {"enabled": ha and cfg.alertmanager_replicas > 1},
                },
                "grafana": {
                    "enabled": cfg.grafana,
                    "admin": {
                        "existingSecret": GRAFANA_SECRET,
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    },
                },
            },
            depends_on=[base],
        )
        self.rules = k8s.kustomize.v2.Directory(
            "platform-alert-rules",
            directory=str(rules_overlay(ctx.config.environment)),
            opts=self._opts([self.helm]),
        )
        self.register_outputs({"namespace": NAMESPACE})
