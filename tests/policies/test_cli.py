"""`mlplatform policy list|check|config` and their exit codes."""

import json

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from mlplatform import upstream
from mlplatform.cli import main
from mlplatform.policies.registry import POLICIES


@pytest.fixture(autouse=True)
def no_upstream_cache(monkeypatch):
    """No cache on this machine (tests/upstream checks the run with one)."""
    monkeypatch.setattr(upstream, "default_dir", lambda: None)


def test_list_shows_every_policy_with_its_level(capsys):
    assert main(["policy", "list"]) == 0
    out = capsys.readouterr().out
    for p in POLICIES:
        assert f"  {p.name} [{p.level}]" in out
    assert "secrets-marked [mandatory] (offline only)" in out


def test_check_passes_a_clean_stack_and_says_what_it_cannot_see(capsys):
    assert main(["policy", "check", "--env", "staging", "--release", "1.10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "policy check: env staging, release 1.10 (offline: our own objects only (no upstream "
        "cache: pass --cache DIR, or run `mlplatform upstream pull`); Helm chart and kustomize "
        "children are checked by `mlplatform preview --env ENV --policy-pack`)\njudged: "
    )
    assert " objects of ours, 0 upstream children\n" in out
    assert out.rstrip().endswith("0 mandatory, 0 advisory, 0 waived")


def test_check_fails_on_a_mandatory_violation_and_lists_advisories(capsys, waiver_file, tmp_path):
    waiver_file.write_text(
        "waivers:\n  - {policy: probes, resource: 'Deployment/*', reason: expired exception, "
        "reviewer: sec@example.com, expires: 2020-01-01}\n"
    )
    config = tmp_path / "pack.json"
    config.write_text(
        json.dumps({"images-pinned": {"enforcementLevel": "advisory", "requireDigest": True}})
    )
    assert main(["policy", "check", "--env", "dev", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert (
        "[mandatory] waivers-valid: Waivers name a known policy and have not expired.\n"
        "  stack: waiver for probes on Deployment/* expired on 2020-01-01\n"
    ) in out
    assert "[advisory] images-pinned: Images are pinned by tag or digest.\n" in out
    assert "  Job/minio/tenant-team-a-bucket: image quay.io/minio/mc:RELEASE" in out
    assert "note: waiver for probes on Deployment/* matched nothing offline" in out


def test_check_reports_bad_stack_config_with_exit_2(capsys, tmp_path):
    bad = tmp_path / "pack.json"
    bad.write_text(json.dumps({"no-host-path": {"alowed": []}}))
    assert main(["policy", "check", "--env", "dev", "--config", str(bad)]) == 2
    assert capsys.readouterr().err == (
        "mlplatform: policy check: no-host-path.alowed: unknown setting; settings of "
        "no-host-path: allowed\n"
    )
    bad.write_text("[]")
    assert main(["policy", "check", "--env", "dev", "--config", str(bad)]) == 2
    assert "must be a JSON object" in capsys.readouterr().err


def test_unknown_policies_are_refused_before_anything_is_evaluated(
    capsys, tmp_path, waiver_file, monkeypatch
):
    import mlplatform.mockrun

    def never(*args, **kwargs):
        raise AssertionError("evaluated despite a bad config")

    monkeypatch.setattr(mlplatform.mockrun, "run", never)
    waiver_file.write_text(
        "waivers:\n  - {policy: no-hostpath, resource: 'DaemonSet/*', reason: a reviewed exception, "
        "reviewer: sec@example.com, expires: 2999-01-01}\n"
    )
    config = tmp_path / "pack.json"
    config.write_text(json.dumps({"images-pined": "advisory", "probes": "loud"}))
    assert main(["policy", "check", "--env", "dev", "--config", str(config)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(
        "mlplatform: policy check: images-pined: unknown policy 'images-pined'; did you mean "
        "'images-pinned'?"
    )
    assert lines[1].startswith("mlplatform: policy check: probes: 'loud' is not a level")
    assert lines[2].startswith(
        "mlplatform: policy check: waivers[0].policy: unknown policy 'no-hostpath'; did you mean "
        "'no-host-path'?"
    )
    assert len(lines) == 3
    assert main(["policy", "config", "--env", "dev"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("mlplatform: policy config: waivers[0].policy: unknown policy")


def test_check_refuses_a_missing_cache_with_exit_3(capsys, tmp_path):
    assert main(["policy", "check", "--env", "dev", "--cache", str(tmp_path / "none")]) == 3
    err = capsys.readouterr().err
    assert f"upstream cache {tmp_path / 'none'} does not exist" in err and err.count("\n") == 1


def test_config_prints_the_pack_config_for_pulumi_preview(capsys):
    assert main(["policy", "config", "--env", "prod"]) == 0
    assert json.loads(capsys.readouterr().out) == {}


def test_list_and_check_as_data(capsys, waiver_file):
    waiver_file.write_text(
        "waivers:\n  - {policy: probes, resource: 'Deployment/*', reason: expired exception, "
        "reviewer: sec@example.com, expires: 2020-01-01}\n"
    )
    assert main(["policy", "list", "-o", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {p["name"] for p in listed} == {p.name for p in POLICIES}
    assert main(["policy", "check", "--env", "dev", "-o", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False and report["env"] == "dev"
    assert any(
        f["policy"] == "waivers-valid" and f["level"] == "mandatory" and f["waiver"] is None
        for f in report["findings"]
    )
