"""`mlplatform upstream pull`: fill an upstream cache on a connected machine.

The cache holds every chart (with templates and facts.json), kustomize tree and release
manifest a release installs, in `mlplatform.upstream`'s layout. An air-gapped site carries the
directory and points its stack at it (`platform.upstreamCache`); the upstream test rung and
`mlplatform render` read it too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mlplatform import releases
from mlplatform.cli.app import DryRunOption, Exit, fail, one_line, progress
from mlplatform.stackconfig import ROOT


def default_target() -> Path:
    """Where the upstream rung looks: $MLPLATFORM_UPSTREAM_CACHE, else `../shared/upstream`."""
    env = os.environ.get("MLPLATFORM_UPSTREAM_CACHE")
    return Path(env) if env else ROOT.parent / "shared" / "upstream"


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="upstream",
        help="the upstream cache (charts, kustomize, manifests)",
        no_args_is_help=True,
    )
    group.command("pull")(pull_cache)
    app.add_typer(group)


def _check_releases(values: list[str] | None) -> list[str] | None:
    unknown = [v for v in values or [] if v not in releases.available()]
    if unknown:
        raise typer.BadParameter(f"{unknown} not a release; choose from {releases.available()}")
    return values


def pull_cache(
    release: Annotated[
        list[str] | None,
        typer.Option(
            "--release",
            metavar="RELEASE",
            help="a platform release (repeatable)",
            callback=_check_releases,
        ),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="every release in the catalogue (instead of --release)")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="cache directory (default: $MLPLATFORM_UPSTREAM_CACHE, else ../shared/upstream)",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="pull again what is already present")
    ] = False,
    dry_run: DryRunOption = False,
) -> None:
    """Fetch releases' charts, kustomize trees and manifests into a cache (exit 1 if one fails)."""
    from mlplatform.upstream_pull import Fatal, Puller, plan

    if bool(release) == every:
        fail("upstream pull: pass --release RELEASE (repeatable) or --all, not both or neither")
    names = releases.available() if every else list(dict.fromkeys(release or []))
    root = (directory or default_target()).expanduser().resolve()
    try:
        todo = plan(names)
        print(
            f"upstream pull: release {', '.join(names)} -> {root} ({len(todo.charts)} charts, "
            f"{len(todo.trees)} kustomize trees and what they reference, "
            f"{len(todo.manifests)} manifests)"
        )
        if dry_run:
            for item in [
                *(c.label for c in sorted(todo.charts)),
                *sorted(str(t) for t in todo.trees),
                *sorted(todo.manifests),
            ]:
                print(f"  would pull {item}")
            print(f"dry run: nothing written to {root}")
            return
        with progress(f"upstream pull -> {root}"):
            summary = Puller(root, force=force).pull(todo)
    except Fatal as err:
        fail(f"upstream pull: {one_line(str(err))}", Exit.ENVIRONMENT)
    except (ValueError, OSError) as err:
        fail(f"upstream pull: {one_line(str(err))}")
    print(summary.line(root))
    if summary.failed:
        raise typer.Exit(Exit.FINDINGS)
    print(f"use it: `platform.upstreamCache: {root}` in a stack file, or --cache {root}")
