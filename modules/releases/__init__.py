"""The release catalogue: which version of every component each platform release pins.

One YAML file per release lives beside this module. Code reads versions, sources and
served API versions from here and nowhere else.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

_DIR = Path(__file__).parent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HelmSource(_Strict):
    repo: str = Field(description="https:// Helm repository or oci:// registry prefix")
    chart: str
    crds_chart: str | None = Field(None, description="separate CRD chart, installed first")

    @property
    def is_oci(self) -> bool:
        return self.repo.startswith("oci://")


class KustomizeSource(_Strict):
    url: str = Field(description="remote kustomize base, without ?ref=")
    ref: str


class ManifestSource(_Strict):
    urls: list[str] = Field(min_length=1)


class Source(_Strict):
    helm: HelmSource | None = None
    kustomize: KustomizeSource | None = None
    manifest: ManifestSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if sum(s is not None for s in (self.helm, self.kustomize, self.manifest)) != 1:
            raise ValueError("a source is exactly one of helm, kustomize or manifest")
        return self


class Component(_Strict):
    version: str
    source: Source
    apis: dict[str, str] = Field(default_factory=dict, description="API group alias -> apiVersion")
    images: dict[str, str] = Field(default_factory=dict, description="extra images we run")
    deployment_modes: dict[Literal["standard", "knative"], str] | None = None
    num_proc_per_node_in: Literal["runtime", "trainjob"] | None = None
    integrations: list[str] = Field(
        default_factory=list, description="Kueue: job frameworks (group/kind) this version manages"
    )
    storage_migration: str | None = Field(
        None,
        description="what rewrites stored objects after an upgrade to this version changes apis",
    )
    deprecated: str | None = None
    notes: str | None = None

    def api(self, alias: str) -> str:
        try:
            return self.apis[alias]
        except KeyError:
            raise KeyError(f"catalogue has no API {alias!r}; known: {sorted(self.apis)}") from None


class KubernetesRange(_Strict):
    min: str
    max: str

    def contains(self, version: str) -> bool:
        return _minor(self.min) <= _minor(version) <= _minor(self.max)


ComponentName = Literal[
    "cert_manager",
    "istio",
    "istio_cni",
    "gateway_api",
    "minio",
    "monitoring",
    "metrics_server",
    "dex",
    "oauth2_proxy",
    "kfp",
    "centraldashboard",
    "kfam",
    "jupyter_web_app",
    "notebook_controller",
    "admission_webhook",
    "training_operator",
    "trainer",
    "trainer_runtimes",
    "kueue",
    "kserve",
    "knative_serving",
    "nvidia_device_plugin",
    "pushgateway",
    "loki",
    "alloy",
    "dcgm_exporter",
    "katib",
    "model_registry",
]


class Release(_Strict):
    release: str
    kubeflow: str
    kubernetes: KubernetesRange
    components: dict[ComponentName, Component]

    def has(self, name: ComponentName) -> bool:
        return name in self.components

    def component(self, name: ComponentName) -> Component:
        try:
            return self.components[name]
        except KeyError:
            raise KeyError(f"release {self.release} does not ship {name}") from None


class Pin(_Strict):
    component: ComponentName
    versions: str = Field(description="PEP 440 specifiers, e.g. '>=0.14.5,<0.17.0'")

    def matches(self, version: str) -> bool:
        return SpecifierSet(self.versions).contains(Version(version.lstrip("v")), True)


class Constraint(_Strict):
    """A cross-component fact: when `when` holds, `requires` and `kubernetes` must too."""

    name: str
    when: Pin
    requires: Pin | None = None
    kubernetes: KubernetesRange | None = None
    trainjob_field: str | None = Field(
        None, description="Kueue: the TrainJob spec field this Kueue writes on admission"
    )
    source: str = Field(min_length=1, description="where the fact was read")

    def violations(self, release: Release) -> list[str]:
        """How `release`'s own pins break this constraint (empty: they don't)."""
        pinned = release.components.get(self.when.component)
        if pinned is None or not self.when.matches(pinned.version):
            return []
        out = []
        subject = f"{self.when.component} {pinned.version}"
        other = self.requires and release.components.get(self.requires.component)
        if self.requires and other and not self.requires.matches(other.version):
            out.append(
                f"{subject} needs {self.requires.component} {self.requires.versions}, "
                f"pinned {other.version}"
            )
        k8s, own = self.kubernetes, release.kubernetes
        if k8s and not (k8s.contains(own.min) and k8s.contains(own.max)):
            out.append(
                f"{subject} supports Kubernetes {k8s.min}-{k8s.max}; the release allows "
                f"{own.min}-{own.max}"
            )
        return [f"{v} ({self.name}: {self.source})" for v in out]

    def kubernetes_problem(self, release: Release, version: str) -> str | None:
        """Why a cluster at Kubernetes `version` is unsupported by this release's pin."""
        pinned = release.components.get(self.when.component)
        if not self.kubernetes or pinned is None or not self.when.matches(pinned.version):
            return None
        if self.kubernetes.contains(version):
            return None
        k8s = self.kubernetes
        return (
            f"{self.when.component} {pinned.version} supports Kubernetes {k8s.min}-{k8s.max}, "
            f"not {version} ({self.source})"
        )


class _Constraints(_Strict):
    constraints: list[Constraint]


CONSTRAINTS_FILE = _DIR / "constraints.yaml"


@cache
def constraints() -> tuple[Constraint, ...]:
    """The catalogue's cross-component constraints (constraints.yaml)."""
    try:
        doc = _Constraints.model_validate(yaml.safe_load(CONSTRAINTS_FILE.read_text()))
    except ValidationError as err:
        raise ValueError(f"{CONSTRAINTS_FILE.name} is invalid:\n{err}") from err
    return tuple(doc.constraints)


def violations(release: Release) -> list[str]:
    """Every constraint `release`'s pins break."""
    return [v for c in constraints() for v in c.violations(release)]


def kubernetes_problems(release: Release, version: str) -> list[str]:
    """Why `release`'s components do not support a cluster at Kubernetes `version`."""
    return [p for c in constraints() if (p := c.kubernetes_problem(release, version))]


def trainjob_field(kueue_version: str) -> str:
    """The TrainJob spec field Kueue `kueue_version` writes (from the constraints)."""
    for c in constraints():
        if c.trainjob_field and c.when.component == "kueue" and c.when.matches(kueue_version):
            return c.trainjob_field
    raise KeyError(f"the catalogue states no TrainJob field for Kueue {kueue_version}")


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def available() -> list[str]:
    """Release names, oldest first."""
    names = (p.stem for p in _DIR.glob("*.yaml") if p != CONSTRAINTS_FILE)
    return sorted(names, key=lambda r: _minor(r))


@cache
def load(name: str) -> Release:
    path = _DIR / f"{name}.yaml"
    if not path.is_file() or path == CONSTRAINTS_FILE:
        raise KeyError(f"unknown platform release {name!r}; the catalogue has {available()}")
    return load_file(path, name)


def load_file(path: Path, name: str) -> Release:
    """A release file, validated: its schema, its name, and the catalogue's constraints."""
    try:
        release = Release.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as err:
        raise ValueError(f"release catalogue file {path.name} is invalid:\n{err}") from err
    if release.release != name:
        raise ValueError(f"{path.name} declares release {release.release!r}; rename one of them")
    broken = violations(release)
    if broken:
        raise ValueError(
            f"release {name} ({path.name}) breaks the catalogue's constraints:\n  "
            + "\n  ".join(broken)
        )
    return release
