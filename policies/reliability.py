"""Reliability: sized and probed containers, PDBs for replicated workloads, no `latest`."""

from __future__ import annotations

from collections.abc import Sequence

from mlplatform.policies.core import Config, Policy, View, Violation, by_kind, list_of_strings
from mlplatform.policies.pods import LONG_RUNNING, containers, images
from mlplatform.policies.supply_chain import ImageRef


def _resources(view: View, cfg: Config) -> list[str]:
    if not view.ours:
        return []
    found = []
    for c in containers(view):
        if c.list_key == "ephemeralContainers":
            continue
        missing = [
            f"{part}.{name}"
            for part in ("requests", "limits")
            for name in cfg["resources"]
            if name not in (c.resources.get(part) or {})
        ]
        if missing:
            found.append(f"{c.label} sets no {', '.join(missing)}")
    return found


def _probes(view: View, cfg: Config) -> list[str]:
    if not view.ours or view.kind not in LONG_RUNNING:
        return []
    found = []
    for c in containers(view):
        missing = [
            p
            for p in ("livenessProbe", "readinessProbe")
            if c.list_key == "containers" and not c.spec.get(p)
        ]
        if missing:
            found.append(f"{c.label} has no {', '.join(missing)}")
    return found


def _selects(pdb: View, labels: dict[str, str]) -> bool:
    selector = pdb.spec.get("selector") or {}
    match = selector.get("matchLabels") or {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def _pdbs(views: Sequence[View], cfg: Config) -> list[Violation]:
    pdbs = by_kind(views, "PodDisruptionBudget")
    found = []
    for kind in ("Deployment", "StatefulSet"):
        for view in by_kind(views, kind):
            replicas = view.spec.get("replicas") or 1
            if not view.ours or replicas < cfg["minReplicas"]:
                continue
            labels = ((view.spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not any(p.namespace == view.namespace and _selects(p, labels) for p in pdbs):
                found.append(
                    Violation(f"runs {replicas} replicas without a PodDisruptionBudget", view)
                )
    return found


def _latest(view: View, cfg: Config) -> list[str]:
    return [
        f"image {image} uses the latest tag"
        for image in dict.fromkeys(images(view.props))
        if ImageRef.parse(image).tag == "latest"
    ]


POLICIES = [
    Policy(
        "resource-requests-limits",
        "Every container we define sets requests and limits.",
        "mandatory",
        check=_resources,
        defaults={"resources": ["cpu", "memory"]},
        schema={"resources": list_of_strings("resources every request and limit must name")},
    ),
    Policy(
        "probes",
        "Long-running workloads we define have liveness and readiness probes.",
        "mandatory",
        check=_probes,
    ),
    Policy(
        "pdb-for-replicated",
        "Replicated Deployments and StatefulSets we define have a PodDisruptionBudget.",
        "mandatory",
        stack_check=_pdbs,
        defaults={"minReplicas": 2},
        schema={"minReplicas": {"type": "integer", "description": "replicas that need a PDB"}},
    ),
    Policy(
        "no-latest-tag",
        "No image uses the mutable `latest` tag.",
        "mandatory",
        check=_latest,
    ),
]
