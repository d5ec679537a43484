"""Waivers: explicit, reviewed, dated; waived findings stay visible; expired ones fail."""

from datetime import date
from pathlib import Path

import pytest

from mlplatform.policies import waivers
from mlplatform.policies.registry import POLICIES, evaluate
from tests.policies.conftest import load_set

WAIVER = """waivers:
  - policy: no-host-path
    resource: Pod/team-a/host-*
    reason: the log shipper reads /var/log until upstream ships an API
    reviewer: security@example.com
    expires: {expires}
"""


def test_a_waiver_marks_the_violation_waived_and_keeps_it_listed(waiver_file):
    waiver_file.write_text(WAIVER.format(expires="2999-12-31"))
    [finding] = evaluate(load_set("no-host-path"))
    assert finding.policy.name == "no-host-path" and finding.resource == "Pod/team-a/host-path"
    assert finding.waiver is not None
    assert finding.waiver.describe() == (
        "the log shipper reads /var/log until upstream ships an API "
        "(reviewed by security@example.com, expires 2999-12-31)"
    )


def test_an_expired_waiver_waives_nothing_and_is_itself_a_violation(waiver_file):
    waiver_file.write_text(WAIVER.format(expires="2020-01-31"))
    found = {
        (f.policy.name, f.violation.message, f.waiver) for f in evaluate(load_set("no-host-path"))
    }
    assert found == {
        ("no-host-path", "volume 'docker' mounts hostPath /var/run/docker.sock", None),
        (
            "waivers-valid",
            "waiver for no-host-path on Pod/team-a/host-* expired on 2020-01-31",
            None,
        ),
    }


def test_a_waiver_for_an_unknown_policy_is_a_violation(waiver_file):
    waiver_file.write_text(
        WAIVER.format(expires="2999-12-31").replace("no-host-path", "no-hostpath")
    )
    assert [(f.policy.name, f.violation.message) for f in evaluate(load_set())] == [
        ("waivers-valid", "waiver names unknown policy 'no-hostpath'")
    ]


def test_waivers_must_name_reason_reviewer_and_expiry(waiver_file):
    waiver_file.write_text("waivers:\n  - {policy: probes, resource: '*', reason: because}\n")
    with pytest.raises(ValueError) as err:
        waivers.load()
    assert str(err.value) == (
        "waivers.yaml is invalid: waivers.0.reason: String should have at least 10 characters "
        "(got 'because'); waivers.0.reviewer: Field required (got {'policy': 'probes', "
        "'resource': '*', 'reason': 'because'}); waivers.0.expires: Field required (got "
        "{'policy': 'probes', 'resource': '*', 'reason': 'because'})"
    )


def test_the_repository_waivers_are_current_and_name_known_policies():
    repo_file = Path(waivers.__file__).with_name("waivers.yaml")
    known = {p.name for p in POLICIES}
    stale = [w for w in waivers.load(repo_file) if w.expired(date.today()) or w.policy not in known]
    assert stale == []
