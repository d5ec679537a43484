"""Weighted-route probe run in a pod (inference-traffic): V1 predict posts through a Gateway,
counted by the backend that answered (the response header the route's backendRef sets).

    python -m mlplatform.scenarios.traffic_split --url http://gw/v1/models/iris:predict \
        --host iris.team.inference --header x-mlplatform-backend --requests 200

Prints one metrics line: requests, errors, answers per backend. Exits 1 when any failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections import Counter

from mlplatform.scenarios.workloads.distenv import format_metrics
from mlplatform.scenarios.workloads.model import SAMPLE_INSTANCES

UNLABELLED = "-"  # an answer without the backend header


def post(url: str, host: str, header: str, body: bytes, timeout_s: float) -> str:
    """The backend that answered one predict post; raises on a non-2xx or no predictions."""
    req = urllib.request.Request(
        url, body, {"Host": host, "Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        payload = resp.read()
        if b'"predictions"' not in payload:
            raise ValueError("answer without predictions")
        return resp.headers.get(header) or UNLABELLED


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--header", required=True)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args(argv)
    body = json.dumps({"instances": SAMPLE_INSTANCES}).encode()
    answered: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for _ in range(a.requests):
        try:
            answered[post(a.url, a.host, a.header, body, a.timeout)] += 1
        except (OSError, ValueError, urllib.error.HTTPError) as e:
            errors[type(e).__name__] += 1
    report = {
        "requests": a.requests,
        "backends": dict(answered),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
    }
    print(format_metrics(report), flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
