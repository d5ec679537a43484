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
from typing import Any

from mlplatform import releases
from mlplatform.config import ConfigError
from mlplatform.graph import CONFIG_GROUP, Graph, Resource
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


def resource_diff(before: Graph, after: Graph) -> ResourceDiff:
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    diff = ResourceDiff(added=sorted(set(new) - set(old)), removed=sorted(set(old) - set(new)))
    for urn in sorted(set(old) & set(new)):
        what = _changed(old[urn], new[urn])
        if what:
            diff.changed[urn] = what
    return diff


def _changed(a: Resource, b: Resource) -> list[str]:
    if a.type == CONFIG_GROUP:
        objs_a = {_ref(o): o for o in a.inputs.get("objs") or []}
        objs_b = {_ref(o): o for o in b.inputs.get("objs") or []}
        out = [f"+{r}" for r in sorted(set(objs_b) - set(objs_a))]
        out += [f"-{r}" for r in sorted(set(objs_a) - set(objs_b))]
        for r in sorted(set(objs_a) & set(objs_b)):
            x, y = objs_a[r].get("apiVersion"), objs_b[r].get("apiVersion")
            if x != y:
                out.append(f"~{r} apiVersion {x} -> {y}")
            elif objs_a[r] != objs_b[r]:
                out.append(f"~{r}")
        return out
    keys = sorted(set(a.inputs) | set(b.inputs))
    out = []
    for key in keys:
        x, y = a.inputs.get(key), b.inputs.get(key)
        if x == y:
            continue
        if isinstance(x, str | int | float) and isinstance(y, str | int | float):
            out.append(f"{key}: {x} -> {y}")
        else:
            out.append(f"{key} changed")
    return out


def _ref(obj: dict[str, Any]) -> str:
    md = obj.get("metadata", {})
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{obj.get('kind')}/{ns}{md.get('name')}"


def plan(env: str, to_release: str) -> UpgradePlan:
    """The upgrade plan for one environment's stack to `to_release`."""
    plain, secrets = stack_inputs(env)
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
    upgraded = copy.deepcopy(plain)
    retarget(upgraded, to_release)
    diff = None
    try:
        before = run(plain, stack=env, secrets=secrets)
        after = run(upgraded, stack=env, secrets=secrets)
        diff = resource_diff(before, after)
    except ConfigError as err:
        blockers.extend(f"config on {to_release}: {p}" for p in err.problems)
    changes = catalogue_changes(releases.load(current), target)
    return UpgradePlan(env, current, to_release, blockers, changes, diff)


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
            more = f" (+{len(what) - len(shown)} more)" if len(what) > len(shown) else ""
            lines.append(f"  ~ {urn.split('::')[-1]}: {'; '.join(shown)}{more}")
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
        },
        indent=2,
    )
