"""`mlplatform doctor | up | down` argument handling and exit codes (no cluster, no CLI)."""

import pytest

from mlplatform.cli import main
from mlplatform.cli.app import Exit
from mlplatform.cluster import lifecycle
from mlplatform.config import ConfigError
from mlplatform.stackconfig import environments


@pytest.mark.parametrize("command", ["up", "down", "doctor"])
def test_unknown_env_lists_environments(command, capsys):
    assert main([command, "--env", "qa"]) == Exit.USAGE
    err = capsys.readouterr().err
    assert f"'qa' is not an environment; choose one of {environments()}" in err
    assert err.count("\n") == 1


def test_up_needs_an_env(capsys):
    assert main(["up"]) == Exit.USAGE
    assert "Missing option '--env'" in capsys.readouterr().err


@pytest.fixture
def no_tools(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("mlplatform.cluster.tools.TOOLS_BIN", tmp_path / "none")
    monkeypatch.setattr("mlplatform.cluster.tools.ROOT", tmp_path)  # no installer to run


def test_doctor_exit_code_and_lines(no_tools, capsys):
    assert main(["doctor"]) == Exit.ENVIRONMENT
    seen = capsys.readouterr()
    out = seen.out.splitlines()
    assert [line.split()[:2] for line in out] == [
        ["MISSING", n] for n in ("docker", "kind", "pulumi", "helm", "kubectl")
    ]
    assert seen.err == (
        "mlplatform: missing prerequisites: docker, kind, pulumi, helm, kubectl "
        "(see the install lines above)\n"
    )


def test_doctor_for_a_remote_stack_checks_pulumi_and_kubectl(no_tools, capsys):
    assert main(["doctor", "--env", "prod"]) == Exit.ENVIRONMENT
    assert capsys.readouterr().err == (
        "mlplatform: missing prerequisites: pulumi, kubectl (see the install lines above)\n"
    )


def test_up_stops_before_any_cluster_work_when_tools_miss(no_tools, capsys, monkeypatch):
    def fail(*_a, **_k):
        raise AssertionError("bring_up must not run")

    monkeypatch.setattr(lifecycle, "bring_up", fail)
    assert main(["up", "--env", "dev"]) == Exit.ENVIRONMENT
    assert "not found; install:" in capsys.readouterr().out


def test_up_with_bad_stack_config(monkeypatch, capsys):
    def bad(env):
        raise ConfigError([f"platform.release: '9.9' is not in the catalogue ({env})"])

    monkeypatch.setattr(lifecycle, "load", bad)
    assert main(["up", "--env", "dev"]) == Exit.USAGE
    assert capsys.readouterr().err == (
        "mlplatform: invalid stack config: platform.release: '9.9' is not in the catalogue (dev)\n"
    )


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """Every tool present at a good version: the up/down paths past the prerequisites."""
    from mlplatform.cluster.tools import Check

    monkeypatch.setattr(
        "mlplatform.cli.cluster.doctor",
        lambda names, install=False: [Check(n, True, "v9") for n in names],
    )


@pytest.mark.parametrize(
    "command,outcome,code,line",
    [
        ("up", "cluster", Exit.ENVIRONMENT, "mlplatform: cluster: kind create failed\n"),
        ("up", "pulumi", Exit.FINDINGS, "mlplatform: pulumi: not idempotent: 2 changes\n"),
        ("down", "pulumi", Exit.FINDINGS, "mlplatform: pulumi: not idempotent: 2 changes\n"),
    ],
)
def test_cluster_and_pulumi_failures_are_one_line(
    fake_tools, monkeypatch, capsys, command, outcome, code, line
):
    from mlplatform.cluster.kind import ClusterError
    from mlplatform.cluster.stack import StackError

    def boom(*_a, **_k):
        if outcome == "cluster":
            raise ClusterError("kind create failed")
        raise StackError("not idempotent: 2 changes")

    monkeypatch.setattr(lifecycle, "bring_up", boom)
    monkeypatch.setattr(lifecycle, "tear_down", boom)
    monkeypatch.setattr("mlplatform.cluster.stack.prepare", lambda *a, **k: None)
    assert main([command, "--env", "dev"]) == code
    assert capsys.readouterr().err == line


@pytest.mark.parametrize("command", ["up", "down"])
def test_dry_run_touches_no_cluster(fake_tools, monkeypatch, capsys, command):
    def fail(*_a, **_k):
        raise AssertionError("nothing may run")

    monkeypatch.setattr(lifecycle, "bring_up", fail)
    monkeypatch.setattr(lifecycle, "tear_down", fail)
    monkeypatch.setattr("mlplatform.cluster.stack.prepare", fail)
    assert main([command, "--env", "dev", "--dry-run"]) == Exit.OK
    out = capsys.readouterr().out
    assert out.startswith("ok ") and "dry run: would " in out and "stack dev" in out
