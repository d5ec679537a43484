"""Build policy `View`s from the recorded mock graph (offline) or from engine arguments.

Offline, each object in our ConfigGroups becomes a view; chart and kustomize children (which
the engine sees one by one) become views where `modules.render` can render them from an
upstream cache, judged as the engine would judge them (`from_engine`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modules.graph import CHART, CONFIG_GROUP, KUSTOMIZE, Graph, Resource
from modules.render import Rendered
from policies.core import MANAGED_BY, View

# Resources whose Kubernetes objects the engine also sends one by one.
GROUPS = (CONFIG_GROUP, CHART, KUSTOMIZE, "kubernetes:yaml/v2:ConfigFile")


def type_token(obj: Mapping[str, Any]) -> str:
    """`kubernetes:apps/v1:Deployment` for an object, as the Pulumi provider names it."""
    api = str(obj.get("apiVersion") or "")
    return f"kubernetes:{api if '/' in api else f'core/{api}'}:{obj.get('kind')}"


def _transformed(
    graph: Graph, obj: Mapping[str, Any], owner: Resource | None = None
) -> Mapping[str, Any]:
    """The object after the transforms the engine runs on it: those of `owner` (a component)
    and its ancestors, then the stack's (the mirror's image rewrite)."""
    import pulumi

    for transform in [*_reaching(graph, owner), *graph.transforms]:
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


def _reaching(graph: Graph, node: Resource | None) -> list[Any]:
    found: list[Any] = []
    while node is not None:
        found += node.transforms
        node = next((r for r in graph.resources if r.urn == node.parent), None)
    return found


def from_rendered(graph: Graph, rendered: Rendered) -> list[View]:
    """The chart and kustomize children in `rendered` (`modules.render.render` of `graph`),
    after their component's and the stack's transforms; our own objects (the same objects,
    which `from_graph` presents with their secret marks) are left out."""
    ours = {id(o.obj) for o in graph.objects()}
    components = {r.name: r for r in graph.resources if r.type.startswith("mlplatform:")}
    found = []
    for component, objs in rendered.objects.items():
        for obj in objs:
            if id(obj) in ours:
                continue
            props = _transformed(graph, obj, components.get(component))
            name = str((props.get("metadata") or {}).get("name", ""))
            view = from_engine(type_token(props), f"{component}:{name}", "", props)
            if view is not None:
                found.append(view)
    return found


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
