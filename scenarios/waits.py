"""Polling waits with named timeout tiers (as Kueue's e2e: Timeout, LongTimeout, Interval).

`until` polls a check until it returns something truthy; `consistently` asserts a check
stays true for a whole tier (negative outcomes: "stays pending", "stays blocked").
The clock is injectable so tests run instantly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Tier:
    name: str
    timeout_s: float
    interval_s: float = 0.25

    def __str__(self) -> str:
        return f"{self.name} ({self.timeout_s:g}s)"


SHORT = Tier("short", 30)  # an object appears, a condition flips, an API answers
LONG = Tier("long", 45)  # admission, scheduling, pods starting
CONSISTENT = Tier("consistent", 10, 1.0)  # how long a negative outcome must hold
JOB = Tier("job", 600, 2.0)  # a workload runs to completion (image pulls included)
SERVE = Tier("serve", 600, 2.0)  # an InferenceService becomes ready
PIPELINE = Tier("pipeline", 1200, 5.0)  # a KFP run finishes
TIERS = {t.name: t for t in (SHORT, LONG, CONSISTENT, JOB, SERVE, PIPELINE)}


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class WaitTimeout(AssertionError):
    """A wait ran out its tier; the message names what, the tier and the last observation."""

    def __init__(self, what: str, tier: Tier, last: str) -> None:
        super().__init__(f"timed out after {tier}: {what}; last seen: {last}")
        self.what = what
        self.tier = tier
        self.last = last


class Waiter:
    def __init__(self, clock: Clock | None = None, scale: float = 1.0) -> None:
        self.clock = clock or RealClock()
        self.scale = scale  # stretch every tier on slow clusters (--timeout-scale)

    def until(
        self,
        check: Callable[[], T | None],
        tier: Tier,
        what: str,
        describe: Callable[[], str] | None = None,
    ) -> T:
        """Return check()'s first truthy value; raise WaitTimeout when the tier runs out.

        Exceptions raised by check() propagate at once (a hard failure, not a wait).
        """
        deadline = self.clock.now() + tier.timeout_s * self.scale
        while True:
            value = check()
            if value:
                return value
            if self.clock.now() >= deadline:
                raise WaitTimeout(what, tier, describe() if describe else repr(value))
            self.clock.sleep(tier.interval_s)

    def consistently(
        self,
        check: Callable[[], bool],
        tier: Tier,
        what: str,
        describe: Callable[[], str] | None = None,
    ) -> None:
        """check() must hold at every poll for the whole tier."""
        deadline = self.clock.now() + tier.timeout_s * self.scale
        while True:
            if not check():
                raise AssertionError(
                    f"expected to hold for {tier}: {what}; "
                    f"saw: {describe() if describe else 'false'}"
                )
            if self.clock.now() >= deadline:
                return
            self.clock.sleep(tier.interval_s)
