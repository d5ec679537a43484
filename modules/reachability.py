"""Can this pod reach that one? Kubernetes NetworkPolicy semantics over the recorded graph.

Traffic from a source to a destination port is allowed when both ends allow it: egress
at the source (no Egress policy selects the source pod, or one of those that do has a rule
whose peer and port match) and ingress at the destination (likewise). Pods are modelled
by their namespace and labels; namespaces' labels come from the Namespace objects we build
(plus `kubernetes.io/metadata.name`, which the API server always sets).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from mlplatform.graph import Graph
from mlplatform.manifests import selects
from mlplatform.netpol import NS_NAME_LABEL


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels) or, with `ip`, an address outside the cluster's pods."""

    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    ip: str | None = None

    def __hash__(self) -> int:
        return hash((self.namespace, tuple(sorted(self.labels.items())), self.ip))


class Network:
    """The NetworkPolicies and namespace labels of one recorded program run."""

    def __init__(self, graph: Graph) -> None:
        objects = graph.objects()
        self.namespaces = {
            o.name: {**(o.obj["metadata"].get("labels") or {}), NS_NAME_LABEL: o.name}
            for o in objects
            if o.kind == "Namespace"
        }
        self.policies = [o.obj for o in objects if o.kind == "NetworkPolicy"]

    def _ns_labels(self, namespace: str) -> dict[str, str]:
        return self.namespaces.get(namespace, {NS_NAME_LABEL: namespace})

    def _peer_matches(self, peer: dict[str, Any], policy_ns: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            if other.ip is None:
                return False
            block = peer["ipBlock"]
            addr = ipaddress.ip_address(other.ip)
            return addr in ipaddress.ip_network(block["cidr"]) and not any(
                addr in ipaddress.ip_network(e) for e in block.get("except") or []
            )
        if other.namespace is None:
            return False
        if "namespaceSelector" in peer:
            if not selects(peer["namespaceSelector"], self._ns_labels(other.namespace)):
                return False
        elif other.namespace != policy_ns:
            return False
        return selects(peer.get("podSelector") or {}, other.labels)

    def _allowed(self, pod: Endpoint, other: Endpoint, port: int, direction: str) -> bool:
        """Does `pod` (source for Egress, destination for Ingress) allow `other` on `port`?"""
        key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        selecting = [
            p
            for p in self.policies
            if p["metadata"].get("namespace") == pod.namespace
            and direction in p["spec"].get("policyTypes", [])
            and selects(p["spec"].get("podSelector") or {}, pod.labels)
        ]
        if not selecting:
            return True  # no policy isolates this pod in this direction
        for p in selecting:
            for rule in p["spec"].get(key) or []:
                ports = rule.get("ports")
                if ports and not any(
                    q.get("port") in (None, port)
                    or (q.get("endPort") and q["port"] <= port <= q["endPort"])
                    for q in ports
                ):
                    continue
                peers = rule.get(peers_key)
                if not peers or any(
                    self._peer_matches(peer, p["metadata"]["namespace"], other) for peer in peers
                ):
                    return True
        return False

    def can_reach(self, source: Endpoint, destination: Endpoint, port: int) -> bool:
        egress_ok = source.namespace is None or self._allowed(source, destination, port, "Egress")
        ingress_ok = destination.namespace is None or self._allowed(
            destination, source, port, "Ingress"
        )
        return egress_ok and ingress_ok
