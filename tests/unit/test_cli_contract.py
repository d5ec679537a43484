"""The CLI contract, for every command of the Typer tree (a new command is covered by default).

Each user error is exactly one line on stderr with no traceback and the documented exit code
(mlplatform.cli.app: 1 findings, 2 bad input, 3 missing tool/cluster/stack file/cache, 4 bug);
--help works everywhere; a closed stdout pipe is not an error; README's CLI reference is the
help text. `python -m tests.unit.test_cli_contract` rewrites that README section.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from mlplatform import releases
from mlplatform.cli import build, main
from mlplatform.cli.app import Exit
from mlplatform.stackconfig import ROOT

README = ROOT / "README.md"
BEGIN, END = "<!-- cli-reference:begin -->", "<!-- cli-reference:end -->"
RELEASE = releases.available()[-1]


def commands() -> list[tuple[str, Any]]:
    """(path, click command) of every leaf command, walking the Typer app's tree."""

    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        subs = getattr(cmd, "commands", None)
        if not subs:
            yield " ".join(path), cmd
            return
        for name, sub in subs.items():
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(build()), []))


COMMANDS = dict(commands())
PATHS = list(COMMANDS)
WITH_ENV = [p for p in PATHS if any(q.name == "env" for q in COMMANDS[p].params)]
WITH_CLUSTER = [p for p in PATHS if any(q.name == "kubeconfig" for q in COMMANDS[p].params)]


def argv(path: str, env: str = "dev", kubeconfig: Path | None = None) -> list[str]:
    """`path` with every required parameter filled (env given, releases valid, others "x")."""
    out = path.split()
    for p in COMMANDS[path].params:
        if p.name == "env":
            out += ["--env", env] + (["--env", "prod"] if p.multiple else [])
        elif p.name == "kubeconfig" and kubeconfig is not None:
            out += ["--kubeconfig", str(kubeconfig)]
        elif not p.required:
            continue
        elif p.param_type_name == "argument":
            out.append("x")
        else:
            value = RELEASE if p.name in ("release", "to") else "x"
            out += [p.opts[0], value]
    return out


def one_line_error(capsys: pytest.CaptureFixture[str], code: int, expected: int) -> str:
    err = capsys.readouterr().err
    assert code == expected, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("path", PATHS)
def test_help_works(path, capsys):
    assert main([*path.split(), "--help"]) == Exit.OK
    seen = capsys.readouterr()
    assert seen.out.startswith(f"Usage: mlplatform {path} ") and not seen.err


@pytest.mark.parametrize("path", PATHS)
def test_every_parameter_has_help_and_repeatable_says_so(path):
    for p in COMMANDS[path].params:
        if p.name == "help":
            continue
        assert p.help, f"{path}: {p.name} has no help"
        if getattr(p, "multiple", False):
            assert "repeatable" in p.help, f"{path}: {p.name} does not say it is repeatable"
        if p.param_type_name == "option" and not p.is_flag and not p.required:
            assert p.show_default is not False, f"{path}: {p.name} hides its default"


def test_reporting_commands_take_output_and_changing_ones_dry_run():
    names = {path: {p.name for p in cmd.params} for path, cmd in COMMANDS.items()}
    reporting = ["tenant list", "tenant show", "policy list", "policy check", "upgrade plan"]
    reporting += ["conformance list", "conformance report", "render"]
    for path in reporting:
        assert "output" in names[path], path
    for path in ["tenant add", "tenant remove", "up", "down", "upstream pull"]:
        assert "dry_run" in names[path], path


def test_version(capsys):
    assert main(["--version"]) == Exit.OK
    out = capsys.readouterr().out
    assert out.startswith("mlplatform ") and len(out.splitlines()) == 1


@pytest.mark.parametrize("path", PATHS)
def test_bad_argument(path, capsys):
    code = main([*argv(path), "--no-such-flag"])
    assert "--no-such-flag" in one_line_error(capsys, code, Exit.USAGE)


@pytest.mark.parametrize("path", WITH_ENV)
def test_unknown_env(path, capsys):
    code = main(argv(path, env="nope"))
    assert "'nope' is not an environment" in one_line_error(capsys, code, Exit.USAGE)


@pytest.fixture
def stacks(tmp_path, monkeypatch) -> Path:
    """An empty stacks directory in place of the repository's."""
    monkeypatch.setattr("mlplatform.stackconfig.STACKS_DIR", tmp_path)
    return tmp_path


@pytest.mark.parametrize("path", WITH_ENV)
def test_missing_stack_file(path, stacks, capsys):
    code = main(argv(path))
    assert "no stack files in" in one_line_error(capsys, code, Exit.ENVIRONMENT)


BROKEN = {
    "invalid YAML": ("config: [unclosed\n", "invalid stack file: Pulumi."),
    "not a mapping": ("config: [a, b]\n", "invalid stack file: Pulumi."),
    "bad platform": (
        "config:\n  mlplatform:platform:\n    release: '9.9'\n    kubernetesVersion: 1\n",
        "invalid stack config: platform.",
    ),
}


@pytest.mark.parametrize("path", WITH_ENV)
@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_stack_file(path, case, stacks, capsys):
    text, message = BROKEN[case]
    for env in ("dev", "prod"):
        (stacks / f"Pulumi.{env}.yaml").write_text(text)
    code = main(argv(path))
    assert message in one_line_error(capsys, code, Exit.USAGE)


def _remote_context() -> str:
    from mlplatform.cluster.lifecycle import load

    return load("prod").cluster.context or "prod"


def _kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    context = _remote_context()
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return path


@pytest.mark.parametrize("path", WITH_CLUSTER)
@pytest.mark.parametrize("case", ["missing", "not a kubeconfig", "unreachable"])
def test_bad_kubeconfig_or_unreachable_cluster(path, case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", f"{ROOT / '.tools/bin'}{os.pathsep}{os.environ['PATH']}")
    if case == "missing":
        config = tmp_path / "none"
    elif case == "not a kubeconfig":
        config = tmp_path / "kubeconfig"
        config.write_text("just: text\n")
    else:
        config = _kubeconfig(tmp_path, "https://127.0.0.1:1")
    args = argv(path, env="prod", kubeconfig=config)  # prod: a remote cluster, not kind
    err = one_line_error(capsys, main(args), Exit.ENVIRONMENT)
    # a missing tool (pulumi, kubectl) is also exit 3, and may be checked first
    assert "kubeconfig" in err or "cluster" in err or "not found" in err


def _closed_pipe(args: list[str]) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess whose stdout pipe has no reader."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-c", "import sys; from mlplatform.cli import main; sys.exit(main())",
             *args],
            stdout=write, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write)


CLOSED_PIPE = [
    ["--help"],
    ["policy", "list"],
    ["conformance", "list"],
    ["policy", "list", "-o", "json"],
]
CLOSED_PIPE += [["tenant", "list", "--env", "dev"], ["release", "list"], ["upgrade", "--help"]]


@pytest.mark.parametrize("args", CLOSED_PIPE, ids=" ".join)
def test_closed_pipe_is_not_an_error(args):
    done = _closed_pipe(args)
    assert (done.returncode, done.stderr) == (Exit.OK, "")


def test_closed_pipe_on_every_help():
    for path in PATHS:
        done = _closed_pipe([*path.split(), "--help"])
        assert (done.returncode, done.stderr) == (Exit.OK, ""), path


# -- README's CLI reference -------------------------------------------------------------


def reference() -> str:
    """`--help` of the root and of every command, as markdown."""
    import contextlib
    import io

    os.environ["COLUMNS"] = "100"
    parts = []
    for path in ["", *PATHS]:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            main([*path.split(), "--help"])
        title = f"mlplatform {path}".strip()
        parts.append(f"### `{title}`\n\n```text\n{buf.getvalue().rstrip()}\n```\n")
    return "\n".join(parts)


def readme_section() -> str:
    text = README.read_text()
    assert BEGIN in text and END in text, f"README.md lacks the {BEGIN} ... {END} markers"
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def test_readme_cli_reference_is_the_help_text(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert readme_section() == reference().strip("\n"), (
        "README's CLI reference differs from --help: run `python -m tests.unit.test_cli_contract`"
    )


if __name__ == "__main__":
    text = README.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{BEGIN}\n{reference()}\n{END}{tail}")
    print(f"rewrote the CLI reference in {README}")
