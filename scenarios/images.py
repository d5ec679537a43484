"""The images scenario pods run, defined here and nowhere else.

`scenario` is ours: built from `scenarios/Dockerfile` (the `scenarios` package with its
payloads, probes and the `workloads` extra), tagged with the project version:

    docker build -f scenarios/Dockerfile -t "$(python -m mlplatform.scenarios.images)" .
    kind load docker-image "$(python -m mlplatform.scenarios.images)" --name mlplatform-dev

Upstream images come from the release catalogue (MinIO's `mc` client). A mirror registry
rewrites both, as it does for the platform itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlplatform.mirror import rewrite_image
from mlplatform.releases import Release

REPOSITORY = "ghcr.io/mlplatform/scenarios"
_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@cache
def project_version() -> str:
    return str(tomllib.loads(_PYPROJECT.read_text())["project"]["version"])


def scenario_image() -> str:
    return f"{REPOSITORY}:{project_version()}"


@dataclass(frozen=True)
class Images:
    scenario: str
    mc: str

    @classmethod
    def for_release(
        cls, release: Release, scenario: str | None = None, registry: str | None = None
    ) -> Images:
        """`scenario` overrides our image (e.g. a locally built tag); `registry` mirrors all."""
        images = cls(scenario or scenario_image(), release.component("minio").images["mc"])
        if registry:
            images = cls(
                rewrite_image(images.scenario, registry), rewrite_image(images.mc, registry)
            )
        return images


if __name__ == "__main__":
    print(scenario_image())
