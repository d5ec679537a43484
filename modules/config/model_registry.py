"""Model registry config: its platform database, and the registry server each tenant runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlplatform.config.base import Model, Resources, sized
from mlplatform.quantity import PositiveQuantity

if TYPE_CHECKING:
    from mlplatform.config import PlatformConfig


class ModelRegistry(Model):
    """One registry per tenant (its own server and database), on one platform MySQL."""

    enabled: bool = True
    database_storage: PositiveQuantity = "5Gi"
    database_resources: Resources = sized("50m", "256Mi", "1", "1Gi")
    # Each tenant's server (and, on release 1.10, its ML Metadata gRPC container).
    server_resources: Resources = sized("10m", "32Mi", "200m", "128Mi")


def dependency_problems(config: PlatformConfig) -> list[str]:
    """What the registry cannot run without, one line per problem."""
    components = config.components
    if components.model_registry.enabled and not components.istio.enabled:
        return [
            "platform.components.modelRegistry.enabled: tenant registries run in the mesh "
            "(sidecars, mTLS); enable components.istio or set modelRegistry.enabled: false"
        ]
    return []
