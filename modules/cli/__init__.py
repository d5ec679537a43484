"""The operator CLI: `mlplatform <command> ...` (Typer; conventions and exit codes in app.py).

Each module in this package that defines `register(app)` adds its commands or command group
(tenant, policy, release, render, upstream, up/down/doctor, conformance, ...).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from mlplatform.cli.app import run


def _version(value: bool) -> None:
    if value:
        print(f"mlplatform {importlib.metadata.version('mlplatform')}")
        raise typer.Exit()


def build() -> typer.Typer:
    app = typer.Typer(
        name="mlplatform",
        help="Kubernetes-native ML platform: stacks, tenants, upstream, guardrails, conformance.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
        rich_markup_mode=None,
    )

    @app.callback()
    def root(
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
        ] = False,
    ) -> None:
        """Kubernetes-native ML platform: stacks, tenants, upstream, guardrails, conformance."""

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(app)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    return run(build(), argv)


if __name__ == "__main__":
    sys.exit(main())
