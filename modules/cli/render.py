"""`mlplatform render`: every object a stack would apply, as YAML per component, and an inventory.

The program runs under mocks (no cluster, no Pulumi CLI) with its upstream sources resolved
from a local cache: kustomize apps are built, charts templated when the cache holds their
templates (a data-only cache lists them as not rendered). The inventory counts objects per
component, lists every image (what an air-gap mirror must carry) and sums CPU/memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from mlplatform import releases
from mlplatform.stackconfig import environments


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "render", help="write every object of a stack as YAML per component, plus an inventory"
    )
    p.add_argument("--env", required=True, choices=environments())
    p.add_argument("--release", choices=releases.available(), help="retarget to this release")
    p.add_argument(
        "--cache",
        type=Path,
        help="upstream cache directory (default: the stack's upstreamCache, else "
        "$MLPLATFORM_UPSTREAM_CACHE, else ../shared/upstream)",
    )
    p.add_argument("--out", type=Path, help="directory for <component>.yaml and inventory.json")
    p.add_argument("--json", action="store_true", help="print the inventory as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlplatform import inventory, render, upstream
    from mlplatform.config import ConfigError
    from mlplatform.mockrun import run as run_program
    from mlplatform.mockrun import stack_inputs

    try:
        values, secrets = stack_inputs(args.env, args.release)
        platform = values["platform"]
        cache_dir = args.cache or platform.get("upstreamCache") or upstream.default_dir()
        if cache_dir is None:
            print(
                "render: no upstream cache; run `mlplatform upstream pull --dir DIR` and pass "
                "--cache DIR",
                file=sys.stderr,
            )
            return 2
        cache = upstream.open_cache(cache_dir)
        assert cache is not None
        platform["upstreamCache"] = str(cache.root)
        graph = run_program(values, stack=args.env, secrets=secrets)
        rendered = render.render(graph, cache, kube_version=str(platform["kubernetesVersion"]))
    except (ConfigError, FileNotFoundError, render.RenderError) as err:
        print(f"render: {err}", file=sys.stderr)
        return 2
    inventories = inventory.inventory(rendered.objects)
    summary = inventory.report(inventories)
    summary["notRendered"] = rendered.missing
    if args.out:
        _write(args.out, rendered.objects, summary)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print(args.env, platform["release"], summary, args.out)
    return 0


def _write(out: Path, objects: dict[str, list[dict[str, Any]]], summary: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for component, objs in sorted(objects.items()):
        (out / f"{component}.yaml").write_text(yaml.safe_dump_all(objs, sort_keys=False))
    (out / "inventory.json").write_text(json.dumps(summary, indent=2) + "\n")


def _print(env: str, release: str, summary: dict[str, Any], out: Path | None) -> None:
    print(f"render: env {env}, release {release}")
    header = ("component", "objects", "cpu req", "mem req", "cpu lim", "mem lim")
    rows = [
        (
            name,
            str(sum(c["objects"].values())),
            c["cpuRequests"],
            c["memoryRequests"],
            c["cpuLimits"],
            c["memoryLimits"],
        )
        for name, c in summary["components"].items()
    ]
    t = summary["total"]
    rows.append(
        (
            "total",
            str(t["objects"]),
            t["cpuRequests"],
            t["memoryRequests"],
            t["cpuLimits"],
            t["memoryLimits"],
        )
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"images: {len(summary['images'])}")
    unbounded = [u for c in summary["components"].values() for u in c["unboundedContainers"]]
    if unbounded:
        print(f"containers without requests/limits: {len(unbounded)}")
        for line in unbounded:
            print(f"  {line}")
    for line in summary["notRendered"]:
        print(f"not rendered: {line}")
    if out:
        print(f"written: {out}/<component>.yaml, {out}/inventory.json")
