"""Network reachability probe run in a pod (tenant-isolation): a netcat-style TCP connect.

    python -m mlplatform.scenarios.probe --host 10.244.1.7 --port 8080 --expect blocked

Exits 0 when the outcome matches --expect, 1 when it does not; prints one metrics line.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time

from mlplatform.scenarios.workloads.distenv import format_metrics


def connect(host: str, port: int, timeout_s: float) -> tuple[bool, str]:
    """(connected, detail): a refused, reset or timed-out connect counts as blocked."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True, "connected"
    except OSError as e:
        return False, type(e).__name__


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--expect", choices=["reachable", "blocked"], required=True)
    p.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args(argv)
    start = time.monotonic()
    connected, detail = connect(a.host, a.port, a.timeout)
    ok = connected == (a.expect == "reachable")
    print(
        format_metrics(
            {
                "target": f"{a.host}:{a.port}",
                "expect": a.expect,
                "connected": connected,
                "detail": detail,
                "ok": ok,
                "seconds": round(time.monotonic() - start, 3),
            }
        ),
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
