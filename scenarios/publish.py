"""Publish a conformance run: its files to the object store, its outcome to a Pushgateway.

    store = S3Writer.from_env(os.environ)            # AWS_ACCESS_KEY_ID/..., AWS_ENDPOINT_URL
    keys = upload(store, "s3://conformance/runs", report, out_dir)   # runs/<run>/results.json
    prune(store, "s3://conformance/runs", keep_days=30)
    push("http://pushgateway.conformance:9091", metrics(report))

A run lands under `<prefix>/<run>/` where `<run>` is its start time (`20261129T020000Z`, so
keys sort by time), the layout `mlplatform conformance trend s3://...` reads. Metrics go to
the Pushgateway group `job=mlplatform-conformance` with POST, which replaces only the metric
names pushed: `..._last_success_timestamp_seconds` is pushed by passing runs only, so it keeps
the last success across failing nights (the "no success for 26h" alert reads it). Metric
names and help texts are listed in modules/releases/metrics/conformance-<version>.yaml.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from mlplatform.scenarios.report import JSON_FILE, JUNIT_FILE, MARKDOWN_FILE, Report
from mlplatform.scenarios.s3 import S3Client, authorization, parse_url

JOB = "mlplatform-conformance"
PREFIX = "mlplatform_conformance_"
RUN_FORMAT = "%Y%m%dT%H%M%SZ"
CONTENT_TYPES = {
    JSON_FILE: "application/json",
    JUNIT_FILE: "application/xml",
    MARKDOWN_FILE: "text/markdown; charset=utf-8",
}
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"
# name -> (type, help); the metrics catalogue file lists exactly these.
METRICS = {
    "last_run_success": ("gauge", "1 when every scenario of the last run passed or was skipped"),
    "last_run_timestamp_seconds": ("gauge", "when the last run finished (Unix time)"),
    "last_success_timestamp_seconds": ("gauge", "when the last passing run finished"),
    "last_run_duration_seconds": ("gauge", "wall time of the last run"),
    "last_run_scenarios": ("gauge", "scenarios of the last run by status"),
    "last_run_info": ("gauge", "release and cluster context of the last run (value 1)"),
    "scenario_passed": ("gauge", "1 when the scenario passed in the last run, 0 when it failed"),
    "scenario_duration_seconds": ("gauge", "wall time of the scenario in the last run"),
}

Opener = Callable[..., Any]  # urllib.request.urlopen's shape


class PublishError(RuntimeError):
    """The object store or the Pushgateway refused or could not be reached."""


class Store(Protocol):
    def list(self, bucket: str, prefix: str) -> list[str]: ...
    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...
    def delete(self, bucket: str, key: str) -> None: ...


def _send(opener: Opener, request: urllib.request.Request, timeout_s: float) -> None:
    try:
        with opener(request, timeout=timeout_s):
            return
    except urllib.error.HTTPError as err:
        raise PublishError(
            f"{request.get_method()} {request.full_url}: HTTP {err.code} {err.reason}"
        ) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise PublishError(f"cannot reach {request.full_url}: {reason}") from err


@dataclass(frozen=True)
class S3Writer(S3Client):
    """S3Client (list, get) plus PUT and DELETE, signed the same way (SigV4, path style)."""

    opener: Opener = urllib.request.urlopen

    def _write(self, method: str, path: str, body: bytes, content_type: str = "") -> None:
        base = urllib.parse.urlparse(self.endpoint)
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        digest = hashlib.sha256(body).hexdigest()
        headers = {"host": base.netloc, "x-amz-content-sha256": digest, "x-amz-date": amz_date}
        auth = authorization(method, path, {}, headers, digest, self.access_key,
                             self.secret_key, self.region, amz_date)  # fmt: skip
        sent = {**headers, "Authorization": auth}
        if content_type:
            sent["Content-Type"] = content_type
        url = f"{self.endpoint}{urllib.parse.quote(path, safe='/-_.~')}"
        request = urllib.request.Request(url, data=body or None, headers=sent, method=method)
        _send(self.opener, request, self.timeout_s)

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self._write("PUT", f"/{bucket}/{key}", body, content_type)

    def delete(self, bucket: str, key: str) -> None:
        self._write("DELETE", f"/{bucket}/{key}", b"")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], endpoint: str | None = None) -> S3Writer:
        c = S3Client.from_env(environ, endpoint)
        return cls(c.endpoint, c.access_key, c.secret_key, c.region)


def run_id(report: Report) -> str:
    """The run's start time as a key-safe, sortable UTC timestamp."""
    return datetime.fromisoformat(report.started_at).astimezone(UTC).strftime(RUN_FORMAT)


def upload(store: Store, url: str, report: Report, out_dir: Path) -> list[str]:
    """results.json, junit.xml and report.md of `out_dir` under `<url>/<run>/`; the keys."""
    bucket, prefix = parse_url(url)
    base = f"{prefix.strip('/')}/{run_id(report)}".lstrip("/")
    keys = []
    for name, content_type in CONTENT_TYPES.items():
        path = out_dir / name
        if not path.is_file():
            raise PublishError(f"{path} is missing: nothing to publish for this run")
        key = f"{base}/{name}"
        store.put(bucket, key, path.read_bytes(), content_type)
        keys.append(f"s3://{bucket}/{key}")
    return keys


def prune(store: Store, url: str, keep_days: int, now: datetime | None = None) -> list[str]:
    """Delete the runs under `url` that started more than `keep_days` ago; the keys deleted.
    Keys that are not `<run>/<file>` with a run timestamp are left alone."""
    bucket, prefix = parse_url(url)
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    deleted = []
    for key in store.list(bucket, prefix):
        run, slash, _ = key[len(prefix) :].partition("/")
        try:
            started = datetime.strptime(run, RUN_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            continue
        if slash and started < cutoff:
            store.delete(bucket, key)
            deleted.append(f"s3://{bucket}/{key}")
    return deleted


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics(report: Report, finished: datetime | None = None) -> str:
    """The run as Prometheus text exposition (the families of METRICS)."""
    end = finished or datetime.fromisoformat(report.started_at) + timedelta(
        seconds=report.duration_s
    )
    samples: dict[str, list[str]] = {name: [] for name in METRICS}

    def add(name: str, value: float, **labels: str) -> None:
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        samples[name].append(f"{PREFIX}{name}{{{text}}} {float(value)!r}" if text else
                             f"{PREFIX}{name} {float(value)!r}")  # fmt: skip

    add("last_run_success", 1.0 if report.passed else 0.0)
    add("last_run_timestamp_seconds", end.timestamp())
    if report.passed:
        add("last_success_timestamp_seconds", end.timestamp())
    add("last_run_duration_seconds", report.duration_s)
    for status, count in report.counts().items():
        add("last_run_scenarios", float(count), status=status)
    add("last_run_info", 1.0, release=report.release, context=report.context)
    for sc in report.scenarios:
        if sc.status == "skipped":
            continue  # not run on this release: neither passed nor failed
        add("scenario_passed", 1.0 if sc.status == "passed" else 0.0, scenario=sc.name)
        add("scenario_duration_seconds", sc.duration_s, scenario=sc.name)
    lines = []
    for name, values in samples.items():
        if not values:
            continue
        kind, help_text = METRICS[name]
        lines += [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} {kind}", *values]
    return "\n".join(lines) + "\n"


def push(
    url: str,
    body: str,
    job: str = JOB,
    opener: Opener = urllib.request.urlopen,
    timeout_s: float = 30.0,
) -> str:
    """POST `body` to the Pushgateway group `job` (replaces only the families it carries)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise PublishError(f"pushgateway {url!r} is not http(s)://HOST[:PORT]")
    target = f"{url.rstrip('/')}/metrics/job/{urllib.parse.quote(job, safe='')}"
    request = urllib.request.Request(
        target, data=body.encode(), headers={"Content-Type": EXPOSITION}, method="POST"
    )
    _send(opener, request, timeout_s)
    return target
