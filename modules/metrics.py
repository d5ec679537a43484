"""The metric catalogue: which metric names each pinned exporter ships, per platform release.

Beside the release catalogue, `modules/releases/metrics/<exporter>-<version>.yaml` holds one
file per exporter and pinned component version:

    exporter: kueue                 # the exporter's name (a key of `known()`)
    component: kueue                # the release catalogue component that ships it
    version: 0.14.8                 # that component's version in modules/releases/<release>.yaml
    source:                         # where the names were read (or one string saying so)
      repo: kubernetes-sigs/kueue
      tag: v0.14.8
      file: pkg/metrics/metrics.go
    metrics: [kueue_pending_workloads, kueue_admission_wait_time_seconds_bucket, ...]

Names are the series names as scraped: a histogram is listed as its `_bucket`, `_sum` and
`_count` series. A file applies to a release when the release pins `component` at exactly
`version`; every engineer's files (e.g. dcgm-exporter, conformance metrics) are read the same
way. Two files of one exporter that both apply to a release are merged.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlplatform import releases

DIR = Path(__file__).resolve().parent / "releases" / "metrics"


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    repo: str
    tag: str
    file: str


class Catalogue(BaseModel):
    """One file of the metric catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    exporter: str = Field(min_length=1)
    component: str = Field(min_length=1)
    version: str = Field(min_length=1)
    source: SourceRef | str
    metrics: list[str] = Field(min_length=1)


@cache
def files() -> tuple[tuple[Path, Catalogue], ...]:
    """Every catalogue file, validated; ValueError naming the file otherwise."""
    out = []
    for path in sorted(DIR.glob("*.yaml")):
        try:
            out.append((path, Catalogue.model_validate(yaml.safe_load(path.read_text()))))
        except ValidationError as err:
            raise ValueError(f"metric catalogue file {path.name} is invalid:\n{err}") from err
    return tuple(out)


@cache
def known(release: str) -> dict[str, frozenset[str]]:
    """Exporter -> metric names for the files whose (component, version) the release pins."""
    pinned = releases.load(release).components
    found: dict[str, set[str]] = {}
    for _, cat in files():
        comp = pinned.get(cat.component)  # type: ignore[call-overload]
        if comp is not None and comp.version == cat.version:
            found.setdefault(cat.exporter, set()).update(cat.metrics)
    return {exporter: frozenset(names) for exporter, names in found.items()}


def all_known(release: str) -> frozenset[str]:
    """Every metric name any exporter the release pins ships."""
    return frozenset().union(*known(release).values())


# PromQL words that look like metric names but are operators, modifiers or literals.
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"}
)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_TOKEN = re.compile(r"(?P<num>\d[\w.]*)|(?P<name>[A-Za-z_:][\w:]*)(?P<call>\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords).

    Strings, label matchers, ranges and grouping label lists are dropped first; a name
    followed by `(` is a function or aggregation. Selectors by `__name__` are refused."""
    text = _STRING.sub('""', expr)
    if "__name__" in text:
        raise ValueError(f"selects by __name__, which cannot be checked: {expr}")
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\b", " ", text)
    names = set()
    for m in _TOKEN.finditer(text):
        name = m.group("name")
        if name and not m.group("call") and name.lower() not in _KEYWORDS:
            names.add(name)
    return names
