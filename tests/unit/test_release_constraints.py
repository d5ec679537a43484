"""The catalogue's cross-component constraints: every release's pins satisfy them, a release
that breaks one fails to load, and `upgrade plan` checks the target against them."""

from pathlib import Path

import pytest
import yaml

from mlplatform import releases, upgrade


def _broken(tmp_path: Path, release: str, edit) -> Path:
    """A copy of a shipped release file with one deliberate change."""
    doc = yaml.safe_load((releases.CONSTRAINTS_FILE.parent / f"{release}.yaml").read_text())
    edit(doc)
    path = tmp_path / f"{release}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("name", releases.available())
def test_every_release_satisfies_every_constraint(name):
    assert releases.violations(releases.load(name)) == []


def test_the_constraints_file_is_no_release():
    assert "constraints" not in releases.available()
    with pytest.raises(KeyError, match="unknown platform release 'constraints'"):
        releases.load("constraints")


def test_every_constraint_cites_its_source_and_states_something():
    for c in releases.constraints():
        assert c.source.strip()
        assert c.requires or c.kubernetes, c.name


def test_kueue_trainjob_field_by_version():
    assert releases.trainjob_field("0.14.0") == "podSpecOverrides"
    assert releases.trainjob_field("0.14.4") == "podSpecOverrides"
    assert releases.trainjob_field("0.14.5") == "podTemplateOverrides"
    assert releases.trainjob_field("0.16.1") == "podTemplateOverrides"
    assert releases.trainjob_field("v0.17.0") == "runtimePatches"
    with pytest.raises(KeyError, match=r"no TrainJob field for Kueue 0\.13\.0"):
        releases.trainjob_field("0.13.0")


def test_a_kueue_that_writes_another_trainer_api_fails_to_load(tmp_path):
    def kueue_0_17(doc):
        doc["components"]["kueue"]["version"] = "0.17.0"

    path = _broken(tmp_path, "26.03", kueue_0_17)
    with pytest.raises(ValueError, match=r"kueue 0\.17\.0 needs trainer >=2\.2\.0, pinned 2\.1\.0"):
        releases.load_file(path, "26.03")


def test_a_release_wider_than_its_istio_supports_fails_to_load(tmp_path):
    def up_to_1_36(doc):
        doc["kubernetes"]["max"] = "1.36"

    path = _broken(tmp_path, "26.03", up_to_1_36)
    with pytest.raises(ValueError, match=r"istio 1\.29\.1 supports Kubernetes 1\.31-1\.35"):
        releases.load_file(path, "26.03")


def test_a_release_without_trainer_is_not_held_to_the_trainer_pairing():
    assert not releases.load("1.10").has("trainer")
    assert releases.violations(releases.load("1.10")) == []


def test_kubernetes_problems_name_the_component():
    rel = releases.load("26.03")
    assert releases.kubernetes_problems(rel, "1.34") == []
    (problem,) = releases.kubernetes_problems(rel, "1.36")
    assert problem.startswith("istio 1.29.1 supports Kubernetes 1.31-1.35, not 1.36")


def test_upgrade_plan_checks_the_target_against_the_constraints(monkeypatch):
    real = upgrade.stack_inputs

    def on_1_36(env, release=None):
        plain, secrets = real(env, release)
        plain["platform"]["kubernetesVersion"] = "1.36"
        return plain, secrets

    monkeypatch.setattr(upgrade, "stack_inputs", on_1_36)
    p = upgrade.plan("staging", "26.03")
    assert any(
        b.startswith("on 26.03, istio 1.29.1 supports Kubernetes 1.31-1.35, not 1.36")
        for b in p.blockers
    )
