"""Build policy `View`s from the recorded mock graph (offline) or from engine arguments.

Offline, each object in our ConfigGroups becomes a view; chart and kustomize children are
invisible (they render only in the real engine, which sees each as its own resource).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modules.graph import CHART, CONFIG_GROUP, KUSTOMIZE, Graph
from policies.core import MANAGED_BY, View

# Resources whose Kubernetes objects the engine also sends one by one.
GROUPS = (CONFIG_GROUP, CHART, KUSTOMIZE, "kubernetes:yaml/v2:ConfigFile")


def type_token(obj: Mapping[str, Any]) -> str:
    """`kubernetes:apps/v1:Deployment` for an object, as the Pulumi provider names it."""
    api = str(obj.get("apiVersion") or "")
    return f"kubernetes:{api if '/' in api else f'core/{api}'}:{obj.get('kind')}"


def _transformed(graph: Graph, obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object after the stack's transforms (the mirror's image rewrite), as the engine
    applies them to each ConfigGroup child."""
    import pulumi

    for transform in graph.transforms:
        args = pulumi.ResourceTransformArgs(
            custom=True,
            type_=type_token(obj),
            name=str((obj.get("metadata") or {}).get("name", "")),
            props=dict(obj),
            opts=pulumi.ResourceOptions(),
        )
        result = transform(args)
        obj = result.props if result is not None else obj
    return obj


def from_graph(graph: Graph) -> list[View]:
    """Our objects (with secret marks) plus every other recorded resource (charts included)."""
    views = [
        View(
            type_token(o.obj),
            o.ref,
            _transformed(graph, o.obj),
            urn=o.owner.urn,
            ours=True,
            secret_paths=frozenset(o.secret_paths()),
        )
        for o in graph.objects()
    ]
    views += [
        View(
            r.type, r.name, r.inputs, urn=r.urn, ours=False, secret_paths=frozenset(r.secret_paths)
        )
        for r in graph.resources
        if r.type != CONFIG_GROUP
    ]
    return views


def from_engine(resource_type: str, name: str, urn: str, props: Mapping[str, Any]) -> View | None:
    """A resource as the CrossGuard engine passes it; None for groups whose children arrive."""
    if resource_type in GROUPS:
        return None
    meta = (props.get("metadata") or {}) if "kind" in props else {}
    ours = (meta.get("labels") or {}).get(MANAGED_BY[0]) == MANAGED_BY[1]
    return View(resource_type, name, props, urn=urn, ours=ours, secret_paths=None)
