"""The release catalogue as plain data: what `mlplatform release list/show` prints."""

from __future__ import annotations

from typing import Any

from mlplatform import releases


def summaries() -> list[dict[str, Any]]:
    """Every release, oldest first: its Kubeflow version and supported Kubernetes range."""
    out = []
    for name in releases.available():
        r = releases.load(name)
        out.append(
            {
                "release": r.release,
                "kubeflow": r.kubeflow,
                "kubernetes": {"min": r.kubernetes.min, "max": r.kubernetes.max},
                "components": len(r.components),
            }
        )
    return out


def source_text(source: releases.Source) -> str:
    """One line naming where a component comes from."""
    if source.helm is not None:
        text = f"helm {source.helm.repo} {source.helm.chart}"
        if source.helm.is_oci:
            text = f"oci {source.helm.repo}/{source.helm.chart}"
        if source.helm.crds_chart:
            text += f" (CRDs: {source.helm.crds_chart})"
        return text
    if source.kustomize is not None:
        return f"kustomize {source.kustomize.url}@{source.kustomize.ref}"
    assert source.manifest is not None
    return "manifest " + " ".join(source.manifest.urls)


def detail(name: str) -> dict[str, Any]:
    """One release with every component: version, source, served APIs, deprecation and notes."""
    r = releases.load(name)
    components = {}
    for cname, c in sorted(r.components.items()):
        components[cname] = {
            "version": c.version,
            "source": c.source.model_dump(exclude_none=True),
            "sourceText": source_text(c.source),
            "apis": dict(c.apis),
            "deprecated": c.deprecated,
            "notes": " ".join(c.notes.split()) if c.notes else None,
        }
    return {
        "release": r.release,
        "kubeflow": r.kubeflow,
        "kubernetes": {"min": r.kubernetes.min, "max": r.kubernetes.max},
        "components": components,
    }
