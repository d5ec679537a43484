"""Is the load generator ever the bottleneck? Locust harness vs wrk on the same endpoint.

    .venv/bin/python benchmarks/loadgen.py --duration 10 --users 16

Starts the KServe model server on loopback, drives V1 predict for the same duration with
wrk (C, Debian package `wrk`) and with scenarios.load (Locust), prints requests/s and
latency percentiles of both and the ratio. Exits 1 when Locust reaches < --min-ratio of
wrk's throughput, 2 when wrk is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from mlplatform.scenarios.load import LoadConfig, run_load_subprocess
from mlplatform.scenarios.workloads.model import SAMPLE_INSTANCES, server_command
from mlplatform.scenarios.workloads.model.fit import fit

REPO = Path(__file__).resolve().parents[1]
MODEL = "iris"
WRK_LUA = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""
_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, port: int, workers: int) -> subprocess.Popen:
    cmd = server_command(sys.executable, MODEL, str(model_dir), port, workers)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models/{MODEL}", timeout=1):
                return proc
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("model server did not become ready")


def cpu_busy(interval: float = 1.0) -> float:
    """Fraction of all CPUs busy over `interval` (Linux /proc/stat; 0 elsewhere)."""

    def snap() -> tuple[int, int]:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, total

    try:
        idle0, total0 = snap()
        time.sleep(interval)
        idle1, total1 = snap()
    except OSError:
        return 0.0
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_wrk(url: str, connections: int, threads: int, duration: float) -> dict[str, float]:
    body = json.dumps({"instances": SAMPLE_INSTANCES})
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA.format(body=body))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{int(duration)}s",
        "--latency",
        "-s",
        f.name,
        url,
    ]
    cpu0 = children_cpu_s()
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=duration + 30
    ).stdout
    cpu = children_cpu_s() - cpu0
    Path(f.name).unlink()
    pct = {
        p: float(v) * _UNIT_MS[u]
        for p, v, u in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    rps = re.findall(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.findall(r"Non-2xx or 3xx responses: (\d+)", out)
    if not rps or len(pct) != 3:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return {
        "rps": float(rps[0]),
        "p50_ms": pct["50"],
        "p90_ms": pct["90"],
        "p99_ms": pct["99"],
        "errors": float(non2xx[0]) if non2xx else 0.0,
        "cpu_util": cpu / duration,
    }


def run_locust(host: str, users: int, duration: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        report, _ = run_load_subprocess(
            LoadConfig(host=host, model_name=MODEL, users=users, duration_s=duration),
            Path(tmp) / "load.json",
            slo_profile="local",
        )
    r = report.result
    return {
        "rps": r.rps,
        "p50_ms": r.p50_ms,
        "p95_ms": r.p95_ms,
        "p99_ms": r.p99_ms,
        "errors": float(r.failures),
        "cpu_util": r.loadgen_cpu_s / duration,
    }


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--users", type=int, default=16, help="Locust users = wrk connections")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--server-workers", type=int, default=1)
    p.add_argument("--port", type=int, default=0, help="0: any free loopback port")
    p.add_argument("--min-ratio", type=float, default=0.8)
    a = p.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: install it (Debian: apt-get install -y wrk) to run this benchmark")
        return 2
    port = a.port or free_port()
    host = f"http://127.0.0.1:{port}"
    if (busy := cpu_busy()) > 0.15:
        print(f"warning: CPUs {busy:.0%} busy before start; other work skews the numbers")
    with tempfile.TemporaryDirectory() as model_dir:
        fit(Path(model_dir))
        server = start_server(Path(model_dir), port, a.server_workers)
        try:
            url = f"{host}/v1/models/{MODEL}:predict"
            run_wrk(url, a.users, a.wrk_threads, 2)  # warm-up
            wrks, locs = [], []
            for _ in range(a.rounds):  # interleaved, so background noise hits both alike
                wrks.append(run_wrk(url, a.users, a.wrk_threads, a.duration))
                locs.append(run_locust(host, a.users, a.duration))
        finally:
            server.terminate()
            server.wait(timeout=30)
    wrk, loc = median_run(wrks), median_run(locs)
    # Paired per round: background load drifts slowly, so adjacent runs see the same noise.
    ratios = sorted(x["rps"] / w["rps"] for w, x in zip(wrks, locs, strict=True) if w["rps"])
    ratio = ratios[len(ratios) // 2] if ratios else 0.0
    print(
        f"{a.rounds} x {a.duration:.0f}s, {a.users} users/connections, "
        f"{a.server_workers} server worker(s); median round shown"
    )
    for name, r, runs in (("wrk", wrk, wrks), ("locust", loc, locs)):
        rounds = ", ".join(f"{x['rps']:.0f}" for x in runs)
        print(
            f"{name:>7}: {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:6.2f} ms  errors {r['errors']:.0f}  "
            f"loadgen CPU {r['cpu_util']:4.0%} of a core  "
            f"(rounds: {rounds})"
        )
    verdict = "OK" if ratio >= a.min_ratio else "load generator is the bottleneck"
    print(
        f"  ratio: locust/wrk = {ratio:.2f} median of rounds "
        f"({', '.join(f'{r:.2f}' for r in ratios)}; target >= {a.min_ratio}) -> {verdict}"
    )
    return 0 if ratio >= a.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
