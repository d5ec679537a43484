"""The component pattern: a deploy Context passed down, and the PlatformComponent base.

Every platform piece is a `PlatformComponent` (token `mlplatform:<module>:<Type>`). It
installs upstream software through `Context.chart`, `Context.kustomize` or
`Context.manifests` (sources and versions from the release catalogue, redirected to the
mirror when one is set) and our own objects through `Context.objects`. All of them use
the one explicit Kubernetes provider held by the Context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from modules import manifests, overlays
from modules.config import PlatformConfig
from modules.mirror import rewrite_url
from modules.releases import Component, ComponentName, Release


@dataclass(frozen=True)
class Context:
    config: PlatformConfig
    provider: k8s.Provider

    @property
    def release(self) -> Release:
        return self.config.catalogue

    def component(self, name: ComponentName) -> Component:
        return self.release.component(name)


class PlatformComponent(pulumi.ComponentResource):
    """Base of every platform piece: children parented, one provider, outputs registered."""

    def __init__(
        self,
        token: str,
        name: str,
        ctx: Context,
        depends_on: Sequence[pulumi.Resource | None] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"mlplatform:{token}", name, None, opts)
        self.ctx = ctx
        self._depends_on = [d for d in depends_on if d is not None]

    def _opts(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self,
            provider=self.ctx.provider,
            depends_on=[*self._depends_on, *depends_on],
        )

    def objects(
        self, name: str, objs: list[manifests.Obj], depends_on: Sequence[pulumi.Resource] = ()
    ) -> k8s.yaml.v2.ConfigGroup:
        """Our own Kubernetes objects, applied as one group (namespaces and CRDs first)."""
        return k8s.yaml.v2.ConfigGroup(name, objs=objs, opts=self._opts(depends_on))

    def chart(
        self,
        name: str,
        component: ComponentName,
        namespace: str,
        values: dict[str, Any],
        chart: str | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        skip_crds: bool = False,
    ) -> k8s.helm.v4.Chart:
        """An upstream Helm chart at the catalogue's version (`chart` picks a sibling chart)."""
        entry = self.ctx.component(component)
        helm = entry.source.helm
        if helm is None:
            raise ValueError(f"catalogue: {component} is not a Helm chart")
        repo, chart_name = helm.repo, chart or helm.chart
        mirror = self.ctx.config.mirror
        if mirror and mirror.charts:
            repo = mirror.charts
        if repo.startswith("oci://"):
            ref, repo_opts = f"{repo.rstrip('/')}/{chart_name}", None
        else:
            ref, repo_opts = chart_name, k8s.helm.v4.RepositoryOptsArgs(repo=repo)
        return k8s.helm.v4.Chart(
            name,
            name=name,
            chart=ref,
            version=entry.version.lstrip("v") if helm.is_oci else entry.version,
            repository_opts=repo_opts,
            namespace=namespace,
            values=values,
            skip_crds=skip_crds,
            opts=self._opts(depends_on),
        )

    def kustomize(
        self,
        name: str,
        component: ComponentName,
        depends_on: Sequence[pulumi.Resource] = (),
        namespace: str | None = None,
    ) -> k8s.kustomize.v2.Directory:
        """An upstream kustomize application at the catalogue's git ref (`namespace`: default
        for objects the application leaves unnamespaced)."""
        return k8s.kustomize.v2.Directory(
            name,
            directory=self._kustomize_url(component),
            namespace=namespace,
            opts=self._opts(depends_on),
        )

    def kustomize_overlay(
        self,
        name: str,
        component: ComponentName,
        settings: dict[str, Any],
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> k8s.kustomize.v2.Directory:
        """An upstream kustomize app composed with `overlays/upstream/<name>` and `settings`
        (kustomization fields from config), built from a generated local kustomization."""
        path = overlays.compose(pulumi.get_stack(), name, self._kustomize_url(component), settings)
        return k8s.kustomize.v2.Directory(name, directory=str(path), opts=self._opts(depends_on))

    def _kustomize_url(self, component: ComponentName) -> str:
        source = self.ctx.component(component).source.kustomize
        if source is None:
            raise ValueError(f"catalogue: {component} is not a kustomize application")
        url = f"{source.url}?ref={source.ref}"
        mirror = self.ctx.config.mirror
        if mirror and mirror.files:
            url = rewrite_url(f"https://{url}", mirror)
        return url

    def manifests(
        self, name: str, component: ComponentName, depends_on: Sequence[pulumi.Resource] = ()
    ) -> k8s.yaml.v2.ConfigGroup:
        """Upstream release manifests (URLs) at the catalogue's version."""
        source = self.ctx.component(component).source.manifest
        if source is None:
            raise ValueError(f"catalogue: {component} is not a manifest release")
        mirror = self.ctx.config.mirror
        files = [rewrite_url(u, mirror) if mirror else u for u in source.urls]
        return k8s.yaml.v2.ConfigGroup(name, files=files, opts=self._opts(depends_on))
