"""`mlplatform render`: every object a stack would apply, as YAML per component, and an inventory.

The program runs under mocks (no cluster, no Pulumi CLI) with its upstream sources resolved
from a local cache: kustomize apps are built, charts templated when the cache holds their
templates (a data-only cache lists them as not rendered). The inventory counts objects per
component, lists every image (what an air-gap mirror must carry) and sums CPU/memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from mlplatform.cli.app import EnvOption, Exit, Output, OutputOption, ReleaseOption, emit, fail


def register(app: typer.Typer) -> None:
    app.command("render")(render)


def render(
    env: EnvOption,
    release: ReleaseOption = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="upstream cache directory (default: the stack's upstreamCache, else "
            "$MLPLATFORM_UPSTREAM_CACHE, else ../shared/upstream)"
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="write <component>.yaml and inventory.json here")
    ] = None,
    output: OutputOption = Output.table,
) -> None:
    """Every object a stack would apply, as YAML per component, plus an inventory."""
    from mlplatform import inventory, upstream
    from mlplatform import render as rendering
    from mlplatform.config import ConfigError
    from mlplatform.mockrun import run as run_program
    from mlplatform.mockrun import stack_inputs

    try:
        values, secrets = stack_inputs(env, release)
        platform = values["platform"]
        cache_dir = cache or platform.get("upstreamCache") or upstream.default_dir()
        if cache_dir is None:
            fail(
                "no upstream cache: run `mlplatform upstream pull --dir DIR` and pass --cache DIR",
                Exit.ENVIRONMENT,
            )
        found = upstream.open_cache(cache_dir)
        assert found is not None
        platform["upstreamCache"] = str(found.root)
        graph = run_program(values, stack=env, secrets=secrets)
        rendered = rendering.render(graph, found, kube_version=str(platform["kubernetesVersion"]))
    except ConfigError as err:
        fail(str(err).replace("\n", " "))
    except FileNotFoundError as err:
        fail(str(err), Exit.ENVIRONMENT)
    except rendering.RenderError as err:
        fail(str(err), Exit.ENVIRONMENT)
    summary = inventory.report(inventory.inventory(rendered.objects))
    summary["notRendered"] = rendered.missing
    if out:
        _write(out, rendered.objects, summary)
    if output is not Output.table:
        emit(summary, output)
    else:
        _print(env, platform["release"], summary, out)


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
