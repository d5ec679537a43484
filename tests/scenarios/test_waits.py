"""Polling waits: named tiers, timeouts with the last observation, consistency checks."""

import pytest

from mlplatform.scenarios.waits import CONSISTENT, LONG, SHORT, TIERS, Waiter, WaitTimeout
from tests.scenarios.fake import FakeClock


def test_tiers_match_kueue_e2e_practice():
    assert (SHORT.timeout_s, LONG.timeout_s) == (30, 45)
    assert all(t.interval_s >= 0.25 for t in TIERS.values())
    assert TIERS["job"].timeout_s >= 60  # job-level waits are minutes


def test_until_returns_the_first_truthy_value():
    clock, answers = FakeClock(), iter([None, 0, "ready"])
    assert Waiter(clock).until(lambda: next(answers), SHORT, "thing") == "ready"
    assert clock.t == pytest.approx(2 * SHORT.interval_s)


def test_until_times_out_at_its_tier_naming_what_and_last_state():
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as err:
        Waiter(clock).until(lambda: None, LONG, "Job/ns/x admitted", lambda: "QuotaReserved=False")
    assert err.value.tier is LONG
    assert str(err.value) == (
        "timed out after long (45s): Job/ns/x admitted; last seen: QuotaReserved=False"
    )
    assert LONG.timeout_s <= clock.t < LONG.timeout_s + LONG.interval_s + 1e-9


def test_scale_stretches_every_tier():
    clock = FakeClock()
    with pytest.raises(WaitTimeout):
        Waiter(clock, scale=2).until(lambda: False, SHORT, "x")
    assert 2 * SHORT.timeout_s <= clock.t < 2 * SHORT.timeout_s + 1


def test_check_errors_propagate_at_once():
    clock = FakeClock()

    def boom():
        raise RuntimeError("api down")

    with pytest.raises(RuntimeError, match="api down"):
        Waiter(clock).until(boom, LONG, "x")
    assert clock.t == 0


def test_consistently_holds_for_the_whole_tier():
    clock, polls = FakeClock(), []
    Waiter(clock).consistently(lambda: polls.append(1) or True, CONSISTENT, "pending")
    assert clock.t >= CONSISTENT.timeout_s
    assert len(polls) == int(CONSISTENT.timeout_s / CONSISTENT.interval_s) + 1


def test_consistently_fails_as_soon_as_it_breaks():
    clock, states = FakeClock(), iter([True, True, False])
    with pytest.raises(AssertionError, match=r"expected to hold for consistent \(10s\): pending"):
        Waiter(clock).consistently(lambda: next(states), CONSISTENT, "pending", lambda: "Admitted")
    assert clock.t == pytest.approx(2 * CONSISTENT.interval_s)
