"""MinIO: the platform object store (pipelines, models, tenant buckets).

The chart (5.4.0) creates its `buckets`, `users`, `policies` and `svcaccts` only in the Helm
hook Job `<fullname>-post-job` (charts.min.io minio 5.4.0 templates/post-job.yaml, rendered
only when one of them is set), which Pulumi never applies: the platform buckets come from our
own idempotent `mc` Job (modules/minio_users.py) once the server is up, and none of those
values is passed. `users` is emptied because its default (console/console123) would land in
the applied ConfigMap `<fullname>` (templates/configmap.yaml `add-user`) and feed the hook.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from mlplatform import manifests, minio_users, netpol
from mlplatform.component import Context, PlatformComponent

NAMESPACE = "minio"
SERVICE = "minio"
PORT = 9000
ROOT_SECRET = "minio-root"
ROOT_USER = "mlplatform-admin"
PLATFORM_BUCKETS = ("mlpipeline", "models")
BUCKETS_JOB = "platform-buckets"
ENDPOINT = f"{SERVICE}.{NAMESPACE}.svc.cluster.local:{PORT}"


class Minio(PlatformComponent):
    """Outputs `endpoint` (host:port inside the cluster) and `root_password` (secret)."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("minio:Minio", "minio", ctx, depends_on)
        cfg = ctx.config.components.minio
        monitoring = ctx.config.components.monitoring.enabled
        self.root_password = self.password("minio-root-password")
        base = self.objects(
            "minio-base",
            [
                manifests.namespace(NAMESPACE),
                *netpol.baseline(NAMESPACE, self.ctx.config.network.api_server_cidrs),
                netpol.allow_same_namespace(NAMESPACE),
                netpol.allow_from(
                    "allow-object-store-clients",
                    NAMESPACE,
                    [netpol.labelled_namespaces(netpol.OBJECT_STORE_CLIENT)],
                    [PORT],
                ),
                netpol.allow_prometheus_scrape(NAMESPACE, [PORT]),
                manifests.secret(
                    ROOT_SECRET,
                    NAMESPACE,
                    {"rootUser": ROOT_USER, "rootPassword": self.root_password},
                ),
            ],
        )
        self.helm = self.chart(
            "minio",
            "minio",
            NAMESPACE,
            {
                "mode": cfg.mode,
                "replicas": cfg.replicas,
                "existingSecret": ROOT_SECRET,
                "fullnameOverride": SERVICE,
                "persistence": {"enabled": True, "size": str(cfg.storage)},
                "resources": cfg.resources.as_k8s(),
                "users": [],
                "podDisruptionBudget": {
                    "enabled": ctx.config.high_availability and cfg.replicas > 1,
                    "maxUnavailable": 1,
                },
                "metrics": {"serviceMonitor": {"enabled": monitoring, "includeNode": True}},
                "securityContext": {"enabled": True, "runAsUser": 1000, "fsGroup": 1000},
            },
            depends_on=[base],
        )
        self.buckets = self.objects(
            "minio-buckets",
            [
                minio_users.buckets_job(
                    BUCKETS_JOB,
                    PLATFORM_BUCKETS,
                    ctx.component("minio").images["mc"],
                    "platform-storage",
                )
            ],
            depends_on=[self.helm],
        )
        self.endpoint = pulumi.Output.from_input(ENDPOINT)
        self.register_outputs({"endpoint": self.endpoint, "root_password": self.root_password})
