"""Object store: MinIO capacity, objects, nodes and S3 request rate and errors.

MinIO v2 cluster and node metrics (minio/minio docs/metrics/prometheus/list.md at
RELEASE.2024-12-18T13-15-44Z, the MinIO chart 5.4.0's appVersion), scraped by the chart's
ServiceMonitor (components/minio.py). Every server reports the cluster-wide values, so those
panels take the maximum over servers.
"""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from mlplatform.config import PlatformConfig
from mlplatform.dashboards import panels as p

UID = "mlplatform-object-store"
FOLDER = "Object store"


def enabled(config: PlatformConfig) -> bool:
    return config.components.minio.enabled


def build(config: PlatformConfig) -> Dashboard:
    rate = "$__rate_interval"
    used = (
        "max(minio_cluster_capacity_usable_total_bytes) "
        "- max(minio_cluster_capacity_usable_free_bytes)"
    )
    dash = (
        p.new("Object store", UID, "MinIO: capacity, objects, servers and S3 traffic.")
        .with_row(p.row("Capacity"))
        .with_panel(
            p.single(
                "Used",
                "Usable capacity in use (after erasure coding).",
                f"({used}) / max(minio_cluster_capacity_usable_total_bytes)",
                "percentunit",
                warn=0.75,
                bad=0.9,
            )
        )
        .with_panel(
            p.single(
                "Free",
                "Usable free capacity.",
                "max(minio_cluster_capacity_usable_free_bytes)",
                "bytes",
            )
        )
        .with_panel(
            p.single("Objects", "Objects stored.", "max(minio_cluster_usage_object_total)", "short")
        )
        .with_panel(
            p.single(
                "Servers offline",
                "MinIO servers the cluster sees offline.",
                "max(minio_cluster_nodes_offline_total) or vector(0)",
                "none",
                bad=1,
            )
        )
        .with_panel(
            p.graph(
                "Capacity",
                "Usable total and used bytes.",
                [
                    ("max(minio_cluster_capacity_usable_total_bytes)", "total"),
                    (used, "used"),
                ],
                "bytes",
                width=24,
            )
        )
        .with_row(p.row("Requests"))
        .with_panel(
            p.graph(
                "S3 requests by API",
                "S3 API calls per second.",
                [(f"sum by (api) (rate(minio_s3_requests_total[{rate}]))", "{{api}}")],
                "reqps",
                stacked=True,
            )
        )
        .with_panel(
            p.graph(
                "S3 errors",
                "Failed S3 calls per second: client (4xx) and server (5xx) errors.",
                [
                    (f"sum(rate(minio_s3_requests_4xx_errors_total[{rate}]))", "4xx"),
                    (f"sum(rate(minio_s3_requests_5xx_errors_total[{rate}]))", "5xx"),
                ],
                "reqps",
            )
        )
        .with_panel(
            p.graph(
                "Traffic",
                "Bytes received and sent by the S3 API.",
                [
                    (f"sum(rate(minio_s3_traffic_received_bytes[{rate}]))", "received"),
                    (f"sum(rate(minio_s3_traffic_sent_bytes[{rate}]))", "sent"),
                ],
                "Bps",
                width=24,
            )
        )
    )
    return p.finish(dash)
