"""Run the CLI with only some command modules registered (the root app of mlplatform.cli)."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import typer

from mlplatform.cli.app import run


def invoke(argv: Sequence[str], *modules: ModuleType) -> int:
    app = typer.Typer(
        name="mlplatform",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
        rich_markup_mode=None,
    )

    @app.callback()
    def root() -> None:
        """mlplatform"""

    for module in modules:
        module.register(app)
    return run(app, argv)
