"""Validate the Kubernetes objects our code builds against the real API schemas."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import kubernetes_validate as kv

from modules.graph import Graph

Validator = Callable[[dict[str, Any], str], list[str]]


def metadata_problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """ObjectMeta of a custom resource, checked with the core schema (via a ConfigMap shell)."""
    shell = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
    try:
        kv.validate(shell, kubernetes_version, strict=True)
    except kv.ValidationError as err:
        return [f"metadata: {err.message}"]
    return [] if obj.get("spec") is not None or obj.get("value") is not None else ["no spec"]


def kinds_of(api_versions: set[str], kinds: set[str]) -> Validator:
    """For CRDs with no typed Python package: apiVersion as pinned, known kind, valid metadata."""

    def check(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
        found = []
        if obj.get("apiVersion") not in api_versions:
            found.append(f"apiVersion {obj.get('apiVersion')} not pinned ({sorted(api_versions)})")
        if obj.get("kind") not in kinds:
            found.append(f"unknown kind {obj.get('kind')}")
        return found + metadata_problems(obj, kubernetes_version)

    return check


def _catalogue_apis(component: str) -> set[str]:
    from modules import releases

    return {
        api
        for name in releases.available()
        if releases.load(name).has(component)  # type: ignore[arg-type]
        for api in releases.load(name).component(component).apis.values()  # type: ignore[arg-type]
    }


# Custom resources by API group. Groups whose upstream ships typed Python models register
# a validator built on those models (see the component tests); the rest use `kinds_of`.
CUSTOM: dict[str, Validator] = {
    "cert-manager.io": kinds_of(_catalogue_apis("cert_manager"), {"ClusterIssuer", "Certificate"}),
    "networking.istio.io": kinds_of(_catalogue_apis("istio"), {"Gateway", "VirtualService"}),
    "security.istio.io": kinds_of(
        _catalogue_apis("istio"), {"AuthorizationPolicy", "RequestAuthentication"}
    ),
}


def problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Schema problems of one object (cached: identical objects recur across stacks)."""
    return list(_problems(json.dumps(obj, sort_keys=True), kubernetes_version))


@functools.lru_cache(maxsize=None)
def _problems(serialized: str, kubernetes_version: str) -> tuple[str, ...]:
    return tuple(_check(json.loads(serialized), kubernetes_version))


def _check(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    group = obj.get("apiVersion", "").split("/")[0]
    if group in CUSTOM:
        return CUSTOM[group](obj, kubernetes_version)
    try:
        kv.validate(obj, kubernetes_version, strict=True)
    except kv.SchemaNotFoundError:
        return [f"no schema for {obj.get('apiVersion')} {obj.get('kind')} and no custom validator"]
    except kv.ValidationError as err:
        path = ".".join(str(p) for p in err.path)
        return [f"{path}: {err.message}"]
    return []


def invalid_objects(graph: Graph, kubernetes_version: str) -> list[str]:
    """`Kind/ns/name: problem` for every object in the graph that fails its schema."""
    return [
        f"{o.ref}: {p}"
        for o in graph.objects()
        for p in problems(_resolved(o.obj), kubernetes_version)
    ]


def _resolved(obj: Any) -> Any:
    """Mocked Outputs arrive resolved; drop pulumi's unknown sentinels if any remain."""
    if isinstance(obj, dict):
        return {k: _resolved(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolved(v) for v in obj]
    return obj
