"""Every object a stack would apply, without a cluster: our objects, kustomize builds, charts.

A mock run of the program (mlplatform.mockrun) records each component's upstream installs as
single resources (a v4 Chart with its values, a kustomize Directory with its directory) and
our own objects as ConfigGroups. Here those become objects: kustomize builds with the
kustomize CLI (kubectl's), charts with `helm template` from the upstream cache when it holds
the chart's templates. Used by `mlplatform render`, the policy check and the upstream rung.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mlplatform.graph import CHART, CONFIG_GROUP, KUSTOMIZE, Graph, Resource
from mlplatform.stackconfig import ROOT
from mlplatform.upstream import Cache, UpstreamLoader

Obj = dict[str, Any]
TOOLS = ROOT / ".tools" / "bin"


class RenderError(RuntimeError):
    """A build or template failed; the message names the source and the tool's error."""


def tool(name: str) -> str:
    """A CLI from the project's `.tools/bin` (make tools) or PATH."""
    local = TOOLS / name
    found = str(local) if local.is_file() else shutil.which(name)
    if not found:
        raise RenderError(f"{name} not found: run `make tools` (or install {name})")
    return found


@dataclass(frozen=True)
class ChartInstall:
    """One v4 Chart as the program registers it."""

    name: str  # release name
    chart: str  # reference: local path, oci://…/chart, or a repo chart name
    version: str
    namespace: str
    values: dict[str, Any]
    component: str  # the platform component that owns it
    resource: Resource = field(compare=False, repr=False)

    @property
    def chart_name(self) -> str:
        return self.chart.rstrip("/").split("/")[-2 if _is_version_dir(self.chart) else -1]


def _is_version_dir(ref: str) -> bool:
    return ref.startswith("/") and (Path(ref) / "Chart.yaml").is_file()


@dataclass(frozen=True)
class KustomizeBuild:
    name: str
    directory: str
    namespace: str | None
    component: str
    resource: Resource = field(compare=False, repr=False)


@dataclass
class Rendered:
    """Objects by component (`upstream`: the chart and kustomize children among them), and
    what could not be rendered (with the reason)."""

    objects: dict[str, list[Obj]] = field(default_factory=dict)
    upstream: dict[str, list[Obj]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def add(self, component: str, objs: list[Obj], upstream: bool = False) -> None:
        self.objects.setdefault(component, []).extend(objs)
        if upstream:
            self.upstream.setdefault(component, []).extend(objs)

    def all(self) -> list[Obj]:
        return [o for objs in self.objects.values() for o in objs]


def owner_component(graph: Graph, resource: Resource) -> str:
    """The platform component (`mlplatform:<module>:<Type>` name) a resource belongs to."""
    node: Resource | None = resource
    while node is not None:
        if node.type.startswith("mlplatform:"):
            return node.name
        node = _parent(graph, node)
    return "stack"


def _parent(graph: Graph, node: Resource) -> Resource | None:
    if not node.parent:
        return None
    try:
        return graph.by_urn(node.parent)
    except StopIteration:
        return None


def charts(graph: Graph) -> list[ChartInstall]:
    return [
        ChartInstall(
            name=r.inputs.get("name") or r.name,
            chart=r.inputs["chart"],
            version=str(r.inputs.get("version", "")),
            namespace=r.inputs.get("namespace") or "default",
            values=r.inputs.get("values") or {},
            component=owner_component(graph, r),
            resource=r,
        )
        for r in graph.of_type(CHART)
    ]


def kustomizations(graph: Graph) -> list[KustomizeBuild]:
    return [
        KustomizeBuild(
            r.name, r.inputs["directory"], r.inputs.get("namespace"), owner_component(graph, r), r
        )
        for r in graph.of_type(KUSTOMIZE)
    ]


@cache
def kustomize(directory: str) -> tuple[Obj, ...]:
    """`kubectl kustomize DIR` (cached per process: the same directory builds the same)."""
    out = subprocess.run(
        [tool("kubectl"), "kustomize", directory], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RenderError(f"kustomize build {directory}: {out.stderr.strip()}")
    return tuple(d for d in yaml.load_all(out.stdout, Loader=UpstreamLoader) if d)


def helm_template(install: ChartInstall, kube_version: str | None = None) -> list[Obj]:
    """`helm template` of a local chart with the program's values (hooks included, marked)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as values:
        json.dump(install.values, values)
    cmd = [
        tool("helm"),
        "template",
        install.name,
        install.chart,
        "--namespace",
        install.namespace,
        "--values",
        values.name,
        "--include-crds",
    ]
    if kube_version:
        cmd += ["--kube-version", kube_version]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    finally:
        Path(values.name).unlink(missing_ok=True)
    if out.returncode != 0:
        raise RenderError(f"helm template {install.name} ({install.chart}): {out.stderr.strip()}")
    return [d for d in yaml.load_all(out.stdout, Loader=UpstreamLoader) if d]


def is_hook(obj: Obj) -> bool:
    """Objects Pulumi's helm.v4.Chart never applies (Helm hooks)."""
    return "helm.sh/hook" in ((obj.get("metadata") or {}).get("annotations") or {})


def type_token(obj: Mapping[str, Any]) -> str:
    """`kubernetes:apps/v1:Deployment` for an object, as the Pulumi provider names it."""
    api = str(obj.get("apiVersion") or "")
    return f"kubernetes:{api if '/' in api else f'core/{api}'}:{obj.get('kind')}"


def transformed(graph: Graph, obj: Obj, owner: Resource | None = None) -> Obj:
    """The object after the transforms the engine runs on it: those of `owner` (a component)
    and its ancestors, then the stack's (e.g. the mirror's image rewrite)."""
    transforms = [*_reaching(graph, owner), *graph.transforms]
    if not transforms:
        return obj
    import pulumi

    for transform in transforms:
        args = pulumi.ResourceTransformArgs(
            custom=True,
            type_=type_token(obj),
            name=str((obj.get("metadata") or {}).get("name", "")),
            props=dict(obj),
            opts=pulumi.ResourceOptions(),
        )
        result = transform(args)
        obj = dict(result.props) if result is not None else obj
    return obj


def _reaching(graph: Graph, node: Resource | None) -> list[Any]:
    found: list[Any] = []
    while node is not None:
        found += node.transforms
        node = _parent(graph, node)
    return found


def applied(graph: Graph, rendered: Rendered) -> Rendered:
    """A hand-assembled `rendered` as the engine applies it: every object through the
    transforms reaching its component (`render` does this itself, per owning resource)."""
    components = {r.name: r for r in graph.resources if r.type.startswith("mlplatform:")}
    out = Rendered(missing=list(rendered.missing))
    for component in {**rendered.objects, **rendered.upstream}:
        upstream = {id(o) for o in rendered.upstream.get(component, [])}
        listed = rendered.objects.get(component, [])
        extra = [o for o in rendered.upstream.get(component, []) if all(o is not x for x in listed)]
        for obj in [*listed, *extra]:
            done = transformed(graph, obj, components.get(component))
            out.add(component, [done], upstream=id(obj) in upstream)
    return out


def render(graph: Graph, cache: Cache | None, kube_version: str | None = None) -> Rendered:
    """Every object the stack applies, by component, after the transforms the engine runs on
    it (its resource's and their ancestors', then the stack's); hooks are dropped (Pulumi
    never applies them). The kustomize and helm processes run concurrently."""
    out = Rendered()
    by_group: dict[str, list[Obj]] = {}
    for o in graph.objects():
        by_group.setdefault(o.owner.urn, []).append(o.obj)
    for group in graph.of_type(CONFIG_GROUP):
        objs = [transformed(graph, obj, group) for obj in by_group.get(group.urn, [])]
        out.add(owner_component(graph, group), objs)
    builds = kustomizations(graph)
    installs = []
    for install in charts(graph):
        local = Path(install.chart)
        if local.is_absolute() and (local / "templates").is_dir():
            installs.append(install)
            continue
        where = cache.root if cache else "no upstream cache configured"
        out.missing.append(
            f"{install.component}/{install.name}: chart templates not in the cache ({where}); "
            "`mlplatform upstream pull` fetches them"
        )
    with ThreadPoolExecutor(max_workers=4) as pool:
        built = pool.map(lambda b: copy.deepcopy(kustomize(b.directory)), builds)
        templated = pool.map(lambda i: helm_template(i, kube_version), installs)
        for build, objs in zip(builds, built, strict=True):
            done = [
                transformed(graph, _with_namespace(o, build.namespace), build.resource)
                for o in objs
            ]
            out.add(build.component, done, upstream=True)
        for install, objs in zip(installs, templated, strict=True):
            done = [
                transformed(graph, _with_namespace(o, install.namespace), install.resource)
                for o in objs
                if not is_hook(o)
            ]
            out.add(install.component, done, upstream=True)
    return out


def _with_namespace(obj: Obj, namespace: str | None) -> Obj:
    """Pulumi puts a namespace on namespaced objects that have none; mirror that."""
    if namespace and obj.get("kind") not in CLUSTER_SCOPED:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", namespace)
    return obj


CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "APIService",
    "ClusterIssuer",
    "ClusterQueue",
    "ResourceFlavor",
    "Cohort",
    "WorkloadPriorityClass",
    "ClusterServingRuntime",
    "ClusterStorageContainer",
    "ClusterTrainingRuntime",
    "Profile",
    "RuntimeClass",
    "IngressClass",
    "CSIDriver",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
}
