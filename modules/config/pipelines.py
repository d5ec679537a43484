"""Kubeflow Pipelines config: on/off and the replicas of its user-facing deployments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modules.config.base import Model, Replicas

if TYPE_CHECKING:
    from modules.config import PlatformConfig


class Pipelines(Model):
    """KFP multi-user, storing artifacts in the platform MinIO (needs minio and istio)."""

    enabled: bool = True
    api_server_replicas: Replicas = 1
    ui_replicas: Replicas = 1


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
