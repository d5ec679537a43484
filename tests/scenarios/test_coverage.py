"""The CNCF AI-conformance requirements: pinned per Kubernetes minor, each MUST proved by a
named scenario step or answered with a reason for every minor a release supports, and the
coverage surfaces (`conformance list`, reports)."""

from __future__ import annotations

import json

import pytest
import yaml

from mlplatform import releases
from mlplatform.cli import main
from mlplatform.scenarios import requirements
from mlplatform.scenarios.library import Step, declared, scenarios
from mlplatform.scenarios.report import Report, ScenarioResult, StepResult, markdown


def supported() -> list[tuple[str, str]]:
    """(release, Kubernetes minor) for every minor each release supports."""
    out = []
    for name in releases.available():
        k8s = releases.load(name).kubernetes
        lo, hi = (int(v.split(".")[1]) for v in (k8s.min, k8s.max))
        out += [(name, f"1.{m}") for m in range(lo, hi + 1)]
    return out


CASES = supported()


def test_cases_cover_the_program():
    minors = {m for _, m in CASES}
    assert {"1.33", "1.34", "1.35"} <= minors  # where the program's checklists start
    assert set(requirements.versions()) <= minors | {"1.36"}


@pytest.mark.parametrize(("release", "kubernetes"), CASES, ids=[f"{r}@k8s{k}" for r, k in CASES])
def test_every_must_is_proved_or_answered(release, kubernetes):
    """A fully passing run of `release` on `kubernetes` proves every MUST, or the catalogue
    says why it does not apply or names the gap."""
    proves, cov = declared(releases.load(release), kubernetes)
    assert requirements.unaccounted_musts(cov) == []
    steps = {(sc.name, st.name) for sc in scenarios().values()
             for st in sc.build(_target(release)).steps}  # fmt: skip
    for c in cov.values():
        for by in c.by:
            scenario, step = by.split(" / ")
            assert (scenario, step) in steps, by
        assert c.state == "proved" or c.why, c
    # What the platform proves rather than answers: guards against dropping a `proves=`.
    proved = {r for r, c in cov.items() if c.state == "proved"}
    assert proved == {
        "ai_inference",
        "gang_scheduling",
        "pod_autoscaling",
        "accelerator_metrics",
        "ai_service_metrics",
        "secure_accelerator_access",
        "robust_controller",
    }
    assert proves["gang-scheduling"] == ["gang_scheduling"]
    assert proves["inference-traffic"] == ["ai_inference"]


def _target(release: str):
    from mlplatform.scenarios.images import Images
    from mlplatform.scenarios.library import Target

    rel = releases.load(release)
    return Target(rel, Images.for_release(rel), "cov000")


def test_musts_answered_not_proved_are_few_and_named():
    cat = requirements.catalogue()
    musts = {
        r for v in requirements.versions() for r, lv in cat.checklists[v].items() if lv == "MUST"
    }
    assert set(cat.gaps) & musts == set()
    assert set(cat.not_applicable) & musts == {"dra_support", "cluster_autoscaling"}


def test_checklists_follow_upstream_levels():
    assert requirements.checklist("1.33").level("dra_support") == "SHOULD"
    assert requirements.checklist("v1.34.2").level("dra_support") == "MUST"
    assert "driver_runtime_management" not in requirements.checklist("1.34").levels
    assert requirements.checklist("1.35").level("driver_runtime_management") == "SHOULD"
    old = requirements.checklist("1.31")  # before the program: held to the first checklist
    assert (old.kubernetes, old.version) == ("1.31", "1.33")
    assert old.source == ("cncf/k8s-ai-conformance@b2c89690e77f:docs/AIConformance-1.33.yaml")
    with pytest.raises(
        ValueError, match=r"no AI-conformance checklist pinned for Kubernetes 1\.36"
    ):
        requirements.checklist("1.36")


def test_catalogue_rejects_unknown_and_contradictory_ids():
    data = yaml.safe_load(requirements.FILE.read_text())
    bad = {**data, "gaps": {**data["gaps"], "gang_schedulng": "typo"}}
    with pytest.raises(ValueError, match=r"gaps: unknown requirement ids \['gang_schedulng'\]"):
        requirements.Catalogue.model_validate(bad)
    both = {**data, "gaps": {**data["gaps"], "dra_support": "x"}}
    with pytest.raises(ValueError, match=r"\['dra_support'\] both not applicable and a gap"):
        requirements.Catalogue.model_validate(both)


def test_a_step_cannot_prove_an_unknown_requirement():
    with pytest.raises(ValueError, match=r"step 'x' proves unknown requirements \['gang'\]"):
        Step("x", "y", lambda s: None, ("gang",))


def test_unproved_must_is_reported():
    cl = requirements.checklist("1.34")
    cov = requirements.coverage(cl, [])
    assert "gang_scheduling" in requirements.unaccounted_musts(cov)
    assert "ai_inference" in requirements.unaccounted_musts(cov)  # no longer a declared gap
    assert "dra_support" not in requirements.unaccounted_musts(cov)  # not applicable
    gap = requirements.coverage(requirements.checklist("1.35"), [])["gpu_sharing"]
    assert (gap.state, "timeSlicing" in gap.why) == ("not covered", True)  # a declared gap


def test_list_json_shape(capsys):
    assert main(["conformance", "list", "--kubernetes", "1.33", "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["release"], doc["kubernetes"], doc["checklist"]["version"]) == (
        "1.11",
        "1.33",
        "1.33",
    )
    by_name = {s["name"]: s for s in doc["scenarios"]}
    assert set(by_name) == set(scenarios())
    assert by_name["ai-metrics"]["requirements"] == ["accelerator_metrics", "ai_service_metrics"]
    assert by_name["tenant-isolation"]["requirements"] == []
    assert set(doc["coverage"]) == set(requirements.checklist("1.33").levels)
    assert doc["coverage"]["gang_scheduling"] == {
        "level": "MUST",
        "status": "proved",
        "by": ["gang-scheduling / gang waits whole", "gang-scheduling / gang runs whole"],
    }
    assert doc["coverage"]["dra_support"]["level"] == "SHOULD"
    assert doc["coverage"]["cluster_autoscaling"]["status"] == "not applicable"
    assert doc["coverage"]["ai_inference"] == {
        "level": "MUST",
        "status": "proved",
        "by": [
            "inference-traffic / Gateway programmed",
            "inference-traffic / route accepted",
            "inference-traffic / traffic follows weights",
        ],
    }


def test_list_defaults_and_refusals(capsys):
    assert main(["conformance", "list", "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    newest = releases.available()[-1]
    assert (doc["release"], doc["kubernetes"]) == (newest, releases.load(newest).kubernetes.max)
    assert main(["conformance", "list", "--kubernetes", "1.36"]) == 2
    assert "no platform release supports it" in capsys.readouterr().err
    assert main(["conformance", "list", "--kubernetes", "1.35", "--release", "1.10"]) == 2
    assert "release 1.10 supports 1.31-1.33" in capsys.readouterr().err
    assert main(["conformance", "list", "--kubernetes", "latest"]) == 2
    assert "not a Kubernetes minor" in capsys.readouterr().err


def test_list_from_the_stack(capsys):
    from mlplatform.cluster.lifecycle import load_stack

    platform = load_stack("dev").platform
    assert main(["conformance", "list", "--env", "dev", "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["release"], doc["kubernetes"]) == (platform.release, platform.kubernetes_version)


def test_report_coverage_counts_only_passed_steps():
    step = StepResult("gang runs whole", "x", "failed", 1.0, "boom", ["gang_scheduling"])
    ok = StepResult("gang waits whole", "x", "passed", 1.0, "", ["gang_scheduling"])
    sc = ScenarioResult("gang-scheduling", "s", [], "failed", 2.0, [ok, step])
    report = Report("1.11", "ctx", "2026-01-01T00:00:00+00:00", 2.0, [sc], kubernetes="1.33")
    assert report.coverage()["gang_scheduling"].by == ("gang-scheduling / gang waits whole",)
    ok.status = "failed"
    assert report.coverage()["gang_scheduling"].state == "not covered"
    again = Report.from_json(report.to_json())
    assert again == report and again.coverage() == report.coverage()
    unknown = Report("1.11", "ctx", "now", 1.0, [sc])
    assert (
        unknown.coverage() == {}
        and "Not evaluated: the cluster's Kubernetes version is unknown" in markdown(unknown)
    )
