"""How the offline policy check scales with tenants: `registry.evaluate` on dev with N tenants.

Usage: .venv/bin/python benchmarks/policy_tenants.py [--counts 100 1000] [--policy NAME ...]
The stack runs once per count under mocks (not timed); then every policy is timed on the
recorded views (`mlplatform policy check --env dev` without upstream children). Prints the
total and the slowest policies per count, then t(max)/t(10x fewer): linear is about 10.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.tenants import generated  # after the repo root is importable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--policy", nargs="*", default=[], help="time only these policies")
    parser.add_argument("--top", type=int, default=5, help="slowest policies to list")
    args = parser.parse_args()

    from mlplatform.cli.policy import stack_config
    from mlplatform.mockrun import run, stack_inputs
    from mlplatform.policies import registry, views

    values, secrets = stack_inputs("dev")
    pack = stack_config(values)
    chosen = [registry.by_name(p) for p in args.policy] or registry.POLICIES
    totals: dict[int, float] = {}
    for n in args.counts:
        graph = run({**values, "tenants": generated(n, values)}, stack="dev", secrets=secrets)
        seen = views.from_graph(graph)
        per: dict[str, float] = {}
        findings = 0
        for policy in chosen:
            gc.collect()  # no collection of the stack run's garbage inside a timing
            start = time.perf_counter()
            findings += len(registry.evaluate(seen, pack, policies=[policy]))
            per[policy.name] = time.perf_counter() - start
        totals[n] = sum(per.values())
        slowest = sorted(per.items(), key=lambda kv: -kv[1])[: args.top]
        print(f"{n:6d} tenants, {len(seen):7d} views: {totals[n]:8.3f} s, {findings} findings")
        for name, t in slowest:
            print(f"        {name:32s} {t:8.3f} s")
    top = max(totals)
    if top // 10 in totals:
        print(f"t({top})/t({top // 10}) = {totals[top] / totals[top // 10]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
