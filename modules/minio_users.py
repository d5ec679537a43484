"""A MinIO bucket and a user allowed only that bucket, upserted by an idempotent `mc` Job.

Shared by every tenant (modules/tenancy/storage.py), by Kubeflow Pipelines' own user
(modules/components/pipelines.py) and by MinIO's platform buckets (`buckets_job`,
modules/components/minio.py), so that nothing but these Jobs ever holds MinIO's root
credentials. The Job runs in `minio` with the root credentials of Secret `minio-root` and
is idempotent: `mc mb --ignore-existing`, `mc admin policy create` and `mc admin user add`
upsert, and the policy is attached only when missing (`mc admin policy attach` fails when it
is already in effect: minio/mc#4863). The user's keys reach the Job through a Secret in
`minio` (`keys_secret`), a Pulumi secret like every copy of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mlplatform.components import minio
from mlplatform.manifests import Obj, env_from_secret, meta, restricted_job, secret

ACCESS_KEY = "AWS_ACCESS_KEY_ID"
SECRET_KEY = "AWS_SECRET_ACCESS_KEY"
MC_CONFIG = "/tmp/mc"
POLICY_ENV = "POLICY_JSON"  # the bucket policy, as the Job receives it

ALIAS = """set -eu
mc alias set platform "http://$MINIO_ENDPOINT" "$ROOT_USER" "$ROOT_PASSWORD" >/dev/null
"""
SCRIPT = f"""{ALIAS}mc mb --ignore-existing "platform/$BUCKET"
if [ -n "$QUOTA_BYTES" ]; then mc admin bucket quota "platform/$BUCKET" --hard "$QUOTA_BYTES"; fi
printf '%s' "$POLICY_JSON" > /tmp/policy.json
mc admin policy create platform "$POLICY" /tmp/policy.json
mc admin user add platform "$ACCESS_KEY" "$SECRET_KEY"
case "$(mc admin policy entities platform --user "$ACCESS_KEY")" in
  *"$POLICY"*) echo "policy $POLICY already attached to $ACCESS_KEY" ;;
  *) mc admin policy attach platform "$POLICY" --user "$ACCESS_KEY" ;;
esac
"""
BUCKETS_SCRIPT = f"""{ALIAS}for bucket in $BUCKETS; do
  mc mb --ignore-existing "platform/$bucket"
done
"""


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


def keys_secret(name: str, keys: dict[str, Any]) -> Obj:
    """The Secret in `minio` the Job reads the user's keys from (`ACCESS_KEY`, `SECRET_KEY`)."""
    return secret(name, minio.NAMESPACE, keys)


def user_job(
    name: str,
    bucket: str,
    user: str,
    keys: str,
    image: str,
    component: str,
    quota_bytes: str = "",
    labels: dict[str, str] | None = None,
) -> Obj:
    """Create `bucket`, a policy named `user` allowing only it, and the user with the keys of
    Secret `keys` (`component` labels the pod); restricted Pod Security compliant."""
    env: list[dict[str, Any]] = [
        {"name": "BUCKET", "value": bucket},
        {"name": "POLICY", "value": user},
        {"name": POLICY_ENV, "value": json.dumps(bucket_policy(bucket))},
        {"name": "QUOTA_BYTES", "value": quota_bytes},
        env_from_secret("ACCESS_KEY", keys, ACCESS_KEY),
        env_from_secret("SECRET_KEY", keys, SECRET_KEY),
    ]
    md = meta(name, minio.NAMESPACE, **(labels or {}))
    secret_ref = f"/namespaces/{minio.NAMESPACE}/Secret/{keys}"
    md["annotations"] = {"config.kubernetes.io/depends-on": secret_ref}
    return mc_job(md, SCRIPT, env, image, component)


def buckets_job(name: str, buckets: Sequence[str], image: str, component: str) -> Obj:
    """Create `buckets` (space-separated in $BUCKETS) when missing, and nothing else."""
    env = [{"name": "BUCKETS", "value": " ".join(buckets)}]
    return mc_job(meta(name, minio.NAMESPACE), BUCKETS_SCRIPT, env, image, component)


def mc_job(md: Obj, script: str, env: list[dict[str, Any]], image: str, component: str) -> Obj:
    """A Job in `minio` running `script` with `mc` aliased as `platform` (root credentials
    from Secret `minio-root`) and `env`; restricted Pod Security compliant."""
    env = [
        {"name": "MC_CONFIG_DIR", "value": MC_CONFIG},
        {"name": "MINIO_ENDPOINT", "value": minio.ENDPOINT},
        env_from_secret("ROOT_USER", minio.ROOT_SECRET, "rootUser"),
        env_from_secret("ROOT_PASSWORD", minio.ROOT_SECRET, "rootPassword"),
        *env,
    ]
    labels = {"app.kubernetes.io/component": component}
    return restricted_job(md, "mc", image, ["/bin/sh", "-c", script], env, labels, run_as=1000)
