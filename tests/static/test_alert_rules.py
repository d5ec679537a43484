"""Rung 3: the alert-rule overlays build with the kustomize CLI, pass promtool, and unit-test."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlplatform.stackconfig import ROOT, environments

OVERLAYS = ROOT / "overlays" / "monitoring"
TOOLS = ROOT / ".tools" / "bin"
pytestmark = pytest.mark.static


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{TOOLS}:{shutil.os.environ.get('PATH', '')}")
    assert found, f"{name} not found: run scripts/install-tools.sh (make test does)"
    return found


def build(env: str) -> list[dict]:
    out = subprocess.run(
        [tool("kubectl"), "kustomize", str(OVERLAYS / env)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def rules_file(env: str, directory: Path) -> Path:
    groups = [
        g for obj in build(env) if obj["kind"] == "PrometheusRule" for g in obj["spec"]["groups"]
    ]
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def test_every_environment_has_an_overlay():
    assert {p.name for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists()} >= set(
        environments()
    )


@pytest.mark.parametrize("env", environments())
def test_overlay_builds_and_rules_pass_promtool_check(env, tmp_path):
    objs = build(env)
    assert objs and all(o["apiVersion"] == "monitoring.coreos.com/v1" for o in objs)
    assert all(o["metadata"]["namespace"] == "monitoring" for o in objs)
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(rules_file(env, tmp_path))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_rules_unit_tests_pass(env, tmp_path):
    rules_file(env, tmp_path)
    test = tmp_path / "platform-rules.test.yaml"
    text = (OVERLAYS / "tests" / "platform-rules.test.yaml").read_text()
    if env == "prod":  # prod pages: the same expectations with severity critical
        text = text.replace(
            "exp_labels: {severity: warning, namespace:",
            "exp_labels: {severity: critical, namespace:",
        )
        text = text.replace(
            "- exp_labels: {severity: warning}\n", "- exp_labels: {severity: critical}\n"
        )
    test.write_text(text)
    result = subprocess.run(
        [tool("promtool"), "test", "rules", str(test)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_rule_fails_promtool(tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "x", "rules": [{"alert": "Broken", "expr": "sum by (job (up)"}]}]}
        )
    )
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(bad)], capture_output=True, text=True
    )
    assert result.returncode != 0


def test_prod_pages_on_crash_loops_and_object_store_loss():
    rules = {
        r.get("alert"): r for o in build("prod") for g in o["spec"]["groups"] for r in g["rules"]
    }
    assert rules["PlatformPodCrashLooping"]["labels"]["severity"] == "critical"
    assert rules["ObjectStoreNodesOffline"]["labels"]["severity"] == "critical"
    assert rules["KueueWorkloadsInadmissible"]["labels"]["severity"] == "warning"


@pytest.mark.parametrize("env", environments())
def test_conformance_rules_unit_tests_pass(env, tmp_path):
    """Nightly conformance: a failed night and 26 hours without success alert (every env)."""
    rules_file(env, tmp_path)
    test = tmp_path / "conformance-rules.test.yaml"
    test.write_text((OVERLAYS / "tests" / "conformance-rules.test.yaml").read_text())
    result = subprocess.run(
        [tool("promtool"), "test", "rules", str(test)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
