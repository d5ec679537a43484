"""Tenancy: every tenant namespace is fenced (pod security, default deny, quota, limits,
its own queue), GPU work goes through Kueue, and nothing crosses tenants (the tenancy
code's isolation invariant, `mlplatform.tenancy.isolation`).

Tenant namespaces are the Namespaces carrying the tenancy code's `TENANT_LABEL`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from mlplatform.config.gpu import GPU_RESOURCE
from mlplatform.graph import CONFIG_GROUP, Graph, Resource
from mlplatform.policies.core import Config, Policy, View, Violation, by_kind, list_of_strings
from mlplatform.policies.pods import containers, pod_templates
from mlplatform.tenancy import isolation
from mlplatform.tenancy.objects import TENANT_LABEL

ENFORCE = "pod-security.kubernetes.io/enforce"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


def tenant_namespaces(views: Sequence[View]) -> dict[str, View]:
    """Tenant namespace name -> its Namespace object."""
    return {v.object_name: v for v in by_kind(views, "Namespace") if TENANT_LABEL in v.labels}


def tenant_workloads(views: Sequence[View]) -> list[View]:
    tenants = tenant_namespaces(views)
    return [v for v in views if v.namespace in tenants and pod_templates(v)]


def _in_namespace(views: Sequence[View], kind: str, namespace: str) -> list[View]:
    return [v for v in by_kind(views, kind) if v.namespace == namespace]


def _pod_security(views: Sequence[View], cfg: Config) -> list[Violation]:
    found = []
    for name, ns in tenant_namespaces(views).items():
        level = ns.labels.get(ENFORCE)
        if level is None:
            found.append(Violation(f"tenant namespace {name} has no {ENFORCE} label", ns))
        elif level not in cfg["levels"]:
            allowed = ", ".join(cfg["levels"])
            found.append(Violation(f"tenant namespace {name} enforces {level!r} ({allowed})", ns))
    return found


def _is_default_deny(policy: View) -> bool:
    spec = policy.spec
    selector = spec.get("podSelector") or {}
    return (
        not selector.get("matchLabels")
        and not selector.get("matchExpressions")
        and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
        and not spec.get("ingress")
        and not spec.get("egress")
    )


def _default_deny(views: Sequence[View], cfg: Config) -> list[Violation]:
    return [
        Violation(f"tenant namespace {name} has no default-deny NetworkPolicy", ns)
        for name, ns in tenant_namespaces(views).items()
        if not any(_is_default_deny(p) for p in _in_namespace(views, "NetworkPolicy", name))
    ]


def _has(kind: str, what: str) -> Callable[[Sequence[View], Config], list[Violation]]:
    def check(views: Sequence[View], cfg: Config) -> list[Violation]:
        return [
            Violation(f"tenant namespace {name} has no {what}", ns)
            for name, ns in tenant_namespaces(views).items()
            if not _in_namespace(views, kind, name)
        ]

    return check


def _requests_gpu(view: View, resources: Sequence[str]) -> str | None:
    for c in containers(view):
        for part in ("requests", "limits"):
            asked: Mapping[str, object] = c.resources.get(part) or {}
            for name in resources:
                if name in asked:
                    return name
    return None


def _gpu_queue_label(views: Sequence[View], cfg: Config) -> list[Violation]:
    found = []
    for view in tenant_workloads(views):
        gpu = _requests_gpu(view, cfg["gpuResources"])
        if gpu is None:
            continue
        queue = view.labels.get(QUEUE_LABEL)
        queues = {q.object_name for q in _in_namespace(views, "LocalQueue", view.namespace or "")}
        if not queue:
            found.append(Violation(f"requests {gpu} without the {QUEUE_LABEL} label", view))
        elif queue not in queues:
            found.append(
                Violation(
                    f"{QUEUE_LABEL} names LocalQueue {queue!r}, not in {view.namespace}", view
                )
            )
    return found


def _as_graph(views: Sequence[View]) -> Graph:
    """The views' Kubernetes objects as a recorded graph (what the isolation invariant reads)."""
    objs = [dict(v.props) for v in views if v.kind]
    return Graph(
        [Resource("urn:policy-views", CONFIG_GROUP, "policy-views", {"objs": objs}, "", [])]
    )


def _isolation(kinds: set[str]) -> Callable[[Sequence[View], Config], list[Violation]]:
    """`mlplatform.tenancy.isolation` findings of the given kinds, one per offending object."""

    def check(views: Sequence[View], cfg: Config) -> list[Violation]:
        by_ref = {v.ref: v for v in views if v.kind}
        return [
            Violation(f"lets tenant {f.grantee} into {f.owner}: {f.detail}", by_ref.get(f.obj))
            for f in isolation.violations(_as_graph(views))
            if f.kind in kinds
        ]

    return check


POLICIES = [
    Policy(
        "tenant-pod-security",
        "Every tenant namespace enforces a Pod Security level.",
        "mandatory",
        stack_check=_pod_security,
        defaults={"levels": ["restricted", "baseline"]},
        schema={"levels": list_of_strings("Pod Security levels a tenant namespace may enforce")},
    ),
    Policy(
        "tenant-default-deny",
        "Every tenant namespace has a default-deny NetworkPolicy (all pods, both directions).",
        "mandatory",
        stack_check=_default_deny,
    ),
    Policy(
        "tenant-resource-quota",
        "Every tenant namespace has a ResourceQuota.",
        "mandatory",
        stack_check=_has("ResourceQuota", "ResourceQuota"),
    ),
    Policy(
        "tenant-limit-range",
        "Every tenant namespace has a LimitRange.",
        "mandatory",
        stack_check=_has("LimitRange", "LimitRange"),
    ),
    Policy(
        "tenant-local-queue",
        "Every tenant namespace has a Kueue LocalQueue.",
        "mandatory",
        stack_check=_has("LocalQueue", "Kueue LocalQueue"),
    ),
    Policy(
        "tenant-gpu-queue-label",
        "GPU-requesting workloads in tenant namespaces name one of their LocalQueues.",
        "mandatory",
        stack_check=_gpu_queue_label,
        defaults={"gpuResources": [GPU_RESOURCE]},
        schema={"gpuResources": list_of_strings("extended resources that count as GPUs")},
    ),
    Policy(
        "tenant-rolebinding-isolation",
        "No RoleBinding or ClusterRoleBinding grants one tenant's identities another's access.",
        "mandatory",
        stack_check=_isolation({"rbac"}),
    ),
    Policy(
        "tenant-isolation",
        "No NetworkPolicy, AuthorizationPolicy, queue or bucket policy opens a tenant to another.",
        "mandatory",
        stack_check=_isolation({"network", "authorization", "queue", "bucket"}),
    ),
]
