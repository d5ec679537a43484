"""Kubeflow Pipelines (multi-user) on the platform MinIO, with generated credentials only.

Upstream's env `env/cert-manager/platform-agnostic-multi-user` (every release) is composed with
`overlays/upstream/kfp`. The design, per concern:

- Object store. The store KFP bundles (MinIO up to 2.5, SeaweedFS from 2.15) is removed whole
  (workloads, PVC, Services, ServiceAccount, NetworkPolicy, AuthorizationPolicy,
  DestinationRule); every reference to it is repointed at the platform MinIO here: the API
  server's object store host/port, the UI's MinIO host/namespace/port, and the
  `artifactRepository` of Argo's `workflow-controller-configmap` (1.10/1.11:
  `minio-service.kubeflow:9000`, 26.03: `seaweedfs.kubeflow:9000`).
- KFP's own credentials. `kubeflow/mlpipeline-minio-artifact` (read by the API server, the UI
  and Argo in `kubeflow`) holds KFP's own MinIO user, allowed only the bucket `mlpipeline`,
  never MinIO's root. The user, its policy and the bucket are upserted by the same idempotent
  `mc` Job as a tenant's (modules/minio_users.py); only that Job reads `minio-root`.
- Tenants. The pipelines profile controller and the metacontroller that runs it are removed.
  Read at the pinned KFP tags (kubeflow/pipelines, manifests/kustomize/base/installs/
  multi-user/pipelines-profile-controller/sync.py): 2.5.0 copies the controller's
  MINIO_ACCESS_KEY/MINIO_SECRET_KEY (from `kubeflow/mlpipeline-minio-artifact`) into a
  `mlpipeline-minio-artifact` Secret in every pipelines-enabled namespace; 2.15.0 and 2.16.0
  create a key per namespace through SeaweedFS' IAM API (`iam.create_access_key`,
  `put_user_policy`; AWS_ENDPOINT_URL, S3_ENDPOINT_URL, 2.16 OBJECT_STORE_HOST), which MinIO
  does not serve, using the platform credentials. kubeflow/manifests v1.11.0's
  `env/platform-agnostic-multi-user-minio` swaps in a sync.py identical to 2.5.0's (the same
  copy of the platform keys, and it bundles MinIO again; 26.03 dropped that env), so it is no
  better base for any release. Instead each tenant namespace gets, from
  modules/tenancy/storage.py, what the controller would write, naming only the tenant's own
  bucket keys (`s3-credentials`): `kfp-launcher` (v2 pipeline root and its credentials),
  `artifact-repositories` (Argo's namespace default: archived logs into the tenant bucket)
  and `metadata-grpc-configmap` (the MLMD address 2.5's launcher takes from the environment).
  Nothing left in the build may write Secrets. Not provided: the controller's optional
  per-namespace artifact proxy and 2.5's per-namespace visualization server (the UI reads v2
  artifacts itself with the credentials the launcher recorded, so its proxy is turned off).
- MySQL. Upstream's `kubeflow/mysql-secret` (user root, empty password) is replaced by ours with
  a generated password; MySQL sets it as its root password (instead of
  MYSQL_ALLOW_EMPTY_PASSWORD) and every client already reads that Secret.
- Routing. KFP's VirtualServices are bound to the platform gateway; its UI AuthorizationPolicy
  admits the platform gateway's principal (checked by the upstream rung).
- Pod Security. Argo's executor settings are upstream's, unchanged: before KFP 2.16 no setting
  makes a run's pods pass `restricted` (the compiled `kfp-launcher` init container), from 2.16
  the author's runAsNonRoot does; mlplatform.kfp_pod_security holds the facts, tenant
  validation warns, tests/upstream/test_kfp_pod_security.py renders the pods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import yaml

from mlplatform import manifests, minio_users, netpol, overlays
from mlplatform.component import Context, PlatformComponent
from mlplatform.components import minio
from mlplatform.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from mlplatform.components.istio import PLATFORM_GATEWAY
from mlplatform.components.kubeflow_namespace import NAMESPACE

ARTIFACT_SECRET = "mlpipeline-minio-artifact"  # KFP's keys, in `kubeflow` only
ARTIFACT_KEYS = ("accesskey", "secretkey")  # the key names KFP reads from it
MYSQL_SECRET = "mysql-secret"
MYSQL_USER = "root"
BUCKET = "mlpipeline"  # KFP's default bucketName (pipeline-install-config)
USER = "mlplatform-kfp"  # KFP's MinIO user, and the name of its policy
USER_KEYS = "kfp-s3"  # in `minio`, for the user's Job
API_SERVER = "ml-pipeline"
UI = "ml-pipeline-ui"
UI_PORT = 3000
API_PORTS = [8887, 8888]  # gRPC, HTTP
METADATA_SERVICE = "metadata-grpc-service"
METADATA_PORT = 8080  # metadata-grpc
METADATA_CONFIG = "metadata-grpc-configmap"
# Pod labels (applications/pipeline/upstream/base/pipeline/ml-pipeline-apiserver-deployment.yaml
# and base/metadata/base/metadata-grpc-deployment.yaml, every release).
API_SERVER_PODS = {"app": "ml-pipeline"}
METADATA_PODS = {"component": "metadata-grpc-server"}
WEBHOOK_PORT = 8443  # cache-server (and the pipeline-version webhook where shipped)
# Argo: a namespace's `artifact-repositories` ConfigMap, its default entry named by annotation.
ARTIFACT_REPOSITORIES = "artifact-repositories"
DEFAULT_REPOSITORY_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
# The key layout the KFP UI assumes for archived logs (frontend/server/configs.ts ARGO_KEYFORMAT).
KEY_FORMAT = (
    "artifacts/{{workflow.name}}/{{workflow.creationTimestamp.Y}}/"
    "{{workflow.creationTimestamp.m}}/{{workflow.creationTimestamp.d}}/{{pod.name}}"
)
# Kubeflow's label on namespaces whose pipelines run against this KFP (the tenants).
TENANTS = {"pipelines.kubeflow.org/enabled": "true"}


class Pipelines(PlatformComponent):
    """Outputs `ui`: the in-cluster address of the Pipelines UI."""

    def __init__(
        self,
        ctx: Context,
        kubeflow_namespace: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        super().__init__("pipelines:Pipelines", "pipelines", ctx, [*depends_on, kubeflow_namespace])
        cfg = ctx.config.components.pipelines
        store_key = self.password("pipelines-minio-secret-key", 40)
        mysql_password = self.password("pipelines-mysql-password", 32)
        user = pulumi.Output.secret(USER)
        access, secret = ARTIFACT_KEYS
        base = self.objects(
            "pipelines-base",
            [
                *network_policies(),
                manifests.secret(ARTIFACT_SECRET, NAMESPACE, {access: user, secret: store_key}),
                manifests.secret(
                    MYSQL_SECRET, NAMESPACE, {"username": MYSQL_USER, "password": mysql_password}
                ),
                minio_users.keys_secret(
                    USER_KEYS, {minio_users.ACCESS_KEY: user, minio_users.SECRET_KEY: store_key}
                ),
                minio_users.user_job(
                    "kfp-bucket",
                    BUCKET,
                    USER,
                    USER_KEYS,
                    ctx.component("minio").images["mc"],
                    "pipelines-storage",
                ),
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
                "patches": [
                    *object_store_patches(),
                    overlays.bind_virtual_services(f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"),
                    *overlays.resource_patches(cfg.container_resources()),
                ],
            },
            [base],
        )
        self.ui = pulumi.Output.from_input(f"{UI}.{NAMESPACE}.svc.cluster.local")
        self.register_outputs({"ui": self.ui})


def artifact_repository(
    bucket: str, secret: str, access_key: str, secret_key: str
) -> dict[str, Any]:
    """An Argo S3 artifact repository on the platform MinIO (archived logs, v1 artifacts)."""
    return {
        "archiveLogs": True,
        "s3": {
            "endpoint": minio.ENDPOINT,
            "bucket": bucket,
            "keyFormat": KEY_FORMAT,
            "insecure": True,
            "accessKeySecret": {"name": secret, "key": access_key},
            "secretKeySecret": {"name": secret, "key": secret_key},
        },
    }


def metadata_env() -> dict[str, str]:
    """MLMD's address for pods outside `kubeflow` (data of `metadata-grpc-configmap`)."""
    return {
        "METADATA_GRPC_SERVICE_HOST": f"{METADATA_SERVICE}.{NAMESPACE}",
        "METADATA_GRPC_SERVICE_PORT": str(METADATA_PORT),
    }


def object_store_patches() -> list[dict[str, object]]:
    """Every reference to the bundled store, pointed at the platform MinIO.

    The API server's explicit host/port: without a `minio-service` in `kubeflow` it gets no
    MINIO_SERVICE_SERVICE_* variables to fall back to. The UI builds `<MINIO_HOST>.<MINIO_
    NAMESPACE>:<MINIO_PORT>` (frontend/server/configs.ts; defaults `minio-service`, 2.16
    `seaweedfs`, namespace from the pod's). Argo's default repository for `kubeflow`.
    """
    access, secret = ARTIFACT_KEYS
    repository = artifact_repository(BUCKET, ARTIFACT_SECRET, access, secret)
    return [
        _env_patch(
            API_SERVER,
            "ml-pipeline-api-server",
            {
                "OBJECTSTORECONFIG_HOST": f"{minio.SERVICE}.{minio.NAMESPACE}.svc.cluster.local",
                "OBJECTSTORECONFIG_PORT": str(minio.PORT),
            },
        ),
        _env_patch(
            UI,
            "ml-pipeline-ui",
            {
                "MINIO_HOST": minio.SERVICE,
                "MINIO_NAMESPACE": minio.NAMESPACE,
                "MINIO_PORT": str(minio.PORT),
            },
        ),
        {
            "target": {"kind": "ConfigMap", "name": "^workflow-controller-configmap$"},
            "patch": yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "workflow-controller-configmap"},
                    "data": {"artifactRepository": yaml.safe_dump(repository, sort_keys=False)},
                }
            ),
        },
    ]


def _env_patch(deployment: str, container: str, env: dict[str, str]) -> dict[str, object]:
    """Set env values on one container (replacing a `valueFrom` where upstream has one)."""
    entries = [{"name": k, "value": v, "valueFrom": None} for k, v in env.items()]
    return overlays.container_patch(deployment, container, {"env": entries})


def network_policies() -> list[manifests.Obj]:
    """KFP's allows in `kubeflow` (its baseline comes with the namespace), named `pipelines-*`."""
    tenants = netpol.labelled_namespaces(TENANTS)
    return [
        netpol.allow_from(
            "pipelines-from-ingress-gateway",
            NAMESPACE,
            [netpol.gateway_peer()],
            [UI_PORT],
        ),
        # Tenants reach the API server and ML Metadata only, not every pod of `kubeflow`.
        netpol.allow_from(
            "pipelines-from-tenants", NAMESPACE, [tenants], API_PORTS, pods=API_SERVER_PODS
        ),
        netpol.allow_from(
            "pipelines-metadata-from-tenants",
            NAMESPACE,
            [tenants],
            [METADATA_PORT],
            pods=METADATA_PODS,
        ),
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
