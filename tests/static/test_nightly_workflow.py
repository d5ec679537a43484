"""Rung 3: the nightly CI workflow (.github/workflows/nightly.yml) runs the kind end to end
exactly as a developer does (`make e2e`) on a schedule and on demand, with the tool versions
`mlplatform up` checks, and always keeps the reports."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from mlplatform.cluster import toolchain
from mlplatform.stackconfig import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
pytestmark = pytest.mark.static


def workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def steps() -> list[dict[str, Any]]:
    (job,) = workflow()["jobs"].values()
    return job["steps"]


def test_scheduled_nightly_and_on_demand():
    on = workflow()["on"]
    (entry,) = on["schedule"]
    minute, hour, *rest = entry["cron"].split()
    assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"]  # once a day
    assert "workflow_dispatch" in on
    assert workflow()["permissions"] == {"contents": "read"}


def test_runs_exactly_make_e2e():
    runs = [s["run"].strip() for s in steps() if "run" in s]
    assert [r for r in runs if "e2e" in r or "pytest" in r] == ["make e2e"]
    e2e = next(s for s in steps() if s.get("run", "").strip() == "make e2e")
    assert "if" not in e2e and "continue-on-error" not in e2e  # its failure fails the night
    assert "MLPLATFORM_E2E=1" in (ROOT / "Makefile").read_text()  # what `make e2e` sets


def test_sets_up_docker_kind_pulumi_helm_kubectl_at_the_checked_versions():
    """The versions step, run here, prints exactly toolchain.yaml's minimums, and every tool
    step installs the version it printed, before `make e2e`."""
    step = next(s for s in steps() if s.get("id") == "tools")
    script = step["run"].split("<<'PY'\n", 1)[1].rsplit("PY", 1)[0]
    out = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout  # fmt: skip
    printed = dict(line.split("=", 1) for line in out.split())
    assert printed == {n: toolchain().tools[n].min for n in ("kind", "pulumi", "helm", "kubectl")}
    text = WORKFLOW.read_text()
    for name in printed:
        assert f"${{{{ steps.tools.outputs.{name} }}}}" in text, name
    assert any("docker version" in s.get("run", "") for s in steps())
    order = [s.get("name") or s.get("uses", "") for s in steps()]
    tools = [i for i, s in enumerate(order) if re.search(r"Docker|kind|pulumi|helm|kubectl", s)]
    assert len(tools) == 5 and order.index("End to end") > max(tools)


def test_reports_are_uploaded_always_without_the_kubeconfig():
    upload = [s for s in steps() if s.get("uses", "").startswith("actions/upload-artifact@")]
    (step,) = upload
    assert step["if"] == "always()"
    paths = step["with"]["path"].split()
    assert "reports/" in paths and "!reports/**/kubeconfig" in paths
    assert steps().index(step) > next(
        i for i, s in enumerate(steps()) if s.get("run", "").strip() == "make e2e"
    )
