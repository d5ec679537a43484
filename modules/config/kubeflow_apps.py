"""Kubeflow's user-facing apps: the central dashboard (with kfam) and notebooks.

Each is optional; both need identity (Istio, Dex, oauth2-proxy) because the gateway sets the
`kubeflow-userid` header they read. Requests and limits are set on every container (upstream
sets none on any of them: kubeflow/manifests applications/{centraldashboard,profiles,jupyter,
admission-webhook}, all three releases).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from mlplatform.config.base import Model, Replicas, Resources, sized

if TYPE_CHECKING:
    from mlplatform.config import PlatformConfig


class Dashboard(Model):
    """Kubeflow's central dashboard and kfam (its read-only membership API)."""

    enabled: bool = True
    replicas: Replicas = 1
    kfam_replicas: Replicas = 1
    resources: Resources = Field(
        default_factory=lambda: sized("10m", "64Mi", "500m", "256Mi"),
        description="the dashboard container (Node.js)",
    )
    kfam_resources: Resources = Field(
        default_factory=lambda: sized("10m", "32Mi", "200m", "128Mi"),
        description="kfam, the membership API the dashboard reads",
    )


class Notebooks(Model):
    """Jupyter notebooks: the notebook controller, the Jupyter web app (spawner) and the
    PodDefault admission webhook."""

    enabled: bool = True
    web_app_replicas: Replicas = 1
    web_app_resources: Resources = Field(
        default_factory=lambda: sized("10m", "96Mi", "500m", "256Mi")
    )
    controller_resources: Resources = Field(
        default_factory=lambda: sized("10m", "64Mi", "500m", "256Mi")
    )
    webhook_resources: Resources = Field(
        default_factory=lambda: sized("10m", "32Mi", "200m", "128Mi")
    )
    # What the spawner requests for a notebook by default, so a notebook fits the team's
    # ResourceQuota (limits are 1.2x). The web app parses them as a float of CPUs and of Gi
    # (jupyter backend apps/common/form.py), hence no `m` or `Mi`.
    notebook_cpu: str = Field("0.5", pattern=r"^[0-9]+(\.[0-9]+)?$", description="CPUs")
    notebook_memory: str = Field("1.0Gi", pattern=r"^[0-9]+(\.[0-9]+)?Gi$")


def dependency_problems(config: PlatformConfig) -> list[str]:
    """The apps need the gateway's identity (Istio); notebooks also cert-manager (webhook)."""
    c = config.components
    out = []
    for name, on in (("dashboard", c.dashboard.enabled), ("notebooks", c.notebooks.enabled)):
        if on and not c.istio.enabled:
            out.append(
                f"platform.components.{name}.enabled: needs components.istio (the gateway sets "
                f"the user header it reads); enable istio or set {name}.enabled: false"
            )
    if c.notebooks.enabled and not c.cert_manager.enabled:
        out.append(
            "platform.components.notebooks.enabled: the PodDefault webhook's certificate comes "
            "from cert-manager; enable components.certManager or set notebooks.enabled: false"
        )
    return out
