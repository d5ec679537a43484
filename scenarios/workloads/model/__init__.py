"""The served model: an sklearn classifier (fit.py) and its KServe predictor (serve.py).

Constants here are import-light so the load profile can use them without sklearn.
"""

MODEL_FILE = "model.joblib"
N_FEATURES = 4
# Two iris-like rows; the V1 body the load profile posts.
SAMPLE_INSTANCES: list[list[float]] = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]


def server_command(
    python: str, model_name: str, model_dir: str, port: int, workers: int = 1
) -> list[str]:
    """The local model server's command line: HTTP only, quiet per-request logging."""
    return [
        python, "-m", "mlplatform.scenarios.workloads.model.serve",
        "--model_name", model_name,
        "--model_dir", model_dir,
        "--http_port", str(port),
        "--workers", str(workers),
        "--enable_grpc", "false",  # gRPC's fixed port 8081 collides between servers
        "--request_logging", "false",
        "--enable_latency_logging", "false",
    ]  # fmt: skip
