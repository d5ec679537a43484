"""The conformance report as CTRF JSON (Common Test Report Format), beside JUnit.

Field names and rules from github:ctrf-io/ctrf `schema/ctrf.schema.json` and `spec/ctrf.md`
(HEAD 84ddec5, July 2026): top level `reportFormat: "CTRF"`, `specVersion` (SemVer; the
published examples say 1.0.0), `results` {tool {name}, summary {tests, passed, failed,
pending, skipped, other, start, stop}, tests [{name, status, duration}]}; every time and
duration is an integer in milliseconds (spec section 4), start/stop since the Unix epoch; a
test's status is one of passed, failed, skipped, pending, other, and `rawStatus` keeps the
producer's own word. No other properties are allowed where the schema says
`additionalProperties: false` (results, summary, tool, environment, tests[]).

One CTRF test per scenario step, as in JUnit (one <testcase> per step); `suite` is
[scenario]. A step that errored (harness or API error) is `failed` with rawStatus `error`.
Scenario metrics ride in each scenario's first test's `extra.metrics`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mlplatform.scenarios.report import Report, Status

CTRF_FILE = "ctrf.json"
SPEC_VERSION = "1.0.0"  # ctrf-io/ctrf examples/minimal.json
TOOL = "mlplatform conformance"
_STATUS: dict[Status, str] = {
    "passed": "passed",
    "failed": "failed",
    "error": "failed",
    "skipped": "skipped",
}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _epoch_ms(iso: str) -> int | None:
    """`started_at` (ISO 8601) in ms since the epoch (naive times are UTC); None if not ISO."""
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


def ctrf(report: Report) -> dict[str, Any]:
    parsed = _epoch_ms(report.started_at)
    # CTRF needs a start: a report whose started_at is not a time starts when written
    start = parsed if parsed is not None else int(datetime.now(UTC).timestamp() * 1000)
    tests: list[dict[str, Any]] = []
    offset = start
    for sc in report.scenarios:
        steps = sc.steps or []
        if not steps:  # a skipped scenario (unsupported on the release) has no steps
            tests.append(
                {
                    "name": sc.name,
                    "status": _STATUS[sc.status],
                    "rawStatus": sc.status,
                    "duration": _ms(sc.duration_s),
                    "suite": [sc.name],
                    **({"message": sc.message} if sc.message else {}),
                }
            )
        for i, step in enumerate(steps):
            test: dict[str, Any] = {
                "name": step.name,
                "status": _STATUS[step.status],
                "rawStatus": step.status,
                "duration": _ms(step.duration_s),
                "start": offset,
                "stop": offset + _ms(step.duration_s),
                "suite": [sc.name],
            }
            offset += _ms(step.duration_s)
            if step.message:
                test["message"] = step.message
            if i == 0:
                extra: dict[str, Any] = {"expect": step.expect}
                if sc.metrics:
                    extra["metrics"] = dict(sorted(sc.metrics.items()))
                if sc.artifacts:
                    extra["artifacts"] = list(sc.artifacts)
                test["extra"] = extra
            else:
                test["extra"] = {"expect": step.expect}
            tests.append(test)
    summary = {key: 0 for key in ("tests", "passed", "failed", "pending", "skipped", "other")}
    for test in tests:
        summary["tests"] += 1
        summary[test["status"]] += 1
    duration = _ms(report.duration_s)
    return {
        "reportFormat": "CTRF",
        "specVersion": SPEC_VERSION,
        **({"timestamp": report.started_at} if parsed is not None else {}),
        "generatedBy": TOOL,
        "results": {
            "tool": {"name": TOOL},
            "summary": {
                **summary,
                "suites": len(report.scenarios),
                "start": start,
                "stop": start + duration,
                "duration": duration,
            },
            "tests": tests,
            "environment": {
                "appName": "mlplatform",
                "appVersion": report.release,
                "testEnvironment": report.context,
            },
        },
    }


def ctrf_json(report: Report) -> str:
    return json.dumps(ctrf(report), indent=2) + "\n"
