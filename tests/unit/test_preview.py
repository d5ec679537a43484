"""`mlplatform preview`: up's workspace, backend and passphrase; no pulumi CLI is exit 3."""

import shutil
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
import yaml
from pulumi.automation import errors
from pulumi.automation._cmd import CommandResult

from mlplatform import preview
from mlplatform.cli import preview as cli
from mlplatform.cluster import ROOT
from mlplatform.cluster import stack as stacks
from tests.unit.cli_only import invoke


class FakeStack:
    name = "dev"

    def __init__(self, summary=None, error=None):
        self.summary, self.error, self.calls = summary, error, []

    def preview(self, **kwargs):
        self.calls.append(kwargs)
        kwargs["on_output"]("Previewing update (dev):")
        if self.error:
            raise self.error
        return NS(change_summary=self.summary)


def test_without_the_pulumi_cli_one_line_exit_3(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing here, nor in .tools/bin
    assert preview.pulumi_problem() is not None
    assert invoke(["preview", "--env", "dev"], cli) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pulumi CLI: not found" in err


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A project root in tmp_path (Pulumi.yaml, stacks/); a pulumi CLI said to be present;
    `select` records the workspace it is given and returns the stack the test sets."""
    (tmp_path / "stacks").mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", tmp_path / "stacks" / "Pulumi.dev.yaml")
    layout = stacks.Layout(root=tmp_path)
    monkeypatch.setattr(stacks, "Layout", lambda: layout)
    monkeypatch.setattr(preview, "pulumi_problem", lambda: None)
    for var in stacks.PASSPHRASE_VARS:
        monkeypatch.delenv(var, raising=False)
    seen = NS(workspace=None, stack=FakeStack({"create": 212, "same": 0}))

    def select(ws):
        seen.workspace = ws
        return seen.stack

    monkeypatch.setattr(stacks, "select", select)
    return seen


def test_preview_through_ups_workspace(workspace, tmp_path, capsys):
    assert invoke(["preview", "--env", "dev"], cli) == 0
    ws = workspace.workspace
    assert ws.work_dir == tmp_path / ".pulumi-state" / "workspaces" / "dev"
    project = yaml.safe_load((ws.work_dir / "Pulumi.yaml").read_text())
    assert project["backend"]["url"] == f"file://{tmp_path / '.pulumi-state'}"
    assert ws.env_vars["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(
        tmp_path / ".pulumi-state/passphrase"
    )
    assert workspace.stack.calls[0]["policy_packs"] is None
    out = capsys.readouterr().out
    assert "Previewing update (dev):" in out
    assert "preview of stack dev (release 1.11): create 212, same 0" in out


def test_policy_pack_and_json(workspace, monkeypatch, capsys):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "mine")
    assert invoke(["preview", "--env", "dev", "--policy-pack", "-o", "json"], cli) == 0
    assert workspace.stack.calls[0]["policy_packs"] == [str(ROOT / "policies")]
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in workspace.workspace.env_vars  # the caller's wins
    out = capsys.readouterr().out
    assert yaml.safe_load(out) == {
        "env": "dev",
        "release": "1.11",
        "changes": {"create": 212, "same": 0},
    }


def test_failed_preview_one_line_exit_1(workspace, capsys):
    failure = CommandResult("", "Previewing...\nerror: mandatory policy violated", 255)
    workspace.stack = FakeStack(error=errors.CommandError(failure))
    assert invoke(["preview", "--env", "dev"], cli) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: mandatory policy violated" in err


def test_select_failure_is_exit_3(workspace, monkeypatch, capsys):
    def broken(ws):
        raise stacks.StackError("selecting stack dev failed: backend locked")

    monkeypatch.setattr(stacks, "select", broken)
    assert invoke(["preview", "--env", "dev"], cli) == 3
    assert "backend locked" in capsys.readouterr().err


def test_policy_pack_gets_the_stacks_pack_config(workspace, monkeypatch):
    import json

    from mlplatform import stackconfig

    read = stackconfig.read_stack_file

    def with_mirror(env):
        values, secure = read(env)
        values["platform"] = {**values["platform"], "mirror": {"registry": "registry.internal/ml"}}
        return values, secure

    monkeypatch.setattr(stackconfig, "read_stack_file", with_mirror)
    assert invoke(["preview", "--env", "dev", "--policy-pack"], cli) == 0
    [path] = workspace.stack.calls[0]["policy_pack_configs"]
    assert path == str(workspace.workspace.work_dir / "policy-pack-config.json")
    assert json.loads(Path(path).read_text()) == {
        "allowed-registries": {"registries": ["registry.internal/ml"]}
    }
    assert invoke(["preview", "--env", "dev"], cli) == 0
    assert workspace.stack.calls[1]["policy_pack_configs"] is None


def test_policy_pack_refuses_a_waiver_of_an_unknown_policy(
    workspace, monkeypatch, tmp_path, capsys
):
    from mlplatform.policies import waivers

    path = tmp_path / "waivers.yaml"
    path.write_text(
        "waivers:\n  - {policy: no-hostpath, resource: 'DaemonSet/*', reason: a reviewed "
        "exception, reviewer: sec@example.com, expires: 2999-01-01}\n"
    )
    monkeypatch.setattr(waivers, "PATH", path)
    assert invoke(["preview", "--env", "dev", "--policy-pack"], cli) == 2
    assert "mlplatform: preview: waivers[0].policy: unknown policy 'no-hostpath'" in (
        capsys.readouterr().err
    )
    assert workspace.stack.calls == []
