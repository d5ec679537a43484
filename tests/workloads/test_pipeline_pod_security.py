"""The conformance pipeline declares runAsNonRoot on every task when asked (restricted tenants)."""

from pathlib import Path

import pytest
import yaml

from mlplatform.scenarios.workloads.pipeline import NON_ROOT, compile_pipeline

pytestmark = pytest.mark.workloads


def test_every_task_declares_run_as_non_root(tmp_path: Path) -> None:
    docs = list(
        yaml.safe_load_all(
            compile_pipeline(
                tmp_path / "p.yaml", "reg.local/wl:1", run_as_non_root=True
            ).read_text()
        )
    )
    spec, platform = docs
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(spec["deploymentSpec"]["executors"])
    assert len(executors) == 5
    for name, config in executors.items():
        assert config == NON_ROOT == {"securityContext": {"runAsNonRoot": True}}, name


def test_root_images_are_left_alone_by_default(tmp_path: Path) -> None:
    (spec,) = yaml.safe_load_all(compile_pipeline(tmp_path / "p.yaml").read_text())
    assert "platforms" not in spec
