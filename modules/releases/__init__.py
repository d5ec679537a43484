"""The release catalogue: which version of every component each platform release pins.

One YAML file per release lives beside this module. Code reads versions, sources and
served API versions from here and nowhere else.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
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
    "minio",
    "monitoring",
    "dex",
    "oauth2_proxy",
    "kfp",
    "training_operator",
    "trainer",
    "trainer_runtimes",
    "kueue",
    "kserve",
    "knative_serving",
    "nvidia_device_plugin",
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


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def available() -> list[str]:
    """Release names, oldest first."""
    return sorted((p.stem for p in _DIR.glob("*.yaml")), key=lambda r: _minor(r))


@cache
def load(name: str) -> Release:
    path = _DIR / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(f"unknown platform release {name!r}; the catalogue has {available()}")
    try:
        release = Release.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as err:
        raise ValueError(f"release catalogue file {path.name} is invalid:\n{err}") from err
    if release.release != name:
        raise ValueError(f"{path.name} declares release {release.release!r}; rename one of them")
    return release
