"""How the prod program scales with tenants: 10, 100 and 1,000 generated tenants under mocks.

Usage: .venv/bin/python benchmarks/tenants.py [--counts 10 100 1000]
Prints wall and CPU time and registered resources per count, then t(max)/t(10x fewer).
Targets: 1,000 tenants in under 10 s, and linear growth (t(1000)/t(100) at most about 11).
CPU time is what the program costs; wall time also counts whatever else the box is running.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LIMIT_S = 10.0
RATIO_LIMIT = 11.0


def generated(n: int, config: dict[str, Any]) -> list[dict[str, Any]]:
    """`n` tenants shaped like prod's: every other one with GPU quota, all in one cohort."""
    kueue = config["platform"].get("components", {}).get("kueue", {})
    gpu = next((f["name"] for f in kueue.get("flavors", []) if f.get("gpu")), None)
    cohort = next((c["name"] for c in kueue.get("cohorts", [])), None)
    tenants = []
    for i in range(n):
        spec: dict[str, Any] = {
            "name": f"bench-{i:04d}",
            "owners": [f"owner{i}@example.com"],
            "members": [{"email": f"dev{i}@example.com", "role": "edit"}],
            "kueue": {"quota": {"cpu": {"cpu": "4", "memory": "16Gi"}}},
        }
        if cohort:
            spec["kueue"]["cohort"] = cohort
        if gpu and i % 2:
            spec["quota"] = {"gpu": 2}
            spec["kueue"]["quota"][gpu] = {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": 2}
        tenants.append(spec)
    return tenants


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()

    from mlplatform.mockrun import run
    from mlplatform.stackconfig import read_stack_file

    config, _ = read_stack_file("prod")
    oidc = config["platform"].get("identity", {}).get("oidc")
    secrets = {oidc.get("clientSecretKey", "oidcClientSecret"): "mock"} if oidc else {}
    run({**config, "tenants": []}, stack="prod", secrets=secrets)  # warm imports and caches
    times: dict[int, float] = {}
    print(f"{'tenants':>8} {'wall s':>8} {'cpu s':>8} {'resources':>10} {'ms/tenant':>10}")
    for n in args.counts:
        tenants = generated(n, config)
        start, cpu = time.perf_counter(), time.process_time()
        graph = run({**config, "tenants": tenants}, stack="prod", secrets=secrets)
        times[n] = time.perf_counter() - start
        cpu = time.process_time() - cpu
        print(
            f"{n:8d} {times[n]:8.2f} {cpu:8.2f} {len(graph.resources):10d} "
            f"{1000 * times[n] / n:10.2f}"
        )
    ok = True
    top = max(times)
    if top / 10 in times:
        ratio = times[top] / times[top // 10]
        ok = ratio <= RATIO_LIMIT
        print(f"t({top})/t({top // 10}) = {ratio:.2f} (limit {RATIO_LIMIT})")
    if top >= 1000 and times[top] >= LIMIT_S:
        ok = False
        print(f"{top} tenants took {times[top]:.2f}s (limit {LIMIT_S}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
