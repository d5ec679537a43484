"""The CNCF Kubernetes AI Conformance requirements (conformance_requirements.yaml) and the
coverage of each by the scenario library: proved by a named step, not applicable (with the
reason), or not covered (a known gap with its reason, or nothing at all).

    checklist("1.34").level("dra_support")          # "MUST"
    coverage(checklist("1.34"), [Proof("gang_scheduling", "gang-scheduling", "gang runs whole")])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

FILE = Path(__file__).with_name("conformance_requirements.yaml")
Level = Literal["MUST", "SHOULD"]
State = Literal["proved", "not covered", "not applicable"]
PROVED: State = "proved"
NOT_COVERED: State = "not covered"
NOT_APPLICABLE: State = "not applicable"


def minor(version: str) -> str:
    """'v1.34.2' / '1.34' -> '1.34'."""
    major, mnr = version.lstrip("v").split(".")[:2]
    return f"{int(major)}.{int(''.join(ch for ch in mnr if ch.isdigit()))}"


def _key(version: str) -> tuple[int, int]:
    major, mnr = minor(version).split(".")
    return int(major), int(mnr)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    repo: str
    commit: str
    path: str


class Requirement(_Model):
    category: str
    description: str


class Catalogue(_Model):
    source: Source
    requirements: dict[str, Requirement]
    checklists: dict[str, dict[str, Level]]
    not_applicable: dict[str, str]
    gaps: dict[str, str]

    @model_validator(mode="after")
    def _known_ids(self) -> Catalogue:
        known = set(self.requirements)
        listed = {i for levels in self.checklists.values() for i in levels}
        for where, ids in (("checklists", listed), ("not_applicable", set(self.not_applicable)),
                           ("gaps", set(self.gaps))):  # fmt: skip
            if unknown := sorted(ids - known):
                raise ValueError(f"{FILE.name} {where}: unknown requirement ids {unknown}")
        if both := sorted(set(self.not_applicable) & set(self.gaps)):
            raise ValueError(f"{FILE.name}: {both} both not applicable and a gap; pick one")
        return self


@dataclass(frozen=True)
class Checklist:
    """The requirements one Kubernetes minor is held to."""

    kubernetes: str  # the minor asked for
    version: str  # the checklist applied (the first one for minors older than the program)
    levels: Mapping[str, Level]
    catalogue: Catalogue

    def level(self, req: str) -> Level:
        return self.levels[req]

    def description(self, req: str) -> str:
        return self.catalogue.requirements[req].description

    @property
    def source(self) -> str:
        s = self.catalogue.source
        return f"{s.repo}@{s.commit[:12]}:{s.path.format(minor=self.version)}"


@cache
def catalogue() -> Catalogue:
    return Catalogue.model_validate(yaml.safe_load(FILE.read_text()))


def versions() -> list[str]:
    """Kubernetes minors with a pinned checklist, oldest first."""
    return sorted(catalogue().checklists, key=_key)


def checklist(kubernetes: str) -> Checklist:
    """The checklist for a Kubernetes minor; ValueError past the newest pinned one."""
    want = minor(kubernetes)
    pinned = versions()
    if want in pinned:
        chosen = want
    elif _key(want) < _key(pinned[0]):
        chosen = pinned[0]
    else:
        raise ValueError(
            f"no AI-conformance checklist pinned for Kubernetes {want} (pinned: "
            f"{', '.join(pinned)}): add docs/AIConformance-{want}.yaml's ids to {FILE.name}"
        )
    cat = catalogue()
    return Checklist(want, chosen, cat.checklists[chosen], cat)


@dataclass(frozen=True)
class Proof:
    requirement: str
    scenario: str
    step: str

    @property
    def by(self) -> str:
        return f"{self.scenario} / {self.step}"


@dataclass(frozen=True)
class Coverage:
    requirement: str
    level: Level
    state: State
    by: tuple[str, ...] = ()  # "scenario / step" for each proving step
    why: str = ""  # not applicable / not covered: the reason

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"level": self.level, "status": self.state}
        if self.by:
            out["by"] = list(self.by)
        if self.why:
            out["why"] = self.why
        return out


def coverage(
    cl: Checklist, proofs: Iterable[Proof], inapplicable: Mapping[str, str] | None = None
) -> dict[str, Coverage]:
    """Per requirement of `cl`: proved by `proofs`; else not applicable (the catalogue's
    reason, or `inapplicable` found at run time, e.g. no real GPU); else not covered."""
    by: dict[str, list[str]] = {}
    for p in proofs:
        by.setdefault(p.requirement, []).append(p.by)
    cat = cl.catalogue
    out = {}
    for req, level in cl.levels.items():
        if req in by:
            out[req] = Coverage(req, level, PROVED, tuple(dict.fromkeys(by[req])))
        elif req in cat.not_applicable:
            why = " ".join(cat.not_applicable[req].split())
            out[req] = Coverage(req, level, NOT_APPLICABLE, why=why)
        elif inapplicable and req in inapplicable:
            out[req] = Coverage(req, level, NOT_APPLICABLE, why=inapplicable[req])
        elif req in cat.gaps:
            out[req] = Coverage(req, level, NOT_COVERED, why=" ".join(cat.gaps[req].split()))
        else:
            out[req] = Coverage(req, level, NOT_COVERED, why="no scenario step proves it")
    return out


def unaccounted_musts(cov: Mapping[str, Coverage]) -> list[str]:
    """MUST requirements neither proved, nor not applicable, nor a declared gap."""
    gaps = catalogue().gaps
    return [
        r for r, c in cov.items() if c.level == "MUST" and c.state == NOT_COVERED and r not in gaps
    ]
