"""`mlplatform status --env E`: what the stack file says, and the cluster's health when it answers.

Exit 0 when every platform workload is ready, 1 when some are not, 3 when the cluster cannot
be reached (the stack file's part is still printed).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlplatform.cli.app import EnvOption, Exit, Output, OutputOption, emit, fail


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


def lines(data: dict[str, Any]) -> list[str]:
    out = [
        f"env {data['env']}: release {data['release']}, Kubernetes {data['kubernetesVersion']}",
        f"  context     {data['cluster']['context'] or '(current)'}",
        f"  url         {data['url']}",
        f"  components  {', '.join(data['components'])}",
        f"  tenants     {', '.join(data['tenants']) or '-'}",
        f"  users       {', '.join(data['staticUsers']) or '- (OIDC)'}",
    ]
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
