"""Strict validator for `kueue.x-k8s.io` objects (no typed Kueue models exist on PyPI).

Checks apiVersion against the catalogue, then every field we emit against the upstream
API types of that version (kueue apis/kueue/v1beta1 and v1beta2): unknown keys, enums,
quantities, the version-renamed fields (`cohort` in v1beta1, `cohortName` in v1beta2) and
upstream list limits. Metadata is checked with the core schema.
"""

from __future__ import annotations

from typing import Any

from modules import releases
from modules.quantity import parse_quantity

TAINT_EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}
MAX_FLAVOR_ITEMS = 8  # ResourceFlavor nodeLabels / nodeTaints / tolerations
COHORT_FIELD = {"v1beta1": "cohort", "v1beta2": "cohortName"}
PREEMPTION = {
    "reclaimWithinCohort": {"Never", "LowerPriority", "Any"},
    "withinClusterQueue": {"Never", "LowerPriority", "LowerOrNewerEqualPriority"},
}


def kueue_apis() -> set[str]:
    return {
        releases.load(r).component("kueue").api("kueue")
        for r in releases.available()
        if releases.load(r).has("kueue")
    }


def _keys(where: str, value: Any, allowed: set[str], required: set[str] = frozenset()) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {type(value).__name__}"]
    prefix = f"{where}." if where else ""
    out = [f"{prefix}{k}: unknown field" for k in value if k not in allowed]
    return out + [f"{prefix}{k}: required" for k in sorted(required - value.keys())]


def _quantity(where: str, value: Any) -> list[str]:
    try:
        parse_quantity(str(value))
    except ValueError:
        return [f"{where}: {value!r} is not a quantity"]
    return []


def _list(where: str, value: Any, limit: int | None = None) -> list[str]:
    if not isinstance(value, list):
        return [f"{where}: expected a list"]
    return [f"{where}: at most {limit} items"] if limit and len(value) > limit else []


def _resource_flavor(spec: dict[str, Any]) -> list[str]:
    out = _keys("spec", spec, {"nodeLabels", "nodeTaints", "tolerations", "topologyName"})
    labels = spec.get("nodeLabels", {})
    if not isinstance(labels, dict) or len(labels) > MAX_FLAVOR_ITEMS:
        out.append(f"spec.nodeLabels: a map of at most {MAX_FLAVOR_ITEMS} labels")
    for i, taint in enumerate(spec.get("nodeTaints", [])):
        out += _keys(f"spec.nodeTaints[{i}]", taint, {"key", "value", "effect"}, {"key", "effect"})
        if taint.get("effect") not in TAINT_EFFECTS:
            out.append(f"spec.nodeTaints[{i}].effect: {taint.get('effect')!r}")
    for i, tol in enumerate(spec.get("tolerations", [])):
        where = f"spec.tolerations[{i}]"
        out += _keys(where, tol, {"key", "operator", "value", "effect", "tolerationSeconds"})
        if tol.get("operator", "Equal") not in {"Exists", "Equal"}:
            out.append(f"{where}.operator: {tol.get('operator')!r}")
        if "effect" in tol and tol["effect"] not in TAINT_EFFECTS:
            out.append(f"{where}.effect: {tol['effect']!r}")
    for field in ("nodeTaints", "tolerations"):
        if field in spec:
            out += _list(f"spec.{field}", spec[field], MAX_FLAVOR_ITEMS)
    return out


def _cluster_queue(spec: dict[str, Any], version: str) -> list[str]:
    other = COHORT_FIELD["v1beta2" if version == "v1beta1" else "v1beta1"]
    allowed = {
        COHORT_FIELD[version],
        "resourceGroups",
        "namespaceSelector",
        "queueingStrategy",
        "preemption",
        "flavorFungibility",
        "fairSharing",
        "stopPolicy",
        "admissionChecksStrategy",
    }
    out = _keys("spec", spec, allowed, {"resourceGroups"})
    if other in spec:
        out.append(f"spec.{other}: not in {version}; use {COHORT_FIELD[version]}")
    if spec.get("queueingStrategy", "BestEffortFIFO") not in {"StrictFIFO", "BestEffortFIFO"}:
        out.append(f"spec.queueingStrategy: {spec['queueingStrategy']!r}")
    for g, group in enumerate(spec.get("resourceGroups", [])):
        where = f"spec.resourceGroups[{g}]"
        out += _keys(where, group, {"coveredResources", "flavors"}, {"coveredResources", "flavors"})
        covered = set(group.get("coveredResources", []))
        for f, flavor in enumerate(group.get("flavors", [])):
            fwhere = f"{where}.flavors[{f}]"
            out += _keys(fwhere, flavor, {"name", "resources"}, {"name", "resources"})
            for r, res in enumerate(flavor.get("resources", [])):
                rwhere = f"{fwhere}.resources[{r}]"
                limits = {"nominalQuota", "borrowingLimit", "lendingLimit"}
                out += _keys(rwhere, res, {"name", *limits}, {"name", "nominalQuota"})
                if res.get("name") not in covered:
                    out.append(f"{rwhere}.name: {res.get('name')!r} not in coveredResources")
                out += [p for k in sorted(limits & res.keys()) for p in _quantity(rwhere, res[k])]
    preemption = spec.get("preemption", {})
    out += _keys("spec.preemption", preemption, {*PREEMPTION, "borrowWithinCohort"})
    for field, values in PREEMPTION.items():
        if field in preemption and preemption[field] not in values:
            out.append(f"spec.preemption.{field}: {preemption[field]!r}")
    borrow = preemption.get("borrowWithinCohort", {})
    out += _keys("spec.preemption.borrowWithinCohort", borrow, {"policy", "maxPriorityThreshold"})
    if borrow.get("policy", "Never") not in {"Never", "LowerPriority"}:
        out.append(f"spec.preemption.borrowWithinCohort.policy: {borrow['policy']!r}")
    if "fairSharing" in spec:
        out += _keys("spec.fairSharing", spec["fairSharing"], {"weight"})
    return out


def _local_queue(spec: dict[str, Any]) -> list[str]:
    out = _keys("spec", spec, {"clusterQueue", "stopPolicy", "fairSharing"}, {"clusterQueue"})
    return out + ([] if isinstance(spec.get("clusterQueue"), str) else ["spec.clusterQueue"])


def _priority_class(obj: dict[str, Any]) -> list[str]:
    out = _keys("", obj, {"apiVersion", "kind", "metadata", "value", "description"}, {"value"})
    value = obj.get("value")  # JSON numbers: the recorded graph holds 100 as 100.0
    whole = isinstance(value, int | float) and float(value).is_integer()
    if not whole or not -(2**31) <= value < 2**31:
        out.append(f"value: {value!r} is not an int32")
    return out


def check(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    from tests.schema import metadata_problems

    api, kind = obj.get("apiVersion", ""), obj.get("kind")
    if api not in kueue_apis():
        return [f"apiVersion {api} not pinned by any release ({sorted(kueue_apis())})"]
    version = api.split("/")[1]
    out = metadata_problems(obj, kubernetes_version)
    if kind == "WorkloadPriorityClass":
        return out + _priority_class(obj)
    out += _keys("", obj, {"apiVersion", "kind", "metadata", "spec"}, {"spec"})
    spec = obj.get("spec", {})
    if kind == "ResourceFlavor":
        return out + _resource_flavor(spec)
    if kind == "ClusterQueue":
        return out + _cluster_queue(spec, version)
    if kind == "LocalQueue":
        return out + _local_queue(spec)
    return [*out, f"unknown kind {kind}"]
