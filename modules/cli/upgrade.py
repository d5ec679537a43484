"""`mlplatform upgrade plan`: what an upgrade to another platform release would change."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mlplatform.cli.app import EnvOption, Exit, Output, OutputOption, _check_release, emit


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="upgrade",
        help="plan an upgrade between platform releases (offline)",
        no_args_is_help=True,
    )
    group.command("plan")(plan)
    app.add_typer(group)


def plan(
    env: EnvOption,
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="RELEASE", help="target platform release", callback=_check_release
        ),
    ],
    from_release: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="RELEASE",
            help="plan from this release instead of the stack's own (rehearse an upgrade path)",
            callback=_check_release,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="list every changed object")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", hidden=True, help="same as -o json (kept for scripts)")
    ] = False,
    output: OutputOption = Output.table,
) -> None:
    """Catalogue changes, config gates and the resource diff; exit 1 when the plan is blocked."""
    from mlplatform import upgrade

    result = upgrade.plan(env, to, from_release)
    if as_json:
        output = Output.json
    if output is Output.table:
        print(upgrade.render(result, verbose))
    else:
        emit(json.loads(upgrade.as_json(result)), output)
    if not result.ok:
        raise typer.Exit(Exit.FINDINGS)
