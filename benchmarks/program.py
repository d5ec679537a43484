"""How long each stack program takes to evaluate under mocks, and how much it registers.

Usage: .venv/bin/python benchmarks/program.py [--repeat N]
Prints one row per environment: cold (first run in this process, imports included) and
warm (best of N) evaluation time, Pulumi resources, and Kubernetes objects we build.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    from mlplatform.mockrun import run_stack
    from mlplatform.stackconfig import environments

    print(f"import: {time.perf_counter() - start:.2f}s")
    print(f"{'env':10} {'cold s':>8} {'warm s':>8} {'resources':>10} {'k8s objects':>12}")
    for env in environments():
        t0 = time.perf_counter()
        graph = run_stack(env)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            run_stack(env)
            warm.append(time.perf_counter() - t0)
        print(
            f"{env:10} {cold:8.3f} {min(warm):8.3f} {len(graph.resources):10d} "
            f"{len(graph.objects()):12d}"
        )


if __name__ == "__main__":
    main()
