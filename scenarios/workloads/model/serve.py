"""KServe predictor for the sklearn model (the serve-and-load scenario's container command).

    python -m mlplatform.scenarios.workloads.model.serve --model_name iris --model_dir /mnt/models \
        --http_port 8080 --enable_grpc false

Every kserve.ModelServer flag (--workers, --enable_latency_logging, ...) is accepted.
Speaks protocol V1 (`{"instances": [[...]]}`) and V2 open inference (`{"inputs": [...]}`).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from kserve import InferRequest, InferResponse, Model, ModelServer, model_server
from kserve.errors import InvalidInput
from kserve.utils.utils import get_predict_input, get_predict_response

from mlplatform.scenarios.workloads.model import MODEL_FILE, N_FEATURES


class Weights:
    """The pipeline's model (pipeline.py `train`: JSON `{"weights": [...], "bias": b}`) as a
    binary classifier with sklearn's `predict`."""

    def __init__(self, path: Path) -> None:
        m = json.loads(path.read_text())
        self.w, self.b = np.asarray(m["weights"], dtype=np.float64), float(m["bias"])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return (rows @ self.w + self.b > 0).astype(np.int64)


def _weights_file(model_dir: Path) -> Path | None:
    """A JSON weights file in the model dir (KServe downloads the registered object there)."""
    for path in sorted(p for p in model_dir.iterdir() if p.is_file()):
        try:
            if "weights" in json.loads(path.read_text()):
                return path
        except (UnicodeDecodeError, ValueError):
            continue
    return None


class SklearnModel(Model):
    """Loads `<model_dir>/model.joblib` (or the pipeline's JSON weights) and answers class
    predictions."""

    def __init__(self, name: str, model_dir: Path) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self._clf: Any = None

    def load(self) -> bool:
        path = self.model_dir / MODEL_FILE
        if path.is_file():
            self._clf = joblib.load(path)
        elif self.model_dir.is_dir() and (weights := _weights_file(self.model_dir)):
            self._clf = Weights(weights)
        else:
            raise FileNotFoundError(f"no {MODEL_FILE} or JSON weights in {self.model_dir}")
        self.ready = True
        return self.ready

    def predict(
        self,
        payload: dict[str, Any] | InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        try:
            rows = np.asarray(get_predict_input(payload), dtype=np.float64)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise InvalidInput(f"cannot read model input: {e}") from e
        if rows.ndim != 2 or rows.shape[1] != N_FEATURES:
            raise InvalidInput(f"expected rows of {N_FEATURES} numbers, got shape {rows.shape}")
        return get_predict_response(payload, self._clf.predict(rows), self.name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    # kserve's parser carries the ModelServer flags (it also parses sys.argv on import).
    p = argparse.ArgumentParser(parents=[model_server.parser], description=__doc__)
    p.add_argument("--model_dir", type=Path, default=Path("/mnt/models"))
    p.add_argument(
        "--request_logging",
        type=lambda v: v.lower() in {"1", "true", "yes"},
        default=True,
        help="per-request log lines (uvicorn.access, kserve.trace); false for load tests",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    model = SklearnModel(args.model_name, args.model_dir)
    model.load()
    server = ModelServer(
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        workers=args.workers,
        enable_grpc=args.enable_grpc,
        enable_latency_logging=args.enable_latency_logging,
    )
    if not args.request_logging:
        for name in ("uvicorn.access", "kserve.trace"):
            logging.getLogger(name).setLevel(logging.WARNING)
    server.start([model])


if __name__ == "__main__":
    main()
