"""The KFP v2 pipeline: compiled by the SDK and run by the KFP local runner."""

from pathlib import Path

import pytest
import yaml

from mlplatform.scenarios.workloads.pipeline import compile_pipeline, run_local

pytestmark = pytest.mark.workloads


def test_compiles_to_a_gated_dag(tmp_path: Path) -> None:
    spec = yaml.safe_load(compile_pipeline(tmp_path / "p.yaml", image="reg.local/wl:1").read_text())
    root = spec["root"]["dag"]["tasks"]
    gates = [t for t in root.values() if "triggerPolicy" in t]
    assert {"preprocess", "train", "evaluate"} <= set(root) and len(gates) == 1
    condition = gates[0]["triggerPolicy"]["condition"]
    assert "evaluate-Output" in condition and ">=" in condition and "min_accuracy" in condition
    gated = spec["components"][gates[0]["componentRef"]["name"]]["dag"]["tasks"]
    (registry_gate,) = [name for name in gated if name != "deploy"]
    assert "deploy" in gated
    assert "registry_url" in gated[registry_gate]["triggerPolicy"]["condition"]
    inner = spec["components"][gated[registry_gate]["componentRef"]["name"]]["dag"]["tasks"]
    assert set(inner) == {"register"}
    assert root["train"]["dependentTasks"] == ["preprocess"]
    execs = spec["deploymentSpec"]["executors"].values()
    assert len(execs) == 5
    for ex in execs:
        container = ex["container"]
        assert container["image"] == "reg.local/wl:1"
        assert "pip install" not in " ".join(container["command"])  # no network at run time


def test_local_run_deploys_when_accuracy_meets_threshold(tmp_path: Path) -> None:
    run = run_local(tmp_path, min_accuracy=0.8)
    assert run.accuracy >= 0.8 and run.deployed and run.deployment is not None
    assert run.deployment["kind"] == "InferenceService"
    model_uri = run.deployment["spec"]["predictor"]["model"]["storageUri"]
    assert Path(model_uri).is_file() and "weights" in Path(model_uri).read_text()


def test_local_run_skips_deploy_when_threshold_unreachable(tmp_path: Path) -> None:
    run = run_local(tmp_path, min_accuracy=1.01)
    assert 0.5 < run.accuracy <= 1.0 and not run.deployed and run.deployment is None
