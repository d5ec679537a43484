"""What a stack file says about an environment, and, when its cluster answers, how healthy it is.

The offline part reads only the stack file. The health part lists every platform namespace's
Deployments, StatefulSets and DaemonSets (ready vs desired) through the `kubernetes` client on
the stack's `platform.cluster` kubeconfig/context, with a short timeout and no retries.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from pydantic.alias_generators import to_camel

from mlplatform.platform import Stack

TIMEOUT = 5.0  # seconds per API call


class Unreachable(Exception):
    """The cluster could not be asked: no kubeconfig/context, no answer, or refused."""


@dataclass(frozen=True)
class Workload:
    kind: str
    namespace: str
    name: str
    ready: int
    desired: int

    @property
    def healthy(self) -> bool:
        return self.ready >= self.desired


class Cluster(Protocol):
    def namespaces(self) -> set[str]: ...

    def workloads(self, namespace: str) -> list[Workload]: ...


def offline(env: str, stack: Stack) -> dict[str, Any]:
    """The stack file's view: release, enabled components, tenants, ingress URL, static users."""
    p = stack.platform
    enabled = [to_camel(name) for name, c in p.components if getattr(c, "enabled", True)]
    return {
        "env": env,
        "release": p.release,
        "kubernetesVersion": p.kubernetes_version,
        "cluster": {"kubeconfig": p.cluster.kubeconfig, "context": p.cluster.context},
        "components": enabled,
        "tenants": [t.name for t in stack.tenants],
        "url": f"https://{p.ingress.domain}/",
        "staticUsers": [u.email for u in p.identity.static_users],
    }


def platform_namespaces() -> list[str]:
    """Every namespace a platform component deploys into (Kubernetes' own excluded)."""
    from mlplatform.tenancy.spec import SYSTEM_NAMESPACES
    from mlplatform.tenancy.spec import platform_namespaces as all_namespaces

    return [ns for ns in all_namespaces() if ns not in SYSTEM_NAMESPACES]


def health(cluster: Cluster, namespaces: list[str]) -> dict[str, Any]:
    """Per platform namespace present on the cluster: its workloads, ready vs desired."""
    present = cluster.namespaces()
    found: dict[str, list[dict[str, Any]]] = {}
    for ns in namespaces:
        if ns in present:
            found[ns] = [{**asdict(w), "healthy": w.healthy} for w in cluster.workloads(ns)]
    unhealthy = [
        f"{w['kind']}/{ns}/{w['name']}" for ns, ws in found.items() for w in ws if not w["healthy"]
    ]
    return {
        "namespaces": found,
        "absent": [ns for ns in namespaces if ns not in present],
        "unhealthy": unhealthy,
    }


class KubernetesCluster:
    """`Cluster` over the kubernetes client's CoreV1Api and AppsV1Api (or fakes of them)."""

    def __init__(self, core: Any, apps: Any, timeout: float = TIMEOUT) -> None:
        self.core, self.apps, self.timeout = core, apps, timeout

    def namespaces(self) -> set[str]:
        items = self._call(self.core.list_namespace).items
        return {n.metadata.name for n in items}

    def workloads(self, namespace: str) -> list[Workload]:
        out = []
        for d in self._call(self.apps.list_namespaced_deployment, namespace).items:
            desired = d.spec.replicas if d.spec.replicas is not None else 1
            out.append(_workload("Deployment", d, d.status.ready_replicas, desired))
        for s in self._call(self.apps.list_namespaced_stateful_set, namespace).items:
            desired = s.spec.replicas if s.spec.replicas is not None else 1
            out.append(_workload("StatefulSet", s, s.status.ready_replicas, desired))
        for d in self._call(self.apps.list_namespaced_daemon_set, namespace).items:
            out.append(
                _workload("DaemonSet", d, d.status.number_ready, d.status.desired_number_scheduled)
            )
        return sorted(out, key=lambda w: (w.kind, w.name))

    def _call(self, method: Any, *args: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return method(*args, _request_timeout=self.timeout)
        except ApiException as err:
            raise Unreachable(f"the API server answered {err.status} {err.reason}") from err
        except (HTTPError, OSError) as err:
            raise Unreachable(f"no answer from the API server ({type(err).__name__})") from err


def _workload(kind: str, obj: Any, ready: int | None, desired: int | None) -> Workload:
    return Workload(kind, obj.metadata.namespace, obj.metadata.name, ready or 0, desired or 0)


def connect(kubeconfig: str | None, context: str | None, timeout: float = TIMEOUT) -> Cluster:
    """A client on the stack's kubeconfig (default $KUBECONFIG, ~/.kube/config) and context."""
    from kubernetes import client
    from kubernetes.config import ConfigException, load_kube_config

    configuration = client.Configuration()
    # read $KUBECONFIG now: the client freezes its default when first imported
    path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    try:
        load_kube_config(config_file=path, context=context, client_configuration=configuration)
    except (ConfigException, OSError) as err:
        raise Unreachable(f"kubeconfig {path}: {err}".replace("\n", " ")) from err
    configuration.retries = 0  # one attempt: an absent cluster answers within the timeout
    api = client.ApiClient(configuration)
    return KubernetesCluster(client.CoreV1Api(api), client.AppsV1Api(api), timeout)
