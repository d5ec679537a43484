"""`mlplatform status --env E`: what the stack file says, and the cluster's health when it answers.

Exit 0 when every platform workload is ready, 1 when some are not, 3 when the cluster cannot
be reached (the stack file's part is still printed).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlplatform.cli.app import EnvOption, Exit, Output, OutputOption, emit, fail, one_line


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(
    env: EnvOption,
    offline: Annotated[
        bool, typer.Option("--offline", help="only the stack file's part; do not ask the cluster")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="seconds to wait for each Kubernetes API call", min=0.1)
    ] = 5.0,
    show_passwords: Annotated[
        bool,
        typer.Option(
            "--show-passwords",
            help="also the static users' generated passwords, read from the stack outputs "
            "through the workspace of `mlplatform up` (needs the pulumi CLI)",
        ),
    ] = False,
    output: OutputOption = Output.table,
) -> int:
    """The stack file's release, components, tenants, URL and users; the cluster's health."""
    from mlplatform import status as state
    from mlplatform.cluster.lifecycle import load_stack
    from mlplatform.config import ConfigError

    try:
        stack = load_stack(env)
    except (ConfigError, ValueError) as err:  # invalid config; a repeated or unknown key
        fail(str(err).replace("\n", " "))
    data: dict[str, Any] = state.offline(env, stack)
    if show_passwords and data["staticUsers"]:
        data["staticUserPasswords"] = passwords(env)
    problem = None
    if not offline:
        cluster = stack.platform.cluster
        try:
            client = state.connect(cluster.kubeconfig, cluster.context, timeout)
            data["health"] = state.health(client, state.platform_namespaces())
        except state.Unreachable as err:
            problem = f"cluster {cluster.context or '(current context)'} unreachable: {err}"
            data["health"] = None
    if output is not Output.table:
        emit(data, output)
    else:
        for line in lines(data):
            print(line)
    if problem:
        fail(problem, Exit.ENVIRONMENT)
    if data.get("health") and data["health"]["unhealthy"]:
        return int(Exit.FINDINGS)
    return int(Exit.OK)


def passwords(env: str) -> dict[str, str]:
    """The `staticUserPasswords` stack output (email -> password), from the generated workspace,
    local backend and passphrase that `mlplatform up` deployed with (mlplatform.cluster.stack)."""
    from pulumi import automation as auto

    from mlplatform.cluster import stack as stacks
    from mlplatform.preview import pulumi_problem

    problem = pulumi_problem()
    if problem:
        fail(f"{problem} (`mlplatform doctor` says how to get it)", Exit.ENVIRONMENT)
    try:
        outputs = stacks.select(stacks.prepare(env)).outputs()
    except (stacks.StackError, auto.errors.CommandError) as err:
        fail(f"reading the outputs of stack {env}: {one_line(str(err))}", Exit.ENVIRONMENT)
    found = outputs.get("staticUserPasswords")
    if found is None:
        fail(
            f"stack {env} has no staticUserPasswords output: deploy it first "
            f"(mlplatform up --env {env})",
            Exit.ENVIRONMENT,
        )
    return {str(k): str(v) for k, v in dict(found.value or {}).items()}


def lines(data: dict[str, Any]) -> list[str]:
    out = [
        f"env {data['env']}: release {data['release']}, Kubernetes {data['kubernetesVersion']}",
        f"  context     {data['cluster']['context'] or '(current)'}",
        f"  url         {data['url']}",
        f"  components  {', '.join(data['components'])}",
        f"  tenants     {', '.join(data['tenants']) or '-'}",
        f"  users       {', '.join(data['staticUsers']) or '- (OIDC)'}",
    ]
    for email, password in data.get("staticUserPasswords", {}).items():
        out.append(f"    {email}  {password}")
    health = data.get("health")
    if not health:
        return out
    out.append("health (ready/desired):")
    for ns, workloads in health["namespaces"].items():
        out.append(f"  {ns}" + ("" if workloads else "  (no workloads)"))
        for w in workloads:
            mark = "ok" if w["healthy"] else "NOT READY"
            out.append(f"    {w['kind']}/{w['name']}  {w['ready']}/{w['desired']}  {mark}")
    if health["absent"]:
        out.append(f"  not on the cluster: {', '.join(health['absent'])}")
    n = len(health["unhealthy"])
    out.append(f"{n} workload(s) not ready" if n else "every platform workload is ready")
    return out
