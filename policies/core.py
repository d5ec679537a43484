"""The policy model shared by the CrossGuard pack and the offline runner.

A `Policy` is a name, a description, an enforcement level, config defaults and a pure
validator over neutral `View`s of resources. Nothing here imports `pulumi_policy`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

Level = Literal["mandatory", "advisory"]
Config = Mapping[str, Any]
MANAGED_BY = ("app.kubernetes.io/managed-by", "mlplatform")


@dataclass(frozen=True)
class View:
    """One resource as a policy sees it: a Kubernetes object (props) or any other resource.

    `ours` marks objects our code builds (not upstream chart/kustomize output);
    `secret_paths` is None where the engine hides which values are secrets.
    """

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    ours: bool = True
    secret_paths: frozenset[str] | None = None

    @property
    def kind(self) -> str:
        return str(self.props.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.props.get("apiVersion") or "")

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self.props.get("metadata") or {}

    @property
    def object_name(self) -> str:
        return str(self.metadata.get("name") or self.name)

    @property
    def namespace(self) -> str | None:
        return self.metadata.get("namespace")

    @property
    def labels(self) -> Mapping[str, str]:
        return self.metadata.get("labels") or {}

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.props.get("spec") or {}

    @property
    def ref(self) -> str:
        """`Kind/namespace/name` for Kubernetes objects, `type/name` for anything else."""
        if not self.kind:
            return f"{self.type}/{self.name}"
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.object_name}"

    def matches(self, patterns: Sequence[str]) -> bool:
        """True when `ref` matches any glob pattern (`DaemonSet/*/nvidia-device-plugin*`)."""
        return any(fnmatchcase(self.ref, p) for p in patterns)


@dataclass(frozen=True)
class Violation:
    message: str
    resource: View | None = None


ResourceCheck = Callable[[View, Config], list[str]]
StackCheck = Callable[[Sequence[View], Config], list[Violation]]


@dataclass(frozen=True)
class Policy:
    """A named rule: `check` sees one Kubernetes object, `stack_check` sees every resource."""

    name: str
    description: str
    level: Level
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    needs_secret_marks: bool = False

    def __post_init__(self) -> None:
        if (self.check is None) == (self.stack_check is None):
            raise ValueError(f"policy {self.name}: give exactly one of check, stack_check")
        if set(self.defaults) != set(self.schema):
            raise ValueError(f"policy {self.name}: every config key needs a schema and a default")

    def config(self, overrides: Config | None = None) -> dict[str, Any]:
        """Defaults overlaid with the user's policy config (enforcementLevel dropped)."""
        given = {k: v for k, v in (overrides or {}).items() if k != "enforcementLevel"}
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"policy {self.name}: unknown config {unknown}; known {sorted(self.defaults)}"
            )
        return {**self.defaults, **given}

    def run(self, views: Sequence[View], overrides: Config | None = None) -> list[Violation]:
        """Every violation across `views`."""
        cfg = self.config(overrides)
        if self.stack_check is not None:
            return self.stack_check(views, cfg)
        assert self.check is not None
        return [Violation(m, v) for v in views if v.kind for m in self.check(v, cfg)]


def list_of_strings(description: str) -> dict[str, Any]:
    """A config schema entry: a list of strings."""
    return {"type": "array", "items": {"type": "string"}, "description": description}


def by_kind(views: Sequence[View], kind: str) -> list[View]:
    return [v for v in views if v.kind == kind]
