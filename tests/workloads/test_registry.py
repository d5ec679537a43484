"""Rung 4: the pipeline registers its model in a model registry (an in-memory server speaking
the pinned REST API), and the registered version resolves back to the model's URI."""

from pathlib import Path

import pytest

from mlplatform.scenarios.workloads import registry
from mlplatform.scenarios.workloads.pipeline import MODEL_FORMAT, run_local
from tests.workloads.fake_registry import serve

pytestmark = pytest.mark.workloads


def test_a_promoted_model_is_registered_and_resolves_to_its_artifact(tmp_path: Path) -> None:
    with serve() as (url, store):
        run = run_local(tmp_path, 0.8, registry_url=url, model_name="churn", model_version="r1")
        assert run.deployed
        uri = registry.resolve(url, "churn", "r1")
    assert uri == run.deployment["spec"]["predictor"]["model"]["storageUri"]
    assert "weights" in Path(uri).read_text()
    (artifact,) = [a for items in store.artifacts.values() for a in items]
    assert artifact["modelFormatName"] == MODEL_FORMAT


def test_nothing_is_registered_without_a_registry_or_below_the_bar(tmp_path: Path) -> None:
    with serve() as (url, store):
        run_local(tmp_path / "a", 0.8)
        run_local(tmp_path / "b", 1.01, registry_url=url)
        assert store.models == {} and store.versions == {}


def test_a_second_version_reuses_the_registered_model() -> None:
    with serve() as (url, store):
        first = registry.register(url, "m", "v1", "s3://b/1", MODEL_FORMAT)
        second = registry.register(url, "m", "v2", "s3://b/2", MODEL_FORMAT)
        assert first["model_id"] == second["model_id"] and len(store.models) == 1
        assert registry.resolve(url, "m", "v2") == "s3://b/2"
        with pytest.raises(registry.urllib.error.HTTPError):
            registry.resolve(url, "m", "v3")


def test_the_served_runtime_loads_the_pipelines_model(tmp_path: Path) -> None:
    """What KServe's storage initializer puts in /mnt/models for the registered URI."""
    from mlplatform.scenarios.workloads.model.serve import SklearnModel

    run = run_local(tmp_path / "run", 0.8)
    model_dir = tmp_path / "mnt"
    model_dir.mkdir()
    uri = Path(run.deployment["spec"]["predictor"]["model"]["storageUri"])
    (model_dir / uri.name).write_text(uri.read_text())
    model = SklearnModel("churn", model_dir)
    assert model.load()
    out = model.predict({"instances": [[2.0, 2.0, 2.0, 2.0], [-1.0, -1.0, -1.0, -1.0]]})
    assert out["predictions"] == [1, 0]
