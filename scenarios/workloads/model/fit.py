"""Train the served classifier and save it as `<model_dir>/model.joblib`.

    python -m mlplatform.scenarios.workloads.model.fit --model-dir /tmp/model

The directory is what the serve scenario uploads to MinIO (KServe's storage initializer
then mounts it at /mnt/models for serve.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from mlplatform.scenarios.workloads.model import MODEL_FILE


def fit(model_dir: Path, seed: int = 0) -> dict[str, float]:
    """Fit on iris (bundled with sklearn), save the model, return held-out accuracy."""
    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=seed, stratify=y
    )
    clf = LogisticRegression(max_iter=500).fit(x_train, y_train)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(clf, model_dir / MODEL_FILE)
    return {"accuracy": float(clf.score(x_test, y_test))}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="train and save the served sklearn model")
    p.add_argument("--model-dir", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(json.dumps(fit(args.model_dir, args.seed)))


if __name__ == "__main__":
    main()
