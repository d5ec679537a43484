"""`mlplatform preview --env E`: what `mlplatform up` would change, without changing it.

The same generated workspace, local backend and passphrase as `up` (mlplatform.cluster.stack);
`--policy-pack` runs the guardrails (policies/) as a CrossGuard pack during the preview.
Exit 0 when the preview ran, 1 when it failed (e.g. a mandatory policy), 2 for an invalid
stack, 3 when the pulumi CLI is missing or the stack cannot be selected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mlplatform.cli.app import EnvOption, Exit, Output, OutputOption, emit, fail, one_line


def register(app: typer.Typer) -> None:
    app.command("preview")(cmd_preview)


def cmd_preview(
    env: EnvOption,
    policy_pack: Annotated[
        bool,
        typer.Option("--policy-pack", help="enforce the guardrails (policies/) during the preview"),
    ] = False,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="kubeconfig of the cluster (default: the stack's cluster.kubeconfig)"),
    ] = None,
    output: OutputOption = Output.table,
) -> None:
    """Preview a platform stack: the operations `mlplatform up` would run."""
    from mlplatform import preview
    from mlplatform.cluster import stack as stacks
    from mlplatform.cluster.lifecycle import load
    from mlplatform.config import ConfigError

    try:
        config = load(env)
    except (ConfigError, ValueError) as err:
        fail(one_line(str(err)))
    problem = preview.pulumi_problem()
    if problem:
        fail(f"{problem} (`mlplatform doctor` says how to get it)", Exit.ENVIRONMENT)
    target = kubeconfig or (Path(config.cluster.kubeconfig) if config.cluster.kubeconfig else None)
    try:
        workspace = stacks.prepare(env, kubeconfig=target)
        stack = stacks.select(workspace)
    except stacks.StackError as err:
        fail(one_line(str(err)), Exit.ENVIRONMENT)
    pack_config = pack_config_file(env, workspace.work_dir) if policy_pack else None
    table = output is Output.table
    try:
        changes = preview.preview(
            stack,
            preview.POLICY_PACK if policy_pack else None,
            on_output=print if table else lambda _line: None,
            pack_config=pack_config,
        )
    except stacks.StackError as err:
        fail(one_line(str(err)), Exit.FINDINGS)
    data = {"env": env, "release": config.release, "changes": changes}
    if table:
        summary = ", ".join(f"{op} {n}" for op, n in changes.items()) or "no changes"
        print(f"preview of stack {env} (release {config.release}): {summary}")
    else:
        emit(data, output)


def pack_config_file(env: str, work_dir: Path) -> Path:
    """`mlplatform policy config` of `env` (checked: unknown policies are exit 2), written into
    the generated workspace for `--policy-pack-config`."""
    from mlplatform import stackconfig
    from mlplatform.cli.policy import refuse_unknown, stack_config

    values, _ = stackconfig.read_stack_file(env)
    pack = stack_config(values)
    refuse_unknown("preview", pack)
    path = work_dir / "policy-pack-config.json"
    path.write_text(json.dumps(pack, indent=2))
    return path
