"""Kubeflow's central dashboard behind the platform gateway, reading memberships from kfam.

Read at kubeflow/kubeflow v1.10.0 (the image every release pins: central-dashboard, kfam):

- Who the user is. The dashboard takes the user from the header named by `USERID_HEADER`
  minus `USERID_PREFIX` (centraldashboard/app/attach_user_middleware.ts); upstream sets
  `kubeflow-userid` and an empty prefix, which is the header identity.py's
  RequestAuthentication writes from the Dex token's `email` (as for KFP). We set both.
- Which namespaces it lists. `/api/workgroup/env-info` asks kfam `GET /kfam/v1/bindings?user=`
  and `GET /kfam/v1/role/clusteradmin` (app/api_workgroup.ts). kfam lists the RoleBindings of
  the namespaces named by Profile objects, keeping those annotated `user` and `role` with
  exactly one subject (more fails the whole list), and maps the roleRef name through
  `kubeflow-{admin,edit,view}` to the role it reports (access-management/kfam/bindings.go
  `List`, api_default.go `ReadBinding`). Each tenant therefore gets, from modules/tenancy, a
  Profile (cluster-scoped, inert without the controller) and one annotated RoleBinding per
  person on our tenant roles; the dashboard lists exactly the tenants a user is in. Our role
  names are not in kfam's map, so the dashboard shows no owner/contributor badge.
- The profile controller is not deployed: its reconcile creates the namespace's
  `namespaceAdmin` RoleBinding to `kubeflow-admin`, `default-editor`/`default-viewer` bindings
  to Kubeflow's roles, the AuthorizationPolicy `ns-owner-access-istio` and a ResourceQuota of
  its own (REFERENCE.md section 6; profile-controller/controllers/profile_controller.go), and
  runs with cluster-admin: it would overwrite or widen what modules/tenancy builds.
- Writes. kfam's `POST /kfam/v1/profiles` checks nothing and its binding endpoints only
  that the caller owns the Profile; with cluster-admin, a Profile created for any namespace
  would let its "owner" bind anyone there. Memberships come from config only, so: kfam runs
  with a read-only ClusterRole (Profiles, RoleBindings), is not routed at the gateway, and
  its AuthorizationPolicy admits only the dashboard's GETs (kfam serves only reads on GET:
  kfam/routers.go); the dashboard's route answers 403 at the gateway for its workgroup write
  paths and for the paths that read any namespace with the dashboard's own rights
  (`/api/namespaces`, `/api/activities/<ns>`: events; `get-all-namespaces`: every owner and
  contributor), matched case-insensitively as Express routes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import yaml

from mlplatform import manifests, netpol, overlays
from mlplatform.component import Context, PlatformComponent
from mlplatform.components.identity import USERID_HEADER
from mlplatform.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from mlplatform.components.istio import PLATFORM_GATEWAY
from mlplatform.components.kubeflow_namespace import NAMESPACE

DASHBOARD = "centraldashboard"  # Deployment, container, Service, ServiceAccount
DASHBOARD_PORT = 8082
DASHBOARD_PODS = {"app": "centraldashboard"}
KFAM_DEPLOYMENT = "profiles-deployment"
KFAM_CONTAINER = "kfam"
KFAM_SERVICE_ACCOUNT = "profiles-controller-service-account"
KFAM_PORT = 8081
KFAM_PODS = {"kustomize.component": "profiles"}
KFAM_READ_PATHS = ["/kfam/v1/bindings", "/kfam/v1/role/clusteradmin"]
DASHBOARD_PRINCIPAL = f"cluster.local/ns/{NAMESPACE}/sa/{DASHBOARD}"
PROFILE_API = "kubeflow.org/v1"  # profiles.kubeflow.org: v1 served and stored (all releases)
# kfam's annotations on a membership RoleBinding (access-management/kfam/bindings.go).
USER_ANNOTATION, ROLE_ANNOTATION = "user", "role"
# Dashboard paths refused at the gateway (prefixes): memberships come from config only, and
# these read other namespaces with the dashboard's cluster-wide rights.
REFUSED_PATHS = [
    "/api/workgroup/create",
    "/api/workgroup/nuke-self",
    "/api/workgroup/add-contributor",
    "/api/workgroup/remove-contributor",
    "/api/workgroup/get-all-namespaces",
    "/api/namespaces",
    "/api/activities",
]
REFUSAL = "memberships are managed in the platform's stack config (mlplatform tenant update)"


class Dashboard(PlatformComponent):
    """Outputs `url`: where users open the dashboard."""

    def __init__(
        self,
        ctx: Context,
        kubeflow_namespace: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        super().__init__("dashboard:Dashboard", "dashboard", ctx, [*depends_on, kubeflow_namespace])
        cfg = ctx.config.components.dashboard
        base = self.objects("dashboard-base", [*network_policies(), *self._access_objects()])
        self.kfam = self.kustomize_overlay(
            "profiles",
            "kfam",
            {
                "replicas": [{"name": KFAM_DEPLOYMENT, "count": cfg.kfam_replicas}],
                "patches": [
                    overlays.container_patch(
                        KFAM_DEPLOYMENT, KFAM_CONTAINER, {"resources": cfg.kfam_resources.as_k8s()}
                    ),
                    _config_patch("^profiles-config$", {"USERID_HEADER": USERID_HEADER}),
                ],
            },
            [base],
        )
        self.dashboard = self.kustomize_overlay(
            "centraldashboard",
            "centraldashboard",
            {
                "replicas": [{"name": DASHBOARD, "count": cfg.replicas}],
                "patches": [
                    route_patch(),
                    overlays.container_patch(
                        DASHBOARD,
                        DASHBOARD,
                        {
                            "resources": cfg.resources.as_k8s(),
                            "env": [
                                {"name": k, "value": v, "valueFrom": None}
                                for k, v in dashboard_env().items()
                            ],
                        },
                    ),
                    _config_patch(
                        "^centraldashboard-config$", {"links": json.dumps(menu(ctx), indent=2)}
                    ),
                ],
            },
            [base, self.kfam],
        )
        self.url = pulumi.Output.from_input(f"https://{ctx.config.ingress.domain}/")
        self.register_outputs({"url": self.url})

    def _access_objects(self) -> list[manifests.Obj]:
        security = self.ctx.component("istio").api("security")
        return [
            *kfam_rbac(),
            {
                "apiVersion": security,
                "kind": "AuthorizationPolicy",
                "metadata": manifests.meta("kfam-read-only", NAMESPACE),
                "spec": {
                    "selector": {"matchLabels": KFAM_PODS},
                    "action": "ALLOW",
                    "rules": [
                        {
                            "from": [{"source": {"principals": [DASHBOARD_PRINCIPAL]}}],
                            "to": [{"operation": {"methods": ["GET"]}}],
                        }
                    ],
                },
            },
        ]


def dashboard_env() -> dict[str, str]:
    """The user header (identity.py's), no prefix, no self-service registration."""
    return {"USERID_HEADER": USERID_HEADER, "USERID_PREFIX": "", "REGISTRATION_FLOW": "false"}


def kfam_rbac() -> list[manifests.Obj]:
    """kfam reads Profiles and RoleBindings (its List); nothing else, nothing written."""
    role = "kfam-read-only"
    read = ["get", "list", "watch"]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": manifests.meta(role),
            "rules": [
                {"apiGroups": ["kubeflow.org"], "resources": ["profiles"], "verbs": read},
                {
                    "apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["rolebindings"],
                    "verbs": read,
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": manifests.meta(role),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": KFAM_SERVICE_ACCOUNT, "namespace": NAMESPACE}
            ],
        },
    ]


def refused_routes() -> list[dict[str, Any]]:
    """403 at the gateway for REFUSED_PATHS, whatever their case."""
    return [
        {
            "name": "refused",
            "match": [{"uri": {"prefix": p}, "ignoreUriCase": True} for p in REFUSED_PATHS],
            "directResponse": {"status": 403, "body": {"string": REFUSAL}},
        }
    ]


def route_patch() -> dict[str, Any]:
    """The dashboard's route on the platform gateway, refusals first."""
    ops: list[dict[str, Any]] = [
        {
            "op": "add",
            "path": "/spec/gateways",
            "value": [f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"],
        }
    ]
    ops += [{"op": "add", "path": "/spec/http/0", "value": r} for r in reversed(refused_routes())]
    return {
        "target": {
            "group": "networking.istio.io",
            "kind": "VirtualService",
            "name": f"^{DASHBOARD}$",
        },
        "patch": yaml.safe_dump(ops),
    }


def menu(ctx: Context) -> dict[str, Any]:
    """The dashboard's menu: only the apps this environment deploys."""
    enabled = ctx.config.components
    links: list[dict[str, Any]] = []
    quick: list[dict[str, str]] = []
    if enabled.notebooks.enabled:
        links.append({"icon": "book", "link": "/jupyter/", "text": "Notebooks", "type": "item"})
        quick.append(
            {"desc": "Kubeflow Notebooks", "link": "/jupyter/new", "text": "Create a new Notebook"}
        )
    if enabled.pipelines.enabled:
        pages = ["pipelines", "experiments", "runs", "recurringruns", "artifacts", "executions"]
        titles = ["Pipelines", "Experiments", "Runs", "Recurring Runs", "Artifacts", "Executions"]
        links.append(
            {
                "icon": "kubeflow:pipeline-centered",
                "items": [
                    {"link": f"/pipeline/#/{p}", "text": t, "type": "item"}
                    for p, t in zip(pages, titles, strict=True)
                ],
                "text": "Pipelines",
                "type": "section",
            }
        )
        quick.append(
            {"desc": "Pipelines", "link": "/pipeline/#/runs", "text": "View Pipeline Runs"}
        )
    if enabled.katib.enabled:
        links.append(
            {
                "icon": "kubeflow:katib",
                "link": "/katib/",
                "text": "Katib Experiments",
                "type": "item",
            }
        )
    return {"menuLinks": links, "externalLinks": [], "documentationItems": [], "quickLinks": quick}


def _config_patch(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "target": {"kind": "ConfigMap", "name": name},
        "patch": yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "any"}, "data": data}
        ),
    }


def profile(name: str, owner: str, labels: dict[str, str]) -> manifests.Obj:
    """A tenant's Profile: only read by kfam (no controller reconciles it)."""
    return {
        "apiVersion": PROFILE_API,
        "kind": "Profile",
        "metadata": manifests.meta(name, **labels),
        "spec": {"owner": {"kind": "User", "name": owner}},
    }


def network_policies() -> list[manifests.Obj]:
    """In `kubeflow`: the gateway reaches the dashboard, the dashboard reaches kfam."""
    kfam, dashboard = netpol.peer(NAMESPACE, KFAM_PODS), netpol.peer(NAMESPACE, DASHBOARD_PODS)
    gateway = netpol.gateway_peer()
    istiod = netpol.peer(netpol.ISTIOD["namespace"], netpol.ISTIOD["pods"])
    return [
        netpol.allow_from(
            "dashboard-from-ingress-gateway", NAMESPACE, [gateway], [DASHBOARD_PORT], DASHBOARD_PODS
        ),
        netpol.allow_to("dashboard-to-kfam", NAMESPACE, [kfam], [KFAM_PORT], DASHBOARD_PODS),
        netpol.allow_from("kfam-from-dashboard", NAMESPACE, [dashboard], [KFAM_PORT], KFAM_PODS),
        *(
            netpol.allow_to(f"{n}-to-istiod", NAMESPACE, [istiod], [15012, 15017], pods)
            for n, pods in (("dashboard", DASHBOARD_PODS), ("kfam", KFAM_PODS))
        ),
    ]
