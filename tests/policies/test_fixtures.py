"""The deliberately broken tenant/workload set: each file is caught by exactly its rule."""

import pytest

from mlplatform.policies.registry import POLICIES, WAIVERS_VALID, evaluate
from tests.policies.conftest import FIXTURES, load_set

RULES = sorted(p.name for p in POLICIES if p.name != WAIVERS_VALID)


def test_base_set_passes_every_policy_including_advisories():
    assert [(f.policy.name, f.resource, f.violation.message) for f in evaluate(load_set())] == []


def test_every_rule_has_a_violation_fixture():
    files = {p.stem for p in FIXTURES.glob("*.yaml")} - {"base"}
    assert files == set(RULES)


@pytest.mark.parametrize("rule", RULES)
def test_each_fixture_breaks_exactly_its_rule_once(rule):
    found = [(f.policy.name, f.resource) for f in evaluate(load_set(rule))]
    assert len(found) == 1 and found[0][0] == rule, found
