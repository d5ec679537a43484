"""`mlplatform release list|show`: the platform releases the catalogue pins (offline)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlplatform.cli.app import Output, OutputOption, emit, fail


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="release",
        help="platform releases: Kubeflow version, Kubernetes range, component pins",
        no_args_is_help=True,
    )
    group.command("list")(list_releases)
    group.command("show")(show)
    app.add_typer(group)


def list_releases(output: OutputOption = Output.table) -> None:
    """Every release with its Kubeflow version and supported Kubernetes range."""
    from mlplatform import catalogue

    emit(
        catalogue.summaries(),
        output,
        ("release", "kubeflow", "kubernetes", "components"),
        lambda data: [
            (
                r["release"],
                r["kubeflow"],
                f"{r['kubernetes']['min']} - {r['kubernetes']['max']}",
                r["components"],
            )
            for r in data
        ],
    )


def show(
    release: Annotated[str, typer.Argument(help="a platform release, e.g. 1.11")],
    output: OutputOption = Output.table,
) -> None:
    """Every component of RELEASE: version, source, served APIs, deprecation and notes."""
    from mlplatform import catalogue, releases

    if release not in releases.available():
        fail(f"{release!r} is not a release; choose one of {releases.available()}")
    data = catalogue.detail(release)
    if output is not Output.table:
        emit(data, output)
        return
    k = data["kubernetes"]
    print(f"release {data['release']}: Kubeflow {data['kubeflow']}, ", end="")
    print(f"Kubernetes {k['min']} - {k['max']}")
    for line in show_lines(data):
        print(line)


def show_lines(data: dict[str, Any]) -> list[str]:
    """Per component: name and version, then its source, APIs, deprecation and notes, unclipped."""
    width = max(len(name) for name in data["components"])
    lines = []
    for name, c in data["components"].items():
        lines.append(f"{name.ljust(width)}  {c['version']}")
        lines.append(f"  source: {c['sourceText']}")
        if c["apis"]:
            lines.append("  apis: " + ", ".join(f"{k}={v}" for k, v in c["apis"].items()))
        if c["deprecated"]:
            lines.append(f"  deprecated: {c['deprecated']}")
        if c["notes"]:
            lines.append(f"  notes: {c['notes']}")
    return lines
