"""`mlplatform policy`: run the guardrails offline against a stack's recorded graph.

The same rules run in the engine with `pulumi preview --policy-pack policies/`, which sees
every Helm chart and kustomize child. Offline, with an upstream cache, those children are
rendered (`mlplatform.render`: kustomize builds always, charts where the cache holds their
templates) and judged too; what could not be rendered is listed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlplatform import releases
from mlplatform.config import ConfigError, parse_platform
from mlplatform.stackconfig import environments

_EXPLAIN = "offline: our own objects and the upstream children rendered from {cache}"
_NO_CACHE = (
    "offline: our own objects only (no upstream cache: pass --cache DIR, or run "
    "`mlplatform upstream pull`); Helm chart and kustomize children are checked by "
    "`pulumi preview --policy-pack policies/`"
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("policy", help="guardrails: list the policies, check a stack")
    sub = p.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="every policy with its level and config defaults")
    ls.set_defaults(run=list_policies)
    check = sub.add_parser("check", help="evaluate every policy against an environment")
    _stack_args(check)
    check.add_argument("--config", type=Path, help="policy pack config JSON to merge in")
    check.add_argument(
        "--cache",
        type=Path,
        help="upstream cache to render chart and kustomize children from (default: the "
        "stack's upstreamCache, else $MLPLATFORM_UPSTREAM_CACHE, else ../shared/upstream)",
    )
    check.set_defaults(run=check_stack)
    cfg = sub.add_parser("config", help="print the policy pack config for `pulumi preview`")
    _stack_args(cfg)
    cfg.set_defaults(run=print_config)


def _stack_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, choices=environments())
    p.add_argument("--release", choices=releases.available(), help="retarget to this release")


def stack_config(values: dict[str, Any]) -> dict[str, Any]:
    """Pack config implied by the stack: with a mirror, images come only from the mirror."""
    mirror = parse_platform(values.get("platform")).mirror
    return {"allowed-registries": {"registries": [mirror.registry]}} if mirror else {}


def list_policies(args: argparse.Namespace) -> int:
    from mlplatform.policies.registry import GROUPS

    for group, policies in GROUPS.items():
        print(f"{group}:")
        for p in policies:
            extra = " (offline only)" if p.needs_secret_marks else ""
            print(f"  {p.name} [{p.level}]{extra}: {p.description}")
            for key, default in p.defaults.items():
                print(f"      {key} = {json.dumps(default)}")
    return 0


def print_config(args: argparse.Namespace) -> int:
    from mlplatform.mockrun import stack_inputs

    print(json.dumps(stack_config(stack_inputs(args.env, args.release)[0]), indent=2))
    return 0


def check_stack(args: argparse.Namespace) -> int:
    from mlplatform import render, upstream
    from mlplatform.mockrun import run, stack_inputs
    from mlplatform.policies import registry, views, waivers

    values, secrets = stack_inputs(args.env, args.release)
    platform = values["platform"]
    try:
        config = stack_config(values)
        if args.config:
            config.update(json.loads(args.config.read_text()))
        cache = upstream.open_cache(
            args.cache or platform.get("upstreamCache") or upstream.default_dir()
        )
        if cache is not None:  # charts and kustomize bases resolve to it, as for `render`
            platform["upstreamCache"] = str(cache.root)
        graph = run(values, stack=args.env, secrets=secrets)
        seen = views.from_graph(graph)
        rendered, children = None, []
        if cache is not None:
            kube = str(platform.get("kubernetesVersion") or "") or None
            rendered = render.render(graph, cache, kube_version=kube)
            children = views.from_rendered(rendered)
        findings = registry.evaluate([*seen, *children], config)
    except (ConfigError, ValueError, OSError, render.RenderError) as err:
        print(f"policy check: {err}", file=sys.stderr)
        return 2
    where = _EXPLAIN.format(cache=cache.root) if cache is not None else _NO_CACHE
    print(f"policy check: env {args.env}, release {platform['release']} ({where})")
    print(f"judged: {len(graph.objects())} objects of ours, {len(children)} upstream children")
    if rendered is not None and rendered.missing:
        print("not rendered, so not checked here (`pulumi preview --policy-pack` checks them):")
        for line in rendered.missing:
            print(f"  {line}")
    report(findings, waivers.load())
    return 1 if any(f.level == "mandatory" and f.waiver is None for f in findings) else 0


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
