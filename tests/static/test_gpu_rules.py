"""Rung 3: the GPU telemetry rules (overlays/monitoring/base/gpu-rules.yaml) in every
environment's overlay, with their promtool unit tests (overlays/monitoring/tests/gpu-rules.test.yaml)."""

import subprocess

import pytest
import yaml

from mlplatform.stackconfig import environments
from tests.static.test_alert_rules import OVERLAYS, build, rules_file, tool

pytestmark = pytest.mark.static
TESTS = OVERLAYS / "tests" / "gpu-rules.test.yaml"


def _gpu_rules(env: str) -> list[dict]:
    return [
        r
        for o in build(env)
        if o["metadata"]["name"] == "mlplatform-gpu"
        for g in o["spec"]["groups"]
        for r in g["rules"]
    ]


@pytest.mark.parametrize("env", environments())
def test_every_environment_carries_the_gpu_rules(env):
    alerts = {r["alert"] for r in _gpu_rules(env) if "alert" in r}
    assert alerts == {
        "GpuXidError",
        "GpuThermalThrottling",
        "GpuAllocatedButIdle",
        "GpuNodeAdvertisesNoGpus",
        "GpuTelemetryUnavailable",
        "GpuTelemetryMatchesNoGpuNode",
    }


def test_every_gpu_alert_has_a_firing_and_a_quiet_unit_test():
    doc = yaml.safe_load(TESTS.read_text())
    cases = [c for t in doc["tests"] for c in t.get("alert_rule_test", [])]
    for alert in {r["alert"] for r in _gpu_rules("dev") if "alert" in r}:
        mine = [c for c in cases if c["alertname"] == alert]
        assert any(c["exp_alerts"] for c in mine), f"{alert}: no test where it fires"
        assert any(not c["exp_alerts"] for c in mine), f"{alert}: no test where it stays quiet"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_gpu_rules_unit_tests_pass(env, tmp_path):
    rules_file(env, tmp_path)
    (tmp_path / TESTS.name).write_text(TESTS.read_text())
    result = subprocess.run(
        [tool("promtool"), "test", "rules", TESTS.name],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
