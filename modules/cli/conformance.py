"""`mlplatform conformance run|report`: the conformance suite against a cluster."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from mlplatform.scenarios.runner import run

    report = run(
        args.kubeconfig,
        args.release,
        args.scenario or None,
        args.out,
        args.keep_on_failure,
        image=args.image,
        registry=args.registry,
        timeout_scale=args.timeout_scale,
    )
    return 0 if report.passed else 1


def _report(args: argparse.Namespace) -> int:
    from mlplatform.scenarios.report import rerender

    print(rerender(args.dir))
    return 0


def _list(args: argparse.Namespace) -> int:
    from mlplatform.scenarios.library import scenarios

    for s in scenarios().values():
        print(f"{s.name:24} {s.summary}")
    return 0


def register(subparsers: Any) -> None:
    from mlplatform import releases

    p = subparsers.add_parser("conformance", help="run conformance scenarios, render reports")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = sub.add_parser("run", help="run scenarios against the cluster a kubeconfig targets")
    r.add_argument("--kubeconfig", required=True, help="path; its current context is used")
    r.add_argument("--release", required=True, choices=releases.available())
    r.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="repeatable; default: all (see `conformance list`)",
    )
    r.add_argument("--out", type=Path, default=Path("conformance-out"))
    r.add_argument(
        "--keep-on-failure",
        action="store_true",
        help="leave a failed scenario's namespaces and queues for inspection",
    )
    r.add_argument("--image", default=None, help="scenario image (default: scenarios.images)")
    r.add_argument("--registry", default=None, help="mirror registry for every scenario image")
    r.add_argument(
        "--timeout-scale",
        type=float,
        default=1.0,
        help="multiply every timeout tier (slow clusters)",
    )
    r.set_defaults(run=_run)
    rep = sub.add_parser("report", help="re-render report.md from results.json in DIR")
    rep.add_argument("dir", type=Path)
    rep.set_defaults(run=_report)
    ls = sub.add_parser("list", help="the scenario library")
    ls.set_defaults(run=_list)
