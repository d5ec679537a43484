"""`mlplatform diff --env A --env B`: configuration and resource differences of two environments.

Offline: both stacks run under Pulumi mocks. Secret values are never printed.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlplatform.cli.app import Exit, Output, OutputOption, _check_env, emit, fail


def _check_envs(values: list[str]) -> list[str]:
    """Each value as `--env` is checked everywhere (known, its stack file valid)."""
    for value in values:
        _check_env(value)
    return values


EnvsOption = Annotated[
    list[str],
    typer.Option(
        "--env",
        "-e",
        help="an environment (stacks/Pulumi.<env>.yaml); repeatable: give exactly two, from "
        "then to",
        callback=_check_envs,
    ),
]


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)


def diff(env: EnvsOption, output: OutputOption = Output.table) -> None:
    """What differs between two environments: configuration, resources, objects, charts."""
    from mlplatform import envdiff
    from mlplatform.config import ConfigError

    if len(env) != 2:
        fail(f"give --env exactly twice (from, to), not {len(env)} time(s)")
    try:
        result = envdiff.diff(env[0], env[1])
    except ConfigError as err:
        fail(str(err).replace("\n", " "))
    except FileNotFoundError as err:
        fail(str(err), Exit.ENVIRONMENT)
    except ValueError as err:  # a stack file stackconfig refuses (repeated or unknown key)
        fail(str(err).replace("\n", " "))
    if output is not Output.table:
        emit(result, output)
    else:
        for line in lines(result):
            print(line)


def lines(result: dict[str, Any]) -> list[str]:
    """The diff for people: + only in `to`, - only in `from`, ~ changed (from -> to)."""
    out = [f"diff: {result['from']} -> {result['to']}", "", "configuration:"]
    out += _section(result["config"], "  ")
    out += ["", "resources (type::name):"]
    out += [f"  + {r}" for r in result["resources"]["added"]]
    out += [f"  - {r}" for r in result["resources"]["removed"]]
    objects = result["objects"]
    out += ["", "Kubernetes objects (kind/namespace/name):"]
    out += [f"  + {o}" for o in objects["added"]]
    out += [f"  - {o}" for o in objects["removed"]]
    out += [f"  ~ {o}" for o in objects["changed"]]
    charts = result["charts"]
    out += ["", "charts:"]
    out += [f"  + {n} {v}" for n, v in charts["added"].items()]
    out += [f"  - {n} {v}" for n, v in charts["removed"].items()]
    for name, change in charts["changed"].items():
        head = f"  ~ {name}"
        for field in ("chart", "version"):
            if field in change:
                head += f" {field} {change[field]['from']} -> {change[field]['to']}"
        out.append(head)
        if "values" in change:
            out += _section(change["values"], "      ")
    return out


def _section(change: dict[str, Any], indent: str) -> list[str]:
    out = [f"{indent}+ {k}: {_show(v)}" for k, v in change["added"].items()]
    out += [f"{indent}- {k}: {_show(v)}" for k, v in change["removed"].items()]
    out += [
        f"{indent}~ {k}: {_show(v['from'])} -> {_show(v['to'])}"
        for k, v in change["changed"].items()
    ]
    return out


def _show(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)
