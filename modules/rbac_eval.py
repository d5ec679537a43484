"""What may a subject do? Kubernetes RBAC semantics over a set of objects (a recorded graph).

A request (verb, API group, resource[/subresource], namespace, name) is allowed when some
binding names the subject and its role has a rule matching the request: a ClusterRoleBinding
grants its ClusterRole everywhere, a RoleBinding grants its Role or ClusterRole in its own
namespace only (never on cluster-scoped resources). `*` matches anything; `resourceNames`
narrows a rule to those names. ClusterRole aggregation is resolved by label selectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlplatform.manifests import Obj, selects

AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def groups(self) -> tuple[str, ...]:
        return ("system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", AUTHENTICATED)

    def named_by(self, subject: dict[str, Any], binding_ns: str | None) -> bool:
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            return (
                subject.get("name") == self.name
                and (subject.get("namespace") or binding_ns) == self.namespace
            )
        if kind == "User":
            return subject.get("name") == self.username
        return kind == "Group" and subject.get("name") in self.groups


def _matches(values: list[str] | None, value: str) -> bool:
    return values is not None and ("*" in values or value in values)


def _resource_matches(resources: list[str], resource: str) -> bool:
    if "*" in resources or resource in resources:
        return True
    sub = resource.partition("/")[2]
    return bool(sub) and f"*/{sub}" in resources


class Rbac:
    """The roles and bindings among `objects`."""

    def __init__(self, objects: Iterable[Obj]) -> None:
        objs = list(objects)
        self.cluster_roles = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterRole"}
        self.roles = {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o
            for o in objs
            if o["kind"] == "Role"
        }
        self.bindings = [o for o in objs if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]

    def _cluster_role_rules(self, name: str) -> list[dict[str, Any]]:
        role = self.cluster_roles.get(name)
        if role is None:
            return []
        rules = list(role.get("rules") or [])
        for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
            for other in self.cluster_roles.values():
                if other is not role and selects(selector, other["metadata"].get("labels") or {}):
                    rules += other.get("rules") or []
        return rules

    def grants(self, subject: ServiceAccount) -> list[tuple[str | None, dict[str, Any]]]:
        """(namespace or None for cluster-wide, rule) for every rule bound to `subject`."""
        out = []
        for b in self.bindings:
            ns = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
            if not any(subject.named_by(s, ns) for s in b.get("subjects") or []):
                continue
            ref = b["roleRef"]
            if ref["kind"] == "ClusterRole":
                rules = self._cluster_role_rules(ref["name"])
            else:
                role = self.roles.get((ns or "", ref["name"]))
                rules = list((role or {}).get("rules") or [])
            out += [(ns, r) for r in rules]
        return out

    def allowed(
        self,
        subject: ServiceAccount,
        verb: str,
        group: str,
        resource: str,
        namespace: str | None = None,
        name: str | None = None,
    ) -> bool:
        """May `subject` `verb` `resource` (in `namespace`; None: cluster-scoped or every
        namespace), optionally the object `name`?"""
        for ns, rule in self.grants(subject):
            if ns is not None and ns != namespace:
                continue
            if not (
                _matches(rule.get("verbs"), verb)
                and _matches(rule.get("apiGroups"), group)
                and _resource_matches(rule.get("resources") or [], resource)
            ):
                continue
            names = rule.get("resourceNames")
            if names and (name is None or name not in names):
                continue
            return True
        return False
