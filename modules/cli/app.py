"""The CLI's one set of conventions: exit codes, errors, `--env`, `-o/--output`, `--dry-run`.

Exit codes (the contract every command keeps):
  0  ok
  1  findings, a failed scenario, a blocked plan (the command worked; the answer is "no")
  2  usage error or refused input (bad flag, unknown environment, invalid config or spec)
  3  the world is missing something: a tool, a cluster, a cache, the network
  4  internal error (a bug: please report it; MLPLATFORM_DEBUG=1 shows the traceback)

Every user error is one line on stderr naming what is wrong and the fix; no traceback.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table

try:  # Typer >= 0.17 vendors Click and raises its own copies of Click's exceptions
    from typer._click.exceptions import ClickException, UsageError  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - older Typer on the real Click
    from click.exceptions import ClickException, UsageError


class Exit(enum.IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    ENVIRONMENT = 3
    INTERNAL = 4


class UserError(Exception):
    """A problem the user can fix: one line, and the exit code that classifies it."""

    def __init__(self, message: str, code: Exit = Exit.USAGE) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: Exit = Exit.USAGE) -> NoReturn:
    raise UserError(message, code)


class Output(enum.StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


def _check_env(value: str | None) -> str | None:
    """A known environment whose stack file parses and validates (else exit 2; none at all: 3)."""
    from mlplatform import stackconfig
    from mlplatform.config import ConfigError

    if value is None:
        return value
    envs = stackconfig.environments()
    if not envs:
        fail(
            f"no stack files in {stackconfig.STACKS_DIR}: run from a checkout of the platform "
            "repository (stacks/Pulumi.<env>.yaml)",
            Exit.ENVIRONMENT,
        )
    if value not in envs:
        raise typer.BadParameter(f"{value!r} is not an environment; choose one of {envs}")
    from mlplatform.platform import load_config

    path = stackconfig.stack_file(value)
    try:
        values, secure = stackconfig.read_stack_file(value)
        load_config({k: v for k, v in values.items() if k not in secure})
    except ConfigError as err:
        fail(f"{path.name}: invalid stack config: {'; '.join(err.problems)}")
    except ValueError as err:  # not YAML, a repeated key, an unknown mlplatform: key
        fail(f"invalid stack file: {one_line(str(err))}")
    except (AttributeError, TypeError):
        fail(f"invalid stack file: {path.name}: `config` must map mlplatform:<key> to values")
    return value


def one_line(text: str) -> str:
    return " ".join(text.split())


def _check_release(value: str | None) -> str | None:
    from mlplatform import releases

    if value is not None and value not in releases.available():
        raise typer.BadParameter(
            f"{value!r} is not a release; choose one of {releases.available()}"
        )
    return value


_ENV = typer.Option(
    "--env",
    "-e",
    metavar="ENV",
    help="environment: a stacks/Pulumi.<env>.yaml",
    callback=_check_env,
)
EnvOption = Annotated[str, _ENV]
OptionalEnvOption = Annotated[str | None, _ENV]
ReleaseOption = Annotated[
    str | None,
    typer.Option(
        "--release",
        metavar="RELEASE",
        help="retarget to this platform release",
        callback=_check_release,
    ),
]
OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="table for people, json/yaml for tools")
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="validate and show what would change; change nothing")
]


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Leave a closed pipe to `run` (rich would exit 1 here)."""
        raise BrokenPipeError


stdout = _Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def progress(message: str) -> AbstractContextManager[Any]:
    """A spinner on stderr for work that takes more than a moment (silent when not a terminal)."""
    return stderr.status(message)


def emit(
    data: Any,
    output: Output,
    columns: Sequence[str] = (),
    rows: Callable[[Any], Sequence[Sequence[Any]]] | None = None,
    title: str | None = None,
) -> None:
    """Print `data` as JSON/YAML, or as a table of `rows(data)` under `columns`."""
    if output is Output.json:
        print(json.dumps(data, indent=2, default=str))
    elif output is Output.yaml or rows is None:
        print(yaml.safe_dump(data, sort_keys=False), end="")
    else:
        table = Table(*columns, title=title, box=None, header_style="bold")
        for row in rows(data):
            table.add_row(*(str(c) for c in row))
        stdout.print(table)


def run(app: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run the CLI and map every outcome to the exit-code contract."""
    from mlplatform.config import ConfigError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="mlplatform", standalone_mode=False)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
        return int(result or 0)
    except UserError as err:
        stderr.print(f"mlplatform: {err}", markup=False, highlight=False)
        return int(err.code)
    except ConfigError as err:  # invalid config: refused input
        stderr.print(
            f"mlplatform: invalid stack config: {'; '.join(err.problems)}",
            markup=False,
            highlight=False,
        )
        return int(Exit.USAGE)
    except typer.Exit as done:  # --help, --version
        return int(done.exit_code)
    except typer.Abort:
        stderr.print("interrupted", markup=False)
        return 130
    except UsageError as err:
        if type(err).__name__ == "NoArgsIsHelpError":  # a bare group: its help is the answer
            print(err.format_message())
            return int(Exit.USAGE)
        where = err.ctx.command_path if err.ctx else "mlplatform"
        stderr.print(f"{where}: {err.format_message()}", markup=False, highlight=False)
        return int(Exit.USAGE)
    except ClickException as err:
        stderr.print(f"mlplatform: {err.format_message()}", markup=False, highlight=False)
        return int(Exit.USAGE)
    except BrokenPipeError:  # `| head` closed the pipe: not an error
        _silence_stdout()
        return int(Exit.OK)
    except SystemExit:
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # Click's exit 1 on EPIPE
            _silence_stdout()
            return int(Exit.OK)
        raise
    except KeyboardInterrupt:
        stderr.print("interrupted", markup=False)
        return 130
    except Exception as err:
        if os.environ.get("MLPLATFORM_DEBUG"):
            raise
        stderr.print(
            f"mlplatform: internal error: {type(err).__name__}: {err} (a bug: please report it; "
            "MLPLATFORM_DEBUG=1 shows the traceback)",
            markup=False,
            highlight=False,
        )
        return int(Exit.INTERNAL)


def _silence_stdout() -> None:
    """After EPIPE, point stdout at devnull so the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
