"""The recorded resource graph of one program run, and the queries tests and policies ask."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
CHART = "kubernetes:helm.sh/v4:Chart"
KUSTOMIZE = "kubernetes:kustomize/v2:Directory"


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    dependencies: list[str]
    secret_paths: set[str] = field(default_factory=set)
    custom: bool = True
    transforms: list[Any] = field(default_factory=list)  # its own (options), not run by mocks


@dataclass(frozen=True)
class K8sObject:
    """One Kubernetes object our code built (from a ConfigGroup's objs)."""

    obj: dict[str, Any]
    owner: Resource
    index: int

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def name(self) -> str:
        return str(self.obj.get("metadata", {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        return self.obj.get("metadata", {}).get("namespace")

    @property
    def ref(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"

    def secret_paths(self) -> set[str]:
        prefix = f"objs[{self.index}]."
        return {p.removeprefix(prefix) for p in self.owner.secret_paths if p.startswith(prefix)}


@dataclass
class Graph:
    resources: list[Resource]
    transforms: list[Any] = field(default_factory=list)
    _objects: list[K8sObject] | None = field(default=None, repr=False, compare=False)
    _by_urn: dict[str, Resource] | None = field(default=None, repr=False, compare=False)

    def by_urn(self, urn: str) -> Resource:
        """The resource with `urn` (StopIteration when unknown); indexed once per graph."""
        if self._by_urn is None or len(self._by_urn) != len(self.resources):
            self._by_urn = {r.urn: r for r in self.resources}
        try:
            return self._by_urn[urn]
        except KeyError:
            raise StopIteration(urn) from None

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str, type_: str | None = None) -> Resource:
        found = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r} (type {type_})")
        return found[0]

    def has(self, name: str) -> bool:
        return any(r.name == name for r in self.resources)

    def children(self, parent: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def descendants(self, parent: Resource) -> Iterator[Resource]:
        for child in self.children(parent):
            yield child
            yield from self.descendants(child)

    def depends_on(self, resource: Resource, other: Resource) -> bool:
        """True when `resource` (or an ancestor) waits for `other` or anything under it."""
        targets = {other.urn, *(d.urn for d in self.descendants(other))}
        node: Resource | None = resource
        while node is not None:
            if targets & set(node.dependencies):
                return True
            node = self.by_urn(node.parent) if node.parent and self._known(node.parent) else None
        return False

    def _known(self, urn: str) -> bool:
        try:
            self.by_urn(urn)
        except StopIteration:
            return False
        return True

    def objects(self) -> list[K8sObject]:
        """Every Kubernetes object our code constructs, across all ConfigGroups.

        A group's `objs` come first (index i), then the documents of its `yaml` input
        (indexes after them; plain YAML text carries no secret fields).
        """
        if self._objects is not None:  # a recorded graph never changes: parse YAML once
            return self._objects
        out = []
        for group in self.of_type(CONFIG_GROUP):
            objs = [*(group.inputs.get("objs") or []), *_documents(group.inputs.get("yaml"))]
            out.extend(K8sObject(obj, group, i) for i, obj in enumerate(objs))
        self._objects = out
        return out

    def object(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        for o in self.objects():
            if (
                o.kind == kind
                and o.name == name
                and (namespace is None or o.namespace == namespace)
            ):
                return o.obj
        raise KeyError(f"no {kind} {namespace or ''}/{name} in the graph")


def _documents(text: str | list[str] | None) -> list[dict[str, Any]]:
    """The objects of a ConfigGroup's `yaml` input (one string or a list of them)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    texts = [text] if isinstance(text, str) else text or []
    return [doc for t in texts for doc in yaml.load_all(t, Loader=loader) if doc]
