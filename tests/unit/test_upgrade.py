"""Upgrade planning: catalogue hazards, config gates and the resource diff, offline."""

from mlplatform import releases
from mlplatform.cli import main
from mlplatform.upgrade import catalogue_changes, plan


def _changes(a, b):
    return {(c.component, c.what): c for c in catalogue_changes(releases.load(a), releases.load(b))}


def test_known_breaking_points_between_1_11_and_26_03_are_called_out():
    changes = _changes("1.11", "26.03")
    kueue = changes[("kueue", "api")]
    assert (kueue.before, kueue.after) == ("kueue.x-k8s.io/v1beta1", "kueue.x-k8s.io/v1beta2")
    assert "cohortName" in kueue.note
    assert changes[("kserve", "deployment-modes")].after == "knative=Knative,standard=Standard"
    assert ("trainer", "training-layout") not in changes  # both pin Trainer 2.1.0
    assert changes[("kueue", "version")].after == "0.16.1"
    # a version bump that only moves the version inside URLs is not a source move
    assert ("knative_serving", "source") not in changes


def test_trainer_appears_between_1_10_and_1_11():
    assert _changes("1.10", "1.11")[("trainer", "added")].after == "2.1.0"


def test_plan_blocks_when_kubernetes_is_outside_the_target_range():
    p = plan("dev", "26.03")
    assert not p.ok
    assert p.blockers == [
        "Kubernetes 1.33 is outside 26.03's range 1.34-1.36: upgrade the cluster first"
    ]
    changed = {urn.split("::")[-1]: what for urn, what in p.resources.changed.items()}
    assert "version: 0.14.8 -> 0.16.1" in changed["kueue"]
    assert any(
        "apiVersion kueue.x-k8s.io/v1beta1 -> kueue.x-k8s.io/v1beta2" in w
        for w in changed["kueue-platform-objects"]
    )


def test_downgrades_are_blocked():
    p = plan("prod", "1.10")
    assert "1.11 -> 1.10 is a downgrade; downgrades are not rehearsed" in p.blockers


def test_cli_exit_codes(capsys):
    assert main(["upgrade", "plan", "--env", "nope", "--to", "26.03"]) == 2
    assert "'nope' is not an environment" in capsys.readouterr().err
    assert main(["upgrade", "plan", "--env", "dev", "--to", "9.9"]) == 2
    assert main(["upgrade", "plan", "--env", "dev", "--to", "26.03"]) == 1
    assert "blocked:" in capsys.readouterr().out
