"""Kubeflow Pipelines config: on/off and the replicas of its user-facing deployments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from mlplatform.config.base import Model, Replicas, Resources, sized

if TYPE_CHECKING:
    from mlplatform.config import PlatformConfig


# Deployment -> (container, requests and limits) for every KFP container: upstream sets
# requests on some and limits on none (kubeflow/manifests applications/pipeline, all three
# releases). Small enough for a dev kind cluster; `resources` overrides them by Deployment.
CONTAINERS: dict[str, tuple[str, Resources]] = {
    "ml-pipeline": ("ml-pipeline-api-server", sized("100m", "256Mi", "1", "1Gi")),
    "ml-pipeline-ui": ("ml-pipeline-ui", sized("10m", "64Mi", "500m", "512Mi")),
    "ml-pipeline-persistenceagent": (
        "ml-pipeline-persistenceagent",
        sized("20m", "64Mi", "500m", "256Mi"),
    ),
    "ml-pipeline-scheduledworkflow": (
        "ml-pipeline-scheduledworkflow",
        sized("10m", "32Mi", "200m", "128Mi"),
    ),
    "ml-pipeline-viewer-crd": ("ml-pipeline-viewer-crd", sized("10m", "32Mi", "200m", "128Mi")),
    "ml-pipeline-visualizationserver": (
        "ml-pipeline-visualizationserver",
        sized("30m", "256Mi", "500m", "1Gi"),
    ),
    "cache-server": ("server", sized("10m", "64Mi", "500m", "256Mi")),
    "metadata-envoy-deployment": ("container", sized("10m", "32Mi", "200m", "128Mi")),
    "metadata-grpc-deployment": ("container", sized("20m", "64Mi", "500m", "512Mi")),
    "metadata-writer": ("main", sized("10m", "64Mi", "200m", "256Mi")),
    "mysql": ("mysql", sized("100m", "512Mi", "1", "1Gi")),
    "workflow-controller": ("workflow-controller", sized("50m", "128Mi", "1", "512Mi")),
}


class Pipelines(Model):
    """KFP multi-user, storing artifacts in the platform MinIO (needs minio and istio)."""

    enabled: bool = True
    api_server_replicas: Replicas = 1
    ui_replicas: Replicas = 1
    resources: dict[str, Resources] = Field(
        default_factory=dict, description="requests/limits by KFP Deployment name"
    )

    @field_validator("resources")
    @classmethod
    def _known_deployments(cls, value: dict[str, Resources]) -> dict[str, Resources]:
        unknown = sorted(set(value) - set(CONTAINERS))
        if unknown:
            raise ValueError(
                f"unknown KFP Deployment(s) {', '.join(unknown)}; known: {', '.join(CONTAINERS)}"
            )
        return value

    def container_resources(self) -> dict[str, tuple[str, Resources]]:
        """Deployment -> (container, resources): the defaults with config's overrides."""
        return {
            name: (container, self.resources.get(name, default))
            for name, (container, default) in CONTAINERS.items()
        }


def dependency_problems(config: PlatformConfig) -> list[str]:
    """Components Pipelines and identity cannot run without, one line per problem."""
    enabled = config.components
    problems = []
    if not enabled.istio.enabled:
        problems.append(
            "platform.components.istio.enabled: identity (Dex, oauth2-proxy) needs Istio: "
            "the ingress gateway enforces login"
        )
    if enabled.pipelines.enabled:
        missing = [n for n in ("minio", "istio") if not getattr(enabled, n).enabled]
        if missing:
            problems.append(
                f"platform.components.pipelines.enabled: Kubeflow Pipelines needs "
                f"{' and '.join(f'components.{n}' for n in missing)}; enable them or set "
                "pipelines.enabled: false"
            )
    return problems
