"""Compose an upstream kustomize app with our overlay: a generated kustomization per app.

The static, reviewable part lives in `overlays/upstream/<app>/` (a kustomize Component:
what we remove from or patch into upstream). Settings that come from stack config (replica
counts, endpoints) are written beside the remote base into a generated kustomization under
the gitignored `.work/kustomize/<stack>/<app>/<digest>/`. Neither ever holds a secret: secrets are
our own Kubernetes objects, created as Pulumi secrets.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlplatform.stackconfig import ROOT

if TYPE_CHECKING:
    from mlplatform.config.base import Resources

UPSTREAM_OVERLAYS = ROOT / "overlays" / "upstream"
WORK_DIR = ROOT / ".work" / "kustomize"


def compose(stack: str, app: str, remote: str, settings: dict[str, Any]) -> Path:
    """Write `<work>/<stack>/<app>/kustomization.yaml` (remote base + our Component + settings)."""
    component = UPSTREAM_OVERLAYS / app
    if not (component / "kustomization.yaml").is_file():
        raise FileNotFoundError(f"no overlay {component.relative_to(ROOT)}/kustomization.yaml")
    # kustomize only accepts relative paths; the directory is <app>/<digest>/ (below).
    here = WORK_DIR / stack / app / "digest"
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # A remote URL, or a local directory of the upstream cache.
        "resources": [os.path.relpath(remote, here) if os.path.isabs(remote) else remote],
        "components": [os.path.relpath(component, here)],
        **settings,
    }
    text = yaml.dump(kustomization, Dumper=_Dumper, sort_keys=False)
    # Keyed by content: the same config always yields the same directory (no spurious diff).
    path = WORK_DIR / stack / app / hashlib.sha256(text.encode()).hexdigest()[:12]
    path.mkdir(parents=True, exist_ok=True)
    # Atomic: concurrent runs of the same config never see a half-written file.
    tmp = path / f".kustomization.{os.getpid()}"
    tmp.write_text(text)
    os.replace(tmp, path / "kustomization.yaml")
    return path


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (inline patches) as readable `|` blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def container_patch(deployment: str, container: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A kustomize patch merging `fields` into one container of one Deployment.

    Strategic merge: containers merge by name, so a name upstream does not have would add a
    container; the upstream rung (every container has an image) catches that.
    """
    return {
        "target": {"kind": "Deployment", "name": f"^{deployment}$"},
        "patch": yaml.safe_dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": deployment},
                "spec": {"template": {"spec": {"containers": [{"name": container, **fields}]}}},
            }
        ),
    }


def bind_virtual_services(gateway: str) -> dict[str, Any]:
    """A kustomize patch binding every VirtualService of an app to `gateway` (`<ns>/<name>`):
    Kubeflow's name its own `kubeflow/kubeflow-gateway`."""
    return {
        "target": {"group": "networking.istio.io", "kind": "VirtualService"},
        "patch": yaml.safe_dump([{"op": "add", "path": "/spec/gateways", "value": [gateway]}]),
    }


def resource_patches(containers: dict[str, tuple[str, Resources]]) -> list[dict[str, Any]]:
    """Requests and limits on each container: Deployment -> (container, resources)."""
    return [
        container_patch(deployment, container, {"resources": resources.as_k8s()})
        for deployment, (container, resources) in containers.items()
    ]
