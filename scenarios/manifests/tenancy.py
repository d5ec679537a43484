"""A throwaway tenant per scenario: namespace, network policy, quota, Kueue queues, RBAC.

It carries the platform's tenant label, so the tenancy policies hold it to the same rules
as a real tenant (Pod Security, default deny, ResourceQuota, LimitRange, LocalQueue).
Each gets its own ClusterQueue (admitting only its namespace) and LocalQueue, fed from a
ResourceFlavor the scenario owns; tenants of one scenario may share a cohort. Its member
is a synthetic user bound to the built-in `edit` ClusterRole in the namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlplatform import kueue_objects as kq
from mlplatform import manifests, netpol
from mlplatform.config.gpu import GPU_RESOURCE
from mlplatform.manifests import Obj, meta
from mlplatform.quantity import parse_quantity
from mlplatform.releases import Release
from mlplatform.tenancy.objects import TENANT_LABEL

SCENARIO_LABEL = "mlplatform.io/scenario"
LOCAL_QUEUE = "main"
MEMBER_ROLE = "edit"


@dataclass(frozen=True)
class Flavor:
    name: str
    node_labels: dict[str, str] = field(default_factory=dict)

    def build(self, release: Release) -> Obj:
        return kq.resource_flavor(
            release.component("kueue").api("kueue"), self.name, node_labels=self.node_labels or None
        )


@dataclass(frozen=True)
class Quota:
    """Nominal quota of the tenant's ClusterQueue in its flavor (+ optional borrowing)."""

    cpu: str = "2"
    memory: str = "4Gi"
    gpus: int = 0
    borrowing_cpu: str | None = None

    def resources(self) -> dict[str, str]:
        out = {"cpu": self.cpu, "memory": self.memory}
        if self.gpus:
            out[GPU_RESOURCE] = str(self.gpus)
        return out

    def hard(self) -> dict[str, str]:
        """ResourceQuota ceiling: nominal plus what may be borrowed."""
        cpu = parse_quantity(self.cpu) + parse_quantity(self.borrowing_cpu or "0")
        hard = {
            "requests.cpu": f"{cpu:g}",
            "limits.cpu": f"{cpu:g}",
            "requests.memory": self.memory,
            "limits.memory": self.memory,
        }
        if self.gpus:
            hard[f"requests.{GPU_RESOURCE}"] = str(self.gpus)
        return hard


@dataclass(frozen=True)
class Egress:
    """Services outside the namespace a tenant's pods may reach."""

    namespace: str
    ports: tuple[int, ...]


@dataclass(frozen=True)
class ScenarioTenant:
    namespace: str
    scenario: str
    flavor: Flavor
    quota: Quota = Quota()
    cohort: str | None = None
    preemption: dict[str, str] | None = None
    egress: tuple[Egress, ...] = ()
    # Restricted unless upstream injects containers that are not (KServe's storage
    # initializer, Argo's executor): then baseline; our own containers stay restricted.
    pod_security: manifests.PodSecurity = "restricted"
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def cluster_queue(self) -> str:
        return self.namespace  # cluster-scoped: the generated namespace name is unique

    @property
    def local_queue(self) -> str:
        return LOCAL_QUEUE

    @property
    def member(self) -> str:
        return f"{self.namespace}-member@scenarios.mlplatform.io"

    def objects(self, release: Release) -> list[Obj]:
        """Namespace first, then what lives in it; cluster-scoped queue objects last."""
        api = release.component("kueue").api("kueue")
        ns = self.namespace
        labels = {
            SCENARIO_LABEL: self.scenario,
            TENANT_LABEL: ns,
            **netpol.OBJECT_STORE_CLIENT,
            **self.labels,
        }
        policies = [*netpol.baseline(ns), netpol.allow_same_namespace(ns)]
        policies += [
            netpol.allow_to(
                f"allow-to-{e.namespace}", ns, [netpol.peer(e.namespace)], list(e.ports)
            )
            for e in self.egress
        ]
        quotas = kq.flavor_quotas(
            self.flavor.name,
            self.quota.resources(),
            {"cpu": self.quota.borrowing_cpu} if self.quota.borrowing_cpu else {},
            {},
        )
        group = {"coveredResources": list(self.quota.resources()), "flavors": [quotas]}
        return [
            manifests.namespace(ns, self.pod_security, labels),
            *policies,
            role_binding(ns, self.member),
            *limits(ns, self.quota.hard()),
            kq.cluster_queue(
                api,
                self.cluster_queue,
                ns,
                [group],
                cohort=self.cohort,
                preemption=self.preemption,
                labels={SCENARIO_LABEL: self.scenario},
            ),
            kq.local_queue(api, self.local_queue, ns, self.cluster_queue),
        ]


def limits(namespace: str, hard: dict[str, str]) -> list[Obj]:
    """ResourceQuota, and container defaults for what upstream injects without sizes."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": meta("scenario-quota", namespace),
            "spec": {"hard": hard},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": meta("scenario-defaults", namespace),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        "default": {"cpu": "1", "memory": "1Gi"},
                    }
                ]
            },
        },
    ]


def role_binding(namespace: str, user: str, role: str = MEMBER_ROLE) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta("scenario-member", namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
