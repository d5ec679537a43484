"""Conformance results and their three renderings: JUnit XML, a JSON metrics sidecar
(compared run to run), and a markdown report with a summary table."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlplatform.scenarios import requirements
from mlplatform.scenarios.requirements import Coverage

Status = Literal["passed", "failed", "error", "skipped"]
SCHEMA_VERSION = 1
JUNIT_FILE, JSON_FILE, MARKDOWN_FILE = "junit.xml", "results.json", "report.md"
# Metrics shown in the summary table, in this order, with their units.
HEADLINE = {
    "admission_latency_s": "admission s",
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
    "p99_ms": "p99 ms",
    "rps": "RPS",
    "error_rate": "error rate",
}


@dataclass
class StepResult:
    name: str
    expect: str
    status: Status
    duration_s: float
    message: str = ""
    proves: list[str] = field(default_factory=list)  # AI-conformance requirement ids
    inapplicable: str = ""  # why the step did not apply here (then status is skipped)


@dataclass
class ScenarioResult:
    name: str
    summary: str
    namespaces: list[str]
    status: Status
    duration_s: float
    steps: list[StepResult] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    message: str = ""


@dataclass
class Report:
    release: str
    context: str
    started_at: str
    duration_s: float
    scenarios: list[ScenarioResult] = field(default_factory=list)
    kubernetes: str = ""  # the cluster's minor: picks the AI-conformance checklist

    @property
    def passed(self) -> bool:
        return all(s.status in ("passed", "skipped") for s in self.scenarios)

    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for s in self.scenarios:
            out[s.status] += 1
        return out

    def coverage(self) -> dict[str, Coverage]:
        """AI-conformance coverage from the steps that passed ({} without a checklist)."""
        try:
            cl = requirements.checklist(self.kubernetes) if self.kubernetes else None
        except ValueError:
            cl = None
        if cl is None:
            return {}
        proofs = [requirements.Proof(r, sc.name, st.name) for sc in self.scenarios
                  for st in sc.steps if st.status == "passed" for r in st.proves]  # fmt: skip
        inapplicable = {r: f"{sc.name} / {st.name}: {st.inapplicable}" for sc in self.scenarios
                        for st in sc.steps if st.inapplicable for r in st.proves}  # fmt: skip
        return requirements.coverage(cl, proofs, inapplicable)

    def to_json(self) -> str:
        doc = {"schema_version": SCHEMA_VERSION, "passed": self.passed, **asdict(self)}
        doc["coverage"] = {r: c.as_dict() for r, c in self.coverage().items()}
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Report:
        d = json.loads(text)
        if d.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"results schema_version {d.get('schema_version')!r}; "
                f"this tool reads {SCHEMA_VERSION}"
            )
        scenarios = [
            ScenarioResult(**{**s, "steps": [StepResult(**st) for st in s["steps"]]})
            for s in d["scenarios"]
        ]
        return cls(d["release"], d["context"], d["started_at"], d["duration_s"], scenarios,
                   d.get("kubernetes", ""))  # fmt: skip


def junit_xml(report: Report) -> str:
    """One <testsuite> per scenario, one <testcase> per step."""
    suites = ET.Element(
        "testsuites",
        name=f"mlplatform conformance {report.release}",
        time=f"{report.duration_s:.3f}",
    )
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for sc in report.scenarios:
        counts = {
            "tests": len(sc.steps),
            "failures": sum(s.status == "failed" for s in sc.steps),
            "errors": sum(s.status == "error" for s in sc.steps),
            "skipped": sum(s.status == "skipped" for s in sc.steps),
        }
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=sc.name,
            time=f"{sc.duration_s:.3f}",
            **{k: str(v) for k, v in counts.items()},
        )
        props = ET.SubElement(suite, "properties")
        for key, value in sorted(sc.metrics.items()):
            ET.SubElement(props, "property", name=key, value=f"{value:g}")
        for req, state in sorted(_suite_coverage(sc).items()):
            ET.SubElement(props, "property", name=f"ai_conformance.{req}", value=state)
        for step in sc.steps:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"conformance.{sc.name}",
                name=step.name,
                time=f"{step.duration_s:.3f}",
            )
            if step.status in ("failed", "error"):
                tag = "failure" if step.status == "failed" else "error"
                ET.SubElement(
                    case,
                    tag,
                    message=step.message.splitlines()[0][:500] if step.message else step.status,
                ).text = step.message
            elif step.status == "skipped":
                ET.SubElement(case, "skipped", message=step.message or "skipped")
        if sc.artifacts:
            ET.SubElement(suite, "system-out").text = "artifacts:\n" + "\n".join(sc.artifacts)
        for k in totals:
            totals[k] += counts[k]
    for k, v in totals.items():
        suites.set(k, str(v))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _suite_coverage(sc: ScenarioResult) -> dict[str, str]:
    """What this scenario's steps showed for each requirement they prove."""
    out: dict[str, str] = {}
    for st in sc.steps:
        for req in st.proves:
            if st.status == "passed":
                out[req] = requirements.PROVED
            elif st.inapplicable:
                out.setdefault(req, requirements.NOT_APPLICABLE)
            else:
                out.setdefault(req, "not proved")
    return out


def coverage_markdown(report: Report) -> list[str]:
    """The AI-conformance table: each requirement, its level, and how this run covered it."""
    cov = report.coverage()
    if not cov:
        why = (f"no AI-conformance checklist for Kubernetes {report.kubernetes}"
               if report.kubernetes else "the cluster's Kubernetes version is unknown")  # fmt: skip
        return ["", "## AI-conformance coverage", "", f"Not evaluated: {why}."]
    cl = requirements.checklist(report.kubernetes)
    lines = [
        "",
        f"## AI-conformance coverage (Kubernetes {cl.kubernetes}, checklist v{cl.version})",
        "",
        f"From the steps that passed; requirements from `{cl.source}`.",
        "",
        "| requirement | level | status | proved by / why |",
        "| --- | --- | --- | --- |",
    ]
    for req, c in cov.items():
        detail = "; ".join(c.by) if c.by else c.why
        lines.append(f"| {req} | {c.level} | {c.state} | {_cell(detail)} |")
    return lines


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if 0 < abs(value) < 0.01 else f"{value:.2f}".rstrip("0").rstrip(".")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(report: Report) -> str:
    verdict = "PASSED" if report.passed else "FAILED"
    c = report.counts()
    lines = [
        f"# Conformance report: release {report.release} — {verdict}",
        "",
        f"Cluster context `{report.context}`, started {report.started_at}, "
        f"{report.duration_s:.0f}s; {c['passed']} passed, {c['failed']} failed, "
        f"{c['error']} errors, {c['skipped']} skipped.",
        "",
        "| scenario | result | duration s | " + " | ".join(HEADLINE.values()) + " |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in HEADLINE) + " |",
    ]
    for sc in report.scenarios:
        cells = [_fmt(sc.metrics.get(k)) for k in HEADLINE]
        lines.append(
            f"| {sc.name} | {sc.status.upper()} | {sc.duration_s:.1f} | " + " | ".join(cells) + " |"
        )
    for sc in report.scenarios:
        lines += ["", f"## {sc.name} — {sc.status}", "", sc.summary, ""]
        if sc.message:
            lines += [f"> {sc.message.splitlines()[0]}", ""]
        lines += ["| step | expected | result | s |", "| --- | --- | --- | ---: |"]
        lines += [
            f"| {_cell(s.name)} | {_cell(s.expect)} | {s.status}"
            f"{': ' + _cell(s.message.splitlines()[0]) if s.message else ''} | {s.duration_s:.1f} |"
            for s in sc.steps
        ]
        if sc.metrics:
            lines += [
                "",
                "Metrics: " + ", ".join(f"`{k}`={_fmt(v)}" for k, v in sorted(sc.metrics.items())),
            ]
        if sc.artifacts:
            lines += ["", "Artifacts (collected on failure):", *[f"- `{a}`" for a in sc.artifacts]]
    lines += coverage_markdown(report)
    return "\n".join(lines) + "\n"


def write(report: Report, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "junit": out_dir / JUNIT_FILE,
        "json": out_dir / JSON_FILE,
        "markdown": out_dir / MARKDOWN_FILE,
    }
    files["junit"].write_text(junit_xml(report))
    files["json"].write_text(report.to_json())
    files["markdown"].write_text(markdown(report))
    from mlplatform.scenarios.ctrf import CTRF_FILE, ctrf_json  # ctrf imports this module

    files["ctrf"] = out_dir / CTRF_FILE
    files["ctrf"].write_text(ctrf_json(report))
    return files


def rerender(out_dir: Path) -> Path:
    """Markdown again from the JSON sidecar (e.g. after editing or merging results)."""
    report = Report.from_json((out_dir / JSON_FILE).read_text())
    path = out_dir / MARKDOWN_FILE
    path.write_text(markdown(report))
    return path


def summary_dict(report: Report) -> dict[str, Any]:
    return {"release": report.release, "passed": report.passed, **report.counts()}
