"""KFP v2 pipeline for pipeline-run: preprocess -> train -> evaluate -> deploy if good enough
(and register the model in the team's model registry when given one).

Components are lightweight Python components using only the standard library and install
nothing at run time (`install_kfp_package=False`): the image must already contain kfp.

    python -m mlplatform.scenarios.workloads.pipeline compile --out pipeline.yaml [--image IMG]
    python -m mlplatform.scenarios.workloads.pipeline run-local --root /tmp/kfp --min-accuracy 0.8
"""

# No `from __future__ import annotations`: kfp reads real annotation objects.
import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp import compiler, dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from mlplatform.kfp_pod_security import NON_ROOT_TASK

PIPELINE_NAME = "mlplatform-conformance"
DEFAULT_IMAGE = "python:3.11-slim"  # override with an image that has kfp installed
TASKS = ("preprocess", "train", "evaluate", "deploy", "register")
MODEL_FORMAT = "mlplatform-logreg"  # the train component's JSON weights (serve.py loads them)


# Component bodies run in their own interpreter: imports live inside each function.
def preprocess(
    n_samples: int, seed: int, train_data: Output[Dataset], test_data: Output[Dataset]
) -> None:
    """Two Gaussian classes in 4 features, split 75/25, written as CSV."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n_samples):
        label = i % 2
        rows.append([rng.gauss(1.2 * label, 1.0) for _ in range(4)] + [label])
    rng.shuffle(rows)
    cut = n_samples * 3 // 4
    for art, part in ((train_data, rows[:cut]), (test_data, rows[cut:])):
        with open(art.path, "w") as f:
            f.writelines(",".join(map(str, r)) + "\n" for r in part)
        art.metadata["rows"] = len(part)


def train(train_data: Input[Dataset], epochs: int, lr: float, model: Output[Model]) -> None:
    """Logistic regression by SGD; the model is its weights as JSON."""
    import json
    import math

    with open(train_data.path) as f:
        rows = [[float(v) for v in line.split(",")] for line in f if line.strip()]
    w, b = [0.0] * 4, 0.0
    for _ in range(epochs):
        for *x, y in rows:
            z = max(-30.0, min(30.0, sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b))
            err = 1.0 / (1.0 + math.exp(-z)) - y
            w = [wi - lr * err * xi for wi, xi in zip(w, x, strict=True)]
            b -= lr * err
    with open(model.path, "w") as f:
        json.dump({"weights": w, "bias": b}, f)
    model.metadata["framework"] = "stdlib-logreg"


def evaluate(test_data: Input[Dataset], model: Input[Model], metrics: Output[Metrics]) -> float:
    """Held-out accuracy, logged as a KFP metric and returned for the deploy gate."""
    import json

    with open(model.path) as f:
        m = json.load(f)
    with open(test_data.path) as f:
        rows = [[float(v) for v in line.split(",")] for line in f if line.strip()]

    def predict(x: list[float]) -> int:
        return int(sum(w * xi for w, xi in zip(m["weights"], x, strict=True)) + m["bias"] > 0)

    hits = sum(predict(r[:4]) == int(r[4]) for r in rows)
    accuracy = hits / len(rows)
    metrics.log_metric("accuracy", accuracy)
    return accuracy


def deploy(
    model: Input[Model], accuracy: float, model_name: str, deployment: Output[Artifact]
) -> str:
    """Promote the model: record the InferenceService that would serve it."""
    import json

    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": model_name, "annotations": {"mlplatform/accuracy": str(accuracy)}},
        "spec": {
            "predictor": {"model": {"modelFormat": {"name": "custom"}, "storageUri": model.uri}}
        },
    }
    with open(deployment.path, "w") as f:
        json.dump(isvc, f, indent=2)
    return model.uri


def register(
    model: Input[Model], registry_url: str, model_name: str, model_version: str, model_format: str
) -> str:
    """Register the promoted model in the team's model registry; returns the version's id."""
    from mlplatform.scenarios.workloads.registry import register as add

    return add(registry_url, model_name, model_version, model.uri, model_format)["version_id"]


# kfp-kubernetes' set_security_context(task, run_as_non_root=True), without the package.
NON_ROOT = NON_ROOT_TASK


def build_pipeline(image: str = DEFAULT_IMAGE, run_as_non_root: bool = False) -> Any:
    """The pipeline with every component on `image` (which must contain kfp); with
    `run_as_non_root` (only for an image with a numeric non-root USER) every task declares it."""

    def comp(fn: Any) -> Any:
        component = dsl.component(fn, base_image=image, install_kfp_package=False)
        if not run_as_non_root:
            return component

        def task(**kwargs: Any) -> Any:
            t = component(**kwargs)
            t.platform_config["kubernetes"] = {
                **t.platform_config.get("kubernetes", {}),
                **NON_ROOT,
            }
            return t

        return task

    pre_c, train_c, eval_c, deploy_c, register_c = map(
        comp, (preprocess, train, evaluate, deploy, register)
    )

    @dsl.pipeline(name=PIPELINE_NAME, description=__doc__.splitlines()[0])
    def conformance(
        min_accuracy: float = 0.8,
        n_samples: int = 400,
        seed: int = 7,
        epochs: int = 20,
        lr: float = 0.05,
        model_name: str = "conformance",
        registry_url: str = "",  # the team's model registry; empty: not registered
        model_version: str = "v1",
    ) -> float:
        pre = pre_c(n_samples=n_samples, seed=seed).set_display_name("preprocess")
        tr = train_c(train_data=pre.outputs["train_data"], epochs=epochs, lr=lr)
        ev = eval_c(test_data=pre.outputs["test_data"], model=tr.outputs["model"])
        accuracy = ev.outputs["Output"]  # the return value; `metrics` is the other output
        with dsl.If(accuracy >= min_accuracy, name="accuracy-gate"):
            deploy_c(model=tr.outputs["model"], accuracy=accuracy, model_name=model_name)
            with dsl.If(registry_url != "", name="registry-gate"):
                register_c(
                    model=tr.outputs["model"],
                    registry_url=registry_url,
                    model_name=model_name,
                    model_version=model_version,
                    model_format=MODEL_FORMAT,
                )
        return accuracy

    return conformance


def compile_pipeline(out: Path, image: str = DEFAULT_IMAGE, run_as_non_root: bool = False) -> Path:
    compiler.Compiler().compile(build_pipeline(image, run_as_non_root), package_path=str(out))
    return out


@dataclass(frozen=True)
class LocalRun:
    accuracy: float
    deployed: bool
    deployment: dict[str, Any] | None


def run_local(root: Path, min_accuracy: float, **params: Any) -> LocalRun:
    """Run with the KFP local SubprocessRunner in this environment (no venv, no installs)."""
    from kfp import local

    root.mkdir(parents=True, exist_ok=True)
    before = set(root.iterdir())
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    task = build_pipeline()(min_accuracy=min_accuracy, **params)
    (run_dir,) = set(root.iterdir()) - before  # one new <pipeline>-<timestamp> dir per run
    record = run_dir / "deploy" / "deployment"
    deployment = json.loads(record.read_text()) if record.is_file() else None
    return LocalRun(float(task.output), deployment is not None, deployment)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="compile or locally run the conformance pipeline")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compile")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--image", default=DEFAULT_IMAGE)
    c.add_argument("--non-root", action="store_true", help="every task declares runAsNonRoot")
    r = sub.add_parser("run-local")
    r.add_argument("--root", type=Path, required=True)
    r.add_argument("--min-accuracy", type=float, default=0.8)
    a = p.parse_args(argv)
    if a.cmd == "compile":
        print(compile_pipeline(a.out, a.image, a.non_root))
    else:
        print(json.dumps(run_local(a.root, a.min_accuracy).__dict__))


if __name__ == "__main__":
    main()
