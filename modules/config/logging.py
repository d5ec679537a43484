"""Logging config: Loki (one tenant per namespace), the Alloy collector, API server audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from mlplatform.config.base import Duration, Model, ResourceList, Resources
from mlplatform.quantity import PositiveQuantity

if TYPE_CHECKING:
    from mlplatform.config import PlatformConfig


class Logging(Model):
    enabled: bool = True
    retention: Duration = Field(
        "168h", description="how long Loki keeps every tenant's logs (its compactor deletes)"
    )
    store: Literal["filesystem", "minio"] = Field(
        "filesystem",
        description="where Loki keeps chunks and index: its own volume, or the platform MinIO "
        "(bucket `loki`, a MinIO user allowed only that bucket)",
    )
    storage: PositiveQuantity = Field(
        "10Gi", description="Loki's volume (all data with store filesystem, else WAL and cache)"
    )
    audit: bool = Field(
        False,
        description="API server audit log: the kind cluster writes it (audit policy in "
        "modules/cluster/audit-policy.yaml) and Alloy ships it to the Loki tenant platform-audit",
    )
    loki_resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    alloy_resources: Resources = Resources(  # per node
        requests=ResourceList(cpu="50m", memory="128Mi"),
        limits=ResourceList(cpu="500m", memory="512Mi"),
    )


def dependency_problems(config: PlatformConfig) -> list[str]:
    """What Loki's object store needs, one line per problem."""
    cfg = config.components.logging
    if cfg.enabled and cfg.store == "minio" and not config.components.minio.enabled:
        return [
            "platform.components.logging.store: store minio needs components.minio.enabled; "
            "enable MinIO or set store: filesystem"
        ]
    return []
