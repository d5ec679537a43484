"""Custom resources checked the way the API server would, against upstream CRD schemas.

Sources (all in the upstream cache, all upstream files; the projects and their components
are `mlplatform.upstream_pull.CRD_PROJECTS`):
- `crds/<project>-<tag>/<group>_<Kind>.json`: CRDs extracted from the project's tag, or by
  `mlplatform upstream pull` from what the pinned chart or kustomize base installs.
- CRDs that upstream ships elsewhere in the cache, tagged by the version they declare:
  kube-prometheus-stack vendors prometheus-operator's CRDs (`charts/crds/crds/`, annotation
  `operator.prometheus.io/version`); Kubeflow's manifests vendor Istio's base-chart CRDs
  (`common/istio/istio-crds/base/crd.yaml`, label `app.kubernetes.io/version`); the
  kubeflow-trainer chart ships Trainer's (`crds/`, the chart's appVersion).

Which tag stands for a release's pinned version: the same version if a source has it, else
the nearest patch of the same minor (the lower on a tie); no tag of that minor is an error.

What is checked, as kube-apiserver does on create:
- the apiVersion is a served version of the CRD for that kind; the namespace fits the scope;
- the object validates against that version's openAPIV3Schema: types, enums, patterns,
  bounds (int32/int64 formats too), required, list sizes, `x-kubernetes-list-type` set/map
  uniqueness; `x-kubernetes-int-or-string` takes an integer or a string; `nullable` admits
  null (elsewhere the server drops a null, so it is an error here);
- unknown fields are errors: the server prunes them silently unless that object's schema
  node says `x-kubernetes-preserve-unknown-fields`, so for us they are settings silently
  ignored;
- root metadata against the core ObjectMeta schema (kubernetes-validate).
Not evaluated: CEL rules (`x-kubernetes-validations`), string formats, admission webhooks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mlplatform import releases
from mlplatform.upstream import Cache
from mlplatform.upstream_pull import CRD_PROJECTS as PROJECTS
from mlplatform.upstream_pull import CrdProject as Project
from mlplatform.upstream_pull import crd_version


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading, plus YAML 1.1's `=` (the value key type): a plain string in CRD enums."""


_Loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_scalar)
_LOADER = _Loader
_COPIED = {
    "type", "format", "enum", "pattern", "required", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "minItems", "maxItems",
    "uniqueItems", "minProperties", "maxProperties", "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}  # fmt: skip
_BRANCHES = ("allOf", "anyOf", "oneOf")
_OWN = ("x-kubernetes-list-type",)  # keywords added here, with messages of their own
_INT_RANGES = {"int32": 2**31, "int64": 2**63}
_EMBEDDED = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {}}


@dataclass(frozen=True)
class CRD:
    group: str
    kind: str
    scope: str  # Namespaced | Cluster
    source: str
    versions: dict[str, tuple[bool, dict[str, Any]]]  # name -> (served, openAPIV3Schema)


def semver(tag: str) -> tuple[int, int, int]:
    found = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", tag)
    if not found:
        raise ValueError(f"{tag!r} is not a MAJOR.MINOR.PATCH version")
    major, minor, patch = found.groups()
    return int(major), int(minor), int(patch)


def nearest(tags: list[str], pinned: str) -> str | None:
    """The tag for `pinned`: the same version, else the nearest patch of the same minor."""
    want = semver(pinned)
    same_minor = [t for t in tags if semver(t)[:2] == want[:2]]
    if not same_minor:
        return None
    return min(same_minor, key=lambda t: (abs(semver(t)[2] - want[2]), semver(t)[2]))


def _from_json(path: Path) -> CRD:
    doc = json.loads(path.read_text())
    versions = {n: (v["served"], v["schema"]) for n, v in doc["versions"].items()}
    return CRD(doc["group"], doc["kind"], doc["scope"], str(path), versions)


def _from_yaml(doc: dict[str, Any], path: Path) -> CRD:
    spec = doc["spec"]
    versions = {v["name"]: (v["served"], v["schema"]["openAPIV3Schema"]) for v in spec["versions"]}
    return CRD(spec["group"], spec["names"]["kind"], spec["scope"], str(path), versions)


def _declared_tag(doc: dict[str, Any], path: Path) -> str:
    """The version a vendored CRD declares, else the appVersion of the chart holding it."""
    meta = doc["metadata"]
    tag = (meta.get("annotations") or {}).get("operator.prometheus.io/version") or (
        meta.get("labels") or {}
    ).get("app.kubernetes.io/version")
    if tag:
        return str(tag)
    chart = next(p / "Chart.yaml" for p in path.parents if (p / "Chart.yaml").is_file())
    return str(yaml.load(chart.read_text(), Loader=_LOADER)["appVersion"])


class Catalogue:
    """Every CRD of PROJECTS in one upstream cache, by project and tag."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @cached_property
    def _sets(self) -> dict[str, dict[str, list[CRD]]]:
        sets: dict[str, dict[str, list[CRD]]] = {p.name: {} for p in PROJECTS}
        for project in PROJECTS:
            for directory in sorted((self.root / "crds").glob(f"{project.name}-*")):
                tag = directory.name.removeprefix(f"{project.name}-")
                sets[project.name].setdefault(tag, []).extend(
                    _from_json(f) for f in sorted(directory.glob("*.json"))
                )
            for pattern in project.bundled:
                for path in sorted(self.root.glob(pattern)):
                    for doc in yaml.load_all(path.read_text(), Loader=_LOADER):
                        if doc and doc.get("kind") == "CustomResourceDefinition":
                            tag = project.tag(_declared_tag(doc, path))  # its spelling
                            sets[project.name].setdefault(tag, []).append(_from_yaml(doc, path))
        return sets

    def tags(self, project: str) -> list[str]:
        return sorted(self._sets[project], key=semver)

    def crds(self, project: str, tag: str) -> list[CRD]:
        return self._sets[project][tag]

    @cached_property
    def project_of(self) -> dict[str, Project]:
        """API group -> the project that defines it."""
        return {
            crd.group: project
            for project in PROJECTS
            for crds in self._sets[project.name].values()
            for crd in crds
        }

    def pinned(self, release: str, project: Project) -> str:
        """The project version a release pins (prometheus-operator: the chart's appVersion)."""
        return crd_version(Cache(self.root), releases.load(release), project)

    def tag_for(self, release: str, project: Project) -> str:
        pinned = self.pinned(release, project)
        tag = nearest(self.tags(project.name), pinned)
        if tag is None:
            raise LookupError(
                f"release {release} pins {project.name} {pinned}: the cache has no CRDs of "
                f"{'.'.join(map(str, semver(pinned)[:2]))} (tags: {self.tags(project.name)})"
            )
        return tag

    def crd(self, release: str, group: str, kind: str) -> CRD:
        project = self.project_of[group]
        rel = releases.load(release)
        if not rel.has(project.component):  # type: ignore[arg-type]
            raise LookupError(f"release {release} pins no {project.component} for {group}")
        tag = self.tag_for(release, project)
        found = [c for c in self.crds(project.name, tag) if (c.group, c.kind) == (group, kind)]
        if not found:
            raise LookupError(f"{project.name} {tag} has no CRD for {kind}.{group}")
        return found[0]

    def problems(self, obj: dict[str, Any], release: str) -> list[str]:
        """What the API server would reject or silently drop in `obj` on `release`."""
        api = str(obj.get("apiVersion", ""))
        group, _, version = api.rpartition("/")
        try:
            crd = self.crd(release, group, str(obj.get("kind")))
        except LookupError as e:
            return [str(e)]
        if not crd.versions.get(version, (False, {}))[0]:
            served = sorted(n for n, (s, _) in crd.versions.items() if s)
            return [f"apiVersion {api}: not served by {crd.source} (served: {served})"]
        found = _scope_problems(obj, crd)
        found += metadata_problems(obj, releases.load(release).kubernetes.min)
        return found + schema_problems(obj, crd.versions[version][1])


def _scope_problems(obj: dict[str, Any], crd: CRD) -> list[str]:
    namespace = obj.get("metadata", {}).get("namespace")
    if crd.scope == "Cluster" and namespace:
        return [f"metadata.namespace: {crd.kind} is cluster-scoped; the server drops it"]
    if crd.scope == "Namespaced" and not namespace:
        return ["metadata.namespace: unset on a namespaced kind (lands in a default namespace)"]
    return []


def metadata_problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Root ObjectMeta, checked by the core schema through a ConfigMap shell."""
    from tests.schema import strict_problems

    shell = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
    return strict_problems(shell, kubernetes_version) or []


def to_json_schema(node: dict[str, Any], structural: bool = True) -> dict[str, Any]:
    """A structural CRD schema node as JSON Schema (draft 4 plus the Kubernetes extensions).

    `structural` is False inside allOf/anyOf/oneOf/not, which only constrain values: there
    unknown-field pruning is the structural node's business, not the branch's.
    """
    out = {k: v for k, v in node.items() if k in _COPIED}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        if "anyOf" not in node:  # controller-gen spells it out; hand-written CRDs may not
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    properties = dict(node.get("properties", {}))
    if node.get("x-kubernetes-embedded-resource"):
        properties = {**_EMBEDDED, **properties}
    if properties:
        out["properties"] = {k: to_json_schema(v, structural) for k, v in properties.items()}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = to_json_schema(extra, structural)
    elif isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif (
        structural
        and node.get("type") == "object"
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False  # the server would prune what is not declared
    if "items" in node:
        out["items"] = to_json_schema(node["items"], structural)
    for branch in _BRANCHES:
        if branch in node:
            out[branch] = [
                *out.get(branch, []),
                *(to_json_schema(b, structural=False) for b in node[branch]),
            ]
    if "not" in node:
        out["not"] = to_json_schema(node["not"], structural=False)
    if node.get("nullable"):  # other keywords constrain only their own types, not null
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if node.get("x-kubernetes-int-or-string"):
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out


def _list_type(
    validator: Any, list_type: str, instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    """`x-kubernetes-list-type`: `set` items and `map` keys must be unique."""
    if not isinstance(instance, list) or list_type not in ("set", "map"):
        return
    keys = schema.get("x-kubernetes-list-map-keys", [])
    seen: set[str] = set()
    for item in instance:
        key = item if list_type == "set" else {k: item.get(k) for k in keys}
        encoded = json.dumps(key, sort_keys=True)
        if encoded in seen:
            yield jsonschema.ValidationError(f"duplicate {list_type} entry {encoded}")
        seen.add(encoded)


def _in_range(instance: Any, bits: str) -> bool:
    if isinstance(instance, bool) or not isinstance(instance, int | float):
        return True  # formats constrain numbers only
    return -_INT_RANGES[bits] <= instance < _INT_RANGES[bits]


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("int32")(lambda instance: _in_range(instance, "int32"))
_FORMATS.checks("int64")(lambda instance: _in_range(instance, "int64"))
# Draft 4 keywords; integers as draft 6+ count them (JSON 100.0 is the integer 100).
_Validator = jsonschema.validators.extend(
    jsonschema.Draft4Validator,
    validators={"x-kubernetes-list-type": _list_type},
    type_checker=jsonschema.Draft6Validator.TYPE_CHECKER,
)


@cache
def _compiled(serialized: str) -> Any:
    schema = to_json_schema(json.loads(serialized))
    # The server always keeps apiVersion and kind (some CRDs, e.g. Istio's, omit them) and
    # validates root metadata as ObjectMeta (metadata_problems), never pruning it.
    schema.setdefault("properties", {}).update(_EMBEDDED, metadata={"type": "object"})
    return _Validator(schema, format_checker=_FORMATS)


def _path(parts: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts) or "."


def schema_problems(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Every place where `obj` breaks the version's openAPIV3Schema."""
    validator = _compiled(json.dumps(schema, sort_keys=True))
    found = []
    for error in validator.iter_errors(obj):
        where = _path(error.absolute_path)
        if error.validator == "additionalProperties" and error.validator_value is False:
            declared = error.schema.get("properties", {})
            found += [
                f"{where.rstrip('.')}.{key}: unknown field (the API server prunes it silently)"
                for key in error.instance
                if key not in declared
            ]
        else:
            found.append(f"{where}: {_message(error)}")
    return sorted(found)


def _message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message, without repeating a whole list or object it is about."""
    instance = error.instance
    if not isinstance(instance, list | dict) or error.validator in ("required", *_OWN):
        return error.message[:300]
    rule = error.validator_value
    shown = f" {rule!r}" if isinstance(rule, str | int | float | bool) else ""
    return f"{type(instance).__name__} of {len(instance)} fails {error.validator}{shown}"
