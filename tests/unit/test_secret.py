"""`mlplatform secret set`: Pulumi passphrase encryption, round trip, stack file edits, refusals."""

import base64
import io
import re
import shutil
import sys

import pytest
import yaml

from mlplatform import secrets, stackconfig
from mlplatform.cli import secret as cli
from mlplatform.cluster import stack as stacks
from mlplatform.cluster.lifecycle import load_stack
from tests.unit.cli_only import invoke

# pulumi/pulumi pkg/secrets/passphrase/manager_test.go: a state the Pulumi CLI made with "password"
PULUMI_STATE = "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ=="
VALUE = re.compile(r"^v1:([A-Za-z0-9+/]+=*):([A-Za-z0-9+/]+=*)$")


def test_opens_a_state_pulumi_made_and_refuses_the_wrong_passphrase():
    key = secrets.open_state("password", PULUMI_STATE)
    assert secrets.decrypt(key, PULUMI_STATE.split(":", 2)[2]) == "pulumi"
    with pytest.raises(secrets.SecretError, match="incorrect passphrase"):
        secrets.open_state("password123", PULUMI_STATE)


def test_round_trip_and_the_check_value():
    state, key = secrets.new_state("correct horse")
    version, salt, check = state.split(":", 2)
    assert version == "v1" and len(base64.b64decode(salt)) == secrets.SALT_BYTES
    assert secrets.decrypt(key, check) == secrets.CHECK_PLAINTEXT == "pulumi"
    assert secrets.open_state("correct horse", state) == key
    value = secrets.encrypt(key, "s3cr3t ünïcode")
    nonce, sealed = VALUE.match(value).groups()  # type: ignore[union-attr]
    assert len(base64.b64decode(nonce)) == 12
    assert len(base64.b64decode(sealed)) == len("s3cr3t ünïcode".encode()) + 16  # GCM tag
    assert secrets.decrypt(key, value) == "s3cr3t ünïcode"
    assert secrets.encrypt(key, "x") != secrets.encrypt(key, "x")  # a fresh nonce each time
    with pytest.raises(secrets.SecretError):
        secrets.decrypt(secrets.derive_key("other", base64.b64decode(salt)), value)


def test_passphrase_sources(tmp_path):
    file = tmp_path / "p"
    file.write_text("  from-file\n")
    assert secrets.passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": str(file)}) == "from-file"
    env = {"PULUMI_CONFIG_PASSPHRASE": "env", "PULUMI_CONFIG_PASSPHRASE_FILE": str(file)}
    assert secrets.passphrase(env) == "env"
    with pytest.raises(secrets.MissingPassphrase):
        secrets.passphrase({})


@pytest.fixture
def staging(tmp_path, monkeypatch):
    """A private copy of the staging stack file (it reads the secret oidcClientSecret); no
    generated workspace; the passphrase in the environment."""
    path = tmp_path / "Pulumi.staging.yaml"
    shutil.copy(stackconfig.stack_file("staging"), path)
    monkeypatch.setattr(stackconfig, "stack_file", lambda env: path)
    layout = stacks.Layout(root=tmp_path)
    monkeypatch.setattr(stacks, "Layout", lambda: layout)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "pass phrase")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    return path


def _stdin(monkeypatch, text):
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_set_writes_a_secret_pulumi_can_open_and_keeps_the_file(staging, monkeypatch, capsys):
    before = staging.read_text()
    _stdin(monkeypatch, "s3cr3t\n")
    assert invoke(["secret", "set", "--env", "staging", "oidcClientSecret"], cli) == 0
    after = staging.read_text()
    out = capsys.readouterr().out
    assert "s3cr3t" not in after and "s3cr3t" not in out
    assert "set mlplatform:oidcClientSecret (new)" in out and "new encryptionsalt" in out
    assert after.startswith(before.splitlines()[0])  # the leading comment stays on top
    assert before.rstrip("\n").split("\n", 1)[1] in after  # every other line untouched
    doc = yaml.safe_load(after)
    assert next(iter(doc)) == "encryptionsalt"
    key = secrets.open_state("pass phrase", doc["encryptionsalt"])
    assert VALUE.match(doc["config"]["mlplatform:oidcClientSecret"]["secure"])
    assert secrets.read_secret(staging, "oidcClientSecret", "pass phrase") == "s3cr3t"
    assert "oidcClientSecret" in stackconfig.read_stack_file("staging")[1]
    load_stack("staging")  # still a valid stack
    # a second set keeps the salt and replaces the secret
    _stdin(monkeypatch, "rotated")
    assert invoke(["secret", "set", "--env", "staging", "oidcClientSecret"], cli) == 0
    assert "replacing the secret" in capsys.readouterr().out
    again = yaml.safe_load(staging.read_text())
    assert again["encryptionsalt"] == doc["encryptionsalt"]
    assert (
        secrets.decrypt(key, again["config"]["mlplatform:oidcClientSecret"]["secure"]) == "rotated"
    )
    assert not list(staging.parent.glob(".*.tmp"))


def test_wrong_passphrase_is_refused_and_nothing_changes(staging, monkeypatch, capsys):
    state, _ = secrets.new_state("the right one")
    staging.write_text(f"encryptionsalt: {state}\n" + staging.read_text())
    before = staging.read_bytes()
    _stdin(monkeypatch, "v")
    assert invoke(["secret", "set", "--env", "staging", "oidcClientSecret"], cli) == 2
    assert "incorrect passphrase" in capsys.readouterr().err
    assert staging.read_bytes() == before


def test_reuses_the_salt_the_generated_workspace_uses(staging, monkeypatch, capsys):
    state, _ = secrets.new_state("pass phrase")
    copy = stacks.Layout().work_dir("staging") / "Pulumi.staging.yaml"
    copy.parent.mkdir(parents=True)
    copy.write_text(f"encryptionsalt: {state}\nconfig: {{}}\n")
    _stdin(monkeypatch, "v")
    assert invoke(["secret", "set", "--env", "staging", "oidcClientSecret"], cli) == 0
    assert "encryptionsalt that" in capsys.readouterr().out
    assert yaml.safe_load(staging.read_text())["encryptionsalt"] == state


def test_dry_run_changes_nothing_and_prints_no_value(staging, monkeypatch, capsys):
    before = staging.read_bytes()
    _stdin(monkeypatch, "s3cr3t")
    assert invoke(["secret", "set", "--env", "staging", "oidcClientSecret", "--dry-run"], cli) == 0
    out = capsys.readouterr().out
    assert "would set mlplatform:oidcClientSecret (new)" in out and "s3cr3t" not in out
    assert staging.read_bytes() == before


@pytest.mark.parametrize(
    ("key", "stdin", "unset", "message"),
    [
        ("oidcClientSecret", "", False, "refusing an empty value"),
        ("oidcClientSecret", "v", True, "no passphrase: set PULUMI_CONFIG_PASSPHRASE"),
        ("typo", "v", False, "this stack reads no secret mlplatform:typo; its secret keys: "),
        ("platform", "v", False, "structured config"),
        ("a:b", "v", False, "is not a config key"),
    ],
)
def test_refusals_are_one_line_exit_2(staging, monkeypatch, capsys, key, stdin, unset, message):
    if unset:
        monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    before = staging.read_bytes()
    _stdin(monkeypatch, stdin)
    assert invoke(["secret", "set", "--env", "staging", key], cli) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert staging.read_bytes() == before
