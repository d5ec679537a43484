"""Tenancy: every tenant namespace is fenced (pod security, default deny, quota, limits,
its own queue), GPU work goes through Kueue, and nothing crosses tenants (the tenancy
code's isolation invariant, `mlplatform.tenancy.isolation`, checked here over indexes).

Tenant namespaces are the Namespaces carrying the tenancy code's `TENANT_LABEL`. Every check
indexes the views once (objects by namespace and kind, tenants by user, label, queue and
bucket), so a stack with N tenants costs O(N), not O(N^2).
"""

from __future__ import annotations

import bisect
import ipaddress
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlplatform.config.gpu import GPU_RESOURCE
from mlplatform.manifests import selects
from mlplatform.netpol import NS_NAME_LABEL
from mlplatform.policies.core import Config, Policy, View, Violation, by_kind, list_of_strings
from mlplatform.policies.pods import containers, pod_templates
from mlplatform.tenancy.objects import TENANT_LABEL, USERID_HEADER
from mlplatform.tenancy.storage import POLICY_ENV

ENFORCE = "pod-security.kubernetes.io/enforce"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# The AuthorizationPolicy `mlplatform.tenancy.objects.authorization_policy` builds: its rule
# on the user header lists exactly the tenant's owners and members (`TenantSpec.people`).
ACCESS_POLICY = "tenant-access"
USER_KEY = f"request.headers[{USERID_HEADER}]"
SA_GROUP = "system:serviceaccounts:"  # every ServiceAccount of one namespace
SA_USER = "system:serviceaccount:"  # one ServiceAccount, as a user name
# A namespace carrying nothing but its name: a selector matching it matches every namespace.
_BARE_NAMESPACE = {NS_NAME_LABEL: "\x00any"}


def tenant_namespaces(views: Sequence[View]) -> dict[str, View]:
    """Tenant namespace name -> its Namespace object."""
    return {v.object_name: v for v in by_kind(views, "Namespace") if TENANT_LABEL in v.labels}


def tenant_workloads(views: Sequence[View]) -> list[View]:
    tenants = tenant_namespaces(views)
    return [v for v in views if v.namespace in tenants and pod_templates(v)]


def in_namespaces(views: Sequence[View]) -> dict[tuple[str, str], list[View]]:
    """(namespace, kind) -> the namespaced objects, in one pass."""
    found: dict[tuple[str, str], list[View]] = defaultdict(list)
    for v in views:
        if v.kind and v.namespace:
            found[(v.namespace, v.kind)].append(v)
    return found


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
    objects = in_namespaces(views)
    return [
        Violation(f"tenant namespace {name} has no default-deny NetworkPolicy", ns)
        for name, ns in tenant_namespaces(views).items()
        if not any(_is_default_deny(p) for p in objects.get((name, "NetworkPolicy"), []))
    ]


def _has(kind: str, what: str) -> Callable[[Sequence[View], Config], list[Violation]]:
    def check(views: Sequence[View], cfg: Config) -> list[Violation]:
        objects = in_namespaces(views)
        return [
            Violation(f"tenant namespace {name} has no {what}", ns)
            for name, ns in tenant_namespaces(views).items()
            if not objects.get((name, kind))
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
    objects = in_namespaces(views)
    found = []
    for view in tenant_workloads(views):
        gpu = _requests_gpu(view, cfg["gpuResources"])
        if gpu is None:
            continue
        queue = view.labels.get(QUEUE_LABEL)
        queues = {q.object_name for q in objects.get((view.namespace or "", "LocalQueue"), [])}
        if not queue:
            found.append(Violation(f"requests {gpu} without the {QUEUE_LABEL} label", view))
        elif queue not in queues:
            found.append(
                Violation(
                    f"{QUEUE_LABEL} names LocalQueue {queue!r}, not in {view.namespace}", view
                )
            )
    return found


# -- isolation, indexed ------------------------------------------------------------------------


def _users_in(rules: Sequence[Mapping[str, Any]]) -> set[str]:
    return {
        str(value)
        for rule in rules
        for when in rule.get("when") or []
        if when.get("key") == USER_KEY
        for value in when.get("values") or []
    }


def _env(view: View) -> dict[str, str]:
    return {
        str(e["name"]): str(e.get("value", ""))
        for c in containers(view)
        for e in c.spec.get("env") or []
        if "name" in e
    }


@dataclass
class Tenants:
    """What the views say the tenants are, indexed for lookups by namespace, user, label,
    ClusterQueue and bucket (the isolation invariant's `TenantView`s, built once)."""

    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # ns -> namespace labels
    bound: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    declared: dict[str, set[str]] = field(default_factory=dict)  # ns -> tenant-access users
    holders: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_label: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    queues: dict[str, str] = field(default_factory=dict)  # ClusterQueue -> tenant ns
    buckets: dict[str, str] = field(default_factory=dict)  # bucket -> tenant ns
    sorted_buckets: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, views: Sequence[View]) -> Tenants:
        t = cls()
        for v in views:
            tenant = v.labels.get(TENANT_LABEL)
            if v.kind == "Namespace" and tenant is not None:
                t.labels[v.object_name] = {**v.labels, NS_NAME_LABEL: v.object_name}
            elif v.kind == "RoleBinding" and v.namespace:
                t.bound[v.namespace].update(
                    str(s.get("name")) for s in v.props.get("subjects") or [] if _is_user(s)
                )
            elif v.kind == "AuthorizationPolicy" and v.namespace and v.object_name == ACCESS_POLICY:
                users = _users_in(v.spec.get("rules") or [])
                t.declared.setdefault(v.namespace, set()).update(users)
            elif v.kind == "ClusterQueue" and tenant:
                t.queues[v.object_name] = tenant
            elif v.kind == "Job" and tenant and "BUCKET" in (env := _env(v)):
                t.buckets[env["BUCKET"]] = tenant
        for ns, labels in t.labels.items():
            for pair in labels.items():
                t.by_label[pair].add(ns)
            for user in t.bound.get(ns, set()) | t.declared.get(ns, set()):
                t.holders[user].add(ns)
        t.sorted_buckets = sorted(t.buckets)
        return t

    def owner(self, view: View) -> str | None:
        """The tenant an object belongs to: its namespace's, else its tenant label's."""
        if view.namespace in self.labels:
            return view.namespace
        return view.labels.get(TENANT_LABEL)

    def selected(self, selector: Mapping[str, Any]) -> list[str]:
        """Tenant namespaces a (not every-namespace) label selector selects, via the index."""
        pinned = dict(selector.get("matchLabels") or {})
        sets = [self.by_label.get((k, str(v)), set()) for k, v in pinned.items()]
        for expr in selector.get("matchExpressions") or []:
            if expr.get("operator") == "In":
                key = expr.get("key")
                sets.append(
                    set().union(
                        *(self.by_label.get((key, v), set()) for v in expr.get("values") or [])
                    )
                )
        if sets:
            candidates: Iterator[str] | set[str] = set.intersection(*sets)
        else:
            candidates = iter(self.labels)  # Exists on a label: only a scan can tell
        return sorted(ns for ns in candidates if selects(dict(selector), self.labels[ns]))

    def bucket_owners(self, resource: str) -> list[tuple[str, str]]:
        """(bucket, tenant) pairs an S3 policy resource covers (`arn:aws:s3:::head/...`)."""
        head = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        if not head.endswith("*"):
            return [(head, self.buckets[head])] if head in self.buckets else []
        prefix, found = head[:-1], []
        i = bisect.bisect_left(self.sorted_buckets, prefix)
        while i < len(self.sorted_buckets) and self.sorted_buckets[i].startswith(prefix):
            found.append((self.sorted_buckets[i], self.buckets[self.sorted_buckets[i]]))
            i += 1
        return found


def _is_user(subject: Mapping[str, Any]) -> bool:
    return subject.get("kind") == "User"


def every_namespace(selector: Mapping[str, Any] | None) -> bool:
    """A namespaceSelector matching every namespace: {}, or only terms a namespace carrying
    nothing but its name meets (NotIn, DoesNotExist, Exists on its name)."""
    return selector is not None and selects(dict(selector), dict(_BARE_NAMESPACE))


def _crosses(grantee: str, owner: str, detail: str, view: View) -> Violation:
    return Violation(f"lets tenant {grantee} into {owner}: {detail}", view)


def _subject_tenant(subject: Mapping[str, Any], namespace: str | None) -> str | None:
    """The namespace whose ServiceAccounts a subject names (None for people)."""
    kind, name = subject.get("kind"), str(subject.get("name") or "")
    if kind == "ServiceAccount":
        # An empty subject namespace means the binding's own (kubernetes
        # pkg/registry/rbac/validation/rule.go appliesToUser).
        return str(subject.get("namespace") or namespace or "")
    if kind == "Group" and name.startswith(SA_GROUP):
        return name.removeprefix(SA_GROUP)
    if kind == "User" and name.startswith(SA_USER):
        return name.removeprefix(SA_USER).partition(":")[0]
    return None


def _tenant_binding(view: View, ns: str, t: Tenants) -> list[Violation]:
    """A RoleBinding in tenant namespace `ns` binds only the tenant's declared users (its
    tenant-access record, when the namespace has one) and its own ServiceAccounts."""
    declared = t.declared.get(ns)
    found = []
    for s in view.props.get("subjects") or []:
        kind, name = s.get("kind"), str(s.get("name") or "")
        detail = f"subject {kind} {name}"
        accounts = _subject_tenant(s, ns)
        if accounts is not None:
            if accounts == ns:
                continue
            if accounts in t.labels:
                found.append(_crosses(accounts, ns, detail, view))
            else:
                found.append(
                    Violation(
                        f"binds {kind} {name}: ServiceAccounts of {accounts} "
                        f"are not tenant {ns}'s own",
                        view,
                    )
                )
        elif kind == "User":
            strangers = sorted(t.holders.get(name, set()) - {ns})
            own = declared if declared is not None else t.bound.get(ns, set())
            if name in own:
                continue
            if strangers:
                found.append(_crosses(", ".join(strangers), ns, detail, view))
            else:
                found.append(
                    Violation(f"binds User {name}, not a declared user of tenant {ns}", view)
                )
        else:
            found.append(
                Violation(
                    f"binds {kind} {name}: only tenant {ns}'s users and ServiceAccounts", view
                )
            )
    return found


def _cluster_binding(view: View, owner: str | None, t: Tenants) -> list[Violation]:
    """A ClusterRoleBinding naming a tenant's identities exposes its owner tenant (labelled)
    or every tenant."""
    found = []
    for s in view.props.get("subjects") or []:
        detail = f"subject {s.get('kind')} {s.get('name')}"
        accounts = _subject_tenant(s, None)
        if accounts is not None:
            grantees = {accounts} if accounts in t.labels else set()
        elif _is_user(s):
            grantees = set(t.holders.get(str(s.get("name")), set()))
        else:
            continue
        if owner in t.labels:
            if _is_user(s) and owner in grantees:
                continue
            for g in sorted(grantees - {owner}):
                found.append(_crosses(g, owner, detail, view))
        elif grantees and len(t.labels) > len(grantees):
            found.append(_crosses(", ".join(sorted(grantees)), "every tenant", detail, view))
    return found


def _rbac(views: Sequence[View], cfg: Config) -> list[Violation]:
    t = Tenants.of(views)
    found = []
    for v in views:
        if v.kind == "RoleBinding" and v.namespace in t.labels:
            found += _tenant_binding(v, v.namespace, t)
        elif v.kind == "ClusterRoleBinding":
            found += _cluster_binding(v, v.labels.get(TENANT_LABEL), t)
    return found


def _every_address(peer: Mapping[str, Any]) -> str | None:
    cidr = str((peer.get("ipBlock") or {}).get("cidr") or "")
    try:
        return cidr if cidr and ipaddress.ip_network(cidr, strict=False).prefixlen == 0 else None
    except ValueError:
        return None


def _open_ingress(rules: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """Why an ingress rule admits every source: no `from`, an every-namespace selector, or an
    ipBlock of every address. The platform's own allows name one namespace and its pods
    (`mlplatform.tenancy.objects.network_policies`) or stay in the namespace (no selector)."""
    for i, rule in enumerate(rules):
        peers = rule.get("from") or []
        if not peers:
            yield f"ingress rule {i} admits every source (no `from`)"
        for p in peers:
            if every_namespace(p.get("namespaceSelector")):
                selector = json.dumps(p["namespaceSelector"], sort_keys=True)
                yield f"ingress rule {i} admits every namespace (namespaceSelector {selector})"
            elif (cidr := _every_address(p)) is not None:
                yield f"ingress rule {i} admits every address (ipBlock {cidr})"


def _network(view: View, owner: str, t: Tenants) -> list[Violation]:
    spec = view.spec
    found = []
    if view.namespace == owner:
        found += [Violation(why, view) for why in _open_ingress(spec.get("ingress") or [])]
    for direction, key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            for p in rule.get(key) or []:
                selector = p.get("namespaceSelector")
                if selector is None or (every_namespace(selector) and direction == "ingress"):
                    continue  # ingress from every namespace: `_open_ingress`
                text = json.dumps(selector, sort_keys=True)
                if every_namespace(selector):
                    why = f"egress rule {i} reaches every namespace (namespaceSelector {text})"
                    found.append(Violation(why, view))
                    continue
                found += [
                    _crosses(other, owner, f"namespaceSelector {text} selects {other}", view)
                    for other in t.selected(selector)
                    if other != owner
                ]
    return found


def _authorization(view: View, owner: str, t: Tenants) -> list[Violation]:
    found = []
    own = t.bound.get(owner, set())
    for rule in view.spec.get("rules") or []:
        sources = [f.get("source") or {} for f in rule.get("from") or []]
        named = {ns for s in sources for ns in s.get("namespaces") or []}
        for other in sorted(ns for ns in named if ns in t.labels and ns != owner):
            found.append(_crosses(other, owner, "source namespace", view))
        principals = {
            p.split("/ns/", 1)[1].split("/", 1)[0]
            for s in sources
            for p in s.get("principals") or []
            if "/ns/" in p
        }
        for other in sorted(ns for ns in principals if ns in t.labels and ns != owner):
            found.append(_crosses(other, owner, "source principal", view))
        strangers: dict[str, set[str]] = defaultdict(set)
        for when in rule.get("when") or []:
            for user in when.get("values") or []:
                if user not in own:
                    for other in t.holders.get(user, set()) - {owner}:
                        if user in t.bound.get(other, set()):
                            strangers[other].add(user)
        for other in sorted(strangers):
            found.append(_crosses(other, owner, f"users {sorted(strangers[other])}", view))
    return found


def _cluster_queue(view: View, owner: str, t: Tenants) -> list[Violation]:
    selector = view.spec.get("namespaceSelector")
    # Kueue: a nil namespaceSelector admits every namespace.
    if selector is None or every_namespace(selector):
        return [Violation(f"ClusterQueue of tenant {owner} admits every namespace", view)]
    return [
        _crosses(other, owner, "admits its namespace", view)
        for other in t.selected(selector)
        if other != owner
    ]


def _local_queue(view: View, owner: str, t: Tenants) -> list[Violation]:
    target = view.spec.get("clusterQueue")
    other = t.queues.get(str(target))
    if other is None or other == owner:
        return []
    return [_crosses(owner, other, f"points at ClusterQueue {target}", view)]


def _bucket(view: View, owner: str, t: Tenants) -> list[Violation]:
    policy = _env(view).get(POLICY_ENV)
    if not policy:
        return []
    resources = {
        r
        for s in json.loads(policy).get("Statement", [])
        for r in (s.get("Resource") if isinstance(s.get("Resource"), list) else [s.get("Resource")])
        if r
    }
    covered = {pair for r in resources for pair in t.bucket_owners(str(r))}
    return [
        _crosses(owner, other, f"policy covers {bucket}", view)
        for bucket, other in sorted(covered)
        if other != owner
    ]


_CHECKS: dict[str, Callable[[View, str, Tenants], list[Violation]]] = {
    "NetworkPolicy": _network,
    "AuthorizationPolicy": _authorization,
    "ClusterQueue": _cluster_queue,
    "LocalQueue": _local_queue,
    "Job": _bucket,
}


def _isolation(views: Sequence[View], cfg: Config) -> list[Violation]:
    t = Tenants.of(views)
    found = []
    for v in views:
        check = _CHECKS.get(v.kind)
        owner = t.owner(v) if check else None
        if check and owner in t.labels:
            found += check(v, owner, t)
    return found


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
        "RoleBindings in a tenant namespace bind only its declared users and its own "
        "ServiceAccounts (no broad groups); no ClusterRoleBinding lets one tenant into another.",
        "mandatory",
        stack_check=_rbac,
    ),
    Policy(
        "tenant-isolation",
        "No NetworkPolicy, AuthorizationPolicy, queue or bucket policy opens a tenant to another; "
        "tenant NetworkPolicies admit no every-source ingress.",
        "mandatory",
        stack_check=_isolation,
    ),
]
