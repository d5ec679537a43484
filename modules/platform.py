"""Compose the platform from typed config: validation first, then components in order."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from modules.component import Context
from modules.components.certmanager import CertManager
from modules.components.istio import Istio
from modules.components.minio import Minio
from modules.components.monitoring import Monitoring, rules_overlay
from modules.components.rbac import Rbac
from modules.config import ConfigError, PlatformConfig, parse_platform
from modules.mirror import image_transform


def load_config(raw: dict[str, Any]) -> PlatformConfig:
    """Parse and pre-flight the stack config; raises ConfigError before anything exists."""
    config = parse_platform(raw.get("platform"))
    problems = []
    if config.components.monitoring.enabled:
        try:
            rules_overlay(config.environment)
        except ValueError as err:
            problems.append(f"platform.environment: {err}")
    if problems:
        raise ConfigError(problems)
    return config


def build(config: PlatformConfig) -> dict[str, pulumi.Resource]:
    """Register every enabled component; returns them by name."""
    if config.mirror:
        pulumi.runtime.register_resource_transform(image_transform(config.mirror.registry))
    provider = k8s.Provider(
        "k8s",
        kubeconfig=config.cluster.kubeconfig,
        context=config.cluster.context,
        enable_server_side_apply=True,
    )
    ctx = Context(config, provider)
    enabled = config.components
    built: dict[str, pulumi.Resource] = {}

    monitoring = Monitoring(ctx) if enabled.monitoring.enabled else None
    cert_manager = (
        CertManager(ctx, depends_on=[monitoring]) if enabled.cert_manager.enabled else None
    )
    issuer = (
        cert_manager.issuer_name if cert_manager else config.ingress.tls.existing_cluster_issuer
    )
    istio = (
        Istio(ctx, issuer_name=issuer or "", depends_on=[cert_manager])
        if enabled.istio.enabled
        else None
    )
    minio = Minio(ctx, depends_on=[monitoring]) if enabled.minio.enabled else None
    rbac = Rbac(ctx)

    for name, component in {
        "monitoring": monitoring,
        "cert_manager": cert_manager,
        "istio": istio,
        "minio": minio,
        "rbac": rbac,
    }.items():
        if component is not None:
            built[name] = component
    return built
