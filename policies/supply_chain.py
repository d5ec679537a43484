"""Supply chain: images come from allowed registries and are pinned by tag or digest."""

from __future__ import annotations

from dataclasses import dataclass

from mlplatform.mirror import split_registry
from mlplatform.policies.core import Config, Policy, View, list_of_strings
from mlplatform.policies.pods import pulled_images

# Where the platform's upstream software is published; with a mirror, only the mirror.
UPSTREAM_REGISTRIES = [
    "docker.io",
    "quay.io",
    "ghcr.io",
    "gcr.io",
    "registry.k8s.io",
    "nvcr.io",
]


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, image: str) -> ImageRef:
        registry, path = split_registry(image)
        path, _, digest = path.partition("@")
        repo, sep, tag = path.rpartition(":")
        if not sep or "/" in tag:
            repo, tag = path, ""
        return cls(registry, repo, tag or None, digest or None)


def registry_allowed(registry: str, allowed: list[str]) -> bool:
    """`registry` (host[/path]) equals or sits under one of the allowed prefixes."""
    return any(
        registry == a.rstrip("/") or registry.startswith(a.rstrip("/") + "/") for a in allowed
    )


def _registries(view: View, cfg: Config) -> list[str]:
    found = []
    for image in pulled_images(view):
        ref = ImageRef.parse(image)
        if not registry_allowed(f"{ref.registry}/{ref.repository}", cfg["registries"]):
            found.append(
                f"image {image} is not from an allowed registry ({', '.join(cfg['registries'])})"
            )
    return found


def _pinned(view: View, cfg: Config) -> list[str]:
    found = []
    for image in pulled_images(view):
        ref = ImageRef.parse(image)
        if cfg["requireDigest"] and not ref.digest:
            found.append(f"image {image} is not pinned by digest")
        elif not ref.tag and not ref.digest:
            found.append(f"image {image} has neither a tag nor a digest")
    return found


POLICIES = [
    Policy(
        "allowed-registries",
        "Images come only from allowed registries (the mirror when one is set).",
        "mandatory",
        check=_registries,
        defaults={"registries": UPSTREAM_REGISTRIES},
        schema={"registries": list_of_strings("registry hosts or host/path prefixes")},
    ),
    Policy(
        "images-pinned",
        "Images are pinned by tag or digest.",
        "mandatory",
        check=_pinned,
        defaults={"requireDigest": False},
        schema={"requireDigest": {"type": "boolean", "description": "demand @sha256 digests"}},
    ),
]
