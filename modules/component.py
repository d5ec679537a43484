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
import pulumi_random as random

from mlplatform import manifests, overlays
from mlplatform.config import PlatformConfig
from mlplatform.mirror import rewrite_url
from mlplatform.releases import Component, ComponentName, Release
from mlplatform.upstream import Cache, open_cache


@dataclass(frozen=True)
class Context:
    config: PlatformConfig
    provider: k8s.Provider

    @property
    def release(self) -> Release:
        return self.config.catalogue

    def component(self, name: ComponentName) -> Component:
        return self.release.component(name)

    @property
    def cache(self) -> Cache | None:
        """The upstream cache sources resolve to (None: the network or the mirror)."""
        return open_cache(self.config.upstream_cache)


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

    def password(self, name: str, length: int = 32) -> pulumi.Output[str]:
        """A generated alphanumeric secret (RandomPassword `name`, a child of this component),
        as a Pulumi secret."""
        generated = random.RandomPassword(
            name, length=length, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        return pulumi.Output.secret(generated.result)

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
        mirror, cache = self.ctx.config.mirror, self.ctx.cache
        if mirror and mirror.charts:
            repo = mirror.charts
        repo_opts = None
        if cache:  # a local chart directory: helm ignores `version` (the path pins it)
            ref = str(cache.chart(chart_name, entry.version))
        elif repo.startswith("oci://"):
            ref = f"{repo.rstrip('/')}/{chart_name}"
        else:
            ref, repo_opts = chart_name, k8s.helm.v4.RepositoryOptsArgs(repo=repo)
        return k8s.helm.v4.Chart(
            name,
            name=name,
            chart=ref,
            # The chart's own version string, also for OCI tags (KServe's carry a `v`).
            version=entry.version,
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
        overlay: str | None = None,
    ) -> k8s.kustomize.v2.Directory:
        """An upstream kustomize app composed with `overlays/upstream/<overlay or name>` and
        `settings` (kustomization fields from config), built from a generated kustomization."""
        url = self._kustomize_url(component)
        path = overlays.compose(pulumi.get_stack(), overlay or name, url, settings)
        return k8s.kustomize.v2.Directory(name, directory=str(path), opts=self._opts(depends_on))

    def _kustomize_url(self, component: ComponentName) -> str:
        """The app's base: a local directory from the cache, else its (mirrored) remote URL."""
        source = self.ctx.component(component).source.kustomize
        if source is None:
            raise ValueError(f"catalogue: {component} is not a kustomize application")
        url = f"{source.url}?ref={source.ref}"
        cache, mirror = self.ctx.cache, self.ctx.config.mirror
        if cache:
            return str(cache.base(url))
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
        mirror, cache = self.ctx.config.mirror, self.ctx.cache
        if cache:
            files = [str(cache.manifest(u)) for u in source.urls]
        else:
            files = [rewrite_url(u, mirror) if mirror else u for u in source.urls]
        return k8s.yaml.v2.ConfigGroup(name, files=files, opts=self._opts(depends_on))
