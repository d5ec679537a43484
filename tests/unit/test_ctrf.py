"""ctrf.json beside junit.xml: valid CTRF, the same verdicts as JUnit, milliseconds."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema

from mlplatform.scenarios import report as reports
from mlplatform.scenarios.ctrf import CTRF_FILE, ctrf
from mlplatform.scenarios.report import Report, ScenarioResult, StepResult

_INT = {"type": "integer"}
_STATUS = {"enum": ["passed", "failed", "skipped", "pending", "other"]}
# The rules of github:ctrf-io/ctrf schema/ctrf.schema.json (HEAD 84ddec5) for the fields we
# write: required keys, types, the status enum, and no unknown keys where it forbids them.
CTRF_RULES = {
    "type": "object",
    "required": ["results", "reportFormat", "specVersion"],
    "properties": {
        "reportFormat": {"const": "CTRF"},
        "specVersion": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+$"},
        "timestamp": {"type": "string"},
        "generatedBy": {"type": "string"},
        "results": {
            "type": "object",
            "required": ["tool", "summary", "tests"],
            "additionalProperties": False,
            "properties": {
                "tool": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {"name": {"type": "string", "minLength": 1}},
                },
                "summary": {
                    "type": "object",
                    "required": [
                        "tests",
                        "passed",
                        "failed",
                        "skipped",
                        "pending",
                        "other",
                        "start",
                        "stop",
                    ],
                    "additionalProperties": False,
                    "properties": {
                        k: _INT
                        for k in [
                            "tests",
                            "passed",
                            "failed",
                            "skipped",
                            "pending",
                            "other",
                            "flaky",
                            "suites",
                            "start",
                            "stop",
                            "duration",
                        ]
                    },
                },
                "tests": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "status", "duration"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "status": _STATUS,
                            "rawStatus": {"type": "string"},
                            "duration": _INT,
                            "start": _INT,
                            "stop": _INT,
                            "suite": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                            "message": {"type": "string"},
                            "extra": {"type": "object"},
                        },
                    },
                },
                "environment": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        k: {"type": "string"} for k in ("appName", "appVersion", "testEnvironment")
                    },
                },
            },
        },
    },
}


def _report() -> Report:
    ok = ScenarioResult(
        "serve-and-load", "serve", ["scn-a"], "passed", 12.5,
        [StepResult("tenants ready", "queues", "passed", 1.25),
         StepResult("load", "slo", "passed", 10.0)],
        metrics={"p95_ms": 120.0, "rps": 40.0},
    )  # fmt: skip
    bad = ScenarioResult(
        "train-queued", "train", ["scn-b"], "error", 3.0,
        [StepResult("tenants ready", "queues", "passed", 1.0),
         StepResult("admitted", "admitted", "error", 2.0, "ApiError: 500 boom"),
         StepResult("succeeds", "done", "skipped", 0.0, "an earlier step failed")],
        message="admitted: ApiError", artifacts=["artifacts/train-queued/events.txt"],
    )  # fmt: skip
    failed = ScenarioResult(
        "pipeline-run", "kfp", ["scn-c"], "failed", 2.0,
        [StepResult("tenants ready", "queues", "failed", 2.0, "LocalQueue not Active")],
    )  # fmt: skip
    unsupported = ScenarioResult("gpu-scheduling", "gpu", [], "skipped", 0.0, message="no GPU")
    return Report("1.11", "kind-dev", "2026-11-29T02:00:00+00:00", 17.5,
                  [ok, bad, failed, unsupported])  # fmt: skip


def test_write_puts_a_valid_ctrf_beside_junit(tmp_path):
    files = reports.write(_report(), tmp_path)
    assert files["ctrf"] == tmp_path / CTRF_FILE
    doc = json.loads(files["ctrf"].read_text())
    jsonschema.validate(doc, CTRF_RULES)
    summary = doc["results"]["summary"]
    junit = ET.parse(files["junit"]).getroot()
    steps = int(junit.get("tests"))
    assert summary["tests"] == steps + 1  # + the unsupported scenario, which has no step
    assert summary["failed"] == int(junit.get("failures")) + int(junit.get("errors")) == 2
    assert summary["skipped"] == int(junit.get("skipped")) + 1 == 2
    assert summary["passed"] == 3 and summary["pending"] == summary["other"] == 0
    assert summary["start"] == 1795917600000  # 2026-11-29T02:00:00Z in ms
    assert summary["stop"] - summary["start"] == summary["duration"] == 17500


def test_tests_carry_status_suite_milliseconds_and_metrics():
    tests = ctrf(_report())["results"]["tests"]
    by_name = {(t["suite"][0], t["name"]): t for t in tests}
    errored = by_name[("train-queued", "admitted")]
    assert errored["status"] == "failed" and errored["rawStatus"] == "error"
    assert errored["message"] == "ApiError: 500 boom" and errored["duration"] == 2000
    load = by_name[("serve-and-load", "load")]
    assert load["duration"] == 10000 and load["stop"] - load["start"] == 10000
    first = by_name[("serve-and-load", "tenants ready")]
    assert first["extra"]["metrics"] == {"p95_ms": 120.0, "rps": 40.0}
    assert by_name[("train-queued", "tenants ready")]["extra"]["artifacts"] == [
        "artifacts/train-queued/events.txt"
    ]
    assert by_name[("gpu-scheduling", "gpu-scheduling")]["status"] == "skipped"


def test_an_unknown_key_or_a_float_duration_breaks_the_rules():
    """The encoded rules reject what CTRF's schema rejects (so the test above can fail)."""
    doc = ctrf(_report())
    doc["results"]["tests"][0]["duration"] = 1.5
    try:
        jsonschema.validate(doc, CTRF_RULES)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("a float duration passed the CTRF rules")
    doc = ctrf(_report())
    doc["results"]["summary"]["errors"] = 1
    try:
        jsonschema.validate(doc, CTRF_RULES)
    except jsonschema.ValidationError:
        return
    raise AssertionError("an unknown summary key passed the CTRF rules")


def test_a_report_whose_start_is_not_a_time_still_gives_valid_ctrf():
    report = _report()
    report.started_at = "now"
    doc = ctrf(report)
    jsonschema.validate(doc, CTRF_RULES)
    assert "timestamp" not in doc and doc["results"]["summary"]["start"] > 1795917600000
