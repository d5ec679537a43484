"""`mlplatform tenant up|migrate`: each tenant on its own Pulumi stack `<env>.tenant-<name>`.

`tenant apply/add/update/remove` edit the stack file; `tenant up` runs the tenant stacks
through the Automation API (same backend and passphrase as the platform stack), and
`tenant migrate` splits an environment whose tenants still live in the platform stack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mlplatform.cli.app import DryRunOption, EnvOption, Exit, fail, one_line, stderr
from mlplatform.tenancy.stacks import Move, migration_plan, tenant_stack_name

Names = Annotated[list[str] | None, typer.Argument(metavar="NAME", help="tenants to bring up")]


def add_commands(group: typer.Typer) -> None:
    """Add `up` and `migrate` to the `tenant` group (no `register`: not a root module)."""
    group.command("up")(cmd_up)
    group.command("migrate")(cmd_migrate)


def _pulumi() -> str:
    from mlplatform.cluster.tools import search_path

    found = shutil.which("pulumi", path=search_path(os.environ))
    if not found:
        fail("the pulumi CLI is not on PATH (mlplatform doctor --install)", Exit.ENVIRONMENT)
    return found


def selected(env: str, names: list[str], every: bool) -> list[str]:
    """The tenants to run: NAME... or --all, each one of the stack file's (exit 2 otherwise)."""
    from mlplatform.cluster.lifecycle import tenant_names

    known = tenant_names(env)
    if every == bool(names):
        fail("name the tenants to bring up, or pass --all (not both)")
    unknown = [n for n in names if n not in known]
    if unknown:
        fail(f"no tenant {', '.join(unknown)} in {env} (tenants: {', '.join(known) or 'none'})")
    return known if every else list(dict.fromkeys(names))


def cmd_up(
    env: EnvOption,
    names: Names = None,
    every: Annotated[bool, typer.Option("--all", help="every tenant of the stack file")] = False,
    parallel: Annotated[
        int, typer.Option(min=1, max=64, help="tenant stacks updated at the same time")
    ] = 4,
    dry_run: DryRunOption = False,
) -> None:
    """`pulumi up` of tenant stacks (`<env>.tenant-<name>`), after the platform is up."""
    from mlplatform.cluster import lifecycle

    chosen = selected(env, names or [], every)
    if dry_run:
        for name in chosen:
            print(f"dry run: would run `pulumi up` of stack {tenant_stack_name(env, name)}")
        return
    _pulumi()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=False) as bar:
        task = bar.add_task(f"tenant stacks of {env}", total=len(chosen))

        def done(name: str, error: str | None) -> None:
            bar.advance(task)
            state = f"failed: {one_line(error)}" if error else "up"
            bar.console.print(f"{tenant_stack_name(env, name)}: {state}", markup=False)

        errors = lifecycle.up_tenants(env, chosen, parallel=parallel, on_done=done)
    if errors:
        fail(f"{len(errors)} of {len(chosen)} tenant stacks failed: {', '.join(errors)}",
             Exit.FINDINGS)  # fmt: skip
    print(f"{len(chosen)} tenant stacks up")


def platform_urns(env: str) -> list[str]:
    """The URNs in the platform stack's state (needs the pulumi CLI)."""
    from mlplatform.cluster import stack as stacks

    deployment: Any = stacks.select(stacks.prepare(env)).export_stack().deployment
    return [r["urn"] for r in (deployment or {}).get("resources") or []]


def move(env: str, step: Move, pulumi: str) -> None:
    """Create the tenant stack, then `pulumi state move` its Tenant from the platform stack
    (the CLI in the platform's workspace: the Python Automation API has no state move)."""
    from mlplatform.cluster import stack as stacks

    stacks.select(stacks.prepare(env, tenant=step.tenant))
    ws = stacks.prepare(env)
    argv = [pulumi, *step.command()[1:]]
    done = subprocess.run(
        argv,
        cwd=ws.work_dir,
        env={**os.environ, **ws.env_vars},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise stacks.StackError(f"moving {step.tenant}: {(done.stderr or done.stdout).strip()}")


def cmd_migrate(env: EnvOption, dry_run: DryRunOption = False) -> None:
    """Move tenants still in the platform stack to their own stacks (namespaces kept)."""
    from mlplatform.cluster.stack import StackError

    pulumi = _pulumi()
    try:
        plan = migration_plan(env, platform_urns(env))
    except StackError as err:
        fail(f"pulumi: {one_line(str(err))}", Exit.FINDINGS)
    if not plan:
        print(f"nothing to migrate: no tenant left in stack {env}")
        return
    for step in plan:
        prefix = "dry run: would run" if dry_run else "running"
        print(f"{prefix}: {' '.join(step.command())}")
        if not dry_run:
            try:
                move(env, step, pulumi)
            except StackError as err:
                fail(f"pulumi: {one_line(str(err))}", Exit.FINDINGS)
    if not dry_run:
        print(f"next: mlplatform up --env {env} (the platform plans no tenant change any more)")
