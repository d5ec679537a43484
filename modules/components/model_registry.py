"""Kubeflow Model Registry: one registry per tenant, each with its own database, one MySQL.

Why per tenant: the registry server has no authorization of its own at any pinned release
(kubeflow/model-registry v0.2.19, v0.3.4, v0.3.7: `/model-registry proxy` serves every model
to every caller), and Kubeflow's shared install admits any request (applications/model-registry/
upstream/options/istio/istio-authorization-policy.yaml: `rules: [{}]`). A shared registry would
show every team's models, and their storage URIs, to every other team. Upstream's manifests
are namespace-agnostic, so each tenant namespace runs the server of `overlays/db`, inside the
tenant's network, mesh and quota; nothing routes to it from the gateway.

The database is upstream's too: the platform builds the same `overlays/db` in `kubeflow` and
keeps only MySQL (overlays/upstream/model-registry-db), with a generated root password. Each
tenant gets a database `registry_<tenant>` and a user allowed only that database, upserted by
an idempotent Job in `kubeflow` (the only holder of the root password, like MinIO's user Jobs),
and reaches MySQL through an ExternalName Service `model-registry-db` in its namespace: the
host upstream's server is wired to (overlays/db replaces it from that Service's name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import yaml

from mlplatform import manifests, netpol, overlays
from mlplatform.component import Context, PlatformComponent
from mlplatform.components.kubeflow_namespace import NAMESPACE

DATABASE = "model-registry-db"  # upstream's Deployment and Service (overlays/db)
DATABASE_PODS = {"component": "db"}
DATABASE_PORT = 3306
DATABASE_CLAIM = "metadata-mysql"
DB_SECRET = "model-registry-db-secrets"  # MYSQL_USER_NAME, MYSQL_ROOT_PASSWORD (overlays/db)
DB_PARAMETERS = "model-registry-db-parameters"  # MYSQL_DATABASE, MYSQL_PORT
USER_KEY, PASSWORD_KEY = "MYSQL_USER_NAME", "MYSQL_ROOT_PASSWORD"
SERVER = "model-registry-deployment"
SERVER_PODS = {"component": "model-registry-server"}
SERVER_PORT = 8080
# Tenants whose registries use the platform database (label on their namespaces).
TENANTS = {"mlplatform.io/model-registry": "enabled"}


class ModelRegistry(PlatformComponent):
    """Outputs `database`: the in-cluster address of the registries' MySQL."""

    def __init__(
        self,
        ctx: Context,
        kubeflow_namespace: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        super().__init__(
            "modelregistry:ModelRegistry", "model-registry", ctx, [*depends_on, kubeflow_namespace]
        )
        cfg = ctx.config.components.model_registry
        password = self.password("model-registry-db-root-password")
        base = self.objects(
            "model-registry-base",
            [
                *network_policies(),
                manifests.secret(
                    DB_SECRET,
                    NAMESPACE,
                    {
                        USER_KEY: pulumi.Output.secret("root"),
                        PASSWORD_KEY: password,
                    },
                ),
            ],
        )
        self.database = self.kustomize_overlay(
            "model-registry-db",
            "model_registry",
            {
                "namespace": NAMESPACE,
                "patches": [
                    claim_patch(DATABASE_CLAIM, str(cfg.database_storage)),
                    overlays.container_patch(
                        DATABASE, "db-container", {"resources": cfg.database_resources.as_k8s()}
                    ),
                ],
            },
            [base],
        )
        self.address = f"{DATABASE}.{NAMESPACE}.svc.cluster.local"
        self.register_outputs({"database": self.address})


def claim_patch(name: str, size: str) -> dict[str, Any]:
    return {
        "target": {"kind": "PersistentVolumeClaim", "name": f"^{name}$"},
        "patch": yaml.safe_dump(
            [{"op": "replace", "path": "/spec/resources/requests/storage", "value": size}]
        ),
    }


def network_policies() -> list[manifests.Obj]:
    """In `kubeflow`: tenants' registries and the database Jobs reach MySQL, nothing else."""
    jobs = {"app.kubernetes.io/component": "model-registry-database"}
    return [
        netpol.allow_from(
            "model-registry-db-from-tenants",
            NAMESPACE,
            [netpol.labelled_namespaces(TENANTS), netpol.peer(NAMESPACE, jobs)],
            [DATABASE_PORT],
            pods=DATABASE_PODS,
        ),
        netpol.allow_to(
            "model-registry-jobs-to-db",
            NAMESPACE,
            [netpol.peer(NAMESPACE, DATABASE_PODS)],
            [DATABASE_PORT],
            pods=jobs,
        ),
    ]
