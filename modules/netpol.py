"""NetworkPolicy builders: default deny, then the exact allows each namespace needs.

Every platform and tenant namespace gets `default_deny` plus `allow_dns` and whatever
specific rules its workloads need. Builders return plain, schema-valid objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlplatform.manifests import Obj, meta

NS_NAME_LABEL = "kubernetes.io/metadata.name"
# Where the cluster's DNS runs (kube-dns / CoreDNS Service and pods).
DNS = {"namespace": "kube-system", "pods": {"k8s-app": "kube-dns"}}
PROMETHEUS = {"namespace": "monitoring", "pods": {"app.kubernetes.io/name": "prometheus"}}
GATEWAY = {"namespace": "istio-system", "pods": {"istio": "ingressgateway"}}
# Namespaces whose pods may reach MinIO (platform pipelines, serving, every tenant).
OBJECT_STORE_CLIENT = {"mlplatform.io/object-store-client": "true"}
ISTIOD = {"namespace": "istio-system", "pods": {"app": "istiod"}}


def _ports(ports: list[int] | None, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": p} for p in ports or []]


def peer(namespace: str | None = None, pods: dict[str, str] | None = None) -> dict[str, Any]:
    """A NetworkPolicyPeer: pods (optionally by label) in one namespace, or any pod here."""
    out: dict[str, Any] = {}
    if namespace is not None:
        out["namespaceSelector"] = {"matchLabels": {NS_NAME_LABEL: namespace}}
    out["podSelector"] = {"matchLabels": pods} if pods else {}
    return out


def gateway_peer() -> dict[str, Any]:
    """The platform's ingress gateway pods."""
    return peer(GATEWAY["namespace"], GATEWAY["pods"])


def labelled_namespaces(labels: dict[str, str]) -> dict[str, Any]:
    """A peer matching every pod in namespaces carrying `labels`."""
    return {"namespaceSelector": {"matchLabels": labels}, "podSelector": {}}


def any_namespace() -> dict[str, Any]:
    return {"namespaceSelector": {}, "podSelector": {}}


def policy(
    name: str,
    namespace: str,
    *,
    pods: dict[str, str] | None = None,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
) -> Obj:
    """A NetworkPolicy; a direction with a list (even empty) is part of policyTypes."""
    spec: dict[str, Any] = {"podSelector": {"matchLabels": pods} if pods else {}, "policyTypes": []}
    if ingress is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(name, namespace),
        "spec": spec,
    }


def default_deny(namespace: str) -> Obj:
    """Deny all ingress and egress for every pod in the namespace."""
    return policy("default-deny", namespace, ingress=[], egress=[])


def allow_dns(namespace: str) -> Obj:
    return policy(
        "allow-dns",
        namespace,
        egress=[
            {
                "to": [peer(DNS["namespace"], DNS["pods"])],
                "ports": _ports([53], "UDP") + _ports([53]),
            }
        ],
    )


def allow_same_namespace(namespace: str) -> Obj:
    return policy(
        "allow-same-namespace",
        namespace,
        ingress=[{"from": [peer()]}],
        egress=[{"to": [peer()]}],
    )


def allow_from(
    name: str,
    namespace: str,
    sources: list[dict[str, Any]],
    ports: list[int],
    pods: dict[str, str] | None = None,
) -> Obj:
    """Ingress to `pods` on `ports` from the given peers."""
    return policy(name, namespace, pods=pods, ingress=[{"from": sources, "ports": _ports(ports)}])


def allow_to(
    name: str,
    namespace: str,
    destinations: list[dict[str, Any]],
    ports: list[int],
    pods: dict[str, str] | None = None,
) -> Obj:
    """Egress from `pods` to the given peers on `ports`."""
    return policy(name, namespace, pods=pods, egress=[{"to": destinations, "ports": _ports(ports)}])


def allow_webhooks(namespace: str, ports: list[int], pods: dict[str, str] | None = None) -> Obj:
    """Admission/conversion webhooks: the API server's source address is not a pod, so any."""
    return policy(
        "allow-webhooks-from-apiserver",
        namespace,
        pods=pods,
        ingress=[{"ports": _ports(ports)}],
    )


def allow_apiserver_egress(
    namespace: str, cidrs: Sequence[str] = (), pods: dict[str, str] | None = None
) -> Obj:
    """Controllers talk to the API server (443 on the service, 6443 on the endpoints).

    The API server is not a pod, so it is addressed by its endpoint CIDRs
    (`platform.network.apiServerCidrs`); without them the rule can only pin the ports.
    """
    rule: dict[str, Any] = {"ports": _ports([443, 6443])}
    if cidrs:
        rule["to"] = [{"ipBlock": {"cidr": c}} for c in cidrs]
    return policy("allow-apiserver-egress", namespace, pods=pods, egress=[rule])


def allow_prometheus_scrape(namespace: str, ports: list[int]) -> Obj:
    return allow_from(
        "allow-prometheus-scrape",
        namespace,
        [peer(PROMETHEUS["namespace"], PROMETHEUS["pods"])],
        ports,
    )


def allow_from_gateway(namespace: str, ports: list[int], pods: dict[str, str] | None = None) -> Obj:
    return allow_from(
        "allow-from-ingress-gateway",
        namespace,
        [gateway_peer()],
        ports,
        pods,
    )


def allow_istio_control_plane(namespace: str) -> Obj:
    """Sidecars fetch config and certificates from istiod (xDS 15012, webhooks 15017)."""
    return allow_to(
        "allow-istiod", namespace, [peer(ISTIOD["namespace"], ISTIOD["pods"])], [15012, 15017]
    )


def baseline(namespace: str, api_server_cidrs: Sequence[str] = ()) -> list[Obj]:
    """What every namespace starts with: deny all, then DNS and the API server."""
    return [
        default_deny(namespace),
        allow_dns(namespace),
        allow_apiserver_egress(namespace, api_server_cidrs),
    ]
