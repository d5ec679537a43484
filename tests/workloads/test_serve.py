"""The served model in the real KServe model server, driven by the real load harness."""

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import joblib
import pytest

from mlplatform.scenarios.load import LoadConfig, run_load_subprocess
from mlplatform.scenarios.workloads.model import MODEL_FILE, SAMPLE_INSTANCES
from tests.workloads.helpers import REPO, http

pytestmark = pytest.mark.workloads


@pytest.fixture(scope="module")
def expected(model_dir: Path) -> list[int]:
    return joblib.load(model_dir / MODEL_FILE).predict(SAMPLE_INSTANCES).tolist()


def test_v1_predict(model_server: str, expected: list[int]) -> None:
    status, body = http(
        "POST", f"{model_server}/v1/models/iris:predict", {"instances": SAMPLE_INSTANCES}
    )
    assert status == 200 and body == {"predictions": expected}


def test_v2_infer(model_server: str, expected: list[int]) -> None:
    flat = [v for row in SAMPLE_INSTANCES for v in row]
    req = {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": flat}]}
    status, body = http("POST", f"{model_server}/v2/models/iris/infer", req)
    assert status == 200 and body["model_name"] == "iris"
    (out,) = body["outputs"]
    assert out["shape"] == [2] and out["data"] == expected
    assert http("GET", f"{model_server}/v2/models/iris/ready")[0] == 200


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/models/iris:predict", {"instances": [[1.0, 2.0]]}, 400),
        ("/v1/models/iris:predict", {"rows": []}, 400),
        ("/v1/models/nope:predict", {"instances": SAMPLE_INSTANCES}, 404),
    ],
)
def test_bad_requests(model_server: str, path: str, body: dict, status: int) -> None:
    assert http("POST", model_server + path, body)[0] == status


def test_load_gate_passes(model_server: str, tmp_path: Path) -> None:
    cfg = LoadConfig(host=model_server, model_name="iris", users=4, duration_s=3)
    report, rc = run_load_subprocess(cfg, tmp_path / "load.json", slo_profile="local")
    r = report.result
    assert rc == 0 and report.gate.passed, report.gate.reasons
    assert r.requests > 100 and r.failures == 0 and r.fail_ratio == 0
    assert 0 < r.p50_ms <= r.p95_ms <= r.p99_ms <= r.max_ms + 1
    assert r.rps >= report.slo.min_rps


class _Always500(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def broken_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Always500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("target", ["wrong-model", "http-500"])
def test_load_gate_fails_on_errors(
    target: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    host = request.getfixturevalue("model_server" if target == "wrong-model" else "broken_server")
    cfg = LoadConfig(host=host, model_name="missing", users=2, duration_s=1.5, rate_per_user=20)
    report, rc = run_load_subprocess(cfg, tmp_path / "load.json", slo_profile="local")
    assert rc == 1 and not report.gate.passed
    assert report.result.fail_ratio == 1.0
    assert any(reason.startswith("error rate 1.0000 >") for reason in report.gate.reasons)
    code = "404" if target == "wrong-model" else "500"
    assert any(code in error for error in report.result.errors), report.result.errors


def test_importing_the_harness_does_not_patch_the_caller() -> None:
    code = (
        "import sys, scenarios.load; "
        "assert not {'locust', 'gevent'} & set(sys.modules), 'gevent leaked'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=30)
