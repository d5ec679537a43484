"""`mlplatform upgrade plan|rehearse`: what an upgrade to another platform release would
change, and a rehearsal of it on the local kind cluster."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlplatform.cli.app import (
    DryRunOption,
    EnvOption,
    Exit,
    Output,
    OutputOption,
    _check_release,
    emit,
    fail,
    one_line,
)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="upgrade",
        help="plan (offline) and rehearse (kind) upgrades between releases",
        no_args_is_help=True,
    )
    group.command("plan")(plan)
    group.command("rehearse")(rehearse)
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


def rehearse(
    env: EnvOption,
    from_release: Annotated[
        str,
        typer.Option(
            "--from", metavar="RELEASE", help="release brought up first", callback=_check_release
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="RELEASE", help="release upgraded to", callback=_check_release
        ),
    ],
    kubernetes: Annotated[
        str | None,
        typer.Option(
            metavar="MINOR",
            help="Kubernetes of the kind cluster, in both releases' ranges (default: the "
            "stack's kubernetesVersion)",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="directory for rehearsal.json and the suite reports")
    ] = Path("rehearsal-out"),
    load_seconds: Annotated[
        int,
        typer.Option(
            min=60,
            help="how long the load runs against the served model (must "
            "outlast the upgrade and the second suite)",
        ),
    ] = 3600,
    keep_on_failure: Annotated[
        bool,
        typer.Option(
            "--keep-on-failure", help="leave failed scenarios' and the rehearsal's namespaces"
        ),
    ] = False,
    keep_cluster: Annotated[
        bool,
        typer.Option(
            "--keep-cluster", help="keep the kind cluster and stack after a passed rehearsal"
        ),
    ] = False,
    dry_run: DryRunOption = False,
    output: OutputOption = Output.table,
) -> None:
    """Bring the kind stack up at --from, run the suite, keep a model served under load, upgrade
    to --to (+ storage migrations), run the suite again, check the data survived, report the
    downtime; exit 1 when any step fails (the cluster is then kept for inspection; a passed
    rehearsal deletes it unless --keep-cluster). --dry-run prints the steps."""
    from mlplatform import rehearsal
    from mlplatform.cluster.lifecycle import load

    config = load(env)
    try:
        steps = rehearsal.plan(env, config, from_release, to, kubernetes)
    except rehearsal.RehearsalRefused as err:
        fail(f"upgrade rehearse: {one_line(str(err))}")
    if dry_run:
        if output is Output.table:
            print(rehearsal.render(steps))
        else:
            emit(steps.as_dict(), output)
        return
    from mlplatform.cli.cluster import _prerequisites
    from mlplatform.cluster.kind import KindCluster, cluster_name
    from mlplatform.cluster.tools import KIND_TOOLS

    _prerequisites(KIND_TOOLS, install=False)
    cluster = KindCluster(cluster_name(config.cluster.context))
    if cluster.exists():
        fail(
            f"upgrade rehearse: kind cluster {cluster.name} exists; a rehearsal starts from a "
            f"fresh cluster at {from_release}: mlplatform down --env {env} first"
        )
    say = print if output is Output.table else lambda line: print(line, file=sys.stderr)
    actions = rehearsal.live_actions(env, config, steps.kubernetes, None, keep_on_failure, say)
    outcome = rehearsal.execute(steps, actions, out, load_seconds, keep_on_failure, say)
    if outcome.passed and not keep_cluster:
        from mlplatform.cluster import lifecycle
        from mlplatform.cluster.stack import prepare

        say(f"deleting kind cluster {cluster.name} and stack {env} (--keep-cluster keeps them)")
        dep = lifecycle.Deployment(env, config, None, prepare(env), cluster=cluster)
        lifecycle.tear_down(dep, keep_cluster=False, out=say)
    elif cluster.exists():
        say(f"kind cluster {cluster.name} kept, stack {env} at its last release: "
            f"`mlplatform down --env {env}` removes both")  # fmt: skip
    if output is Output.table:
        verdict = "PASSED" if outcome.passed else "FAILED"
        downtime = "-" if outcome.downtime_s is None else f"{outcome.downtime_s:g}s"
        print(f"rehearsal {steps.from_release} -> {steps.to_release}: {verdict}; "
              f"downtime {downtime}; {out / 'rehearsal.json'}")  # fmt: skip
    else:
        emit(outcome.as_dict(), output)
    if not outcome.passed:
        raise typer.Exit(Exit.FINDINGS)
