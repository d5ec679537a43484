"""`mlplatform conformance run|report|list`: the conformance suite against a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from mlplatform.cli.app import Exit, Output, OutputOption, _check_release, emit, fail, one_line


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="conformance",
        help="run conformance scenarios, render reports",
        no_args_is_help=True,
    )
    group.command("run")(run)
    group.command("report")(report)
    group.command("list")(list_scenarios)
    app.add_typer(group)


def run(
    kubeconfig: Annotated[
        str,
        typer.Option(
            metavar="PATH", help="kubeconfig path; its current context is the cluster under test"
        ),
    ],
    release: Annotated[
        str,
        typer.Option(
            metavar="RELEASE", help="the platform release installed there", callback=_check_release
        ),
    ],
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME", help="a scenario to run (repeatable; default: all, see `list`)"
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="directory for the JUnit, JSON and markdown reports")
    ] = Path("conformance-out"),
    keep_on_failure: Annotated[
        bool,
        typer.Option(
            "--keep-on-failure",
            help="leave a failed scenario's namespaces and queues for inspection",
        ),
    ] = False,
    image: Annotated[
        str | None, typer.Option(help="scenario image (default: scenarios.images)")
    ] = None,
    registry: Annotated[
        str | None, typer.Option(help="mirror registry for every scenario image")
    ] = None,
    timeout_scale: Annotated[
        float, typer.Option(min=0.01, help="multiply every timeout tier (slow clusters)")
    ] = 1.0,
) -> None:
    """Run scenarios against the cluster a kubeconfig targets; exit 1 when one fails."""
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import ConfigException

    from mlplatform.scenarios import runner

    try:
        result = runner.run(
            kubeconfig,
            release,
            scenario or None,
            out,
            keep_on_failure,
            image=image,
            registry=registry,
            timeout_scale=timeout_scale,
        )
    except (ConfigException, yaml.YAMLError) as err:
        fail(f"kubeconfig {kubeconfig}: {one_line(str(err))}", Exit.ENVIRONMENT)
    except (urllib3.exceptions.HTTPError, ApiException, OSError) as err:
        fail(
            f"cannot reach the cluster of kubeconfig {kubeconfig}: {one_line(str(err))}",
            Exit.ENVIRONMENT,
        )
    except ValueError as err:  # unknown scenario names
        fail(one_line(str(err)))
    if not result.passed:
        raise typer.Exit(Exit.FINDINGS)


def report(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR",
            exists=True,
            file_okay=False,
            help="a `conformance run --out` directory (holds results.json)",
        ),
    ],
    output: OutputOption = Output.table,
) -> None:
    """Re-render report.md from results.json in DIR; print its path (or the summary)."""
    from mlplatform.scenarios.report import JSON_FILE, Report, rerender, summary_dict

    results = directory / JSON_FILE
    if not results.is_file():
        fail(f"no {JSON_FILE} in {directory}: pass the --out directory of `conformance run`")
    try:
        path = rerender(directory)
        data = summary_dict(Report.from_json(results.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        fail(f"{results}: not a conformance result ({one_line(str(err))})")
    if output is Output.table:
        print(path)
    else:
        emit({"report": str(path), **data}, output)


def list_scenarios(output: OutputOption = Output.table) -> None:
    """The scenario library: name and what each checks."""
    from mlplatform.scenarios.library import scenarios

    data = [{"name": s.name, "summary": s.summary} for s in scenarios().values()]
    emit(data, output, ("scenario", "summary"), lambda d: [(s["name"], s["summary"]) for s in d])
