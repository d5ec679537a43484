"""How long rendering a stack takes (mock run, kustomize builds, helm template), and its size.

Usage: .venv/bin/python benchmarks/render.py [--cache DIR] [--repeat N]
One row per environment and per dev release: the mock run, the render (kustomize builds are
cached per process, so the warm figure is mostly `helm template` and transforms), objects,
images and dev-relevant requests. A data-only cache renders no chart: say which cache.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="upstream cache (default: the shared one)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from mlplatform import inventory, releases, render, upstream
    from mlplatform.mockrun import run, stack_inputs
    from mlplatform.stackconfig import environments

    cache = upstream.open_cache(args.cache or upstream.default_dir())
    if cache is None:
        sys.exit("no upstream cache: pass --cache DIR")
    print(f"cache: {cache.root}")
    cases = [(env, None) for env in environments()] + [("dev", r) for r in releases.available()]
    header = ("stack", "mock s", "cold s", "warm s", "objects", "images", "cpu req", "mem req")
    print("  ".join(f"{h:>9}" for h in header))
    for env, release in cases:
        values, secrets = stack_inputs(env, release)
        values["platform"]["upstreamCache"] = str(cache.root)
        kube = str(values["platform"]["kubernetesVersion"])
        t0 = time.perf_counter()
        graph = run(values, stack=env, secrets=secrets)
        mock = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = render.render(graph, cache, kube)
        cold = time.perf_counter() - t0
        warm = min(_timed(render.render, graph, cache, kube) for _ in range(args.repeat))
        summary = inventory.report(inventory.inventory(out.objects))
        total = summary["total"]
        name = f"{env}@{release or values['platform']['release']}"
        row = (
            name,
            f"{mock:.2f}",
            f"{cold:.2f}",
            f"{warm:.2f}",
            total["objects"],
            len(summary["images"]),
            total["cpuRequests"],
            total["memoryRequests"],
        )
        print("  ".join(f"{c:>9}" for c in row))


def _timed(fn: Callable[..., object], *args: object) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
