"""Conformance trends over runs: load recorded runs, build per-scenario series, and judge the
latest run against the trailing median of a window (pure; rendering is trend_html.py).

A run is a `conformance run --out` directory (results.json, from scenarios/report.py) or an
object-store prefix `runs/<timestamp>/` holding the same files (the nightly upload).
Series are per scenario: `pass_rate` (passed steps / steps; 1.0 for a passed scenario),
`duration_s`, and the metrics results.json carries (report.HEADLINE: admission latency,
p50/p95/p99 serving latency, RPS, error rate; and every `*_duration_s`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlplatform.scenarios.report import HEADLINE, JSON_FILE, Report, ScenarioResult
from mlplatform.scenarios.s3 import ObjectStore, parse_url

Better = Literal["higher", "lower"]
# Direction of every metric the trend follows: a rise in latency, error rate or duration is
# worse; a fall in pass rate or throughput is worse.
DIRECTIONS: dict[str, Better] = {
    "pass_rate": "higher",
    "duration_s": "lower",
    "admission_latency_s": "lower",
    "p50_ms": "lower",
    "p95_ms": "lower",
    "p99_ms": "lower",
    "rps": "higher",
    "error_rate": "lower",
}
LABELS = {"pass_rate": "pass rate", "duration_s": "duration s", **HEADLINE}


class SourceError(ValueError):
    """A SOURCE that holds no readable run; the message names it and why."""


@dataclass(frozen=True)
class Run:
    id: str  # the run directory or object prefix name (the upload timestamp)
    report: Report

    @property
    def key(self) -> tuple[str, str]:
        return (self.report.started_at, self.id)


def direction(metric: str) -> Better | None:
    """How a metric improves; None for metrics the trend does not follow."""
    if metric in DIRECTIONS:
        return DIRECTIONS[metric]
    return "lower" if metric.endswith("_duration_s") else None


def _parse(text: str, where: str) -> Report:
    try:
        return Report.from_json(text)
    except (ValueError, KeyError, TypeError) as err:
        raise SourceError(f"{where}: not a conformance result ({err})") from err


def load_dir(path: Path) -> list[Run]:
    """A run directory (holds results.json), or a directory of run directories."""
    if not path.is_dir():
        raise SourceError(f"{path}: no such directory")
    if (path / JSON_FILE).is_file():
        return [Run(path.name, _parse((path / JSON_FILE).read_text(), str(path / JSON_FILE)))]
    runs = [
        Run(child.name, _parse((child / JSON_FILE).read_text(), str(child / JSON_FILE)))
        for child in sorted(path.iterdir())
        if (child / JSON_FILE).is_file()
    ]
    if not runs:
        raise SourceError(
            f"{path}: no {JSON_FILE} in it or in its subdirectories; pass `conformance run "
            "--out` directories"
        )
    return runs


def load_store(store: ObjectStore, url: str) -> list[Run]:
    """Every `<prefix><run>/results.json` under `s3://bucket/prefix`."""
    try:
        bucket, prefix = parse_url(url)
    except ValueError as err:
        raise SourceError(str(err)) from err
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    runs = []
    for key in sorted(store.list(bucket, prefix)):
        rest = key[len(prefix) :]
        run_id, _, name = rest.rpartition("/")
        if name != JSON_FILE or not run_id or "/" in run_id:
            continue
        runs.append(Run(run_id, _parse(store.get(bucket, key).decode(), f"s3://{bucket}/{key}")))
    if not runs:
        raise SourceError(f"{url}: no <run>/{JSON_FILE} under it")
    return runs


def load(sources: Iterable[str], store: ObjectStore | None = None) -> list[Run]:
    """Runs from every SOURCE, oldest first (by start time); a run seen twice counts once."""
    runs: dict[str, Run] = {}
    for source in sources:
        if source.startswith("s3://"):
            if store is None:
                raise SourceError(f"{source}: no object store client")
            found = load_store(store, source)
        else:
            found = load_dir(Path(source))
        for run in found:
            runs.setdefault(f"{run.report.started_at}|{run.id}", run)
    return sorted(runs.values(), key=lambda r: r.key)


def _pass_rate(sc: ScenarioResult) -> float | None:
    if sc.status == "skipped":
        return None
    if sc.status == "passed":
        return 1.0
    return sum(s.status == "passed" for s in sc.steps) / len(sc.steps) if sc.steps else 0.0


def scenario_values(sc: ScenarioResult) -> dict[str, float]:
    values = {k: float(v) for k, v in sc.metrics.items() if direction(k) is not None}
    rate = _pass_rate(sc)
    if rate is not None:
        values["pass_rate"] = rate
        values["duration_s"] = float(sc.duration_s)
    return values


@dataclass
class Series:
    scenario: str
    metric: str
    values: list[float | None]  # one per run, None where the run has no value

    @property
    def better(self) -> Better:
        return direction(self.metric) or "lower"


def series(runs: list[Run]) -> list[Series]:
    """One series per (scenario, metric) any run carries, ordered by scenario then metric."""
    table: dict[tuple[str, str], list[float | None]] = {}
    for i, run in enumerate(runs):
        for sc in run.report.scenarios:
            for metric, value in scenario_values(sc).items():
                table.setdefault((sc.name, metric), [None] * len(runs))[i] = value
    order = list(DIRECTIONS)
    return [
        Series(sc, metric, values)
        for (sc, metric), values in sorted(
            table.items(),
            key=lambda kv: (
                kv[0][0],
                order.index(kv[0][1]) if kv[0][1] in order else len(order),
                kv[0][1],
            ),
        )
    ]


@dataclass(frozen=True)
class Finding:
    scenario: str
    metric: str
    latest: float
    median: float
    better: Better
    margin: float

    @property
    def change(self) -> float:
        """Relative change of the latest value against the median (inf from a zero median)."""
        if self.median == 0:
            return 0.0 if self.latest == 0 else float("inf")
        return (self.latest - self.median) / abs(self.median)

    def __str__(self) -> str:
        worse = "up" if self.better == "lower" else "down"
        change = "from 0" if self.median == 0 else f"{self.change:+.0%}"
        return (
            f"REGRESSION {self.scenario} {self.metric}: {self.latest:g} vs trailing median "
            f"{self.median:g} ({change}; {worse} is worse, margin {self.margin:.0%})"
        )


@dataclass
class Verdict:
    runs: int
    window: int
    margin: float
    compared: list[Finding] = field(default_factory=list)  # every series with a baseline
    note: str = ""

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.compared if regressed(f)]

    @property
    def ok(self) -> bool:
        return not self.regressions


def regressed(f: Finding) -> bool:
    """Worse than the median by more than the margin, in the metric's bad direction."""
    if f.better == "lower":
        return f.latest > f.median * (1 + f.margin) if f.median else f.latest > 0
    return f.latest < f.median * (1 - f.margin)


def verdict(runs: list[Run], window: int = 7, margin: float = 0.1) -> Verdict:
    """The latest run against the median of (up to) `window` runs before it, per series."""
    out = Verdict(len(runs), window, margin)
    if len(runs) < 2:
        out.note = f"{len(runs)} run: a verdict needs at least 2"
        return out
    for s in series(runs):
        latest = s.values[-1]
        trailing = [v for v in s.values[:-1][-window:] if v is not None]
        if latest is None or not trailing:
            continue
        out.compared.append(
            Finding(s.scenario, s.metric, latest, statistics.median(trailing), s.better, margin)
        )
    return out


def as_dict(runs: list[Run], v: Verdict) -> dict[str, object]:
    return {
        "runs": [
            {
                "id": r.id,
                "started_at": r.report.started_at,
                "release": r.report.release,
                "passed": r.report.passed,
            }
            for r in runs
        ],
        "window": v.window,
        "margin": v.margin,
        "ok": v.ok,
        "note": v.note,
        "regressions": [str(f) for f in v.regressions],
        "compared": [
            {
                "scenario": f.scenario,
                "metric": f.metric,
                "latest": f.latest,
                "median": f.median,
                "better": f.better,
                "regressed": regressed(f),
            }
            for f in v.compared
        ],
        "series": [
            {"scenario": s.scenario, "metric": s.metric, "values": s.values} for s in series(runs)
        ],
    }
