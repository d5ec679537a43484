"""`mlplatform tenant ...`: validates before writing, keeps comments, refuses bad input."""


import pytest
import yaml

from mlplatform.cli import main


def _tenants(path):
    return yaml.safe_load(path.read_text())["config"]["mlplatform:tenants"]


def test_add_appends_validates_and_keeps_comments(dev, capsys):
    before = dev.read_text()
    argv = ["tenant", "add", "--env", "dev", "team-c", "--owner", "carol@example.com"]
    argv += ["--member", "dan@example.com=view", "--queue", "gpu:nvidia.com/gpu=2,cpu=2"]
    argv += ["--cohort", "research", "--gpu", "2", "--label", "cost-center=cc-7"]
    assert main(argv) == 0
    after = dev.read_text()
    assert after.startswith(before.rstrip("\n"))  # the old text, comments included, untouched
    assert _tenants(dev)[-1] == {
        "name": "team-c",
        "owners": ["carol@example.com"],
        "members": [{"email": "dan@example.com", "role": "view"}],
        "quota": {"gpu": 2},
        "kueue": {"cohort": "research", "quota": {"gpu": {"nvidia.com/gpu": "2", "cpu": "2"}}},
        "labels": {"cost-center": "cc-7"},
    }
    out = capsys.readouterr().out
    assert "ClusterQueue/tenant-team-c" in out and "Job/minio/tenant-team-c-bucket" in out
    assert "next: mlplatform up --env dev" in out
    assert not list(dev.parent.glob(".*.tmp"))


def test_dry_run_writes_nothing(dev):
    before = dev.read_bytes()
    assert main(["tenant", "add", "--env", "dev", "team-c", "--owner", "c@x.io", "--dry-run"]) == 0
    assert dev.read_bytes() == before


BAD = {
    "bad name": (["Team_C", "--owner", "c@x.io"], "tenants[2].name: 'Team_C' is not a DNS-1123"),
    "duplicate": (["team-a", "--owner", "c@x.io"], "tenant 'team-a' already exists"),
    "platform namespace": (["istio-system", "--owner", "c@x.io"], "is a platform namespace"),
    "owner without email": (["team-c", "--owner", "carol"], "'carol' is not an email address"),
    "unknown role": (["team-c", "--owner", "c@x.io", "--member", "d@x.io=boss"], "Input should be"),
    "unknown flavor": (["team-c", "--owner", "c@x.io", "--queue", "tpu:cpu=1"], "unknown flavor"),
    "negative quota": (["team-c", "--owner", "c@x.io", "--cpu", "-1"], "'-1' is not a Kubernetes"),
    "non-numeric quota": (["team-c", "--owner", "c@x.io", "--pods", "many"], "valid integer"),
    "gpu on cpu flavor": (
        ["team-c", "--owner", "c@x.io", "--queue", "cpu:nvidia.com/gpu=1"],
        "is not a gpu flavor",
    ),
    "unknown cohort": (["team-c", "--owner", "c@x.io", "--cohort", "x"], "unknown cohort 'x'"),
    "malformed queue flag": (["team-c", "--owner", "c@x.io", "--queue", "cpu"], "is not FLAVOR:"),
    "malformed label": (["team-c", "--owner", "c@x.io", "--label", "x"], "is not KEY=VALUE"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_leaves_the_file_byte_for_byte_unchanged(dev, capsys, case):
    args, expected = BAD[case]
    before = dev.read_bytes()
    assert main(["tenant", "add", "--env", "dev", *args]) == 2
    assert dev.read_bytes() == before
    err = capsys.readouterr().err
    assert "left unchanged" in err and expected in err


def test_remove_needs_confirmation_and_lists_the_data_lost(dev, capsys, monkeypatch):
    before = dev.read_bytes()
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "team-x")
    assert main(["tenant", "remove", "--env", "dev", "team-b"]) == 2
    assert dev.read_bytes() == before
    out = capsys.readouterr().out
    assert "PersistentVolumeClaim" in out and "bucket tenant-team-b" in out
    monkeypatch.setattr("builtins.input", lambda prompt: "team-b")
    assert main(["tenant", "remove", "--env", "dev", "team-b"]) == 0
    assert [t["name"] for t in _tenants(dev)] == ["team-a"]


def test_remove_without_a_terminal_needs_yes(dev, monkeypatch):
    before = dev.read_bytes()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["tenant", "remove", "--env", "dev", "team-a"]) == 2
    assert dev.read_bytes() == before
    assert main(["tenant", "remove", "--env", "dev", "team-a", "--yes"]) == 0
    assert [t["name"] for t in _tenants(dev)] == ["team-b"]


def test_add_then_remove_restores_the_file(dev):
    before = dev.read_bytes()
    assert main(["tenant", "add", "--env", "dev", "team-c", "--owner", "c@x.io"]) == 0
    assert main(["tenant", "remove", "--env", "dev", "team-c", "--yes"]) == 0
    assert dev.read_bytes() == before


def test_remove_unknown_tenant(dev, capsys):
    assert main(["tenant", "remove", "--env", "dev", "nobody", "--yes"]) == 2
    assert "tenants: team-a, team-b" in capsys.readouterr().err


def test_list_and_show(dev, capsys):
    assert main(["tenant", "list", "--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert "team-a" in out and "research" in out and "2 tenant(s)" in out
    assert main(["tenant", "show", "--env", "dev", "team-b"]) == 0
    shown = capsys.readouterr().out
    assert "allowedPriorities:\n  - low\n  - default" in shown
    assert "ServiceEntry/team-b/egress-pypi-org" in shown


def test_remove_dry_run_lists_the_loss_and_writes_nothing(dev, capsys, monkeypatch):
    before = dev.read_bytes()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)  # no prompt on a dry run
    assert main(["tenant", "remove", "--env", "dev", "team-b", "--dry-run"]) == 0
    assert dev.read_bytes() == before
    out = capsys.readouterr().out
    assert "PersistentVolumeClaim" in out and out.rstrip().endswith("not written")


def test_list_and_show_as_data(dev, capsys):
    import json

    assert main(["tenant", "list", "--env", "dev", "-o", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed] == ["team-a", "team-b"]
    assert main(["tenant", "show", "--env", "dev", "team-b", "-o", "yaml"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["spec"]["name"] == "team-b"
    assert "ServiceEntry/team-b/egress-pypi-org" in shown["creates"]


def test_errors_are_one_line(dev, capsys):
    assert main(["tenant", "show", "--env", "dev", "nobody"]) == 2
    assert capsys.readouterr().err == (
        "mlplatform: no tenant 'nobody' in Pulumi.dev.yaml; tenants: team-a, team-b\n"
    )
    assert main(["tenant", "add", "--env", "dev", "Team_C", "--owner", "c"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def _team(path, name):
    return next(t for t in _tenants(path) if t["name"] == name)


def test_update_changes_only_the_fields_given(dev, capsys):
    before = dev.read_text()
    argv = ["tenant", "update", "--env", "dev", "team-a", "--cpu", "8", "--owner", "ann@x.io"]
    assert main([*argv, "--queue", "gpu:cpu=6", "--label", "tier=gold"]) == 0
    team = _team(dev, "team-a")
    assert team["owners"] == ["ann@x.io"]
    assert team["quota"] == {"gpu": 1, "cpu": 8}  # key by key
    assert team["kueue"]["quota"]["gpu"] == {"cpu": "6", "memory": "16Gi", "nvidia.com/gpu": 1}
    assert team["kueue"]["cohort"] == "research" and team["members"] == [
        {"email": "bob@example.com", "role": "view"}
    ]
    assert team["labels"] == {"tier": "gold"}
    assert _team(dev, "team-b") == yaml.safe_load(before)["config"]["mlplatform:tenants"][1]
    after = dev.read_text()
    assert "# " in after and [ln for ln in before.splitlines() if ln.lstrip().startswith("#")] == [
        ln for ln in after.splitlines() if ln.lstrip().startswith("#")
    ]  # every comment kept
    assert "wrote" in capsys.readouterr().out


def test_update_validates_the_whole_result_and_dry_run_writes_nothing(dev, capsys):
    before = dev.read_bytes()
    assert main(["tenant", "update", "--env", "dev", "team-a", "--queue", "tpu:cpu=1"]) == 2
    assert "tenants[0].kueue.quota.tpu" in capsys.readouterr().err
    assert main(["tenant", "update", "--env", "dev", "team-a", "--owner", "ann"]) == 2
    assert "not an email address" in capsys.readouterr().err
    assert main(["tenant", "update", "--env", "dev", "team-a", "--cpu", "8", "--dry-run"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("not written")
    assert main(["tenant", "update", "--env", "dev", "team-a", "--gpu", "1"]) == 0  # no change
    assert "unchanged" in capsys.readouterr().out
    assert dev.read_bytes() == before


def test_update_unknown_tenant_is_one_line(dev, capsys):
    before = dev.read_bytes()
    assert main(["tenant", "update", "--env", "dev", "nobody", "--cpu", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no tenant 'nobody'" in err and "team-a, team-b" in err
    assert dev.read_bytes() == before


APPLY = """\
# tenants owned by the platform team's GitOps repo
- name: team-b           # changed: new owner
  owners: [bea@example.com]
- name: team-c
  owners: [carol@example.com]
  kueue: {cohort: research, quota: {gpu: {nvidia.com/gpu: 1}}}
"""


def _apply(dev, tmp_path, text, *flags):
    file = tmp_path / "tenants.yaml"
    file.write_text(text)
    return main(["tenant", "apply", "--env", "dev", "-f", str(file), *flags])


def test_apply_upserts_by_name_and_summarises(dev, tmp_path, capsys):
    team_a = _team(dev, "team-a")
    assert _apply(dev, tmp_path, APPLY) == 0
    assert [t["name"] for t in _tenants(dev)] == ["team-a", "team-b", "team-c"]
    assert _team(dev, "team-a") == team_a  # not in the file, not pruned: kept as it was
    assert _team(dev, "team-b") == {"name": "team-b", "owners": ["bea@example.com"]}
    assert _team(dev, "team-c")["kueue"]["cohort"] == "research"
    out = capsys.readouterr().out
    assert "added      team-c" in out and "changed    team-b" in out and "kept       team-a" in out
    assert "dev: 1 added, 1 changed, 0 unchanged, 0 removed" in out
    before = dev.read_bytes()
    assert _apply(dev, tmp_path, APPLY) == 0  # idempotent
    assert "0 added, 0 changed, 2 unchanged" in capsys.readouterr().out
    assert dev.read_bytes() == before


def test_apply_reports_every_problem_at_its_path_in_the_file(dev, tmp_path, capsys):
    before = dev.read_bytes()
    bad = APPLY + "- name: team-d\n  owners: [dora]\n- name: Team_E\n  owners: [e@x.io]\n"
    assert _apply(dev, tmp_path, bad) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "left unchanged" in err
    file = tmp_path / "tenants.yaml"
    assert f"{file}: tenants[2].owners[0]: 'dora' is not an email address" in err
    assert f"{file}: tenants[3].name: 'Team_E' is not a DNS-1123" in err
    assert dev.read_bytes() == before
    for text, expected in (
        ("- owners: [a@x.io]\n", "tenants[0]: must be a mapping with a name"),
        ("- name: x\n- name: x\n", "tenants[1].name: 'x' repeats tenants[0]"),
        ("name: x\n", "must be a list of tenant entries"),
        ("- [unclosed\n", "tenants.yaml"),
    ):
        assert _apply(dev, tmp_path, text) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
        assert dev.read_bytes() == before


def test_apply_prune_warns_of_data_loss_and_needs_confirmation(dev, tmp_path, capsys, monkeypatch):
    before = dev.read_bytes()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert _apply(dev, tmp_path, APPLY, "--prune", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "removed    team-a" in out and "PersistentVolumeClaim (and its data)" in out
    assert "1 removed" in out and out.rstrip().endswith("not written")
    assert _apply(dev, tmp_path, APPLY, "--prune") == 2  # no terminal, no --yes
    assert dev.read_bytes() == before
    assert _apply(dev, tmp_path, APPLY, "--prune", "--yes") == 0
    assert [t["name"] for t in _tenants(dev)] == ["team-b", "team-c"]
