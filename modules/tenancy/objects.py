"""A tenant's namespace, access, quota, network and queue objects (plain, schema-valid dicts)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from mlplatform import kueue_objects, netpol
from mlplatform.components import katib, model_registry
from mlplatform.components.dashboard import PROFILE_API
from mlplatform.components.istio import GATEWAY_PRINCIPAL
from mlplatform.components.kubeflow_namespace import NAMESPACE as KUBEFLOW_NAMESPACE
from mlplatform.components.minio import ENDPOINT as MINIO_ENDPOINT
from mlplatform.components.minio import NAMESPACE as MINIO_NAMESPACE
from mlplatform.components.minio import PORT as MINIO_PORT
from mlplatform.components.notebooks import pod_defaults as notebook_pod_defaults
from mlplatform.components.pipelines import API_PORTS, API_SERVER, METADATA_PORT
from mlplatform.components.pipelines import TENANTS as PIPELINES_LABELS
from mlplatform.components.rbac import TENANT_ROLES
from mlplatform.components.serving import KNATIVE_NAMESPACE
from mlplatform.config import PlatformConfig
from mlplatform.manifests import Obj, meta, namespace
from mlplatform.minio_users import ACCESS_KEY, SECRET_KEY
from mlplatform.tenancy.spec import QUEUE_RESOURCES, TenantSpec

TENANT_LABEL = "mlplatform.io/tenant"
ALLOWED_PRIORITIES = "mlplatform.io/allowed-priorities"
DEFAULT_PRIORITY = "mlplatform.io/default-priority"
USERID_HEADER = "kubeflow-userid"
LOCAL_QUEUE = "default"  # Kueue's LocalQueueDefaulting picks the queue named `default`
# Workload ServiceAccounts, as Kubeflow profiles name them, and the role each gets.
ROLE_BINDINGS = {"admin": "tenant-admins", "edit": "tenant-editors", "view": "tenant-viewers"}
WORKLOAD_ACCOUNTS = {"default-editor": "edit", "default-viewer": "view"}
STORAGE_CREDENTIALS = "s3-credentials"  # tenancy.storage.CREDENTIALS
# kfam's membership annotations (kubeflow/kubeflow v1.10.0 access-management/kfam/bindings.go).
MEMBER_USER, MEMBER_ROLE = "user", "role"
SERVING_LABELS = {"serving.kubeflow.org/inferenceservice": "enabled"}
ISTIO_METRICS_PORTS = [15020, 15090]  # merged app metrics (agent), Envoy stats
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def tenant_labels(tenant: TenantSpec) -> dict[str, str]:
    return {TENANT_LABEL: tenant.name}


def tenant_namespace(tenant: TenantSpec, config: PlatformConfig) -> Obj:
    """Pod Security per spec, sidecars injected, KFP/KServe multi-user labels, tenant labels."""
    labels = {
        **tenant.labels,
        "istio-injection": "enabled",
        **tenant_labels(tenant),
        **PIPELINES_LABELS,
        **SERVING_LABELS,
        **netpol.OBJECT_STORE_CLIENT,  # MinIO admits only labelled namespaces
        **(katib.INJECTION_LABEL if config.components.katib.enabled else {}),
        **(model_registry.TENANTS if tenant.model_registry else {}),
    }
    ns = namespace(tenant.namespace, tenant.pod_security, labels)
    kueue = config.components.kueue
    annotations = {"mlplatform.io/display-name": tenant.title}
    if kueue.enabled:
        allowed = tenant.kueue.allowed_priorities or [p.name for p in kueue.priority_classes]
        annotations[ALLOWED_PRIORITIES] = ",".join(allowed)
        annotations[DEFAULT_PRIORITY] = default_priority(tenant, config)
    ns["metadata"]["annotations"] = annotations
    return ns


def default_priority(tenant: TenantSpec, config: PlatformConfig) -> str:
    return tenant.kueue.default_priority or config.components.kueue.default_priority_class


def _binding(name: str, ns: str, role: str, subjects: list[dict[str, str]]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(name, ns),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": TENANT_ROLES[role],
        },
        "subjects": subjects,
    }


def member_binding_name(role: str, email: str) -> str:
    """`tenant-<role>s-<email as a name>-<digest>`: unique per person and role, <= 253 chars."""
    slug = re.sub(r"[^a-z0-9]+", "-", email.lower()).strip("-")[:200]
    digest = hashlib.sha256(email.lower().encode()).hexdigest()[:8]
    return f"{ROLE_BINDINGS[role]}-{slug}-{digest}"


def access(tenant: TenantSpec) -> list[Obj]:
    """One RoleBinding per person (owners are admins), annotated `user`/`role` the way kfam
    reads memberships for the dashboard (exactly one subject each); editor and viewer
    ServiceAccounts bound too."""
    ns = tenant.namespace
    out = []
    for role, emails in tenant.people().items():
        for e in emails:
            user = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": e}
            binding = _binding(member_binding_name(role, e), ns, role, [user])
            binding["metadata"]["annotations"] = {MEMBER_USER: e, MEMBER_ROLE: role}
            out.append(binding)
    for account, role in WORKLOAD_ACCOUNTS.items():
        out.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(account, ns)})
        out.append(
            _binding(
                account, ns, role, [{"kind": "ServiceAccount", "name": account, "namespace": ns}]
            )
        )
    return out


def profile(tenant: TenantSpec) -> Obj:
    """The tenant's Profile, which kfam lists the dashboard's namespaces from (no profile
    controller reconciles it: modules/components/dashboard.py)."""
    return {
        "apiVersion": PROFILE_API,
        "kind": "Profile",
        "metadata": meta(tenant.namespace, **tenant_labels(tenant)),
        "spec": {"owner": {"kind": "User", "name": tenant.owners[0]}},
    }


def pod_defaults(tenant: TenantSpec, config: PlatformConfig) -> list[Obj]:
    """The team's PodDefaults for notebooks: its own bucket keys and KFP access."""
    enabled = config.components
    bucket = tenant.bucket if tenant.storage.bucket and enabled.minio.enabled else None
    kfp = f"{API_SERVER}.{KUBEFLOW_NAMESPACE}:{API_PORTS[1]}" if enabled.pipelines.enabled else None
    keys = (ACCESS_KEY, SECRET_KEY)
    return notebook_pod_defaults(
        tenant.namespace, bucket, STORAGE_CREDENTIALS, keys, MINIO_ENDPOINT, kfp
    )


def quotas(tenant: TenantSpec) -> list[Obj]:
    """ResourceQuota from the spec, and a LimitRange so quota'd pods get default requests."""
    q = tenant.quota
    hard = {
        "requests.cpu": q.cpu,
        "requests.memory": q.memory,
        "limits.memory": q.memory,
        "requests.nvidia.com/gpu": q.gpu,
        "pods": q.pods,
        "requests.storage": q.storage,
    }
    defaults = tenant.container_defaults.as_k8s()
    out = [
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": meta("tenant-defaults", tenant.namespace),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": defaults["requests"],
                        "default": defaults["limits"],
                    }
                ]
            },
        }
    ]
    if any(v is not None for v in hard.values()):
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": meta("tenant-quota", tenant.namespace),
                "spec": {"hard": {k: str(v) for k, v in hard.items() if v is not None}},
            }
        )
    return out


def network_policies(tenant: TenantSpec, config: PlatformConfig) -> list[Obj]:
    """Default deny, then exactly what a tenant's workloads need, then declared exceptions."""
    ns, components = tenant.namespace, config.components
    out = [
        *netpol.baseline(ns, config.network.api_server_cidrs),
        netpol.allow_same_namespace(ns),
        netpol.policy(
            "allow-from-ingress-gateway",
            ns,
            ingress=[{"from": [netpol.gateway_peer()]}],
        ),
        netpol.allow_istio_control_plane(ns),
    ]
    if components.monitoring.enabled:
        out.append(netpol.allow_prometheus_scrape(ns, ISTIO_METRICS_PORTS))
    if components.pipelines.enabled:
        out.append(
            netpol.allow_to(
                "allow-to-pipelines",
                ns,
                [netpol.peer(KUBEFLOW_NAMESPACE)],
                [*API_PORTS, METADATA_PORT],
            )
        )
    if components.minio.enabled:
        out.append(
            netpol.allow_to("allow-to-minio", ns, [netpol.peer(MINIO_NAMESPACE)], [MINIO_PORT])
        )
    if components.serving.enabled:
        # Calling served models goes through the gateway (Service 80/443, pods 8080/8443).
        out.append(
            netpol.allow_to(
                "allow-to-model-gateway",
                ns,
                [netpol.gateway_peer()],
                [80, 443, 8080, 8443],
            )
        )
        if components.serving.mode == "knative":
            out.append(
                netpol.policy(
                    "allow-from-knative", ns, ingress=[{"from": [netpol.peer(KNATIVE_NAMESPACE)]}]
                )
            )
    if components.katib.enabled:
        out.extend(katib.tenant_network_policies(ns))
    out.extend(_egress_exceptions(tenant))
    return out


def _egress_exceptions(tenant: TenantSpec) -> list[Obj]:
    rules = []
    for e in tenant.network.egress:
        block = {"cidr": e.cidr} if e.cidr else {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}
        rules.append(
            {"to": [{"ipBlock": block}], "ports": [{"protocol": "TCP", "port": p} for p in e.ports]}
        )
    return (
        [netpol.policy("allow-egress-exceptions", tenant.namespace, egress=rules)] if rules else []
    )


def service_entries(tenant: TenantSpec, config: PlatformConfig) -> list[Obj]:
    """Declared egress hosts, registered with the mesh (visible to this namespace only)."""
    hosts = [e for e in tenant.network.egress if e.host]
    if not hosts:
        return []
    api = config.catalogue.component("istio").api("networking")
    return [
        {
            "apiVersion": api,
            "kind": "ServiceEntry",
            "metadata": meta(
                f"egress-{e.host.replace('.', '-')}"[:63].rstrip("-"), tenant.namespace
            ),
            "spec": {
                "hosts": [e.host],
                "exportTo": ["."],
                "location": "MESH_EXTERNAL",
                "resolution": "DNS",
                "ports": [{"number": p, "name": f"tcp-{p}", "protocol": "TCP"} for p in e.ports],
            },
        }
        for e in hosts
    ]


def authorization_policy(tenant: TenantSpec, config: PlatformConfig) -> Obj:
    """Only the tenant's users (header set by the gateway after login) and its own namespace."""
    emails = sorted({e for people in tenant.people().values() for e in people})
    rules: list[dict[str, Any]] = [
        {
            "from": [{"source": {"principals": [GATEWAY_PRINCIPAL]}}],
            "when": [{"key": f"request.headers[{USERID_HEADER}]", "values": emails}],
        },
        {"from": [{"source": {"namespaces": [tenant.namespace]}}]},
    ]
    if config.components.serving.enabled and config.components.serving.mode == "knative":
        rules.append({"from": [{"source": {"namespaces": [KNATIVE_NAMESPACE]}}]})
    return {
        "apiVersion": config.catalogue.component("istio").api("security"),
        "kind": "AuthorizationPolicy",
        "metadata": meta("tenant-access", tenant.namespace),
        "spec": {"action": "ALLOW", "rules": rules},
    }


def queues(tenant: TenantSpec, config: PlatformConfig) -> list[Obj]:
    """The tenant's ClusterQueue (admits only its namespace) and LocalQueue `default`."""
    cfg = config.components.kueue
    if not cfg.enabled or not tenant.kueue.quota:
        return []
    api = config.catalogue.component("kueue").api("kueue")
    k = tenant.kueue
    covered = [r for r in QUEUE_RESOURCES if any(r in q for q in k.quota.values())]
    flavors = [
        kueue_objects.flavor_quotas(
            flavor,
            {r: str(k.quota[flavor].get(r, 0)) for r in covered},
            {r: str(v) for r, v in k.borrowing_limit.get(flavor, {}).items()},
            {r: str(v) for r, v in k.lending_limit.get(flavor, {}).items()},
        )
        for flavor in cfg.flavor_names
        if flavor in k.quota
    ]
    preemption = {
        "reclaimWithinCohort": k.preemption.reclaim_within_cohort,
        "withinClusterQueue": k.preemption.within_cluster_queue,
    }
    cq = kueue_objects.cluster_queue(
        api,
        tenant.cluster_queue,
        tenant.namespace,
        [{"coveredResources": covered, "flavors": flavors}],
        cohort=k.cohort,
        preemption=preemption,
        queueing_strategy=k.queueing_strategy,
        labels=tenant_labels(tenant),
    )
    lq = kueue_objects.local_queue(api, LOCAL_QUEUE, tenant.namespace, tenant.cluster_queue)
    lq["metadata"]["annotations"] = {DEFAULT_PRIORITY: default_priority(tenant, config)}
    return [cq, lq]
