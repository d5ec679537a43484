"""`mlplatform conformance trend`: conformance runs over time, as plots and a regression verdict.

SOURCE is a `conformance run --out` directory, a directory of them, or `s3://BUCKET/PREFIX`
of the nightly upload (`runs/<timestamp>/results.json`, credentials from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY, endpoint from --endpoint or AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mlplatform.cli.app import Exit, Output, OutputOption, emit, fail, one_line


def add_commands(group: typer.Typer) -> None:
    """Add `trend` to the `conformance` group (no `register`: not a root module)."""
    group.command("trend")(trend)


def trend(
    source: Annotated[
        list[str],
        typer.Argument(
            metavar="SOURCE...",
            help="run directories (each holds results.json), directories of them, or "
            "s3://BUCKET/PREFIX of the nightly upload",
        ),
    ],
    out: Annotated[Path, typer.Option(help="the self-contained HTML report to write")] = Path(
        "conformance-trend.html"
    ),
    margin: Annotated[
        float,
        typer.Option(min=0.0, help="relative change past the trailing median that regresses"),
    ] = 0.1,
    window: Annotated[
        int, typer.Option(min=1, help="runs before the latest whose median is the baseline")
    ] = 7,
    endpoint: Annotated[
        str | None,
        typer.Option(metavar="URL", help="S3 endpoint for s3:// sources (or AWS_ENDPOINT_URL)"),
    ] = None,
    output: OutputOption = Output.table,
) -> None:
    """Plot pass rate, latency, RPS and durations over runs into an HTML report; exit 1 when
    the latest run regresses against the trailing median of the window."""
    from mlplatform.scenarios import trend as trends
    from mlplatform.scenarios.s3 import S3Client, S3Error
    from mlplatform.scenarios.trend_html import MissingExtra, render

    store = None
    if any(s.startswith("s3://") for s in source):
        try:
            store = S3Client.from_env(os.environ, endpoint)
        except ValueError as err:
            fail(f"conformance trend: {err}")
    try:
        runs = trends.load(source, store)
    except trends.SourceError as err:
        fail(f"conformance trend: {one_line(str(err))}")
    except S3Error as err:
        fail(f"conformance trend: {one_line(str(err))}", Exit.ENVIRONMENT)
    verdict = trends.verdict(runs, window, margin)
    try:
        page = render(runs, verdict)
    except MissingExtra as err:
        fail(str(err), Exit.ENVIRONMENT)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    if output is Output.table:
        print(f"{len(runs)} runs; report {out}")
        for finding in verdict.regressions:
            print(finding)
        if verdict.note:
            print(verdict.note)
    else:
        emit({"report": str(out), **trends.as_dict(runs, verdict)}, output)
    if not verdict.ok:
        raise typer.Exit(Exit.FINDINGS)
