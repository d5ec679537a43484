"""Publishing a run: files to the object store under runs/<run>/, retention, and the
Pushgateway exposition; an in-memory store and a fake transport, no network."""

from __future__ import annotations

import hashlib
import io
import re
import urllib.error
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mlplatform.cli import main
from mlplatform.scenarios import publish
from mlplatform.scenarios.report import Report, ScenarioResult, StepResult, write
from mlplatform.scenarios.trend import load_store

BUCKET_URL = "s3://conformance/runs"
ENV = {"AWS_ACCESS_KEY_ID": "conformance", "AWS_SECRET_ACCESS_KEY": "s3cr3t",
       "AWS_ENDPOINT_URL": "http://minio.minio.svc.cluster.local:9000"}  # fmt: skip


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}

    def list(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def get(self, bucket: str, key: str) -> bytes:
        return self.objects[(bucket, key)][0]

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.objects[(bucket, key)] = (body, content_type)

    def delete(self, bucket: str, key: str) -> None:
        del self.objects[(bucket, key)]


class Transport:
    """urlopen's shape: records requests, answers 200 (or raises `error`)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.requests: list = []
        self.error = error

    def __call__(self, request, timeout: float):
        self.requests.append(request)
        if self.error:
            raise self.error
        return io.BytesIO(b"")


def report(passed: bool = True, started: str = "2026-11-29T02:00:00+00:00") -> Report:
    step = StepResult("tenants ready", "queues exist", "passed", 1.0)
    scenarios = [
        ScenarioResult("train-queued", "train", ["scn-train-queued-x"],
                       "passed" if passed else "failed", 120.5, [step]),
        ScenarioResult("gpu-scheduling", "gpu", [], "skipped", 0.0),
        ScenarioResult("serve-and-load", "serve", ["scn-serve-and-load-x"], "passed", 300.0),
    ]  # fmt: skip
    return Report("1.11", 'in-cluster:conformance/"runner"', started, 421.0, scenarios)


def test_upload_lays_out_runs_by_start_time_for_the_trend_reader(tmp_path: Path) -> None:
    store = MemoryStore()
    write(report(), tmp_path)
    keys = publish.upload(store, BUCKET_URL, report(), tmp_path)
    assert keys == [f"{BUCKET_URL}/20261129T020000Z/{f}" for f in
                    ("results.json", "junit.xml", "report.md")]  # fmt: skip
    body, content_type = store.objects[("conformance", "runs/20261129T020000Z/results.json")]
    assert content_type == "application/json" and Report.from_json(body.decode()).passed
    runs = load_store(store, BUCKET_URL)  # what `conformance trend s3://...` reads
    assert [r.id for r in runs] == ["20261129T020000Z"]


def test_upload_refuses_an_incomplete_run(tmp_path: Path) -> None:
    write(report(), tmp_path)
    (tmp_path / "junit.xml").unlink()
    with pytest.raises(publish.PublishError, match=r"junit\.xml is missing"):
        publish.upload(MemoryStore(), BUCKET_URL, report(), tmp_path)


def test_prune_deletes_only_runs_older_than_the_retention(tmp_path: Path) -> None:
    store = MemoryStore()
    for started in ("2026-10-01T02:00:00+00:00", "2026-11-20T02:00:00+00:00"):
        write(report(started=started), tmp_path)
        publish.upload(store, BUCKET_URL, report(started=started), tmp_path)
    store.put("conformance", "runs/README", b"not a run", "text/plain")
    store.put("conformance", "other/20200101T000000Z/results.json", b"{}", "application/json")
    deleted = publish.prune(store, BUCKET_URL, 30, now=datetime(2026, 11, 29, tzinfo=UTC))
    assert deleted == [f"{BUCKET_URL}/20261001T020000Z/{f}" for f in
                       ("junit.xml", "report.md", "results.json")]  # fmt: skip
    left = store.list("conformance", "")
    assert "runs/20261120T020000Z/results.json" in left
    assert {"runs/README", "other/20200101T000000Z/results.json"} <= set(left)


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_of_a_passing_run() -> None:
    text = publish.metrics(report())
    samples = _samples(text)
    end = datetime(2026, 11, 29, 2, 7, 1, tzinfo=UTC).timestamp()
    assert samples["mlplatform_conformance_last_run_success"] == 1
    assert samples["mlplatform_conformance_last_run_timestamp_seconds"] == end
    assert samples["mlplatform_conformance_last_success_timestamp_seconds"] == end
    assert samples["mlplatform_conformance_last_run_duration_seconds"] == 421
    assert samples['mlplatform_conformance_scenario_passed{scenario="train-queued"}'] == 1
    assert (
        samples['mlplatform_conformance_scenario_duration_seconds{scenario="train-queued"}']
        == 120.5
    )
    assert not [s for s in samples if "gpu-scheduling" in s]  # skipped: neither passed nor failed
    assert samples['mlplatform_conformance_last_run_scenarios{status="skipped"}'] == 1
    info = 'mlplatform_conformance_last_run_info{release="1.11",context="in-cluster:conformance/\\"runner\\""}'
    assert samples[info] == 1
    for name, (kind, _) in publish.METRICS.items():
        assert f"# TYPE mlplatform_conformance_{name} {kind}" in text


def test_a_failing_run_keeps_the_last_success() -> None:
    samples = _samples(publish.metrics(report(passed=False)))
    assert samples["mlplatform_conformance_last_run_success"] == 0
    assert samples['mlplatform_conformance_scenario_passed{scenario="train-queued"}'] == 0
    # not pushed: the Pushgateway keeps the previous passing run's value (POST semantics)
    assert "mlplatform_conformance_last_success_timestamp_seconds" not in samples


def test_push_posts_the_exposition_to_the_job_group() -> None:
    transport = Transport()
    target = publish.push("http://pushgateway.conformance:9091/", "x 1\n", opener=transport)
    assert target == "http://pushgateway.conformance:9091/metrics/job/mlplatform-conformance"
    (request,) = transport.requests
    assert request.get_method() == "POST"  # PUT would drop last_success on a failing night
    assert request.data == b"x 1\n" and request.headers["Content-type"].startswith("text/plain")


def test_push_errors_name_the_gateway() -> None:
    with pytest.raises(publish.PublishError, match="not http"):
        publish.push("pushgateway:9091", "x 1\n", opener=Transport())
    down = Transport(urllib.error.URLError("connection refused"))
    with pytest.raises(publish.PublishError, match=r"cannot reach .*connection refused"):
        publish.push("http://pg:9091", "x 1\n", opener=down)


def test_s3_writer_signs_path_style_puts_and_deletes() -> None:
    transport = Transport()
    store = publish.S3Writer.from_env(ENV)
    store = publish.S3Writer(store.endpoint, store.access_key, store.secret_key, opener=transport)
    store.put("conformance", "runs/20261129T020000Z/report.md", b"# r\n", "text/markdown")
    store.delete("conformance", "runs/20261129T020000Z/report.md")
    put, delete = transport.requests
    assert put.get_method() == "PUT" and delete.get_method() == "DELETE"
    assert put.full_url == ("http://minio.minio.svc.cluster.local:9000/conformance/runs/"
                            "20261129T020000Z/report.md")  # fmt: skip
    auth = put.headers["Authorization"]
    assert re.match(r"AWS4-HMAC-SHA256 Credential=conformance/\d{8}/us-east-1/s3/aws4_request,"
                    r"SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=[0-9a-f]{64}$",
                    auth)  # fmt: skip
    assert put.headers["X-amz-content-sha256"] == hashlib.sha256(b"# r\n").hexdigest()
    forbidden = urllib.error.HTTPError(put.full_url, 403, "Forbidden", {}, None)  # type: ignore[arg-type]
    denied = publish.S3Writer(store.endpoint, "k", "s", opener=Transport(forbidden))
    with pytest.raises(publish.PublishError, match=r"PUT .* HTTP 403"):
        denied.put("mlpipeline", "x", b"", "text/plain")


def test_cli_refuses_publish_without_credentials_before_running(monkeypatch, tmp_path, capsys):
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("mlplatform.scenarios.incluster.run", lambda *a, **kw: pytest.fail("ran"))
    code = main(["conformance", "run", "--in-cluster", "--release", "1.11",
                 "--publish", BUCKET_URL, "--out", str(tmp_path)])  # fmt: skip
    assert code == 2
    assert "--publish s3://conformance/runs: reading s3:// runs needs AWS_ACCESS_KEY_ID" in (
        capsys.readouterr().err
    )
    code = main(
        ["conformance", "run", "--in-cluster", "--release", "1.11", "--retention-days", "3"]
    )
    assert code == 2 and "pass --publish S3_URL too" in capsys.readouterr().err
    code = main(["conformance", "run", "--in-cluster", "--env", "dev"])
    assert code == 2 and "pass --release RELEASE and no --env" in capsys.readouterr().err


def test_cli_runs_in_cluster_then_publishes_and_pushes(monkeypatch, tmp_path, capsys) -> None:
    for var, value in ENV.items():
        monkeypatch.setenv(var, value)
    calls: list[str] = []

    def fake_run(release, scenarios, out, keep, **kw):  # the in-cluster suite, failing
        assert (release, scenarios, kw["image"]) == ("1.11", ["train-queued"], "img:1")
        write(report(passed=False), out)
        return report(passed=False)

    monkeypatch.setattr("mlplatform.scenarios.incluster.run", fake_run)
    store = MemoryStore()
    monkeypatch.setattr(publish.S3Writer, "from_env", classmethod(lambda cls, env: store))
    monkeypatch.setattr(publish, "push", lambda url, body: calls.append(body) or url + "/x")
    code = main([
        "conformance", "run", "--in-cluster", "--release", "1.11", "--scenario", "train-queued",
        "--image", "img:1", "--out", str(tmp_path), "--publish", BUCKET_URL,
        "--pushgateway", "http://pg:9091", "--retention-days", "30"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out  # the run failed: findings, after publishing
    assert "published s3://conformance/runs/20261129T020000Z/results.json" in out
    assert ("conformance", "runs/20261129T020000Z/junit.xml") in store.objects
    assert calls and "mlplatform_conformance_last_run_success 0" in calls[0]


def test_cli_publishing_failure_is_an_environment_error(monkeypatch, tmp_path, capsys) -> None:
    for var, value in ENV.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr("mlplatform.scenarios.incluster.run",
                        lambda *a, **kw: (write(report(), a[2]), report())[1])  # fmt: skip

    def down(url: str, body: str) -> str:
        raise publish.PublishError("cannot reach http://pg:9091: refused")

    monkeypatch.setattr(publish, "push", down)
    code = main(["conformance", "run", "--in-cluster", "--release", "1.11",
                 "--out", str(tmp_path), "--pushgateway", "http://pg:9091"])  # fmt: skip
    assert code == 3
    assert "publishing failed: cannot reach http://pg:9091" in capsys.readouterr().err


def test_the_metric_catalogue_lists_exactly_what_is_pushed() -> None:
    from mlplatform import metrics as catalogue

    for release in ("1.10", "1.11", "26.03"):
        assert catalogue.known(release)["conformance"] == {
            f"{publish.PREFIX}{name}" for name in publish.METRICS
        }
    rules = (
        Path(__file__).parents[2] / "overlays/monitoring/base/conformance-rules.yaml"
    ).read_text()

    for group in yaml.safe_load(rules)["spec"]["groups"]:
        for rule in group["rules"]:
            used = {n for n in catalogue.metric_names(rule["expr"]) if n.startswith(publish.PREFIX)}
            assert used and used <= catalogue.known("26.03")["conformance"], rule["alert"]
