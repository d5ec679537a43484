"""What differs between two environments: their stack configuration and the resources it makes.

Configuration: every `mlplatform:*` key of both stack files flattened to key paths (lists of
named items keyed by name or email, so tenants compare tenant by tenant); secret (`secure:`)
values are never read, only whether a key is set. Resources: both stacks run under Pulumi
mocks; Pulumi resources compare by type and name, our Kubernetes objects by
kind/namespace/name, Helm charts by version and values key path. A value that is a Pulumi
secret or one of the mocks' secret stand-ins prints as SECRET.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlplatform.graph import Graph

SECRET = "<secret>"
_KEYS = ("name", "email")  # how list items are identified, in order of preference


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf key paths of a config value: `a.b`, `tenants[team-a].quota.gpu`, `xs[0]`."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return {prefix: SECRET}
        if not value:
            return {prefix: {}}
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        if not value:
            return {prefix: []}
        key = _item_key(value)
        if key is None and all(not isinstance(v, dict | list) for v in value):
            return {prefix: value}
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{v[key] if key else i}]"))
        return out
    if isinstance(value, float) and value.is_integer():  # the engine's protobuf numbers
        return {prefix: int(value)}
    return {prefix: value}


def _item_key(items: list[Any]) -> str | None:
    for key in _KEYS:
        if all(isinstance(v, dict) and key in v for v in items):
            names = [v[key] for v in items]
            if len(set(names)) == len(names):
                return key
    return None


def compare(
    a: dict[str, Any], b: dict[str, Any], mask: Callable[[str, Any], Any] = lambda _p, v: v
) -> dict[str, Any]:
    """Added (only in b), removed (only in a) and changed key paths, values through `mask`."""
    return {
        "added": {k: mask(k, b[k]) for k in sorted(b.keys() - a.keys())},
        "removed": {k: mask(k, a[k]) for k in sorted(a.keys() - b.keys())},
        "changed": {
            k: {"from": mask(k, a[k]), "to": mask(k, b[k])}
            for k in sorted(a.keys() & b.keys())
            if a[k] != b[k]
        },
    }


def config_diff(env_a: str, env_b: str) -> dict[str, Any]:
    """Configuration differences between two stack files (secrets: only set or not)."""
    from mlplatform.stackconfig import read_stack_file

    flat = []
    for env in (env_a, env_b):
        values, secure = read_stack_file(env)
        flat.append(
            {
                path: value
                for key, v in values.items()
                for path, value in flatten(SECRET if key in secure else v, key).items()
            }
        )
    return compare(*flat)


def _stand_in(value: Any) -> bool:
    from mlplatform.mockrun import STAND_INS

    return isinstance(value, str) and any(s in value for s in STAND_INS)


def resources_diff(graph_a: Graph, graph_b: Graph) -> dict[str, Any]:
    """Resource, Kubernetes object and chart differences between two recorded graphs."""
    from mlplatform.render import charts

    def resources(g: Graph) -> set[str]:
        return {f"{r.type}::{r.name}" for r in g.resources}

    def objects(g: Graph) -> dict[str, Any]:
        return {o.ref: (o.obj, bool(o.secret_paths())) for o in g.objects()}

    ra, rb = resources(graph_a), resources(graph_b)
    oa, ob = objects(graph_a), objects(graph_b)
    # a changed object is named, not shown: `render` prints objects, and some carry secrets
    changed_objects = sorted(k for k in oa.keys() & ob.keys() if oa[k][0] != ob[k][0])
    ca = {c.resource.name: c for c in charts(graph_a)}
    cb = {c.resource.name: c for c in charts(graph_b)}
    chart_changes: dict[str, Any] = {}
    for name in sorted(ca.keys() & cb.keys()):
        a, b = ca[name], cb[name]
        secret = {
            p.removeprefix("values.") for p in a.resource.secret_paths | b.resource.secret_paths
        }

        def mask(path: str, value: Any, secret: set[str] = secret) -> Any:
            if _stand_in(value) or any(path == s or path.startswith(f"{s}.") for s in secret):
                return SECRET
            return value

        values = compare(flatten(a.values), flatten(b.values), mask)
        entry: dict[str, Any] = {}
        if a.version != b.version:
            entry["version"] = {"from": a.version, "to": b.version}
        if a.chart != b.chart:
            entry["chart"] = {"from": a.chart, "to": b.chart}
        if any(values.values()):
            entry["values"] = values
        if entry:
            chart_changes[name] = entry
    return {
        "resources": {"added": sorted(rb - ra), "removed": sorted(ra - rb)},
        "objects": {
            "added": sorted(ob.keys() - oa.keys()),
            "removed": sorted(oa.keys() - ob.keys()),
            "changed": changed_objects,
        },
        "charts": {
            "added": {n: cb[n].version for n in sorted(cb.keys() - ca.keys())},
            "removed": {n: ca[n].version for n in sorted(ca.keys() - cb.keys())},
            "changed": chart_changes,
        },
    }


def diff(env_a: str, env_b: str) -> dict[str, Any]:
    """Both halves for two environments: configuration, and what each stack would create."""
    from mlplatform.mockrun import run_stack

    return {
        "from": env_a,
        "to": env_b,
        "config": config_diff(env_a, env_b),
        **resources_diff(run_stack(env_a), run_stack(env_b)),
    }
