"""Upgrade planning between two platform releases, offline.

An upgrade plan answers, before anyone touches a cluster: is the stack config still valid
on the target release, is the cluster's Kubernetes inside its range, which component
versions, served APIs and behaviours change (from the catalogue), and which resources the
program would add, remove or change (from the two recorded graphs under mocks).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlplatform import releases, upstream
from mlplatform import render as rendering
from mlplatform.config import ConfigError
from mlplatform.graph import CONFIG_GROUP, KUSTOMIZE, Graph, Resource
from mlplatform.mockrun import retarget, run, stack_inputs


@dataclass(frozen=True)
class Change:
    component: str
    what: str  # added | removed | version | api | deployment-modes | training-layout | source
    before: str
    after: str
    note: str = ""

    def __str__(self) -> str:
        text = f"{self.component}: {self.what} {self.before} -> {self.after}"
        return f"{text} ({self.note})" if self.note else text


@dataclass
class ResourceDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # urn -> what changed


@dataclass
class UpgradePlan:
    env: str
    from_release: str
    to_release: str
    blockers: list[str]
    changes: list[Change]
    resources: ResourceDiff | None
    next_steps: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.blockers


_API_NOTES = {
    "kueue": "objects we emit switch field names (cohort -> cohortName); run Kueue's storage "
    "migration after the upgrade so old objects are rewritten",
}


def catalogue_changes(old: releases.Release, new: releases.Release) -> list[Change]:
    """What changes between two releases' pins, with the known upgrade hazards called out."""
    changes: list[Change] = []
    for name in sorted(set(old.components) | set(new.components)):
        before = old.components.get(name)  # type: ignore[call-overload]
        after = new.components.get(name)  # type: ignore[call-overload]
        if before is None or after is None:
            what = "added" if before is None else "removed"
            version = (after or before).version  # type: ignore[union-attr]
            changes.append(
                Change(
                    name,
                    what,
                    "-" if before is None else version,
                    version if before is None else "-",
                )
            )
            continue
        if before.version != after.version:
            changes.append(Change(name, "version", before.version, after.version))
        for alias in sorted(set(before.apis) | set(after.apis)):
            a, b = before.apis.get(alias, "-"), after.apis.get(alias, "-")
            if a != b:
                changes.append(Change(name, "api", a, b, _API_NOTES.get(name, "")))
        if before.deployment_modes != after.deployment_modes:
            changes.append(
                Change(
                    name,
                    "deployment-modes",
                    _modes(before.deployment_modes),
                    _modes(after.deployment_modes),
                    "InferenceServices annotated with the old names must be re-annotated",
                )
            )
        if before.num_proc_per_node_in != after.num_proc_per_node_in:
            changes.append(
                Change(
                    name,
                    "training-layout",
                    f"numProcPerNode in {before.num_proc_per_node_in}",
                    f"numProcPerNode in {after.num_proc_per_node_in}",
                    "TrainJobs and runtimes written for the old layout must move the field",
                )
            )
        if _unversioned(before) != _unversioned(after):
            changes.append(
                Change(name, "source", _source(before), _source(after), after.notes or "")
            )
    return changes


def _modes(modes: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((modes or {}).items())) or "-"


def _unversioned(component: releases.Component) -> str:
    """The source with its version spelled out as {v}, so a pure version bump is no move."""
    text = component.source.model_dump_json()
    for v in sorted({component.version, component.version.lstrip("v")}, key=len, reverse=True):
        text = text.replace(v, "{v}")
    return re.sub(r"ref=v?[0-9][0-9.]*|\bv?[0-9]+\.[0-9]+(\.[0-9]+)?\b", "{v}", text)


def _source(component: releases.Component) -> str:
    s = component.source
    if s.helm:
        return f"helm {s.helm.repo}/{s.helm.chart}"
    if s.kustomize:
        return f"kustomize {s.kustomize.url}?ref={s.kustomize.ref}"
    return f"manifests x{len(s.manifest.urls) if s.manifest else 0}"


def carried_objects(
    graph: Graph, resource: Resource, build: bool = True
) -> dict[str, dict[str, Any]] | None:
    """The Kubernetes objects a resource carries, by `Kind namespace/name`: a ConfigGroup's
    `objs` and `yaml` documents (graph.objects()), a kustomize Directory's build when its
    directory is local and `build` (with the upstream cache its remote bases are local too);
    None for other resources (their inputs are compared instead)."""
    if resource.type == CONFIG_GROUP:
        return {_ref(o.obj): o.obj for o in graph.objects() if o.owner is resource}
    directory = Path(str(resource.inputs.get("directory", "")))
    if build and resource.type == KUSTOMIZE and directory.is_dir():
        return {_ref(o): o for o in rendering.kustomize(resource.inputs["directory"])}
    return None


def resource_diff(before: Graph, after: Graph, build: bool = False) -> ResourceDiff:
    """Resources added, removed and changed; `build`: compare kustomize builds (needs every
    base local, i.e. the upstream cache)."""
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    diff = ResourceDiff(added=sorted(set(new) - set(old)), removed=sorted(set(old) - set(new)))
    for urn in sorted(set(old) & set(new)):
        what = _changed(before, old[urn], after, new[urn], build)
        if what:
            diff.changed[urn] = what
    return diff


def _changed(ga: Graph, a: Resource, gb: Graph, b: Resource, build: bool) -> list[str]:
    objs_a, objs_b = carried_objects(ga, a, build), carried_objects(gb, b, build)
    if objs_a is not None and objs_b is not None:
        out = [f"+{r}" for r in sorted(set(objs_b) - set(objs_a))]
        out += [f"-{r}" for r in sorted(set(objs_a) - set(objs_b))]
        for r in sorted(set(objs_a) & set(objs_b)):
            paths = field_changes(objs_a[r], objs_b[r])
            if paths:
                out.append(f"~{r}: {'; '.join(paths)}")
        return out
    out = []
    for key in sorted(set(a.inputs) | set(b.inputs)):
        x, y = normalise(a.inputs.get(key)), normalise(b.inputs.get(key))
        if x == y:
            continue
        out += field_changes(x, y, key)
    return out


def field_changes(a: Any, b: Any, path: str = "") -> list[str]:
    """The field paths that differ between two values: `p: x → y` for a changed scalar,
    `+p`/`-p` for an added/removed field, `old → new` for a field renamed with its value
    kept, `p changed` for a reshaped list; apiVersion changes name both versions."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        gone = [k for k in a if k not in b]
        new = [k for k in b if k not in a]
        for k in list(gone):
            twin = next((n for n in new if b[n] == a[k]), None)
            if twin is not None:
                out.append(f"{_join(path, k)} → {_join(path, twin)}")
                gone.remove(k)
                new.remove(twin)
        out += [f"-{_join(path, k)}" for k in gone] + [f"+{_join(path, k)}" for k in new]
        for k in (k for k in a if k in b):
            if k == "apiVersion" and a[k] != b[k] and isinstance(a[k], str):
                name = _join(path, k)
                out.insert(0, f"{name} {a[k]} → {_short(a[k], str(b[k]))}")
            else:
                out += field_changes(a[k], b[k], _join(path, k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            c
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for c in field_changes(x, y, f"{path}[{i}]")
        ]
    if a == b:
        return []
    if isinstance(a, str) and isinstance(b, str) and "\n" in a + b:
        docs = _yaml_mapping(a), _yaml_mapping(b)  # embedded config files diff by field
        if docs[0] is not None and docs[1] is not None:
            return field_changes(docs[0], docs[1], f"{path}|")
    if isinstance(a, list | dict) or isinstance(b, list | dict) or "\n" in f"{a}{b}":
        return [f"{path} changed"]
    return [f"{path}: {a} → {b}"]


def _yaml_mapping(text: str) -> dict[str, Any] | None:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return doc if isinstance(doc, dict) else None


def _join(path: str, key: str) -> str:
    """`a.b`; after `|` (inside an embedded YAML string) no dot: `values.config|kind`."""
    return f"{path}{key}" if path.endswith("|") else f"{path}.{key}" if path else str(key)


def _short(before: str, after: str) -> str:
    """`v1beta2` for kueue.x-k8s.io/v1beta1 → kueue.x-k8s.io/v1beta2 (same group)."""
    group_a, _, _ = before.rpartition("/")
    group_b, _, version = after.rpartition("/")
    return version if group_a == group_b and group_a else after


_GENERATED = re.compile(r"\S*/\.work/kustomize/[^/\s]+/[^/\s]+/[0-9a-f]{8,}")


def normalise(value: Any) -> Any:
    """A value with local paths spelled generically: generated kustomization dirs under
    .work/ and the upstream cache (its charts and rewritten remote bases) carry hashes and
    machine paths that say nothing about the upgrade."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if not isinstance(value, str):
        return value
    text = _GENERATED.sub("<generated kustomization>", value)
    for root in (upstream.WORK, upstream.default_dir()):
        if root is not None:
            text = text.replace(str(root), "<upstream>")
    return text


def _ref(obj: dict[str, Any]) -> str:
    md = obj.get("metadata", {})
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{obj.get('kind')} {ns}{md.get('name')}"


def plan(env: str, to_release: str, from_release: str | None = None) -> UpgradePlan:
    """The upgrade plan for one environment's stack to `to_release` (from the stack's own
    release, or from `from_release` to rehearse an upgrade the stack is not on yet)."""
    plain, secrets = stack_inputs(env, from_release)
    current = plain["platform"]["release"]
    target = releases.load(to_release)
    blockers: list[str] = []
    if releases.available().index(to_release) < releases.available().index(current):
        blockers.append(f"{current} -> {to_release} is a downgrade; downgrades are not rehearsed")
    k8s = plain["platform"]["kubernetesVersion"]
    if not target.kubernetes.contains(k8s):
        blockers.append(
            f"Kubernetes {k8s} is outside {to_release}'s range {target.kubernetes.min}-"
            f"{target.kubernetes.max}: upgrade the cluster first"
        )
    blockers += [f"{to_release}: {v}" for v in releases.violations(target)]
    blockers += [f"on {to_release}, {p}" for p in releases.kubernetes_problems(target, k8s)]
    cache = upstream.default_dir()
    if cache is not None:  # kustomize bases resolve locally, so their builds can be compared
        plain["platform"]["upstreamCache"] = str(cache)
    upgraded = copy.deepcopy(plain)
    retarget(upgraded, to_release)
    graphs: list[Graph] = []
    for side, release, config in (("current", current, plain), ("target", to_release, upgraded)):
        try:
            graphs.append(run(config, stack=env, secrets=secrets))
        except ConfigError as err:
            blockers.extend(f"config on {release} ({side}): {normalise(p)}" for p in err.problems)
    diff = None
    if len(graphs) == 2:
        try:
            diff = resource_diff(*graphs, build=cache is not None and _can_build())
        except rendering.RenderError as err:
            blockers.append(f"could not build a kustomization: {normalise(str(err))}")
    changes = catalogue_changes(releases.load(current), target)
    steps = next_steps(env, releases.load(current), target)
    return UpgradePlan(env, current, to_release, blockers, changes, diff, steps)


def _can_build() -> bool:
    try:
        rendering.tool("kubectl")
    except rendering.RenderError:
        return False
    return True


def next_steps(env: str, old: releases.Release, new: releases.Release) -> list[str]:
    """What to do, in order, to carry the upgrade out."""
    from mlplatform.rehearsal import recreated  # the rehearsal performs these same steps

    steps = [
        f'set `release: "{new.release}"` under mlplatform:platform in stacks/Pulumi.{env}.yaml'
    ]
    dropped = recreated(old, new)
    for r in dropped:  # the API server refuses a CRD update that drops a stored version
        crd = f"{r.plural}.{r.group}"
        steps.append(
            f"{r.component}: {r.kind} {r.from_version} is gone from {r.since} without conversion: "
            f"back up every {r.kind} (kubectl get {crd} -A -o yaml > {r.plural}.yaml) and "
            f"delete CRD {crd}"
        )
    steps.append(f"mlplatform up --env {env}")
    for r in dropped:
        renamed = "".join(f", spec.{a} renamed spec.{b}" for a, b in r.renames)
        steps.append(f"{r.component}: restore the {r.kind}s at {r.group}/{r.to_version}{renamed}")
    for name, component in sorted(new.components.items()):
        before = old.components.get(name)
        if component.storage_migration and (before is None or before.apis != component.apis):
            steps.append(f"{name}: {component.storage_migration}")
    return steps


def render(p: UpgradePlan, verbose: bool = False) -> str:
    lines = [f"upgrade plan for {p.env}: {p.from_release} -> {p.to_release}"]
    lines.append("blocked:" if p.blockers else "no blockers")
    lines += [f"  ! {b}" for b in p.blockers]
    lines.append(f"catalogue changes ({len(p.changes)}):")
    lines += [f"  - {c}" for c in p.changes]
    if p.resources:
        r = p.resources
        lines.append(
            f"resources: {len(r.added)} added, {len(r.removed)} removed, {len(r.changed)} changed"
        )
        for urn in r.added:
            lines.append(f"  + {urn.split('::')[-1]} ({urn.split('::')[-2].split('$')[-1]})")
        for urn in r.removed:
            lines.append(f"  - {urn.split('::')[-1]} ({urn.split('::')[-2].split('$')[-1]})")
        for urn, what in r.changed.items():
            shown = what if verbose else what[:5]
            lines.append(f"  ~ {urn.split('::')[-1]}:")
            lines += [f"      {w}" for w in shown]
            if len(what) > len(shown):
                lines.append(f"      (+{len(what) - len(shown)} more: --verbose lists them)")
    lines.append("next steps:")
    lines += [f"  {i}. {s}" for i, s in enumerate(p.next_steps, 1)]
    return "\n".join(lines)


def as_json(p: UpgradePlan) -> str:
    return json.dumps(
        {
            "env": p.env,
            "from": p.from_release,
            "to": p.to_release,
            "ok": p.ok,
            "blockers": p.blockers,
            "changes": [c.__dict__ for c in p.changes],
            "resources": p.resources.__dict__ if p.resources else None,
            "next_steps": p.next_steps,
        },
        indent=2,
        ensure_ascii=False,
    )
