"""`mlplatform doctor | up | down` argument handling and exit codes (no cluster, no CLI)."""

import pytest

from mlplatform.cli import main
from mlplatform.cli.cluster import Exit
from mlplatform.cluster import lifecycle
from mlplatform.config import ConfigError
from mlplatform.stackconfig import environments


@pytest.mark.parametrize("command", ["up", "down", "doctor"])
def test_unknown_env_lists_environments(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([command, "--env", "qa"])
    assert exited.value.code == Exit.USAGE
    err = capsys.readouterr().err
    listed = ", ".join(repr(e) for e in environments())
    assert f"argument --env: invalid choice: 'qa' (choose from {listed})" in err


def test_up_needs_an_env(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["up"])
    assert exited.value.code == Exit.USAGE
    assert "the following arguments are required: --env" in capsys.readouterr().err


@pytest.fixture
def no_tools(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("mlplatform.cluster.tools.TOOLS_BIN", tmp_path / "none")
    monkeypatch.setattr("mlplatform.cluster.tools.ROOT", tmp_path)  # no installer to run


def test_doctor_exit_code_and_lines(no_tools, capsys):
    assert main(["doctor"]) == Exit.MISSING
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in out[:5]] == [
        ["MISSING", n] for n in ("docker", "kind", "pulumi", "helm", "kubectl")
    ]
    assert out[-1] == (
        "missing prerequisites: docker, kind, pulumi, helm, kubectl (see the install lines above)"
    )


def test_doctor_for_a_remote_stack_checks_pulumi_and_kubectl(no_tools, capsys):
    assert main(["doctor", "--env", "prod"]) == Exit.MISSING
    assert capsys.readouterr().out.splitlines()[-1] == (
        "missing prerequisites: pulumi, kubectl (see the install lines above)"
    )


def test_up_stops_before_any_cluster_work_when_tools_miss(no_tools, capsys, monkeypatch):
    def fail(*_a, **_k):
        raise AssertionError("bring_up must not run")

    monkeypatch.setattr(lifecycle, "bring_up", fail)
    assert main(["up", "--env", "dev"]) == Exit.MISSING
    assert "not found; install:" in capsys.readouterr().out


def test_up_with_bad_stack_config(monkeypatch, capsys):
    def bad(env):
        raise ConfigError([f"platform.release: '9.9' is not in the catalogue ({env})"])

    monkeypatch.setattr(lifecycle, "load", bad)
    assert main(["up", "--env", "dev"]) == Exit.USAGE
    out = capsys.readouterr().out
    assert out.startswith("stacks/Pulumi.dev.yaml: invalid stack config:")
    assert "platform.release: '9.9' is not in the catalogue (dev)" in out
