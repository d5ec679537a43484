"""Every policy, and one evaluation both the offline runner and the pack use.

Policy config follows `pulumi --policy-pack-config`: `{policy: level}` or
`{policy: {enforcementLevel: level, <key>: value}}`; level is mandatory, advisory or disabled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlplatform.policies import reliability, security, stack, supply_chain, tenancy, waivers
from mlplatform.policies.core import Config, Level, Policy, View, Violation

PackConfig = Mapping[str, Any]
WAIVERS_VALID = "waivers-valid"


def _waivers_valid(views: Sequence[View], cfg: Config) -> list[Violation]:
    known = {p.name for p in POLICIES}
    today = dt.date.today()
    found = []
    for w in waivers.load():
        if w.expired(today):
            found.append(Violation(f"waiver for {w.policy} on {w.resource} expired on {w.expires}"))
        if w.policy not in known:
            found.append(Violation(f"waiver names unknown policy {w.policy!r}"))
    return found


POLICIES: list[Policy] = [
    *security.POLICIES,
    *tenancy.POLICIES,
    *reliability.POLICIES,
    *supply_chain.POLICIES,
    *stack.POLICIES,
    Policy(
        WAIVERS_VALID,
        "Waivers name a known policy and have not expired.",
        "mandatory",
        stack_check=_waivers_valid,
    ),
]
GROUPS = {
    "security": security.POLICIES,
    "tenancy": tenancy.POLICIES,
    "reliability": reliability.POLICIES,
    "supply chain": supply_chain.POLICIES,
    "stack": [*stack.POLICIES, POLICIES[-1]],
}


def by_name(name: str) -> Policy:
    try:
        return next(p for p in POLICIES if p.name == name)
    except StopIteration:
        raise KeyError(f"no policy {name!r}; known: {[p.name for p in POLICIES]}") from None


def level(policy: Policy, config: PackConfig | None) -> Level | None:
    """The enforcement level after config (None when disabled)."""
    given = (config or {}).get(policy.name)
    chosen = given if isinstance(given, str) else (given or {}).get("enforcementLevel")
    chosen = chosen or policy.level
    if chosen not in ("mandatory", "advisory", "disabled"):
        raise ValueError(f"policy {policy.name}: enforcementLevel {chosen!r} is not valid")
    return None if chosen == "disabled" else chosen


def settings(policy: Policy, config: PackConfig | None) -> dict[str, Any]:
    given = (config or {}).get(policy.name)
    return policy.config(given if isinstance(given, Mapping) else None)


@dataclass(frozen=True)
class Finding:
    policy: Policy
    level: Level
    violation: Violation
    waiver: waivers.Waiver | None = None

    @property
    def resource(self) -> str:
        return self.violation.resource.ref if self.violation.resource else "stack"


def evaluate(
    views: Sequence[View],
    config: PackConfig | None = None,
    policies: Sequence[Policy] = POLICIES,
    today: dt.date | None = None,
) -> list[Finding]:
    """Every violation of every enabled policy, each paired with the waiver covering it."""
    today = today or dt.date.today()
    active = waivers.load()
    findings = []
    for policy in policies:
        lvl = level(policy, config)
        if lvl is None:
            continue
        for v in policy.run(views, settings(policy, config)):
            findings.append(
                Finding(policy, lvl, v, waivers.find(active, policy.name, v.resource, today))
            )
    return findings
