"""Build policy `View`s from the recorded mock graph (offline) or from engine arguments.

Offline, each object in our ConfigGroups becomes a view; chart and kustomize children (which
the engine sees one by one) become views where `mlplatform.render` can render them from an
upstream cache, judged as the engine would judge them (`from_engine`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlplatform.graph import CHART, CONFIG_GROUP, KUSTOMIZE, Graph
from mlplatform.policies.core import MANAGED_BY, View
from mlplatform.render import Rendered, transformed, type_token

# Resources whose Kubernetes objects the engine also sends one by one.
GROUPS = (CONFIG_GROUP, CHART, KUSTOMIZE, "kubernetes:yaml/v2:ConfigFile")


def from_rendered(rendered: Rendered) -> list[View]:
    """The chart and kustomize children in `rendered` (`mlplatform.render.render`: after their
    component's and the stack's transforms); our own objects are `from_graph`'s, with their
    secret marks."""
    found = []
    for component, objs in rendered.upstream.items():
        for props in objs:
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
            transformed(graph, o.obj),
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
