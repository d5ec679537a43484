"""A tenant's MinIO bucket, user and policy (a Job running `mc`), and its credentials.

The Job runs in `minio` with the root credentials of Secret `minio-root` and is idempotent:
`mc mb --ignore-existing`, `mc admin policy create` and `mc admin user add` upsert, and the
policy is attached only when missing (`mc admin policy attach` fails when it is already in
effect: minio/mc#4863). The tenant's secret key lives in two Secrets, both Pulumi secrets:
one in `minio` for the Job, one in the tenant namespace for KServe and KFP.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from modules.components import minio
from modules.config import PlatformConfig
from modules.manifests import Obj, meta, secret
from modules.quantity import parse_quantity
from modules.tenancy.spec import TenantSpec

CREDENTIALS = "s3-credentials"  # in the tenant namespace
STORAGE_ACCOUNT = "s3-storage"  # InferenceServices name it: spec.predictor.serviceAccountName
LAUNCHER_CONFIG = "kfp-launcher"
ACCESS_KEY = "AWS_ACCESS_KEY_ID"
SECRET_KEY = "AWS_SECRET_ACCESS_KEY"
MC_CONFIG = "/tmp/mc"
POLICY_ENV = "POLICY_JSON"  # the bucket policy, as the Job receives it

SCRIPT = """set -eu
mc alias set platform "http://$MINIO_ENDPOINT" "$ROOT_USER" "$ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "platform/$BUCKET"
if [ -n "$QUOTA_BYTES" ]; then mc admin bucket quota "platform/$BUCKET" --hard "$QUOTA_BYTES"; fi
printf '%s' "$POLICY_JSON" > /tmp/policy.json
mc admin policy create platform "$POLICY" /tmp/policy.json
mc admin user add platform "$ACCESS_KEY" "$SECRET_KEY"
case "$(mc admin policy entities platform --user "$ACCESS_KEY")" in
  *"$POLICY"*) echo "policy $POLICY already attached to $ACCESS_KEY" ;;
  *) mc admin policy attach platform "$POLICY" --user "$ACCESS_KEY" ;;
esac
"""


def access_key(tenant: TenantSpec) -> str:
    return f"tenant-{tenant.name}"


def job_secret(tenant: TenantSpec) -> str:
    """The Secret in `minio` holding the tenant's keys for its bucket Job."""
    return f"tenant-{tenant.name}-s3"


def bucket_policy(bucket: str) -> dict[str, Any]:
    """Full access to one bucket and its objects, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                ],
                "Resource": [f"arn:aws:s3:::{bucket}"],
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            },
        ],
    }


def secret_objects(tenant: TenantSpec, secret_key: pulumi.Output[str]) -> list[Obj]:
    """The two Secrets carrying the tenant's (Pulumi-secret) key."""
    keys = {ACCESS_KEY: pulumi.Output.secret(access_key(tenant)), SECRET_KEY: secret_key}
    return [
        secret(job_secret(tenant), minio.NAMESPACE, keys),
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
    """The bucket Job, the KServe ServiceAccount and KFP's per-namespace launcher config."""
    return [bucket_job(tenant, config), storage_account(tenant), launcher_config(tenant)]


def storage_account(tenant: TenantSpec) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(STORAGE_ACCOUNT, tenant.namespace),
        "secrets": [{"name": CREDENTIALS}],
    }


def launcher_config(tenant: TenantSpec) -> Obj:
    """KFP v2 writes this namespace's artifacts to the tenant bucket with the tenant's keys."""
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


def bucket_job(tenant: TenantSpec, config: PlatformConfig) -> Obj:
    """Create the bucket, its policy and user with `mc`; restricted Pod Security compliant."""
    image = config.catalogue.component("minio").images["mc"]
    quota = tenant.storage.quota
    env: list[dict[str, Any]] = [
        {"name": "MC_CONFIG_DIR", "value": MC_CONFIG},
        {"name": "MINIO_ENDPOINT", "value": minio.ENDPOINT},
        {"name": "BUCKET", "value": tenant.bucket},
        {"name": "POLICY", "value": access_key(tenant)},
        {"name": POLICY_ENV, "value": json.dumps(bucket_policy(tenant.bucket))},
        {"name": "QUOTA_BYTES", "value": str(int(parse_quantity(str(quota)))) if quota else ""},
        _from_secret("ROOT_USER", minio.ROOT_SECRET, "rootUser"),
        _from_secret("ROOT_PASSWORD", minio.ROOT_SECRET, "rootPassword"),
        _from_secret("ACCESS_KEY", job_secret(tenant), ACCESS_KEY),
        _from_secret("SECRET_KEY", job_secret(tenant), SECRET_KEY),
    ]
    md = meta(
        f"tenant-{tenant.name}-bucket", minio.NAMESPACE, **{"mlplatform.io/tenant": tenant.name}
    )
    secret_ref = f"/namespaces/{minio.NAMESPACE}/Secret/{job_secret(tenant)}"
    md["annotations"] = {"config.kubernetes.io/depends-on": secret_ref}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": md,
        "spec": {
            "backoffLimit": 6,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/component": "tenant-storage"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "runAsGroup": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "mc",
                            "image": image,
                            "command": ["/bin/sh", "-c", SCRIPT],
                            "env": env,
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "32Mi"},
                                "limits": {"cpu": "200m", "memory": "128Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }


def _from_secret(name: str, secret_name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}
