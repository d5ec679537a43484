"""Load harness for serve-and-load: Locust as a library, headless and bounded, plus SLO gate.

Locust gevent-patches the interpreter, so the load always runs in its own process:

    python -m mlplatform.scenarios.load --host http://127.0.0.1:8080 --model iris --users 8 \
        --duration 10 --slo-profile local --json-out load.json

exits 0 when the SLO gate passes, 1 when it fails, 2 on harness errors. Callers (pytest,
the cluster runner) use run_load_subprocess() and never import locust themselves.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

SLO_PATH = Path(__file__).with_name("slo.yaml")


@dataclass(frozen=True)
class SloThresholds:
    max_p95_ms: float
    max_p99_ms: float
    max_error_rate: float
    min_rps: float

    @classmethod
    def from_mapping(cls, where: str, data: Any) -> SloThresholds:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a mapping of thresholds")
        names = {f.name for f in fields(cls)}
        if unknown := sorted(set(data) - names):
            raise ValueError(f"{where}: unknown keys {unknown}; allowed {sorted(names)}")
        if missing := sorted(names - set(data)):
            raise ValueError(f"{where}: missing keys {missing}")
        values: dict[str, float] = {}
        for name in sorted(names):
            v = data[name]
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise ValueError(f"{where}.{name}: expected a number >= 0, got {v!r}")
            values[name] = float(v)
        if (v := values["max_error_rate"]) > 1:
            raise ValueError(f"{where}.max_error_rate: a ratio in [0, 1], got {v!r}")
        return cls(**values)


def load_slo(profile: str | None = None, path: Path = SLO_PATH) -> SloThresholds:
    """Thresholds of one profile in slo.yaml (its `default_profile` when None)."""
    doc = yaml.safe_load(path.read_text())
    profiles = doc.get("profiles", {})
    name = profile or doc.get("default_profile")
    if name not in profiles:
        raise ValueError(f"{path}: no SLO profile {name!r}; have {sorted(profiles)}")
    return SloThresholds.from_mapping(f"{path.name}:profiles.{name}", profiles[name])


@dataclass(frozen=True)
class LoadConfig:
    host: str
    model_name: str = "iris"
    users: int = 8
    spawn_rate: float = 100.0
    duration_s: float = 10.0
    rate_per_user: float = 0.0  # 0: unpaced (max throughput)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    failures: int
    fail_ratio: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    avg_ms: float
    max_ms: float
    # CPU seconds the load process spent during the run; near duration_s means Locust
    # itself (one core) was the bottleneck, not the system under test.
    loadgen_cpu_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str]


def evaluate(result: LoadResult, slo: SloThresholds) -> GateResult:
    """Compare a run with the thresholds; every violated threshold gives one reason."""
    reasons = []
    if result.requests == 0:
        reasons.append("no requests completed")
    if result.fail_ratio > slo.max_error_rate:
        reasons.append(f"error rate {result.fail_ratio:.4f} > {slo.max_error_rate}")
    if result.p95_ms > slo.max_p95_ms:
        reasons.append(f"p95 {result.p95_ms:.0f} ms > {slo.max_p95_ms:.0f} ms")
    if result.p99_ms > slo.max_p99_ms:
        reasons.append(f"p99 {result.p99_ms:.0f} ms > {slo.max_p99_ms:.0f} ms")
    if result.rps < slo.min_rps:
        reasons.append(f"throughput {result.rps:.1f} rps < {slo.min_rps:.1f} rps")
    return GateResult(passed=not reasons, reasons=reasons)


def _run_locust(cfg: LoadConfig) -> LoadResult:
    """Run the load in THIS process; only main() calls it (locust patches with gevent)."""
    import resource

    import gevent
    from locust.env import Environment

    from mlplatform.scenarios.workloads.loadprofile import predict_user

    env = Environment(user_classes=[predict_user(cfg.model_name, cfg.rate_per_user)], host=cfg.host)
    runner = env.create_local_runner()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    runner.start(cfg.users, spawn_rate=cfg.spawn_rate)
    gevent.sleep(cfg.duration_s)
    runner.quit()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    total = env.stats.total
    pct = total.get_response_time_percentile
    errors = {f"{e.method} {e.name}: {e.error}": e.occurrences for e in env.stats.errors.values()}
    return LoadResult(
        requests=total.num_requests,
        failures=total.num_failures,
        fail_ratio=round(total.fail_ratio, 6),
        rps=round(total.total_rps, 1),
        p50_ms=float(pct(0.5) or 0),
        p95_ms=float(pct(0.95) or 0),
        p99_ms=float(pct(0.99) or 0),
        avg_ms=round(total.avg_response_time, 2),
        max_ms=round(total.max_response_time or 0, 2),
        loadgen_cpu_s=round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 3),
        errors=errors,
    )


@dataclass(frozen=True)
class LoadReport:
    config: LoadConfig
    slo: SloThresholds
    result: LoadResult
    gate: GateResult

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> LoadReport:
        d = json.loads(text)
        return cls(
            LoadConfig(**d["config"]),
            SloThresholds(**d["slo"]),
            LoadResult(**d["result"]),
            GateResult(**d["gate"]),
        )


def _cli_args(cfg: LoadConfig) -> list[str]:
    return [
        "--host",
        cfg.host,
        "--model",
        cfg.model_name,
        "--users",
        str(cfg.users),
        "--spawn-rate",
        str(cfg.spawn_rate),
        "--duration",
        str(cfg.duration_s),
        "--rate-per-user",
        str(cfg.rate_per_user),
    ]


def run_load_subprocess(
    cfg: LoadConfig, json_out: Path, slo_profile: str | None = None, slo_path: Path = SLO_PATH
) -> tuple[LoadReport, int]:
    """Run the harness in a fresh interpreter; returns its report and exit code."""
    import subprocess

    cmd = [
        sys.executable,
        "-m",
        "mlplatform.scenarios.load",
        *_cli_args(cfg),
        "--json-out",
        str(json_out),
        "--slo-file",
        str(slo_path),
    ]
    if slo_profile:
        cmd += ["--slo-profile", slo_profile]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=cfg.duration_s + 60)
    if proc.returncode not in (0, 1) or not json_out.is_file():
        raise RuntimeError(f"load harness failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return LoadReport.from_json(json_out.read_text()), proc.returncode


def main(argv: list[str] | None = None) -> int:
    import locust  # noqa: F401  (first: gevent must patch before any network import)

    p = argparse.ArgumentParser(description="headless Locust run against a V1 predict endpoint")
    p.add_argument("--host", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--model", default="iris")
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--spawn-rate", type=float, default=100.0)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    p.add_argument("--rate-per-user", type=float, default=0.0, help="req/s per user; 0 unpaced")
    p.add_argument("--slo-file", type=Path, default=SLO_PATH)
    p.add_argument("--slo-profile", default=None)
    p.add_argument("--json-out", type=Path, default=None)
    a = p.parse_args(argv)
    if a.users < 1 or not 0 < a.duration <= 3600:
        p.error("need --users >= 1 and 0 < --duration <= 3600")
    try:
        slo = load_slo(a.slo_profile, a.slo_file)
    except (OSError, ValueError) as e:
        p.error(str(e))
    cfg = LoadConfig(a.host, a.model, a.users, a.spawn_rate, a.duration, a.rate_per_user)
    result = _run_locust(cfg)
    report = LoadReport(cfg, slo, result, evaluate(result, slo))
    if a.json_out:
        a.json_out.write_text(report.to_json())
    r = result
    print(
        f"requests={r.requests} rps={r.rps} fail_ratio={r.fail_ratio} p50={r.p50_ms}ms "
        f"p95={r.p95_ms}ms p99={r.p99_ms}ms gate={'PASS' if report.gate.passed else 'FAIL'}"
    )
    for reason in report.gate.reasons:
        print(f"  SLO violated: {reason}")
    return 0 if report.gate.passed else 1


if __name__ == "__main__":
    sys.exit(main())
