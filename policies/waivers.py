"""Waivers: explicit, named, reviewed and dated exceptions to a policy for matching resources.

`policies/waivers.yaml` lists them; the offline runner and the pack both read it. A waived
violation is still reported (as waived); an expired waiver waives nothing and is itself a
violation of `waivers-valid`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlplatform.config.base import Email
from mlplatform.policies.core import View

PATH = Path(__file__).with_name("waivers.yaml")


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str = Field(min_length=1, description="the policy name it waives")
    resource: str = Field(min_length=1, description="Kind/namespace/name glob it applies to")
    reason: str = Field(min_length=10, description="why the exception is acceptable")
    reviewer: Email = Field(description="who approved it (an email address)")
    expires: dt.date

    def expired(self, today: dt.date) -> bool:
        return self.expires < today

    def covers(self, policy: str, view: View | None, today: dt.date) -> bool:
        ref = view.ref if view is not None else "stack"
        return self.policy == policy and fnmatchcase(ref, self.resource) and not self.expired(today)

    def describe(self) -> str:
        return f"{self.reason} (reviewed by {self.reviewer}, expires {self.expires})"


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    waivers: list[Waiver] = []


def load(path: Path | None = None) -> list[Waiver]:
    """Every waiver in `path` (default: PATH); a malformed file is an error naming the entry."""
    path = path or PATH
    if not path.is_file():
        return []
    raw = yaml.safe_load(path.read_text()) or {}
    try:
        return _File.model_validate(raw).waivers
    except ValidationError as err:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
            for e in err.errors()
        ]
        raise ValueError(f"{path.name} is invalid: " + "; ".join(problems)) from None


def find(
    waivers: Sequence[Waiver], policy: str, view: View | None, today: dt.date
) -> Waiver | None:
    return next((w for w in waivers if w.covers(policy, view, today)), None)
