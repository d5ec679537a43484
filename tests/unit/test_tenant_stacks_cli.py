"""`mlplatform tenant up|migrate`, `tenant remove` of a tenant with its own stack, and the
platform up refusing a stack that still holds tenants (no pulumi CLI: the stack steps faked)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mlplatform.cli import main, tenant_stacks
from mlplatform.cli import tenant as cli
from mlplatform.cli.app import Exit
from mlplatform.cluster import lifecycle
from mlplatform.cluster import stack as stacks
from mlplatform.stackconfig import round_trip_yaml, stack_file

TENANT_URN = "urn:pulumi:dev::mlplatform::mlplatform:tenancy:Tenant::{}"


@pytest.fixture
def pulumi(monkeypatch):
    monkeypatch.setattr(tenant_stacks, "_pulumi", lambda: "/bin/pulumi")


def test_dry_run_names_every_tenant_stack(capsys):
    assert main(["tenant", "up", "--env", "dev", "--all", "--dry-run"]) == Exit.OK
    assert capsys.readouterr().out.splitlines() == [
        "dry run: would run `pulumi up` of stack dev.tenant-team-a",
        "dry run: would run `pulumi up` of stack dev.tenant-team-b",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "name the tenants to bring up, or pass --all (not both)"),
        (["team-a", "--all"], "name the tenants to bring up, or pass --all (not both)"),
        (["team-z"], "no tenant team-z in dev (tenants: team-a, team-b)"),
    ],
)
def test_up_refuses_a_bad_selection(args, expected, capsys):
    assert main(["tenant", "up", "--env", "dev", *args]) == Exit.USAGE
    assert capsys.readouterr().err == f"mlplatform: {expected}\n"


def test_up_runs_each_stack_in_parallel_and_reports_failures(pulumi, monkeypatch, capsys):
    ran: list[str] = []

    def up_tenant(env, name, kubeconfig=None, out=print):
        ran.append(f"{env}.tenant-{name}")
        if name == "team-b":
            raise stacks.StackError("pulumi up failed:\nboom")

    monkeypatch.setattr(lifecycle, "up_tenant", up_tenant)
    assert main(["tenant", "up", "--env", "dev", "team-a", "--parallel", "2"]) == Exit.OK
    assert ran == ["dev.tenant-team-a"]
    assert "1 tenant stacks up" in capsys.readouterr().out
    assert main(["tenant", "up", "--env", "dev", "--all"]) == Exit.FINDINGS
    err = capsys.readouterr().err
    assert "dev.tenant-team-b: failed: pulumi up failed: boom" in err
    assert "mlplatform: 1 of 2 tenant stacks failed: team-b" in err


def _names(path: Path) -> list[str]:
    return [t["name"] for t in yaml.safe_load(path.read_text())["config"]["mlplatform:tenants"]]


def test_remove_destroys_the_tenant_stack_before_dropping_the_entry(dev, monkeypatch, capsys):
    destroyed: list[str] = []
    monkeypatch.setattr(lifecycle, "tenant_stack_exists", lambda env, name: True)

    def broken(env, name, out=print):
        raise stacks.StackError("pulumi destroy of dev.tenant-team-a failed:\nno cluster")

    monkeypatch.setattr(lifecycle, "destroy_tenant", broken)
    assert main(["tenant", "remove", "--env", "dev", "team-a", "--yes"]) == Exit.FINDINGS
    assert _names(dev) == ["team-a", "team-b"]  # a failed destroy leaves the entry
    monkeypatch.setattr(lifecycle, "destroy_tenant", lambda env, name, out: destroyed.append(name))
    assert main(["tenant", "remove", "--env", "dev", "team-a", "--yes"]) == Exit.OK
    assert destroyed == ["team-a"]
    assert _names(dev) == ["team-b"]
    assert "destroying its stack dev.tenant-team-a" in capsys.readouterr().out


def test_existing_tenant_stacks_reads_the_file_backend(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: mlplatform\nruntime: python\n")
    layout = stacks.Layout(tmp_path)
    scoped = layout.state_dir / ".pulumi" / "stacks" / "mlplatform"
    scoped.mkdir(parents=True)
    for name in ("dev.tenant-a.json", "dev.tenant-b.json.gz", "dev.json", "prod.tenant-c.json",
                 "dev.tenant-e.json.bak"):  # fmt: skip
        (scoped / name).write_text("{}")
    (scoped.parent / "dev.tenant-d.json").write_text("{}")  # legacy, not project-scoped
    assert lifecycle.existing_tenant_stacks("dev", layout) == ["a", "b", "d"]
    assert lifecycle.tenant_stack_exists("dev", "b", layout)
    assert not lifecycle.tenant_stack_exists("dev", "c", layout)


def test_migrate_dry_run_plans_one_move_per_tenant(pulumi, monkeypatch, capsys):
    urns = [
        TENANT_URN.format("team-b"),
        TENANT_URN.format("team-a"),
        "urn:pulumi:dev::mlplatform::mlplatform:tenancy:Tenant$kubernetes:yaml/v2:ConfigGroup"
        "::tenant-team-a",
        "urn:pulumi:dev::mlplatform::mlplatform:tenancy:TenantAdmission::tenant-admission",
    ]
    monkeypatch.setattr(tenant_stacks, "platform_urns", lambda env: urns)
    monkeypatch.setattr(tenant_stacks, "move", lambda *a: pytest.fail("dry run moved"))
    assert main(["tenant", "migrate", "--env", "dev", "--dry-run"]) == Exit.OK
    assert capsys.readouterr().out.splitlines() == [
        f"dry run: would run: pulumi state move --source dev --dest dev.tenant-{n} --yes "
        + TENANT_URN.format(n)
        for n in ("team-a", "team-b")
    ]


class _FakeStack:
    name = "dev"

    def __init__(self, urns: list[str]) -> None:
        self.urns = urns

    def export_stack(self):
        class Deployment:
            deployment = {"resources": [{"urn": u} for u in self.urns]}

        return Deployment()


def test_platform_up_refuses_a_stack_still_holding_tenants(monkeypatch, tmp_path):
    ups: list[str] = []
    monkeypatch.setattr(lifecycle, "check_context", lambda config, kubeconfig: None)
    monkeypatch.setattr(stacks, "up", lambda stack, out: ups.append(stack.name) or {})
    monkeypatch.setattr(stacks, "check_idempotent", lambda stack, out: None)
    monkeypatch.setattr(lifecycle, "up_tenants", lambda env, names, **k: {})
    config = lifecycle.load("dev")
    ws = stacks.Workspace("dev", tmp_path, {})
    dep = lifecycle.Deployment("dev", config, None, ws)
    monkeypatch.setattr(stacks, "select", lambda ws: _FakeStack([TENANT_URN.format("team-a")]))
    with pytest.raises(stacks.StackError, match="mlplatform tenant migrate --env dev"):
        lifecycle._bring_up(dep, kind=False, out=lambda _: None)
    assert ups == []
    monkeypatch.setattr(stacks, "select", lambda ws: _FakeStack([]))
    lifecycle._bring_up(dep, kind=False, out=lambda _: None)
    assert ups == ["dev"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_add_appends_as_text_exactly_as_the_round_trip_would(env):
    """`tenant add` at 1,000 tenants must not round-trip the file through ruamel (seconds):
    the text append gives the same bytes as the round trip."""
    from ruamel.yaml.comments import CommentedMap

    text = stack_file(env).read_text()
    entry = CommentedMap(name="team-z", owners=["z@example.com"], kueue={"quota": {"cpu": {}}})
    doc = round_trip_yaml().load(text)
    cli.tenants_of(doc).append(entry)
    assert cli.appended(text, entry) == cli.dump(doc)


@pytest.mark.parametrize(
    "text",
    [
        "config:\n  mlplatform:tenants: []\n",  # flow style: the round trip handles it
        "config:\n  mlplatform:platform: {}\n",  # no list yet
        "config:\n  mlplatform:tenants:\n    # none yet\n  mlplatform:platform: {}\n",  # null
    ],
)
def test_add_falls_back_to_the_round_trip(text):
    from ruamel.yaml.comments import CommentedMap

    assert cli.appended(text, CommentedMap(name="b", owners=["b@example.com"])) is None


def test_tenant_workspace_shares_backend_passphrase_and_stack_file(tmp_path):
    root = Path(stacks.ROOT)
    shutil.copy(root / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    shutil.copy(root / "stacks" / "Pulumi.dev.yaml", tmp_path / "stacks" / "Pulumi.dev.yaml")
    layout = stacks.Layout(tmp_path)
    platform = stacks.prepare("dev", layout, environ={})
    tenant = stacks.prepare("dev", layout, environ={}, tenant="team-a")
    assert (platform.stack_name, tenant.stack_name) == ("dev", "dev.tenant-team-a")
    assert tenant.work_dir == tmp_path / ".pulumi-state" / "workspaces" / "dev.tenant-team-a"
    assert tenant.env_vars == platform.env_vars  # same passphrase file
    assert yaml.safe_load((tenant.work_dir / "Pulumi.yaml").read_text()) == yaml.safe_load(
        (platform.work_dir / "Pulumi.yaml").read_text()
    )  # same project (name, main, backend)
    copied = yaml.safe_load((tenant.work_dir / "Pulumi.dev.tenant-team-a.yaml").read_text())
    assert copied == yaml.safe_load((tmp_path / "stacks" / "Pulumi.dev.yaml").read_text())
    assert "dev.tenant-team-a" in stacks.show_secrets_command(tenant)
