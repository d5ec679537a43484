"""A tenant's MinIO bucket, user and policy (a Job running `mc`), its credentials, and the
per-namespace Kubeflow Pipelines configuration that uses them.

The bucket Job is `mlplatform.minio_users.user_job` (shared with KFP's own user). The tenant's
secret key lives in two Secrets, both Pulumi secrets: one in `minio` for the Job, one in the
tenant namespace (`s3-credentials`) for KServe and KFP. KFP's per-namespace objects are ours,
not its profile controller's (removed: see modules/components/pipelines.py), and name only
that tenant Secret: `kfp-launcher` (v2 artifacts), `artifact-repositories` (Argo's namespace
default: archived logs) and `metadata-grpc-configmap` (MLMD address for the launcher).
"""

from __future__ import annotations

import json

import pulumi

from mlplatform import minio_users
from mlplatform.components import minio, pipelines
from mlplatform.config import PlatformConfig
from mlplatform.manifests import Obj, meta, secret
from mlplatform.minio_users import ACCESS_KEY, SECRET_KEY
from mlplatform.minio_users import POLICY_ENV as POLICY_ENV  # the isolation check reads it
from mlplatform.quantity import parse_quantity
from mlplatform.tenancy.spec import TenantSpec

CREDENTIALS = "s3-credentials"  # in the tenant namespace
STORAGE_ACCOUNT = "s3-storage"  # InferenceServices name it: spec.predictor.serviceAccountName
LAUNCHER_CONFIG = "kfp-launcher"


def access_key(tenant: TenantSpec) -> str:
    return f"tenant-{tenant.name}"


def job_secret(tenant: TenantSpec) -> str:
    """The Secret in `minio` holding the tenant's keys for its bucket Job."""
    return f"tenant-{tenant.name}-s3"


def secret_objects(tenant: TenantSpec, secret_key: pulumi.Output[str]) -> list[Obj]:
    """The two Secrets carrying the tenant's (Pulumi-secret) key."""
    keys = {ACCESS_KEY: pulumi.Output.secret(access_key(tenant)), SECRET_KEY: secret_key}
    return [
        minio_users.keys_secret(job_secret(tenant), keys),
        secret(
            CREDENTIALS,
            tenant.namespace,
            keys,
            **{
                "serving.kserve.io/s3-endpoint": minio.ENDPOINT,
                "serving.kserve.io/s3-usehttps": "0",
                "serving.kserve.io/s3-region": "us-east-1",
            },
        ),
    ]


def plain_objects(tenant: TenantSpec, config: PlatformConfig) -> list[Obj]:
    """The bucket Job, the KServe ServiceAccount and (with pipelines) KFP's namespace config."""
    out = [bucket_job(tenant, config), storage_account(tenant)]
    if config.components.pipelines.enabled:
        out.extend(pipelines_objects(tenant))
    return out


def storage_account(tenant: TenantSpec) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(STORAGE_ACCOUNT, tenant.namespace),
        "secrets": [{"name": CREDENTIALS}],
    }


def pipelines_objects(tenant: TenantSpec) -> list[Obj]:
    """What KFP's profile controller would create in the namespace, on the tenant's own keys."""
    return [launcher_config(tenant), artifact_repositories(tenant), metadata_config(tenant)]


def launcher_config(tenant: TenantSpec) -> Obj:
    """KFP v2 writes this namespace's artifacts to the tenant bucket with the tenant's keys
    (the launcher's `providers` config: kubeflow/pipelines backend/src/v2/config, 2.5.0+)."""
    providers = {
        "minio": {
            "default": {
                "endpoint": minio.ENDPOINT,
                "disableSSL": True,
                "region": "minio",
                "credentials": {
                    "fromEnv": False,
                    "secretRef": {
                        "secretName": CREDENTIALS,
                        "accessKeyKey": ACCESS_KEY,
                        "secretKeyKey": SECRET_KEY,
                    },
                },
            }
        }
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(LAUNCHER_CONFIG, tenant.namespace),
        "data": {
            "defaultPipelineRoot": f"minio://{tenant.bucket}/v2/artifacts",
            "providers": json.dumps(providers, indent=2),
        },
    }


def artifact_repositories(tenant: TenantSpec) -> Obj:
    """Argo's default artifact repository for workflows in this namespace: the tenant bucket."""
    key = pipelines.ARTIFACT_REPOSITORIES
    md = meta(key, tenant.namespace)
    md["annotations"] = {pipelines.DEFAULT_REPOSITORY_ANNOTATION: key}
    repository = pipelines.artifact_repository(tenant.bucket, CREDENTIALS, ACCESS_KEY, SECRET_KEY)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": md,
        "data": {key: json.dumps(repository, indent=2)},
    }


def metadata_config(tenant: TenantSpec) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(pipelines.METADATA_CONFIG, tenant.namespace),
        "data": pipelines.metadata_env(),
    }


def bucket_job(tenant: TenantSpec, config: PlatformConfig) -> Obj:
    """Create the tenant's bucket (with its quota), policy and user."""
    quota = tenant.storage.quota
    return minio_users.user_job(
        f"tenant-{tenant.name}-bucket",
        tenant.bucket,
        access_key(tenant),
        job_secret(tenant),
        config.catalogue.component("minio").images["mc"],
        "tenant-storage",
        quota_bytes=str(int(parse_quantity(str(quota)))) if quota else "",
        labels={"mlplatform.io/tenant": tenant.name},
    )
