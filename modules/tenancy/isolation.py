"""The tenant isolation invariant, proved over a recorded resource graph.

For every pair of tenants A != B, nothing in the graph may grant A access to B's namespace,
quota or bucket: no RoleBinding in B's namespace (or ClusterRoleBinding) names A's users or
ServiceAccounts, no NetworkPolicy in B's namespace admits or reaches A's namespace, no
AuthorizationPolicy in B's namespace admits A's namespace or users, no ClusterQueue of B
admits A's namespace, no LocalQueue in A's namespace points at B's ClusterQueue, and no
bucket policy of B's user covers another bucket. Used by the tests and the policy pack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from mlplatform.graph import Graph, K8sObject
from mlplatform.manifests import selects
from mlplatform.tenancy.objects import TENANT_LABEL
from mlplatform.tenancy.storage import POLICY_ENV

Kind = Literal["rbac", "network", "authorization", "queue", "bucket"]


@dataclass(frozen=True)
class Violation:
    kind: Kind
    obj: str  # Kind/ns/name of the offending object
    grantee: str  # the tenant that gains access
    owner: str  # the tenant whose namespace, quota or bucket is exposed
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.kind}: {self.obj} lets tenant {self.grantee} into {self.owner}: {self.detail}"
        )


@dataclass(frozen=True)
class TenantView:
    """What the graph says a tenant is: its namespace, users, queue and bucket."""

    name: str
    users: frozenset[str]
    cluster_queues: frozenset[str]
    bucket: str | None
    labels: tuple[tuple[str, str], ...] = ()  # the namespace's labels (selectors match these)


def tenants_in(graph: Graph) -> dict[str, TenantView]:
    """Tenants by namespace (Namespaces carrying the tenant label), in one pass over the graph."""
    users: dict[str, set[str]] = {}
    queues: dict[str, set[str]] = {}
    buckets: dict[str, str] = {}
    names: dict[str, dict[str, str]] = {}
    for o in graph.objects():
        tenant = _labels(o).get(TENANT_LABEL)
        if o.kind == "Namespace" and tenant is not None:
            names[o.name] = {**_labels(o), "kubernetes.io/metadata.name": o.name}
        elif o.kind == "RoleBinding" and o.namespace:
            users.setdefault(o.namespace, set()).update(
                s["name"] for s in o.obj.get("subjects", []) if s.get("kind") == "User"
            )
        elif o.kind == "ClusterQueue" and tenant:
            queues.setdefault(tenant, set()).add(o.name)
        elif o.kind == "Job" and tenant and "BUCKET" in _env(o):
            buckets[tenant] = _env(o)["BUCKET"]
    return {
        ns: TenantView(
            ns,
            frozenset(users.get(ns, ())),
            frozenset(queues.get(ns, ())),
            buckets.get(ns),
            tuple(sorted(labels.items())),
        )
        for ns, labels in names.items()
    }


def violations(graph: Graph) -> list[Violation]:
    """Every way one tenant can reach another's namespace, quota or bucket (empty = isolated)."""
    tenants = tenants_in(graph)
    found: list[Violation] = []
    for o in graph.objects():
        found.extend(_check(o, tenants))
    return found


def _check(o: K8sObject, tenants: dict[str, TenantView]) -> list[Violation]:
    owner = o.namespace if o.namespace in tenants else _labels(o).get(TENANT_LABEL)
    others = [t for t in tenants.values() if t.name != owner]
    if o.kind in ("RoleBinding", "ClusterRoleBinding"):
        return _rbac(o, owner, tenants)
    if owner not in tenants:
        return []
    checks = {
        "NetworkPolicy": _network,
        "AuthorizationPolicy": _authorization,
        "ClusterQueue": _cluster_queue,
        "LocalQueue": _local_queue,
        "Job": _bucket,
    }
    check = checks.get(o.kind)
    return check(o, tenants[owner], others) if check else []


def _rbac(o: K8sObject, owner: str | None, tenants: dict[str, TenantView]) -> list[Violation]:
    if o.kind == "RoleBinding" and owner not in tenants:
        return []
    exposed = [tenants[owner]] if owner in tenants else list(tenants.values())
    out = []
    for s in o.obj.get("subjects", []):
        for target in exposed:
            for other in tenants.values():
                if other.name == target.name:
                    continue
                if (
                    (s.get("kind") == "User" and s.get("name") in other.users - target.users)
                    or (s.get("kind") == "ServiceAccount" and s.get("namespace") == other.name)
                    or (
                        s.get("kind") == "Group"
                        and s.get("name") == f"system:serviceaccounts:{other.name}"
                    )
                ):
                    out.append(
                        Violation(
                            "rbac",
                            o.ref,
                            other.name,
                            target.name,
                            f"subject {s.get('kind')} {s.get('name')}",
                        )
                    )
    return out


def _peers(rules: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [p for r in rules for p in r.get(key, [])]


def _network(o: K8sObject, owner: TenantView, others: list[TenantView]) -> list[Violation]:
    spec = o.obj.get("spec", {})
    peers = _peers(spec.get("ingress", []), "from") + _peers(spec.get("egress", []), "to")
    out = []
    for p in peers:
        selector = p.get("namespaceSelector")
        for other in others:
            if selects(selector, dict(other.labels)):
                why = (
                    f"namespaceSelector {json.dumps(selector, sort_keys=True)} selects {other.name}"
                )
                out.append(Violation("network", o.ref, other.name, owner.name, why))
    return out


def _authorization(o: K8sObject, owner: TenantView, others: list[TenantView]) -> list[Violation]:
    out = []
    for rule in o.obj.get("spec", {}).get("rules", []):
        sources = [f.get("source", {}) for f in rule.get("from", [])]
        values = {v for w in rule.get("when", []) for v in w.get("values", [])}
        for other in others:
            if any(other.name in s.get("namespaces", []) for s in sources):
                out.append(
                    Violation("authorization", o.ref, other.name, owner.name, "source namespace")
                )
            if any(f"/ns/{other.name}/" in p for s in sources for p in s.get("principals", [])):
                out.append(
                    Violation("authorization", o.ref, other.name, owner.name, "source principal")
                )
            strangers = values & (other.users - owner.users)
            if strangers:
                out.append(
                    Violation(
                        "authorization", o.ref, other.name, owner.name, f"users {sorted(strangers)}"
                    )
                )
    return out


def _cluster_queue(o: K8sObject, owner: TenantView, others: list[TenantView]) -> list[Violation]:
    selector = o.obj.get("spec", {}).get("namespaceSelector")
    out = []
    for other in others:
        # Kueue: a nil namespaceSelector admits every namespace.
        if selector is None or selects(selector, dict(other.labels)):
            out.append(Violation("queue", o.ref, other.name, owner.name, "admits its namespace"))
    return out


def _local_queue(o: K8sObject, owner: TenantView, others: list[TenantView]) -> list[Violation]:
    target = o.obj.get("spec", {}).get("clusterQueue")
    return [
        Violation("queue", o.ref, owner.name, other.name, f"points at ClusterQueue {target}")
        for other in others
        if target in other.cluster_queues
    ]


def _bucket(o: K8sObject, owner: TenantView, others: list[TenantView]) -> list[Violation]:
    policy = _env(o).get(POLICY_ENV)
    if not policy:
        return []
    resources = {
        r for s in json.loads(policy).get("Statement", []) for r in _list(s.get("Resource"))
    }
    out = []
    for other in others:
        if other.bucket and any(_covers(r, other.bucket) for r in resources):
            out.append(
                Violation("bucket", o.ref, owner.name, other.name, f"policy covers {other.bucket}")
            )
    return out


def _covers(resource: str, bucket: str) -> bool:
    arn = resource.removeprefix("arn:aws:s3:::")
    head = arn.split("/", 1)[0]
    return head == bucket or (head.endswith("*") and bucket.startswith(head[:-1]))


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value] if value else []


def _labels(o: K8sObject) -> dict[str, str]:
    return o.obj.get("metadata", {}).get("labels", {}) or {}


def _env(o: K8sObject) -> dict[str, str]:
    containers = o.obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    return {
        e["name"]: e.get("value", "") for c in containers for e in c.get("env", []) if "name" in e
    }
