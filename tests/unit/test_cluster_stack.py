"""Automation API options: generated workspace, backend URL, passphrase, stackConfigDir."""

import os
import shutil
from pathlib import Path

import pytest
import yaml

from mlplatform.cluster import ROOT
from mlplatform.cluster.stack import Layout, StackError, prepare, show_secrets_command


@pytest.fixture
def layout(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", tmp_path / "stacks" / "Pulumi.dev.yaml")
    return Layout(tmp_path)


def _yaml(path: Path):
    return yaml.safe_load(path.read_text())


def test_project_points_back_into_the_repo(layout, tmp_path):
    ws = prepare("dev", layout, environ={})
    assert ws.work_dir == tmp_path / ".pulumi-state" / "workspaces" / "dev"
    project = _yaml(ws.work_dir / "Pulumi.yaml")
    original = _yaml(tmp_path / "Pulumi.yaml")
    assert original["stackConfigDir"] == "stacks" and "stackConfigDir" not in project
    assert project["backend"] == {"url": f"file://{tmp_path}/.pulumi-state"}
    assert (ws.work_dir / project["main"]).resolve() == (tmp_path / "stacks").resolve()
    venv = project["runtime"]["options"]["virtualenv"]
    assert (ws.work_dir / venv).resolve() == (tmp_path / ".venv").resolve()
    assert project["name"] == original["name"] and project["config"] == original["config"]


def test_stack_settings_copied_and_tracked_file_untouched(layout, tmp_path):
    tracked = tmp_path / "stacks" / "Pulumi.dev.yaml"
    before = tracked.read_bytes()
    ws = prepare("dev", layout, environ={})
    assert _yaml(ws.work_dir / "Pulumi.dev.yaml") == _yaml(tracked)
    assert tracked.read_bytes() == before


def test_salt_survives_and_tracked_edits_propagate(layout, tmp_path):
    ws = prepare("dev", layout, environ={})
    copy = ws.work_dir / "Pulumi.dev.yaml"
    copy.write_text(copy.read_text() + "encryptionsalt: v1:abc:def\n")  # as `stack init` does
    tracked = tmp_path / "stacks" / "Pulumi.dev.yaml"
    doc = _yaml(tracked)
    doc["config"]["mlplatform:platform"]["release"] = "26.03"
    tracked.write_text(yaml.safe_dump(doc))
    prepare("dev", layout, environ={})
    regenerated = _yaml(copy)
    assert regenerated["encryptionsalt"] == "v1:abc:def"
    assert regenerated["config"]["mlplatform:platform"]["release"] == "26.03"


def test_tracked_salt_wins(layout, tmp_path):
    tracked = tmp_path / "stacks" / "Pulumi.dev.yaml"
    tracked.write_text(tracked.read_text() + "encryptionsalt: v1:tracked\n")
    ws = prepare("dev", layout, environ={})
    (ws.work_dir / "Pulumi.dev.yaml").write_text("encryptionsalt: v1:stale\n")
    prepare("dev", layout, environ={})
    assert _yaml(ws.work_dir / "Pulumi.dev.yaml")["encryptionsalt"] == "v1:tracked"


def test_generated_passphrase_is_private_and_stable(layout):
    ws = prepare("dev", layout, environ={})
    path = Path(ws.env_vars["PULUMI_CONFIG_PASSPHRASE_FILE"])
    assert path == layout.passphrase_file
    assert os.stat(path).st_mode & 0o777 == 0o600
    first = path.read_text()
    assert len(first) >= 32
    prepare("dev", layout, environ={})
    assert path.read_text() == first


@pytest.mark.parametrize("var", ["PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"])
def test_callers_passphrase_wins(layout, var):
    ws = prepare("dev", layout, environ={var: "x"})
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in ws.env_vars
    assert not layout.passphrase_file.exists()


def test_world_readable_passphrase_refused(layout):
    layout.passphrase_file.parent.mkdir(parents=True)
    layout.passphrase_file.write_text("secret")
    layout.passphrase_file.chmod(0o644)
    with pytest.raises(StackError, match=r"passphrase is readable by others \(mode 644\); chmod"):
        prepare("dev", layout, environ={})


def test_kubeconfig_and_update_check(layout, tmp_path):
    ws = prepare("dev", layout, environ={}, kubeconfig=tmp_path / "kc")
    assert ws.env_vars["KUBECONFIG"] == str(tmp_path / "kc")
    assert ws.env_vars["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    # Gzip'd state on the file backend; checkpoints are never skipped (state would be lost).
    assert ws.env_vars["PULUMI_SELF_MANAGED_STATE_GZIP"] == "true"
    assert "PULUMI_SKIP_CHECKPOINTS" not in ws.env_vars


def test_missing_stack_file(layout):
    with pytest.raises(StackError, match=r"no stack file .*stacks/Pulumi\.qa\.yaml"):
        prepare("qa", layout, environ={})


def test_show_secrets_command(layout):
    ws = prepare("dev", layout, environ={})
    assert show_secrets_command(ws) == (
        f"cd {ws.work_dir} && PULUMI_CONFIG_PASSPHRASE_FILE={layout.passphrase_file} "
        "pulumi stack output --stack dev --show-secrets"
    )


def test_state_dir_is_gitignored():
    assert ".pulumi-state/" in (ROOT / ".gitignore").read_text().splitlines()
