"""`mlplatform upstream pull`: fill an upstream cache on a connected machine.

The cache holds every chart (with templates and facts.json), kustomize tree and release
manifest a release installs, in `mlplatform.upstream`'s layout. An air-gapped site carries the
directory and points its stack at it (`platform.upstreamCache`); the upstream test rung and
`mlplatform render` read it too.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mlplatform import releases
from mlplatform.stackconfig import ROOT


def default_target() -> Path:
    """Where the upstream rung looks: $MLPLATFORM_UPSTREAM_CACHE, else `../shared/upstream`."""
    env = os.environ.get("MLPLATFORM_UPSTREAM_CACHE")
    return Path(env) if env else ROOT.parent / "shared" / "upstream"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("upstream", help="the upstream cache (charts, kustomize, manifests)")
    sub = p.add_subparsers(dest="upstream_command", required=True, metavar="SUBCOMMAND")
    pull = sub.add_parser(
        "pull", help="fetch a release's charts, kustomize trees and manifests into a cache"
    )
    which = pull.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--release",
        action="append",
        choices=releases.available(),
        help="a platform release (repeatable)",
    )
    which.add_argument("--all", action="store_true", help="every release in the catalogue")
    pull.add_argument(
        "--dir",
        type=Path,
        help="cache directory (default: $MLPLATFORM_UPSTREAM_CACHE, else ../shared/upstream)",
    )
    pull.add_argument("--force", action="store_true", help="pull again what is already present")
    pull.set_defaults(run=pull_cache)


def pull_cache(args: argparse.Namespace) -> int:
    from mlplatform.upstream_pull import Fatal, Puller, plan

    names = releases.available() if args.all else list(dict.fromkeys(args.release))
    root = (args.dir or default_target()).expanduser().resolve()
    try:
        todo = plan(names)
        print(
            f"upstream pull: release {', '.join(names)} -> {root} ({len(todo.charts)} charts, "
            f"{len(todo.trees)} kustomize trees and what they reference, "
            f"{len(todo.manifests)} manifests)"
        )
        summary = Puller(root, force=args.force).pull(todo)
    except (Fatal, ValueError, OSError) as err:
        print(f"upstream pull: {err}", file=sys.stderr)
        return 2
    print(summary.line(root))
    if summary.failed:
        return 1
    print(f"use it: `platform.upstreamCache: {root}` in a stack file, or --cache {root}")
    return 0
