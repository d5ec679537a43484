"""Policy pack config and waivers checked against the policies that exist, before any run.

A config entry or a waiver naming a policy that does not exist is an error, never silently
ignored: a typo in `no-host-path` would otherwise turn a mandatory rule's override (or a
reviewed exception) into nothing at all.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema

from mlplatform.policies import waivers as waiver_file
from mlplatform.policies.registry import POLICIES
from mlplatform.policies.waivers import Waiver

LEVELS = ("mandatory", "advisory", "disabled")


def _unknown(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown policy {name!r}; {hint}known: {', '.join(sorted(known))}"


def pack_config_problems(
    config: Mapping[str, Any], waivers: Sequence[Waiver] | None = None
) -> list[str]:
    """Every problem of a policy pack config (`{policy: level}` or `{policy: {enforcementLevel,
    <key>: value}}`, as `pulumi --policy-pack-config` takes it) and of `waivers` (default: the
    waivers file), one line each: `<path>: <what is wrong> (got <value>); <the fix>`."""
    policies = {p.name: p for p in POLICIES}
    problems = []
    for name, given in config.items():
        if name not in policies:
            problems.append(f"{name}: {_unknown(name, list(policies))}")
            continue
        level = given if isinstance(given, str) else None
        if isinstance(given, Mapping):
            level = given.get("enforcementLevel")
            where = f"{name}.enforcementLevel"
        elif isinstance(given, str):
            where = name
        else:
            problems.append(
                f"{name}: must be a level or an object (got {given!r}); e.g. "
                f'"advisory" or {{"enforcementLevel": "advisory"}}'
            )
            continue
        if level is not None and level not in LEVELS:
            problems.append(f"{where}: {level!r} is not a level; use one of {', '.join(LEVELS)}")
        if not isinstance(given, Mapping):
            continue
        policy = policies[name]
        for key, value in given.items():
            if key == "enforcementLevel":
                continue
            if key not in policy.schema:
                known = ", ".join(sorted(policy.schema)) or "none"
                problems.append(f"{name}.{key}: unknown setting; settings of {name}: {known}")
                continue
            try:
                jsonschema.validate(value, dict(policy.schema[key]))
            except jsonschema.ValidationError as err:
                problems.append(f"{name}.{key}: {err.message} (got {value!r})")
    problems.extend(waiver_problems(waiver_file.load() if waivers is None else waivers))
    return problems


def waiver_problems(waivers: Sequence[Waiver]) -> list[str]:
    """Waivers naming a policy that does not exist, one line each (`waivers[i].policy: ...`)."""
    known = [p.name for p in POLICIES]
    return [
        f"waivers[{i}].policy: {_unknown(w.policy, known)}"
        for i, w in enumerate(waivers)
        if w.policy not in known
    ]
