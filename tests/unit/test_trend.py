"""`conformance trend`: runs loaded from directories or an object store, series, the verdict
against the trailing median, the self-contained HTML report and the exit codes."""

from __future__ import annotations

import http.server
import re
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from mlplatform.cli import conformance_trend as cli
from mlplatform.cli import main
from mlplatform.cli.app import Exit
from mlplatform.scenarios import s3, trend
from mlplatform.scenarios.report import Report, ScenarioResult, StepResult

P95 = [120.0, 118.0, 125.0, 122.0, 119.0]
RPS = [40.0, 41.0, 39.5, 40.5, 40.0]
ADMIT = [2.0, 2.5, 1.8, 2.2, 2.1]


def _run(i: int, p95: float, rps: float, admit: float, isolation: str = "passed") -> Report:
    serve = ScenarioResult(
        "serve-and-load", "serve", ["scn-a"], "passed", 60.0 + i,
        [StepResult("tenants ready", "", "passed", 1.0), StepResult("load", "", "passed", 50.0)],
        metrics={"p50_ms": 20.0, "p95_ms": p95, "p99_ms": p95 * 1.5, "rps": rps,
                 "error_rate": 0.0, "requests": 5000.0, "step_s.load": 50.0},
    )  # fmt: skip
    train = ScenarioResult(
        "train-queued", "train", ["scn-b"], "passed", 30.0,
        [StepResult("tenants ready", "", "passed", 1.0)],
        metrics={"admission_latency_s": admit, "pytorchjob_final_loss": 0.1},
    )  # fmt: skip
    steps = [StepResult("tenants ready", "", "passed", 1.0),
             StepResult("sar denies", "", "passed" if isolation == "passed" else "failed", 1.0),
             StepResult("netpol", "", "passed" if isolation == "passed" else "skipped", 1.0)]  # fmt: skip
    iso = ScenarioResult("tenant-isolation", "iso", ["scn-c"], isolation, 3.0, steps)
    gpu = ScenarioResult("gpu-scheduling", "gpu", [], "skipped", 0.0, message="no GPU node")
    kfp = ScenarioResult("pipeline-run", "kfp", ["scn-d"], "passed", 300.0,
                         [StepResult("tenants ready", "", "passed", 1.0)],
                         metrics={"pipeline_duration_s": 240.0 + i})  # fmt: skip
    return Report("1.11", "kind-dev", f"2026-11-{20 + i:02d}T02:00:00+00:00", 100.0,
                  [serve, train, iso, gpu, kfp])  # fmt: skip


def _write(root: Path, reports: list[Report]) -> list[Path]:
    dirs = []
    for report in reports:
        d = root / report.started_at[:10]
        d.mkdir(parents=True)
        (d / "results.json").write_text(report.to_json())
        dirs.append(d)
    return dirs


@pytest.fixture
def stable(tmp_path) -> list[Path]:
    return _write(
        tmp_path / "runs",
        [_run(i, *vals) for i, vals in enumerate(zip(P95, RPS, ADMIT, strict=True))],
    )


def _trend(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(["conformance", "trend", *args])
    seen = capsys.readouterr()
    return code, seen.out, seen.err


def test_series_follow_the_runs_in_order(stable):
    runs = trend.load([str(d) for d in reversed(stable)])  # given newest first
    assert [r.id for r in runs] == [d.name for d in stable]
    by = {(s.scenario, s.metric): s.values for s in trend.series(runs)}
    assert by[("serve-and-load", "p95_ms")] == P95
    assert by[("serve-and-load", "rps")] == RPS
    assert by[("train-queued", "admission_latency_s")] == ADMIT
    assert by[("serve-and-load", "duration_s")] == [60.0, 61.0, 62.0, 63.0, 64.0]
    assert by[("tenant-isolation", "pass_rate")] == [1.0] * 5
    # followed metrics only: no step timings, loss or request counts; skipped scenarios none
    assert ("serve-and-load", "requests") not in by and ("serve-and-load", "step_s.load") not in by
    assert ("train-queued", "pytorchjob_final_loss") not in by
    assert not any(sc == "gpu-scheduling" for sc, _ in by)


def test_a_directory_of_runs_is_a_source_and_a_run_counts_once(stable):
    runs = trend.load([str(stable[0].parent), str(stable[0])])
    assert len(runs) == 5


def test_stable_runs_write_a_self_contained_report_and_exit_0(stable, tmp_path, capsys):
    out = tmp_path / "site" / "trend.html"
    code, stdout, _ = _trend([str(stable[0].parent), "--out", str(out)], capsys)
    assert code == Exit.OK, stdout
    assert "REGRESSION" not in stdout and f"report {out}" in stdout
    page = out.read_text()
    assert page.count("<svg") == 5  # pass rate, admission, p95/p99, RPS, durations
    assert not re.search(r"<(script|link|img|iframe|object)\b", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page, re.I)
    # the only URLs are XML namespace names (never fetched)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert "no regression" in page
    assert "pipeline-run pipeline_duration_s" in page  # *_duration_s join the durations plot


@pytest.mark.parametrize(
    ("latest", "line"),
    [
        (dict(p95=180.0), "serve-and-load p95_ms: 180 vs trailing median 120"),
        (dict(p95=180.0), "serve-and-load p99_ms: 270 vs trailing median 180"),
        (dict(rps=30.0), "serve-and-load rps: 30 vs trailing median 40"),
        (dict(admit=3.0), "train-queued admission_latency_s: 3 vs trailing median 2.1"),
        (dict(isolation="failed"), "tenant-isolation pass_rate: 0.333333 vs trailing median 1"),
    ],
)
def test_a_worse_latest_run_exits_1_with_one_line_per_regression(tmp_path, capsys, latest, line):
    values = {"p95": 121.0, "rps": 40.0, "admit": 2.1, **latest}
    reports = [_run(i, *v) for i, v in enumerate(zip(P95, RPS, ADMIT, strict=True))]
    reports.append(_run(5, **values))
    dirs = _write(tmp_path / "runs", reports)
    code, stdout, _ = _trend([*map(str, dirs), "--out", str(tmp_path / "t.html")], capsys)
    assert code == Exit.FINDINGS
    assert any(line in ln for ln in stdout.splitlines()), stdout
    regressions = [ln for ln in stdout.splitlines() if ln.startswith("REGRESSION")]
    assert len(regressions) == (2 if "p95" in latest else 1), stdout
    assert "regression(s) in the latest run" in (tmp_path / "t.html").read_text()


def test_better_is_direction_aware_and_within_margin_passes(tmp_path, capsys):
    reports = [_run(i, *v) for i, v in enumerate(zip(P95, RPS, ADMIT, strict=True))]
    reports.append(_run(5, p95=60.0, rps=80.0, admit=2.3))  # faster, more RPS, +10% admission
    dirs = _write(tmp_path / "runs", reports)
    runs = trend.load(map(str, dirs))
    assert trend.verdict(runs, window=7, margin=0.1).ok
    assert not trend.verdict(runs, window=7, margin=0.05).ok  # admission 2.3 vs 2.1 > +5%
    code, stdout, _ = _trend([str(dirs[0].parent), "--out", str(tmp_path / "t.html")], capsys)
    assert code == Exit.OK, stdout


def test_the_window_bounds_the_baseline(tmp_path):
    p95 = [500.0, 500.0, 500.0, 100.0, 100.0, 100.0, 150.0]  # old slow runs, then fast ones
    reports = [_run(i, p, 40.0, 2.0) for i, p in enumerate(p95)]
    runs = trend.load(map(str, _write(tmp_path / "runs", reports)))
    assert trend.verdict(runs, window=6).ok  # median of 500,500,500,100,100,100 = 300
    found = trend.verdict(runs, window=3).regressions  # median of 100,100,100
    assert [(f.scenario, f.metric) for f in found] == [
        ("serve-and-load", "p95_ms"),
        ("serve-and-load", "p99_ms"),
    ]


def test_json_output_carries_series_and_verdict(stable, tmp_path, capsys):
    import json

    code, stdout, _ = _trend([str(stable[0].parent), "--out", str(tmp_path / "t.html"),
                              "-o", "json"], capsys)  # fmt: skip
    doc = json.loads(stdout)
    assert code == Exit.OK and doc["ok"] and len(doc["runs"]) == 5
    p95 = next(s for s in doc["series"] if s["metric"] == "p95_ms")
    assert p95["values"] == P95


def test_one_run_gives_no_verdict(stable, tmp_path, capsys):
    code, stdout, _ = _trend([str(stable[0]), "--out", str(tmp_path / "t.html")], capsys)
    assert code == Exit.OK and "a verdict needs at least 2" in stdout


@pytest.mark.parametrize("case", ["missing", "empty", "not-json", "old-schema"])
def test_a_bad_source_is_one_line_and_exit_2(tmp_path, capsys, case):
    source = tmp_path / "src"
    if case != "missing":
        source.mkdir()
    if case == "not-json":
        (source / "results.json").write_text("{not json")
    if case == "old-schema":
        (source / "results.json").write_text('{"schema_version": 0}')
    code, _, err = _trend([str(source), "--out", str(tmp_path / "t.html")], capsys)
    assert code == Exit.USAGE, err
    assert err.count("\n") == 1 and str(source) in err and "Traceback" not in err
    assert not (tmp_path / "t.html").exists()


class FakeStore:
    """An in-memory object store: the nightly upload's layout."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.calls: list[tuple[str, str]] = []

    def list(self, bucket: str, prefix: str) -> list[str]:
        self.calls.append(("list", f"{bucket}/{prefix}"))
        return [k for k in self.objects if k.startswith(prefix)]

    def get(self, bucket: str, key: str) -> bytes:
        self.calls.append(("get", f"{bucket}/{key}"))
        return self.objects[key]


def _store() -> FakeStore:
    objects = {}
    for i, vals in enumerate(zip(P95, RPS, ADMIT, strict=True)):
        stamp = f"2026112{i}T020000Z"
        objects[f"runs/{stamp}/results.json"] = _run(i, *vals).to_json().encode()
        objects[f"runs/{stamp}/junit.xml"] = b"<testsuites/>"
    objects["runs/README.md"] = b"not a run"
    return FakeStore(objects)


def test_runs_from_the_object_store(monkeypatch, tmp_path, capsys):
    store = _store()
    runs = trend.load(["s3://conformance/runs"], store)
    assert [r.id for r in runs] == [f"2026112{i}T020000Z" for i in range(5)]
    assert ("list", "conformance/runs/") in store.calls
    assert not any(c[1].endswith("junit.xml") for c in store.calls)  # reads results.json only
    monkeypatch.setattr(s3.S3Client, "from_env", classmethod(lambda cls, env, ep=None: store))
    code, stdout, _ = _trend(["s3://conformance/runs/", "--out", str(tmp_path / "t.html")],
                             capsys)  # fmt: skip
    assert code == Exit.OK and "5 runs" in stdout


def test_s3_without_credentials_or_runs_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    code, _, err = _trend(["s3://conformance/runs/"], capsys)
    assert code == Exit.USAGE and err.count("\n") == 1
    assert "AWS_ACCESS_KEY_ID" in err and "--endpoint" in err
    monkeypatch.setattr(s3.S3Client, "from_env", classmethod(lambda c, e, p=None: FakeStore({})))
    code, _, err = _trend(["s3://conformance/nothing/"], capsys)
    assert code == Exit.USAGE and "s3://conformance/nothing/: no <run>/results.json" in err


def test_without_matplotlib_exit_3_names_the_extra(stable, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = _trend([str(stable[0].parent), "--out", str(tmp_path / "t.html")], capsys)
    assert code == Exit.ENVIRONMENT and err.count("\n") == 1
    assert "pip install 'mlplatform[reports]'" in err


def test_sigv4_matches_the_aws_documented_example():
    """AWS S3 SigV4 docs, 'GET Object' example (examplebucket, test.txt, Range: bytes=0-9)."""
    headers = {"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9",
               "x-amz-content-sha256": s3.EMPTY_SHA256, "x-amz-date": "20130524T000000Z"}  # fmt: skip
    auth = s3.authorization("GET", "/test.txt", {}, headers, s3.EMPTY_SHA256,
                            "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                            "us-east-1", "20130524T000000Z")  # fmt: skip
    assert auth.endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_the_s3_client_lists_pages_and_gets_on_loopback():
    """ListObjectsV2 continuation and GetObject against a local stand-in server."""
    seen: list[str] = []
    page = ('<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{}'
            "<IsTruncated>{}</IsTruncated>{}</ListBucketResult>")  # fmt: skip

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            url = urllib.parse.urlparse(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path == "/conformance" and "continuation-token" not in query:
                body = page.format("<Contents><Key>runs/a/results.json</Key></Contents>",
                                   "true", "<NextContinuationToken>t1</NextContinuationToken>")  # fmt: skip
            elif url.path == "/conformance":
                body = page.format("<Contents><Key>runs/b/results.json</Key></Contents>",
                                   "false", "")  # fmt: skip
            elif url.path == "/conformance/runs/a/results.json":
                body = "{}"
            else:
                self.send_response(404)
                self.end_headers()
                self.wfile.write(b"<Error><Code>NoSuchKey</Code></Error>")
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
        client = s3.S3Client.from_env(env, f"http://127.0.0.1:{server.server_port}")
        assert client.list("conformance", "runs/") == ["runs/a/results.json", "runs/b/results.json"]
        assert client.get("conformance", "runs/a/results.json") == b"{}"
        with pytest.raises(s3.S3Error, match="HTTP 404 NoSuchKey"):
            client.get("conformance", "runs/zzz")
    finally:
        server.shutdown()
    assert all(a.startswith("AWS4-HMAC-SHA256 Credential=k/") for a in seen), seen
    with pytest.raises(s3.S3Error, match="cannot reach"):
        s3.S3Client("http://127.0.0.1:9", "k", "s", timeout_s=2).list("b", "")


def test_add_commands_registers_trend_on_the_conformance_group():
    import typer

    group = typer.Typer()
    cli.add_commands(group)
    assert [c.name for c in group.registered_commands] == ["trend"]
