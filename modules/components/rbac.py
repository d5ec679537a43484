"""Platform RBAC: the tenant admin / edit / view ClusterRoles, built by aggregation.

Each area (core, training, serving, pipelines, queues) contributes small ClusterRoles
labelled for the tier they belong to; `mlplatform-tenant-<tier>` aggregates them, and
each tier includes the tier below (view ⊂ edit ⊂ admin). LocalQueues and Workloads are
read-only for every tier: quota is the platform team's to give.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from mlplatform.component import Context, PlatformComponent
from mlplatform.manifests import Obj, meta

TIERS = ("view", "edit", "admin")
TENANT_ROLES = {tier: f"mlplatform-tenant-{tier}" for tier in TIERS}
AGGREGATE_LABEL = "rbac.mlplatform.io/aggregate-to-tenant-{tier}"

READ = ["get", "list", "watch"]
# KFP's multi-user API authorizes against these (virtual) resources.
PIPELINE_RESOURCES = [
    "pipelines",
    "pipelines/versions",
    "experiments",
    "runs",
    "jobs",
    "recurringruns",
    "viewers",
    "scheduledworkflows",
]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]

# area -> tier -> rules. A tier's role holds only what it adds to the tier below.
AREA_RULES: dict[str, dict[str, list[dict[str, list[str]]]]] = {
    "core": {
        "view": [
            {
                "apiGroups": [""],
                "resources": [
                    "pods",
                    "pods/log",
                    "services",
                    "endpoints",
                    "configmaps",
                    "events",
                    "persistentvolumeclaims",
                    "serviceaccounts",
                    "resourcequotas",
                    "limitranges",
                ],
                "verbs": READ,
            },
            {
                "apiGroups": ["apps"],
                "resources": ["deployments", "replicasets", "statefulsets"],
                "verbs": READ,
            },
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": READ},
        ],
        "edit": [
            {
                "apiGroups": [""],
                "resources": [
                    "pods",
                    "services",
                    "configmaps",
                    "secrets",
                    "persistentvolumeclaims",
                ],
                "verbs": WRITE,
            },
            {"apiGroups": [""], "resources": ["secrets"], "verbs": READ},
            {
                "apiGroups": [""],
                "resources": ["pods/exec", "pods/portforward"],
                "verbs": ["create"],
            },
            {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": WRITE},
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": WRITE},
        ],
        "admin": [
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["roles", "rolebindings"],
                "verbs": READ + WRITE,
            },
        ],
    },
    "training": {
        "view": [
            {
                "apiGroups": ["kubeflow.org"],
                "resources": ["pytorchjobs", "pytorchjobs/status"],
                "verbs": READ,
            },
            {
                "apiGroups": ["trainer.kubeflow.org"],
                "resources": [
                    "trainjobs",
                    "trainjobs/status",
                    "trainingruntimes",
                    "clustertrainingruntimes",
                ],
                "verbs": READ,
            },
            {"apiGroups": ["jobset.x-k8s.io"], "resources": ["jobsets"], "verbs": READ},
        ],
        "edit": [
            {"apiGroups": ["kubeflow.org"], "resources": ["pytorchjobs"], "verbs": WRITE},
            {
                "apiGroups": ["trainer.kubeflow.org"],
                "resources": ["trainjobs", "trainingruntimes"],
                "verbs": WRITE,
            },
        ],
    },
    "serving": {
        "view": [
            {
                "apiGroups": ["serving.kserve.io"],
                "resources": [
                    "inferenceservices",
                    "inferenceservices/status",
                    "servingruntimes",
                    "clusterservingruntimes",
                    "trainedmodels",
                    "inferencegraphs",
                ],
                "verbs": READ,
            },
            # Routes to a tenant's models through the inference Gateway (gateway_api.py);
            # Gateways themselves are the platform's.
            {
                "apiGroups": ["gateway.networking.k8s.io"],
                "resources": ["httproutes", "httproutes/status"],
                "verbs": READ,
            },
        ],
        "edit": [
            {
                "apiGroups": ["serving.kserve.io"],
                "resources": [
                    "inferenceservices",
                    "servingruntimes",
                    "trainedmodels",
                    "inferencegraphs",
                ],
                "verbs": WRITE,
            },
            {
                "apiGroups": ["gateway.networking.k8s.io"],
                "resources": ["httproutes"],
                "verbs": WRITE,
            },
        ],
    },
    "pipelines": {
        "view": [
            {
                "apiGroups": ["pipelines.kubeflow.org"],
                "resources": PIPELINE_RESOURCES,
                "verbs": READ,
            },
            {"apiGroups": ["argoproj.io"], "resources": ["workflows"], "verbs": READ},
        ],
        "edit": [
            {
                "apiGroups": ["pipelines.kubeflow.org"],
                "resources": PIPELINE_RESOURCES,
                "verbs": [
                    *WRITE,
                    "archive",
                    "unarchive",
                    "terminate",
                    "retry",
                    "readArtifact",
                    "reportMetrics",
                    "enable",
                    "disable",
                ],
            },
        ],
    },
    "queues": {
        "view": [
            {
                "apiGroups": ["kueue.x-k8s.io"],
                "resources": [
                    "localqueues",
                    "localqueues/status",
                    "workloads",
                    "workloads/status",
                    "workloadpriorityclasses",
                    "resourceflavors",
                ],
                "verbs": READ,
            },
        ],
    },
}


def cluster_roles() -> list[Obj]:
    """The area roles (labelled for aggregation) and the three aggregated tenant roles."""
    roles: list[Obj] = []
    for area, tiers in AREA_RULES.items():
        for tier, rules in tiers.items():
            roles.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": meta(
                        f"mlplatform-{area}-{tier}", **{AGGREGATE_LABEL.format(tier=tier): "true"}
                    ),
                    "rules": rules,
                }
            )
    for i, tier in enumerate(TIERS):
        selectors = [
            {"matchLabels": {AGGREGATE_LABEL.format(tier=below): "true"}}
            for below in TIERS[: i + 1]
        ]
        roles.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": meta(TENANT_ROLES[tier]),
                "aggregationRule": {"clusterRoleSelectors": selectors},
                "rules": [],
            }
        )
    return roles


class Rbac(PlatformComponent):
    """Outputs `tenant_roles`: tier -> ClusterRole name, for tenant RoleBindings."""

    def __init__(self, ctx: Context, depends_on: Sequence[pulumi.Resource | None] = ()) -> None:
        super().__init__("rbac:Rbac", "rbac", ctx, depends_on)
        self.roles = self.objects("tenant-cluster-roles", cluster_roles())
        self.tenant_roles = TENANT_ROLES
        self.register_outputs({"tenant_roles": TENANT_ROLES})
