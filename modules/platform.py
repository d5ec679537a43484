"""Compose the platform from typed config: validation first, then components in order."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlplatform import alerting
from mlplatform.component import Context
from mlplatform.components.certmanager import CertManager
from mlplatform.components.conformance import Conformance, controller_namespaces
from mlplatform.components.dashboard import Dashboard
from mlplatform.components.gpu import GpuDevicePlugin
from mlplatform.components.gpu_telemetry import GpuTelemetry
from mlplatform.components.identity import Identity, ext_authz_provider, oidc_client_secret
from mlplatform.components.istio import Istio
from mlplatform.components.istio_cni import IstioCni
from mlplatform.components.katib import Katib
from mlplatform.components.kubeflow_namespace import KubeflowNamespace
from mlplatform.components.kueue import Kueue
from mlplatform.components.logging import Logging, platform_namespaces
from mlplatform.components.metrics_server import MetricsServer
from mlplatform.components.minio import Minio
from mlplatform.components.model_registry import ModelRegistry
from mlplatform.components.monitoring import Monitoring, rules_overlay
from mlplatform.components.notebooks import Notebooks
from mlplatform.components.pipelines import Pipelines
from mlplatform.components.rbac import Rbac
from mlplatform.components.serving import Serving
from mlplatform.components.training import Training
from mlplatform.config import ConfigError, PlatformConfig, parse_platform
from mlplatform.config.conformance import dependency_problems as conformance_problems
from mlplatform.config.katib import dependency_problems as katib_problems
from mlplatform.config.kubeflow_apps import dependency_problems as kubeflow_apps_problems
from mlplatform.config.logging import dependency_problems as logging_problems
from mlplatform.config.metrics_server import warnings as metrics_server_warnings
from mlplatform.config.model_registry import dependency_problems as registry_problems
from mlplatform.config.pipelines import dependency_problems as pipelines_problems
from mlplatform.config.serving import release_problems as serving_problems
from mlplatform.mirror import image_transform
from mlplatform.stackconfig import unknown_key_problems
from mlplatform.tenancy.spec import (
    TenantSpec,
    parse_tenants,
    pipelines_warnings,
    quota_warnings,
    template_of,
)
from mlplatform.tenancy.tenant import build_tenants


@dataclass(frozen=True)
class Stack:
    """One environment's validated config: the platform and its tenants."""

    platform: PlatformConfig
    tenants: list[TenantSpec]
    # Legal but doubtful settings (e.g. Kueue quota above the namespace quota), one a line.
    warnings: tuple[str, ...] = ()


def load_config(raw: dict[str, Any]) -> Stack:
    """Parse and pre-flight the stack config; raises ConfigError before anything exists."""
    problems = unknown_key_problems(raw)
    try:
        config = parse_platform(raw.get("platform"))
    except ConfigError as err:  # still check the tenants' own rules: one pass reports all
        problems.extend(err.problems)
        try:
            parse_tenants(raw.get("tenants"), None, template_of(raw.get("platform")))
        except ConfigError as tenant_err:
            problems.extend(tenant_err.problems)
        raise ConfigError(problems) from None
    tenants: list[TenantSpec] = []
    try:
        tenants = parse_tenants(raw.get("tenants"), config)
    except ConfigError as err:
        problems.extend(err.problems)
    if config.components.monitoring.enabled:
        try:
            rules_overlay(config.environment)
        except ValueError as err:
            problems.append(f"platform.environment: {err}")
    problems.extend(serving_problems(config))
    problems.extend(pipelines_problems(config))
    problems.extend(
        conformance_problems(
            config.environment,
            config.components.conformance,
            config.components.minio.enabled,
            config.components.kueue.enabled,
        )
    )
    problems.extend(kubeflow_apps_problems(config))
    problems.extend(katib_problems(config))
    problems.extend(registry_problems(config))
    problems.extend(logging_problems(config))
    if problems:
        raise ConfigError(problems)
    warnings = [w for i, t in enumerate(tenants) for w in quota_warnings(t, f"tenants[{i}]")]
    warnings.extend(
        w for i, t in enumerate(tenants) for w in pipelines_warnings(t, config, f"tenants[{i}]")
    )
    warnings.extend(metrics_server_warnings(config.environment, config.components.metrics_server))
    return Stack(config, tenants, tuple(grouped(warnings)))


def grouped(warnings: list[str]) -> list[str]:
    """One line per distinct warning: the same one for many tenants names the first few."""
    by_text: dict[str, list[str]] = {}
    for w in warnings:
        m = re.match(r"(tenants\[\d+\])\.(.*)", w)
        where, text = (m[1], m[2]) if m else ("", w)
        by_text.setdefault(text, []).append(where)
    out = []
    for text, places in by_text.items():
        if places == [""]:
            out.append(text)
            continue
        named = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
        out.append(f"{named}: {text}" if len(places) > 1 else f"{places[0]}.{text}")
    return out


def build(config: PlatformConfig, tenants: Sequence[TenantSpec] = ()) -> dict[str, pulumi.Resource]:
    """Register every enabled component, then the tenants; returns the components by name."""
    oidc_secret = oidc_client_secret(config)  # secret stack config: fails before any resource
    alerting.preflight(config, tenants)  # receiver credentials, likewise
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

    # cert-manager first: it issues the monitoring operator's webhook certificate, and
    # monitoring applies cert-manager's ServiceMonitor after its CRDs.
    cert_manager = CertManager(ctx) if enabled.cert_manager.enabled else None
    monitoring = (
        Monitoring(
            ctx,
            depends_on=[cert_manager],
            monitors=cert_manager.monitors if cert_manager else (),
        )
        if enabled.monitoring.enabled
        else None
    )
    issuer = (
        cert_manager.issuer_name if cert_manager else config.ingress.tls.existing_cluster_issuer
    )
    # Istio CNI before istiod: injected pods get no privileged init container, so they
    # start under Pod Security `restricted`, once the agent runs on their node.
    istio_cni = IstioCni(ctx) if enabled.istio.enabled else None
    istio = (
        Istio(
            ctx,
            issuer_name=issuer or "",
            depends_on=[cert_manager, istio_cni],
            extension_providers=[ext_authz_provider()],
            # The proxies' monitors apply after monitoring's CRDs (its chart).
            monitoring_crds=monitoring.helm if monitoring else None,
        )
        if enabled.istio.enabled
        else None
    )
    if monitoring and istio:
        monitoring.route_grafana(istio)  # Grafana at /grafana/ on the platform gateway
    # metrics-server: cert-manager issues its serving certificate, monitoring's CRD its monitor.
    metrics_server = (
        MetricsServer(ctx, depends_on=[cert_manager, monitoring])
        if enabled.metrics_server.enabled
        else None
    )
    minio = Minio(ctx, depends_on=[monitoring]) if enabled.minio.enabled else None
    rbac = Rbac(ctx)
    # Serving: cert-manager issues the webhook certs, Istio routes (and carries Knative).
    serving = (
        Serving(ctx, depends_on=[cert_manager, istio, monitoring])
        if enabled.serving.enabled
        else None
    )
    gpu = GpuDevicePlugin(ctx, depends_on=[monitoring]) if enabled.gpu.enabled else None
    # GPU telemetry: in the device plugin's namespace, its ServiceMonitor after monitoring's CRDs.
    gpu_telemetry = (
        GpuTelemetry(ctx, gpu, depends_on=[monitoring])
        if gpu and enabled.gpu.telemetry.enabled
        else None
    )

    # Kueue: cert-manager issues its webhook certs, its chart's ServiceMonitor needs the CRD.
    kueue = Kueue(ctx, depends_on=[cert_manager, monitoring]) if enabled.kueue.enabled else None
    # `kubeflow` is created once here; add `or <component>` for every component living in it.
    kubeflow_ns = (
        KubeflowNamespace(ctx)
        if enabled.training.operator
        or enabled.pipelines.enabled
        or enabled.dashboard.enabled
        or enabled.notebooks.enabled
        or enabled.katib.enabled
        or enabled.model_registry.enabled
        else None
    )
    training = (
        Training(ctx, kubeflow_namespace=kubeflow_ns, depends_on=[monitoring])
        if enabled.training.operator or enabled.training.trainer_on(config.release)
        else None
    )

    # Identity: istiod must know the ext-authz provider and the gateway must exist first.
    identity = Identity(ctx, oidc_secret, depends_on=[istio]) if istio else None
    # Pipelines: artifacts in MinIO, sidecars and routes from Istio, webhook certs.
    pipelines = (
        Pipelines(
            ctx,
            kubeflow_namespace=kubeflow_ns,
            depends_on=[minio, istio, cert_manager],
        )
        if enabled.pipelines.enabled and minio and kubeflow_ns
        else None
    )

    # Katib: webhook certificate from cert-manager, UI behind Istio, trials queued by Kueue.
    katib = (
        Katib(ctx, kubeflow_namespace=kubeflow_ns, depends_on=[cert_manager, istio, kueue])
        if enabled.katib.enabled and kubeflow_ns
        else None
    )

    # Dashboard and notebooks: behind the gateway's identity; the PodDefault webhook's
    # certificate from cert-manager; notebooks reach KFP and MinIO.
    dashboard = (
        Dashboard(ctx, kubeflow_namespace=kubeflow_ns, depends_on=[identity])
        if enabled.dashboard.enabled and identity and kubeflow_ns
        else None
    )
    notebooks = (
        Notebooks(ctx, kubeflow_namespace=kubeflow_ns, depends_on=[identity, cert_manager])
        if enabled.notebooks.enabled and identity and kubeflow_ns
        else None
    )

    # The model registries' database; each tenant runs its own registry server on it.
    model_registry = (
        ModelRegistry(ctx, kubeflow_namespace=kubeflow_ns, depends_on=[istio])
        if enabled.model_registry.enabled and kubeflow_ns
        else None
    )

    for name, component in {
        "monitoring": monitoring,
        "cert_manager": cert_manager,
        "metrics_server": metrics_server,
        "istio_cni": istio_cni,
        "istio": istio,
        "minio": minio,
        "kueue": kueue,
        "kubeflow_namespace": kubeflow_ns,
        "training": training,
        "rbac": rbac,
        "serving": serving,
        "gpu": gpu,
        "gpu_telemetry": gpu_telemetry,
        "identity": identity,
        "pipelines": pipelines,
        "dashboard": dashboard,
        "notebooks": notebooks,
        "katib": katib,
        "model_registry": model_registry,
    }.items():
        if component is not None:
            built[name] = component

    # Conformance: after MinIO (its bucket), monitoring (ServiceMonitor CRD), Kueue and the
    # controllers whose logs it reads on failure.
    if enabled.conformance.enabled:
        log_namespaces, after = controller_namespaces(ctx, built)
        built["conformance"] = Conformance(ctx, log_namespaces, depends_on=after)

    # Logging: after monitoring (ServiceMonitor CRD, Grafana's sidecar) and MinIO (its bucket
    # user's Job); the admins' datasource covers the namespace of every component built above.
    if enabled.logging.enabled:
        built["logging"] = Logging(ctx, platform_namespaces(built), depends_on=[monitoring, minio])

    # Tenants: their objects need Kueue's and Istio's CRDs, the tenant roles and MinIO. A
    # platform stack registers none (each tenant has its own stack, see tenant_outputs); the
    # cluster-wide admission policy is still registered here.
    # Dashboard and notebooks ship the Profile and PodDefault CRDs tenants' objects use.
    build_tenants(
        ctx,
        tenants,
        depends_on=[kueue, istio, minio, rbac, monitoring, model_registry, dashboard, notebooks],
    )
    return built


# monitoring: the AlertmanagerConfig CRD; model_registry: each tenant's database Job.
TENANT_PREREQUISITES = (
    "kueue",
    "istio",
    "minio",
    "rbac",
    "monitoring",
    "model_registry",
    "dashboard",
    "notebooks",
)


def tenant_outputs(config: PlatformConfig, built: dict[str, pulumi.Resource]) -> dict[str, Any]:
    """The platform stack outputs every tenant stack reads (tenancy.stacks.PLATFORM_OUTPUTS).

    Stack outputs are written when the platform's update completes, so a tenant stack seeing
    `tenantsReady: true` for its release runs after the pieces its objects need exist.
    """
    before = [built[name].urn for name in TENANT_PREREQUISITES if name in built]
    return {
        "kubeconfig": config.cluster.kubeconfig,
        "context": config.cluster.context,
        "release": config.release,
        "components": sorted(built),
        "tenantsReady": pulumi.Output.all(*before).apply(lambda _: True),
    }
