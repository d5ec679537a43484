"""Katib config: on/off, the size of its own pods and of what it starts in tenant namespaces."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from mlplatform.config.base import Model, Resources, sized
from mlplatform.quantity import PositiveQuantity

if TYPE_CHECKING:
    from mlplatform.config import PlatformConfig


# Deployment -> (container, default size): upstream sets no resources on any of them
# (kubeflow/manifests applications/katib/upstream/components/*, v1.10.2, v1.11.0, 26.03).
CONTAINERS: dict[str, tuple[str, Resources]] = {
    "katib-controller": ("katib-controller", sized("20m", "64Mi", "500m", "256Mi")),
    "katib-db-manager": ("katib-db-manager", sized("10m", "32Mi", "200m", "128Mi")),
    "katib-mysql": ("katib-mysql", sized("50m", "384Mi", "1", "1Gi")),
    "katib-ui": ("katib-ui", sized("10m", "32Mi", "200m", "128Mi")),
}


class Katib(Model):
    """Hyper-parameter tuning in tenant namespaces; trials go through the team's queue."""

    enabled: bool = True
    resources: dict[str, Resources] = Field(
        default_factory=dict, description="requests/limits by Katib Deployment name"
    )
    mysql_storage: PositiveQuantity = "2Gi"
    # Pods Katib creates in tenant namespaces count against the team's quota: sized here.
    suggestion_resources: Resources = sized("50m", "128Mi", "500m", "512Mi")
    metrics_collector_resources: Resources = sized("10m", "32Mi", "200m", "128Mi")

    def container_resources(self) -> dict[str, tuple[str, Resources]]:
        return {
            name: (container, self.resources.get(name, default))
            for name, (container, default) in CONTAINERS.items()
        }


def dependency_problems(config: PlatformConfig) -> list[str]:
    """What Katib cannot run without, one line per problem."""
    enabled = config.components
    if not enabled.katib.enabled:
        return []
    unknown = sorted(set(enabled.katib.resources) - set(CONTAINERS))
    problems = [
        f"platform.components.katib.resources.{name}: not a Katib deployment; use one of "
        f"{', '.join(CONTAINERS)}"
        for name in unknown
    ]
    # katib-with-kubeflow: cert-manager issues the webhook certificate, Istio routes the UI.
    missing = [n for n in ("cert_manager", "istio") if not getattr(enabled, n).enabled]
    if missing:
        names = " and ".join(f"components.{n.replace('_m', 'M')}" for n in missing)
        problems.append(
            f"platform.components.katib.enabled: Katib needs {names}; enable "
            f"{'it' if len(missing) == 1 else 'them'} or set katib.enabled: false"
        )
    return problems
