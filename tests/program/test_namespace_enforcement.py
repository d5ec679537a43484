"""Namespace enforcement under mocks: Prometheus labels every tenant namespace's rules and
monitors with their own namespace, and no platform namespace is enforced.

Which namespaces are the platform's is derived from the program itself: every namespace the
stack creates or installs into, minus the tenants' (labelled `mlplatform.io/tenant`). Tenants
cannot create rules or monitors today (their roles grant nothing in monitoring.coreos.com);
enforcement holds whatever a future role grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from mlplatform import render
from mlplatform.components import monitoring
from mlplatform.graph import CHART, Graph
from mlplatform.rbac_eval import AUTHENTICATED, Rbac, ServiceAccount
from mlplatform.tenancy.objects import TENANT_LABEL, WORKLOAD_ACCOUNTS

MONITORING_GROUP = "monitoring.coreos.com"
KINDS = {
    "PrometheusRule": "prometheusrules",
    "ServiceMonitor": "servicemonitors",
    "PodMonitor": "podmonitors",
    "Probe": "probes",
    "ScrapeConfig": "scrapeconfigs",
}
envs = pytest.mark.parametrize("env", ["dev", "staging", "prod"])


def prometheus_spec(g: Graph) -> dict[str, Any]:
    return g.named(monitoring.RELEASE, CHART).inputs["values"]["prometheus"]["prometheusSpec"]


def excluded(spec: dict[str, Any]) -> dict[str, set[str]]:
    """resource -> namespaces whose every object of that resource is excluded."""
    out: dict[str, set[str]] = {}
    for ref in spec.get("excludedFromEnforcement") or []:
        if ref.get("group", MONITORING_GROUP) == MONITORING_GROUP and not ref.get("name"):
            out.setdefault(ref["resource"], set()).add(ref["namespace"])
    return out


def tenant_namespaces(g: Graph) -> set[str]:
    return {
        o.name
        for o in g.objects()
        if o.kind == "Namespace" and TENANT_LABEL in (o.obj["metadata"].get("labels") or {})
    }


def program_namespaces(g: Graph) -> set[str]:
    """Every namespace the stack creates, puts an object in, or installs a chart or
    kustomize application into."""
    found = {o.name for o in g.objects() if o.kind == "Namespace"}
    found |= {o.namespace for o in g.objects() if o.namespace}
    found |= {i.namespace for i in render.charts(g)}
    found |= {b.namespace for b in render.kustomizations(g) if b.namespace}
    return found


@envs
def test_tenant_namespaces_are_enforced_and_platform_namespaces_excluded(program, env):
    g = program(env)
    spec = prometheus_spec(g)
    assert spec["enforcedNamespaceLabel"] == "namespace"
    assert spec["ignoreNamespaceSelectors"] is False  # see monitoring.namespace_enforcement
    tenants = tenant_namespaces(g)
    platform = program_namespaces(g) - tenants
    assert monitoring.NAMESPACE in platform
    for resource in KINDS.values():
        ns = excluded(spec).get(resource, set())
        assert platform <= ns, f"{resource}: not excluded: {sorted(platform - ns)}"
        assert not tenants & ns, f"{resource}: tenant namespaces excluded: {tenants & ns}"
    if env == "staging":
        assert tenants == {"team-a", "team-b"}


@envs
def test_every_rule_and_monitor_the_program_registers_keeps_its_labels(program, env):
    g = program(env)
    ns = excluded(prometheus_spec(g))
    found = [o for o in g.objects() if o.kind in KINDS]
    assert found  # cert-manager's ServiceMonitor at least
    for o in found:
        assert o.namespace in ns[KINDS[o.kind]], o.ref


@dataclass(frozen=True)
class User:
    name: str

    def named_by(self, subject: dict[str, Any], binding_ns: str | None) -> bool:
        kind, name = subject.get("kind"), subject.get("name")
        return (kind == "User" and name == self.name) or (kind == "Group" and name == AUTHENTICATED)


def test_no_tenant_subject_may_create_rules_or_monitors(program):
    """Tenants' people and workload accounts cannot write monitoring.coreos.com objects in
    their namespace (so the attack needs a role the platform does not grant)."""
    g = program("staging")
    rbac = Rbac(o.obj for o in g.objects())
    for ns in sorted(tenant_namespaces(g)):
        users = {
            s["name"]
            for o in g.objects()
            if o.kind == "RoleBinding" and o.namespace == ns
            for s in o.obj.get("subjects") or []
            if s.get("kind") == "User"
        }
        assert users, ns
        subjects = [User(u) for u in sorted(users)]
        subjects += [ServiceAccount(ns, account) for account in WORKLOAD_ACCOUNTS]
        for subject in subjects:
            assert rbac.allowed(subject, "get", "", "pods", ns)  # bound at all
            for resource in KINDS.values():
                for verb in ("create", "update", "patch"):
                    assert not rbac.allowed(subject, verb, MONITORING_GROUP, resource, ns), (
                        subject,
                        verb,
                        resource,
                    )
