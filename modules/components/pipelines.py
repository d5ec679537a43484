"""Kubeflow Pipelines (multi-user) storing its artifacts in the platform MinIO.

Upstream's KFP env is composed with `overlays/upstream/kfp`, which removes the object store
KFP bundles (MinIO up to 2.5, SeaweedFS from 2.15) and its default credentials. Here we add
back what KFP reads: the Secret `mlpipeline-minio-artifact` (`accesskey`/`secretkey`) from
MinIO's generated root credentials, the Service `minio-service` (the S3 endpoint every KFP
release addresses, `minio-service.kubeflow:9000`) as an alias of the platform MinIO, and the
API server's explicit object-store host/port (an ExternalName Service gets no
`MINIO_SERVICE_SERVICE_*` environment variables, which the API server falls back to).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import yaml

from modules import manifests, netpol
from modules.component import Context, PlatformComponent
from modules.components import minio
from modules.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from modules.components.istio import PLATFORM_GATEWAY
from modules.components.kubeflow_namespace import NAMESPACE

STORE_ALIAS = "minio-service"
ARTIFACT_SECRET = "mlpipeline-minio-artifact"
BUCKET = "mlpipeline"  # KFP's default bucketName; created by the MinIO chart
API_SERVER = "ml-pipeline"
UI = "ml-pipeline-ui"
UI_PORT = 3000
API_PORTS = [8887, 8888]  # gRPC, HTTP
METADATA_PORT = 8080  # metadata-grpc
WEBHOOK_PORT = 8443  # cache-server (and the pipeline-version webhook where shipped)
# Kubeflow's label on namespaces whose pipelines run against this KFP (the tenants).
TENANTS = {"pipelines.kubeflow.org/enabled": "true"}
MINIO_HOST = f"{minio.SERVICE}.{minio.NAMESPACE}.svc.cluster.local"


class Pipelines(PlatformComponent):
    """Outputs `ui`: the in-cluster address of the Pipelines UI."""

    def __init__(
        self,
        ctx: Context,
        minio_root_password: pulumi.Input[str],
        kubeflow_namespace: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        super().__init__("pipelines:Pipelines", "pipelines", ctx, [*depends_on, kubeflow_namespace])
        cfg = ctx.config.components.pipelines
        base = self.objects(
            "pipelines-base",
            [
                *network_policies(),
                manifests.secret(
                    ARTIFACT_SECRET,
                    NAMESPACE,
                    {
                        "accesskey": pulumi.Output.secret(minio.ROOT_USER),
                        "secretkey": pulumi.Output.secret(minio_root_password),
                    },
                ),
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": manifests.meta(STORE_ALIAS, NAMESPACE),
                    "spec": {
                        "type": "ExternalName",
                        "externalName": MINIO_HOST,
                        "ports": [{"name": "http", "port": minio.PORT, "protocol": "TCP"}],
                    },
                },
            ],
        )
        self.kfp = self.kustomize_overlay(
            "kfp",
            "kfp",
            {
                "replicas": [
                    {"name": API_SERVER, "count": cfg.api_server_replicas},
                    {"name": UI, "count": cfg.ui_replicas},
                ],
                "patches": [_object_store_patch(), _gateway_patch()],
            },
            [base],
        )
        self.ui = pulumi.Output.from_input(f"{UI}.{NAMESPACE}.svc.cluster.local")
        self.register_outputs({"ui": self.ui})


def _object_store_patch() -> dict[str, object]:
    env = {"OBJECTSTORECONFIG_HOST": MINIO_HOST, "OBJECTSTORECONFIG_PORT": str(minio.PORT)}
    return {
        "target": {"kind": "Deployment", "name": f"^{API_SERVER}$"},
        "patch": yaml.safe_dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": API_SERVER},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "ml-pipeline-api-server",
                                    "env": [{"name": k, "value": v} for k, v in env.items()],
                                }
                            ]
                        }
                    }
                },
            }
        ),
    }


def _gateway_patch() -> dict[str, object]:
    """KFP's VirtualServices name Kubeflow's gateway; bind them to the platform's."""
    return {
        "target": {"group": "networking.istio.io", "kind": "VirtualService"},
        "patch": yaml.safe_dump(
            [
                {
                    "op": "add",
                    "path": "/spec/gateways",
                    "value": [f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"],
                }
            ]
        ),
    }


def network_policies() -> list[manifests.Obj]:
    """KFP's allows in `kubeflow` (its baseline comes with the namespace), named `pipelines-*`."""
    tenants = netpol.labelled_namespaces(TENANTS)
    return [
        netpol.allow_from(
            "pipelines-from-ingress-gateway",
            NAMESPACE,
            [netpol.peer(netpol.GATEWAY["namespace"], netpol.GATEWAY["pods"])],
            [UI_PORT],
        ),
        netpol.allow_from(
            "pipelines-from-tenants", NAMESPACE, [tenants], [*API_PORTS, METADATA_PORT]
        ),
        netpol.allow_to("pipelines-to-tenants", NAMESPACE, [tenants], [UI_PORT]),
        netpol.policy(
            "pipelines-same-namespace",
            NAMESPACE,
            ingress=[{"from": [netpol.peer()]}],
            egress=[{"to": [netpol.peer()]}],
        ),
        netpol.policy(
            "pipelines-webhooks-from-apiserver",
            NAMESPACE,
            ingress=[{"ports": [{"protocol": "TCP", "port": WEBHOOK_PORT}]}],
        ),
        netpol.allow_to(
            "pipelines-to-minio",
            NAMESPACE,
            [netpol.peer(minio.NAMESPACE)],
            [minio.PORT],
        ),
        netpol.allow_to(
            "pipelines-to-istiod",
            NAMESPACE,
            [netpol.peer(netpol.ISTIOD["namespace"], netpol.ISTIOD["pods"])],
            [15012, 15017],
        ),
    ]
