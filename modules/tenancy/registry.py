"""A tenant's model registry: upstream's server in the tenant namespace, its own database.

Design: modules/components/model_registry.py. Per tenant: the server's kustomize build
(`overlays/upstream/model-registry`), a database `registry_<tenant>` and a MySQL user allowed
only it (upserted by a Job in `kubeflow`, the only holder of the root password), the user's
password in two Secrets (Pulumi secrets: one for the server, one for the Job), an ExternalName
Service `model-registry-db` to the platform MySQL, and the egress to it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi
import yaml
from packaging.version import Version

from mlplatform import netpol, overlays
from mlplatform.components import model_registry as mr
from mlplatform.components.kubeflow_namespace import NAMESPACE as KUBEFLOW
from mlplatform.config import PlatformConfig
from mlplatform.manifests import Obj, env_from_secret, meta, restricted_job, secret
from mlplatform.mirror import rewrite_image
from mlplatform.tenancy.spec import TenantSpec

MYSQL_USER_MAX = 32  # MySQL 8 account names
JOB_COMPONENT = "model-registry-database"
# Up to v0.2.x the server is a REST proxy in front of an ML Metadata gRPC container that holds
# the database connection (applications/model-registry/upstream/base at v1.10.2: containers
# rest-container and grpc-container); from v0.3 one container talks to MySQL (`embedmd`).
MLMD_BEFORE = Version("0.3.0")
SQL = """set -eu
mysql -h "$DB_HOST" -P "$DB_PORT" -u root <<SQL
CREATE DATABASE IF NOT EXISTS \\`$DATABASE\\`;
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \\`$DATABASE\\`.* TO '$DB_USER'@'%';
SQL
"""


def enabled(tenant: TenantSpec, config: PlatformConfig) -> bool:
    """The tenant asked for a registry (spec validation refuses it without the platform's)."""
    return tenant.model_registry and config.components.model_registry.enabled


def database(tenant: TenantSpec) -> str:
    return f"registry_{tenant.name.replace('-', '_')}"


def user(tenant: TenantSpec) -> str:
    """The tenant's MySQL account: readable, and unique even where truncated."""
    name = f"registry-{tenant.name}"
    if len(name) <= MYSQL_USER_MAX:
        return name
    digest = hashlib.sha256(tenant.name.encode()).hexdigest()[:8]
    return f"{name[: MYSQL_USER_MAX - 9]}-{digest}"


def job_secret(tenant: TenantSpec) -> str:
    """The Secret in `kubeflow` holding the tenant's database password for its Job."""
    return f"tenant-{tenant.name}-registry-db"


def containers(config: PlatformConfig) -> list[str]:
    version = Version(config.catalogue.component("model_registry").version.lstrip("v"))
    return ["rest-container", "grpc-container"] if version < MLMD_BEFORE else ["rest-container"]


def server_settings(tenant: TenantSpec, config: PlatformConfig) -> dict[str, Any]:
    """The generated kustomization fields of the tenant's server build."""
    size = {"resources": config.components.model_registry.server_resources.as_k8s()}
    parameters = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": mr.DB_PARAMETERS},
        "data": {"MYSQL_DATABASE": database(tenant)},
    }
    return {
        "namespace": tenant.namespace,
        "patches": [
            {
                "target": {"kind": "ConfigMap", "name": f"^{mr.DB_PARAMETERS}$"},
                "patch": yaml.safe_dump(parameters),
            },
            *(overlays.container_patch(mr.SERVER, c, size) for c in containers(config)),
        ],
    }


def secret_objects(tenant: TenantSpec, password: pulumi.Output[str]) -> list[Obj]:
    """The server's database credentials (upstream's key names) and the Job's copy."""
    credentials = {mr.USER_KEY: pulumi.Output.secret(user(tenant)), mr.PASSWORD_KEY: password}
    return [
        secret(mr.DB_SECRET, tenant.namespace, credentials),
        secret(job_secret(tenant), KUBEFLOW, credentials),
    ]


def plain_objects(tenant: TenantSpec, config: PlatformConfig) -> list[Obj]:
    """The path to the platform MySQL, and the Job creating the tenant's database and user."""
    ns = tenant.namespace
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(mr.DATABASE, ns),
            "spec": {
                "type": "ExternalName",
                "externalName": f"{mr.DATABASE}.{KUBEFLOW}.svc.cluster.local",
            },
        },
        netpol.allow_to(
            "allow-to-model-registry-db",
            ns,
            [netpol.peer(KUBEFLOW, mr.DATABASE_PODS)],
            [mr.DATABASE_PORT],
        ),
        database_job(tenant, config),
    ]


def database_job(tenant: TenantSpec, config: PlatformConfig) -> Obj:
    """Upsert the tenant's database and user (idempotent); restricted Pod Security compliant."""
    image = config.catalogue.component("model_registry").images["mysql"]
    if config.mirror:
        image = rewrite_image(image, config.mirror.registry)
    md = meta(f"tenant-{tenant.name}-registry-db", KUBEFLOW)
    md["annotations"] = {
        "config.kubernetes.io/depends-on": f"/namespaces/{KUBEFLOW}/Secret/{job_secret(tenant)}"
    }
    env = [
        {"name": "DB_HOST", "value": mr.DATABASE},
        {"name": "DB_PORT", "value": str(mr.DATABASE_PORT)},
        {"name": "DATABASE", "value": database(tenant)},
        env_from_secret("MYSQL_PWD", mr.DB_SECRET, mr.PASSWORD_KEY),  # root's, read by `mysql`
        env_from_secret("DB_USER", job_secret(tenant), mr.USER_KEY),
        env_from_secret("DB_PASSWORD", job_secret(tenant), mr.PASSWORD_KEY),
    ]
    labels = {
        "app.kubernetes.io/component": JOB_COMPONENT,
        "sidecar.istio.io/inject": "false",  # MySQL is outside the mesh
    }
    # uid 999: `mysql` in the image
    return restricted_job(md, "mysql", image, ["/bin/bash", "-c", SQL], env, labels, 999, 10)
