"""Kueue objects for the API version a release's Kueue serves (v1beta1 or v1beta2).

The one difference we emit: a ClusterQueue joins its cohort through `spec.cohort` in
v1beta1 and `spec.cohortName` in v1beta2 (Kueue >= 0.15 serves v1beta2, 0.16 stores it).
"""

from __future__ import annotations

from typing import Any

from mlplatform.manifests import Obj, meta

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"


def cohort_field(api_version: str) -> str:
    return "cohortName" if api_version.endswith("/v1beta2") else "cohort"


def resource_flavor(
    api_version: str,
    name: str,
    node_labels: dict[str, str] | None = None,
    node_taints: list[dict[str, Any]] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
) -> Obj:
    spec: dict[str, Any] = {}
    if node_labels:
        spec["nodeLabels"] = node_labels
    if node_taints:
        spec["nodeTaints"] = node_taints
    if tolerations:
        spec["tolerations"] = tolerations
    return {
        "apiVersion": api_version,
        "kind": "ResourceFlavor",
        "metadata": meta(name),
        "spec": spec,
    }


def flavor_quotas(
    flavor: str, quotas: dict[str, str], borrowing: dict[str, str], lending: dict[str, str]
) -> dict[str, Any]:
    """One entry of `resourceGroups[].flavors`: nominal quota (+limits) per resource."""
    resources = []
    for resource, nominal in quotas.items():
        entry: dict[str, Any] = {"name": resource, "nominalQuota": nominal}
        if resource in borrowing:
            entry["borrowingLimit"] = borrowing[resource]
        if resource in lending:
            entry["lendingLimit"] = lending[resource]
        resources.append(entry)
    return {"name": flavor, "resources": resources}


def cluster_queue(
    api_version: str,
    name: str,
    namespace: str,
    resource_groups: list[dict[str, Any]],
    cohort: str | None = None,
    preemption: dict[str, Any] | None = None,
    queueing_strategy: str = "BestEffortFIFO",
    labels: dict[str, str] | None = None,
) -> Obj:
    """A ClusterQueue admitting only workloads from `namespace`."""
    spec: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "queueingStrategy": queueing_strategy,
        "resourceGroups": resource_groups,
    }
    if cohort:
        spec[cohort_field(api_version)] = cohort
    if preemption:
        spec["preemption"] = preemption
    return {
        "apiVersion": api_version,
        "kind": "ClusterQueue",
        "metadata": meta(name, **(labels or {})),
        "spec": spec,
    }


def local_queue(api_version: str, name: str, namespace: str, cluster_queue_name: str) -> Obj:
    return {
        "apiVersion": api_version,
        "kind": "LocalQueue",
        "metadata": meta(name, namespace),
        "spec": {"clusterQueue": cluster_queue_name},
    }


def workload_priority_class(api_version: str, name: str, value: int, description: str) -> Obj:
    return {
        "apiVersion": api_version,
        "kind": "WorkloadPriorityClass",
        "metadata": meta(name),
        "value": value,
        "description": description,
    }
