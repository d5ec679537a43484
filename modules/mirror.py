"""Air-gap mirror: rewrite image references and upstream URLs to a private mirror."""

from __future__ import annotations

from typing import Any

import pulumi

from mlplatform.config import Mirror

_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def split_registry(image: str) -> tuple[str, str]:
    """('quay.io', 'jetstack/cert-manager:v1') for any image reference (Docker Hub normalised)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", image
    if registry in _DOCKER_HUB:
        registry = "docker.io"
        if "/" not in path:
            path = f"library/{path}"
    return registry, path


# Not an image: Istio's injector replaces `image: auto` with its template's proxy image
# (istio/istio pkg/kube/inject/inject.go AutoImage), which the gateway chart relies on.
ISTIO_AUTO_IMAGE = "auto"


def rewrite_image(image: str, registry: str) -> str:
    """The same image served from `registry`, keeping the upstream path, tag and digest."""
    if image == ISTIO_AUTO_IMAGE or image.startswith(registry.rstrip("/") + "/"):
        return image
    _, path = split_registry(image)
    return f"{registry.rstrip('/')}/{path}"


def rewrite_images(value: Any, registry: str) -> Any:
    """Copy of `value` with every string under an `image` key rewritten (any depth)."""
    if isinstance(value, dict):
        return {
            k: rewrite_image(v, registry)
            if k == "image" and isinstance(v, str) and v
            else rewrite_images(v, registry)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [rewrite_images(v, registry) for v in value]
    return value


def rewrite_url(url: str, mirror: Mirror) -> str:
    """An upstream https:// manifest URL served from the mirror's file base (host kept as path)."""
    if not mirror.files:
        return url
    bare = url.split("://", 1)[-1]
    return f"{mirror.files.rstrip('/')}/{bare}"


def image_transform(registry: str) -> pulumi.ResourceTransform:
    """A stack transform rewriting images in every Kubernetes object, chart children included."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.type_.startswith("kubernetes:"):
            return None
        return pulumi.ResourceTransformResult(
            props=rewrite_images(args.props, registry), opts=args.opts
        )

    return transform
