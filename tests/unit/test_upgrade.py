"""Upgrade planning: catalogue hazards, config gates and the resource diff, offline."""

import json
import re

import pytest

from mlplatform import releases, upgrade
from mlplatform.cli import main
from mlplatform.mockrun import run_stack
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
        "Kubernetes 1.33 is outside 26.03's range 1.34-1.35: upgrade the cluster first"
    ]
    changed = {urn.split("::")[-1]: what for urn, what in p.resources.changed.items()}
    assert "version: 0.14.8 → 0.16.1" in changed["kueue"]
    assert (
        "~ResourceFlavor cpu: apiVersion kueue.x-k8s.io/v1beta1 → v1beta2"
        in (changed["kueue-platform-objects"])
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


# Every pair of releases, oldest first: the plan must compare tenant objects on each.
PAIRS = [("1.10", "1.11"), ("1.11", "26.03"), ("1.10", "26.03")]
COHORT_MOVE = "apiVersion kueue.x-k8s.io/v1beta1 → v1beta2; spec.cohort → spec.cohortName"


@pytest.fixture(scope="module")
def plans() -> dict[tuple[str, str], upgrade.UpgradePlan]:
    return {(a, b): upgrade.plan("dev", b, a) for a, b in PAIRS}


def _by_name(p: upgrade.UpgradePlan) -> dict[str, list[str]]:
    assert p.resources is not None
    return {urn.split("::")[-1]: what for urn, what in p.resources.changed.items()}


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: "->".join(p))
def test_plan_compares_tenant_objects_carried_as_yaml(plans, pair):
    changed = _by_name(plans[pair])
    if pair[1] == "26.03":  # Kueue v1beta2: every tenant queue moves API and field name
        for team in ("team-a", "team-b"):
            assert f"~ClusterQueue tenant-{team}: {COHORT_MOVE}" in changed[f"tenant-{team}"]
            assert (
                f"~LocalQueue {team}/default: apiVersion kueue.x-k8s.io/v1beta1 → v1beta2"
                in changed[f"tenant-{team}"]
            )
    else:  # 1.10 and 1.11 both pin Kueue's v1beta1 API: the tenants' objects are identical
        # but for team-a's model-registry database Job, on each release's MySQL image
        tenant_changes = [
            c for name, cs in changed.items() if name.startswith("tenant-") for c in cs
        ]
        assert tenant_changes == [
            "~Job kubeflow/tenant-team-a-registry-db: "
            "spec.template.spec.containers[0].image: mysql:8.3.0 → mysql:8.3"
        ]


def test_tenant_yaml_objects_are_carried_by_their_group():
    graph = run_stack("dev")
    group = graph.named("tenant-team-a")
    carried = upgrade.carried_objects(graph, group)
    assert carried is not None
    assert carried["ClusterQueue tenant-team-a"]["spec"]["cohort"]
    assert "LocalQueue team-a/default" in carried


def test_field_changes_name_paths_renames_and_embedded_yaml():
    a = {"apiVersion": "g/v1", "spec": {"cohort": "x", "n": 1, "gone": True}, "cfg": "a: 1\nb: 2\n"}
    b = {"apiVersion": "g/v2", "spec": {"cohortName": "x", "n": 2, "new": 3}, "cfg": "a: 1\nc: 2\n"}
    assert upgrade.field_changes(a, b) == [
        "apiVersion g/v1 → v2",
        "spec.cohort → spec.cohortName",
        "-spec.gone",
        "+spec.new",
        "spec.n: 1 → 2",
        "cfg|b → cfg|c",
    ]


def test_chart_values_changes_are_named_by_key_path(plans):
    kserve = _by_name(plans[("1.11", "26.03")])["kserve"]
    assert "values.kserve.controller.deploymentMode: RawDeployment → Standard" in kserve
    kueue = _by_name(plans[("1.11", "26.03")])["kueue"]
    assert "-values.managerConfig.controllerManagerConfigYaml|waitForPodsReady.enable" in kueue


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: "->".join(p))
def test_no_local_path_or_hash_in_any_output(plans, pair):
    p = plans[pair]
    for text in (upgrade.render(p, verbose=True), upgrade.as_json(p)):
        assert "/work/" not in text and ".work/" not in text
        assert str(upgrade.upstream.ROOT) not in text
        assert not re.search(r"/[0-9a-f]{12}\b", text)


def test_normalise_hides_generated_dirs_and_the_cache():
    generated = f"{upgrade.upstream.ROOT}/.work/kustomize/dev/dex/4daeba8dc795"
    assert upgrade.normalise({"directory": generated}) == {"directory": "<generated kustomization>"}
    rewritten = f"{upgrade.upstream.WORK}/github.com/kubeflow/manifests/26.03/x"
    assert upgrade.normalise(rewritten) == "<upstream>/github.com/kubeflow/manifests/26.03/x"


def test_plan_ends_with_the_next_steps(plans):
    assert plans[("1.11", "26.03")].next_steps == [
        'set `release: "26.03"` under mlplatform:platform in stacks/Pulumi.dev.yaml',
        "mlplatform up --env dev",
        "kueue: " + releases.load("26.03").component("kueue").storage_migration,
    ]
    # 1.10 -> 1.11 crosses Kueue 0.13.0, which dropped Cohort v1alpha1 without conversion:
    # back up and delete the CRD before `up`, restore at v1beta1 after (no storage migration).
    steps = plans[("1.10", "1.11")].next_steps
    assert len(steps) == 4 and steps[2] == "mlplatform up --env dev"
    assert "back up every Cohort" in steps[1] and "delete CRD cohorts.kueue.x-k8s.io" in steps[1]
    assert steps[3] == (
        "kueue: restore the Cohorts at kueue.x-k8s.io/v1beta1, spec.parent renamed spec.parentName"
    )


def test_config_errors_are_attributed_to_their_release(monkeypatch):
    from mlplatform.config import ConfigError

    real = upgrade.run

    def failing_on_target(config, stack, secrets):
        if config["platform"]["release"] == "26.03":
            raise ConfigError(["kueue.waitForPodsReady: not on this release"])
        return real(config, stack=stack, secrets=secrets)

    monkeypatch.setattr(upgrade, "run", failing_on_target)
    p = upgrade.plan("dev", "26.03")
    assert "config on 26.03 (target): kueue.waitForPodsReady: not on this release" in p.blockers
    assert p.resources is None


def test_cli_json_carries_the_same_plan(capsys):
    assert (
        main(["upgrade", "plan", "--env", "dev", "--from", "1.10", "--to", "26.03", "-o", "json"])
        == 1
    )
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["from"] == "1.10" and data["next_steps"][2] == "mlplatform up --env dev"
    changed = {u.split("::")[-1]: w for u, w in data["resources"]["changed"].items()}
    assert f"~ClusterQueue tenant-team-a: {COHORT_MOVE}" in changed["tenant-team-a"]
    assert "/work/" not in out and ".work/" not in out
