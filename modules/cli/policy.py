"""`mlplatform policy`: run the guardrails offline against a stack's recorded graph.

The same rules run in the engine with `mlplatform preview --env E --policy-pack`, which sees
every Helm chart and kustomize child. Offline, with an upstream cache, those children are
rendered (`mlplatform.render`: kustomize builds always, charts where the cache holds their
templates) and judged too; what could not be rendered is listed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from mlplatform.cli.app import (
    EnvOption,
    Exit,
    Output,
    OutputOption,
    ReleaseOption,
    emit,
    fail,
    one_line,
    progress,
)
from mlplatform.config import ConfigError, parse_platform

_EXPLAIN = "offline: our own objects and the upstream children rendered from {cache}"
_NO_CACHE = (
    "offline: our own objects only (no upstream cache: pass --cache DIR, or run "
    "`mlplatform upstream pull`); Helm chart and kustomize children are checked by "
    "`mlplatform preview --env ENV --policy-pack`"
)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="policy", help="guardrails: list the policies, check a stack", no_args_is_help=True
    )
    group.command("list")(list_policies)
    group.command("check")(check_stack)
    group.command("config")(print_config)
    app.add_typer(group)


def stack_config(values: dict[str, Any]) -> dict[str, Any]:
    """Pack config implied by the stack: with a mirror, images come only from the mirror."""
    mirror = parse_platform(values.get("platform")).mirror
    return {"allowed-registries": {"registries": [mirror.registry]}} if mirror else {}


def list_policies(output: OutputOption = Output.table) -> None:
    """Every policy with its level and config defaults."""
    from mlplatform.policies.registry import GROUPS

    data = [
        {
            "group": group,
            "name": p.name,
            "level": p.level,
            "offlineOnly": p.needs_secret_marks,
            "description": p.description,
            "defaults": p.defaults,
        }
        for group, policies in GROUPS.items()
        for p in policies
    ]
    if output is not Output.table:
        emit(data, output)
        return
    group = None
    for p in data:
        if p["group"] != group:
            group = p["group"]
            print(f"{group}:")
        extra = " (offline only)" if p["offlineOnly"] else ""
        print(f"  {p['name']} [{p['level']}]{extra}: {p['description']}")
        for key, default in p["defaults"].items():
            print(f"      {key} = {json.dumps(default)}")


def print_config(env: EnvOption, release: ReleaseOption = None) -> None:
    """The policy pack config (JSON) that `mlplatform preview --policy-pack` applies."""
    from mlplatform.mockrun import stack_inputs

    pack = stack_config(stack_inputs(env, release)[0])
    refuse_unknown("policy config", pack)
    print(json.dumps(pack, indent=2))


def refuse_unknown(command: str, pack: dict[str, Any]) -> None:
    """Exit 2, one stderr line per problem, when the pack config or a waiver names a policy or
    setting that does not exist (a typo would otherwise silently drop a rule's override)."""
    from mlplatform.cli.app import stderr
    from mlplatform.policies import waivers
    from mlplatform.policies.config_check import pack_config_problems

    try:
        problems = pack_config_problems(pack, waivers.load())
    except ValueError as err:  # a malformed waivers file
        fail(f"{command}: {one_line(str(err))}")
    for problem in problems:
        stderr.print(f"mlplatform: {command}: {problem}", markup=False, highlight=False)
    if problems:
        raise typer.Exit(Exit.USAGE)


def check_stack(
    env: EnvOption,
    release: ReleaseOption = None,
    config: Annotated[Path | None, typer.Option(help="policy pack config JSON to merge in")] = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="upstream cache to render chart and kustomize children from (default: the "
            "stack's upstreamCache, else $MLPLATFORM_UPSTREAM_CACHE, else ../shared/upstream)"
        ),
    ] = None,
    output: OutputOption = Output.table,
) -> None:
    """Evaluate every policy against an environment; exit 1 on an unwaived mandatory finding."""
    from mlplatform import render, upstream
    from mlplatform.mockrun import run, stack_inputs
    from mlplatform.policies import registry, views, waivers

    values, secrets = stack_inputs(env, release)
    platform = values["platform"]
    pack = stack_config(values)
    if config:
        try:
            given = json.loads(config.read_text())
        except (OSError, ValueError) as err:
            fail(f"policy check: {config}: {one_line(str(err))}")
        if not isinstance(given, dict):
            fail(f"policy check: {config}: must be a JSON object of policy: level or settings")
        pack.update(given)
    refuse_unknown("policy check", pack)
    try:
        with progress(f"policy check: running the {env} stack under mocks"):
            found = upstream.open_cache(
                cache or platform.get("upstreamCache") or upstream.default_dir()
            )
            if found is not None:  # charts and kustomize bases resolve to it, as for `render`
                platform["upstreamCache"] = str(found.root)
            graph = run(values, stack=env, secrets=secrets)
            seen = views.from_graph(graph)
            rendered, children = None, []
            if found is not None:
                kube = str(platform.get("kubernetesVersion") or "") or None
                rendered = render.render(graph, found, kube_version=kube)
                children = views.from_rendered(rendered)
            findings = registry.evaluate([*seen, *children], pack)
    except FileNotFoundError as err:
        fail(f"policy check: {one_line(str(err))}", Exit.ENVIRONMENT)
    except (ConfigError, ValueError, OSError) as err:
        fail(f"policy check: {one_line(str(err))}")
    except render.RenderError as err:
        fail(f"policy check: {one_line(str(err))}", Exit.ENVIRONMENT)
    where = _EXPLAIN.format(cache=found.root) if found is not None else _NO_CACHE
    blocked = any(f.level == "mandatory" and f.waiver is None for f in findings)
    if output is not Output.table:
        emit(
            {
                "env": env,
                "release": platform["release"],
                "judged": {"ours": len(graph.objects()), "upstreamChildren": len(children)},
                "notRendered": rendered.missing if rendered is not None else [],
                "findings": [_finding(f) for f in findings],
                "passed": not blocked,
            },
            output,
        )
    else:
        print(f"policy check: env {env}, release {platform['release']} ({where})")
        print(f"judged: {len(graph.objects())} objects of ours, {len(children)} upstream children")
        if rendered is not None and rendered.missing:
            print("not rendered, so not checked here (`mlplatform preview --policy-pack` does):")
            for line in rendered.missing:
                print(f"  {line}")
        report(findings, waivers.load())
    if blocked:
        raise typer.Exit(Exit.FINDINGS)


def _finding(f: Any) -> dict[str, Any]:
    return {
        "policy": f.policy.name,
        "level": f.level,
        "resource": f.resource,
        "message": f.violation.message,
        "waiver": f.waiver.describe() if f.waiver is not None else None,
    }


def report(findings: Sequence[Any], all_waivers: Sequence[Any]) -> None:
    """Violations grouped by policy (mandatory first), then waived ones and unused waivers."""
    open_ = [f for f in findings if f.waiver is None]
    for lvl in ("mandatory", "advisory"):
        by_policy: dict[str, list[Any]] = {}
        for f in open_:
            if f.level == lvl:
                by_policy.setdefault(f.policy.name, []).append(f)
        for name, group in by_policy.items():
            print(f"\n[{lvl}] {name}: {group[0].policy.description}")
            for f in group:
                print(f"  {f.resource}: {f.violation.message}")
    waived = [f for f in findings if f.waiver is not None]
    if waived:
        print("\nwaived (not enforced):")
        for f in waived:
            print(f"  [{f.policy.name}] {f.resource}: {f.violation.message}")
            print(f"      {f.waiver.describe()}")
    used = [f.waiver for f in waived]
    for w in all_waivers:
        if w not in used:
            print(f"\nnote: waiver for {w.policy} on {w.resource} matched nothing offline")
    mandatory = sum(f.level == "mandatory" for f in open_)
    advisory = sum(f.level == "advisory" for f in open_)
    print(f"\n{mandatory} mandatory, {advisory} advisory, {len(waived)} waived")
