"""Validate the Kubernetes objects our code builds against the real API schemas."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

import jsonschema
from kubernetes_validate import utils as kv_utils
from packaging.version import Version
from referencing import Registry, Resource

from mlplatform.graph import Graph

Validator = Callable[[dict[str, Any], str], list[str]]
# kubernetes-validate re-reads and parses a multi-megabyte schema on every call (~50 ms);
# the same files parsed once per process make validating thousands of objects cheap.
kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)


@functools.cache
def _strict_validator(kubernetes_version: str, kind: str, api_version: str) -> Any:
    """A compiled validator for one kind, from kubernetes-validate's strict schemas."""
    wanted = Version(kubernetes_version)
    version = [v for v in kv_utils.all_versions() if Version(v) <= wanted][-1]
    directory = f"kubernetes-json-schema/v{version}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv_utils.schema_contents(f"{directory}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        return None
    definitions = kv_utils.schema_contents(f"{directory}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def strict_problems(obj: dict[str, Any], kubernetes_version: str) -> list[str] | None:
    """Problems against the core schema, or None when no schema exists for the kind."""
    kind, api_version = obj.get("kind", ""), obj.get("apiVersion", "")
    validator = _strict_validator(kubernetes_version, kind, api_version)
    if validator is None:
        return None
    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    if error is None:
        return []
    return [f"{'.'.join(str(p) for p in error.path)}: {error.message}"]


def metadata_problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """ObjectMeta of a custom resource, checked with the core schema (via a ConfigMap shell)."""
    shell = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
    found = strict_problems(shell, kubernetes_version) or []
    if found:
        return found
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
    from mlplatform import releases

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
    "networking.istio.io": kinds_of(
        _catalogue_apis("istio"), {"Gateway", "VirtualService", "ServiceEntry"}
    ),
    "security.istio.io": kinds_of(
        _catalogue_apis("istio"), {"AuthorizationPolicy", "RequestAuthentication"}
    ),
    # prometheus-operator ships no typed Python models.
    "monitoring.coreos.com": kinds_of(
        _catalogue_apis("monitoring"),
        {"ServiceMonitor", "PodMonitor", "PrometheusRule", "AlertmanagerConfig"},
    ),
    # No typed Kueue models on PyPI: the real CRD schemas check them with the upstream cache
    # (tests/upstream/test_crds.py, which covers every group here).
    "kueue.x-k8s.io": kinds_of(
        _catalogue_apis("kueue"),
        {"ResourceFlavor", "ClusterQueue", "LocalQueue", "WorkloadPriorityClass"},
    ),
    # Kubeflow's Profile and PodDefault (no typed models on PyPI): the CRDs' own schemas
    # check them against the upstream builds (tests/upstream/test_kubeflow_apps.py).
    "kubeflow.org": kinds_of(
        {"kubeflow.org/v1", "kubeflow.org/v1alpha1"}, {"Profile", "PodDefault"}
    ),
    # The inference Gateway: the pinned standard-install.yaml's CRD schemas check it on the
    # upstream rung (tests/upstream/test_gateway_api.py).
    "gateway.networking.k8s.io": kinds_of(_catalogue_apis("gateway_api"), {"Gateway"}),
}


def problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Schema problems of one object (cached: identical objects recur across stacks)."""
    return list(_problems(json.dumps(obj, sort_keys=True), kubernetes_version))


@functools.cache
def _problems(serialized: str, kubernetes_version: str) -> tuple[str, ...]:
    return tuple(_check(json.loads(serialized), kubernetes_version))


def _check(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    group = obj.get("apiVersion", "").split("/")[0]
    if group in CUSTOM:
        return CUSTOM[group](obj, kubernetes_version)
    found = strict_problems(obj, kubernetes_version)
    if found is None:
        return [f"no schema for {obj.get('apiVersion')} {obj.get('kind')} and no custom validator"]
    return found


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
