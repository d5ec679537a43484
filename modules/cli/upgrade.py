"""`mlplatform upgrade plan`: what an upgrade to another platform release would change."""

from __future__ import annotations

import argparse
import sys

from mlplatform import releases
from mlplatform.stackconfig import environments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upgrade", help="plan an upgrade between platform releases (offline)")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    plan = verbs.add_parser("plan", help="catalogue changes, config gates and the resource diff")
    plan.add_argument("--env", required=True, help=f"one of {', '.join(environments())}")
    plan.add_argument(
        "--to",
        required=True,
        dest="to_release",
        help=f"target release, one of {', '.join(releases.available())}",
    )
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--verbose", action="store_true", help="list every changed object")
    plan.set_defaults(run=_plan)


def _plan(args: argparse.Namespace) -> int:
    from mlplatform import upgrade

    if args.env not in environments():
        print(f"unknown environment {args.env!r}; choose one of {environments()}", file=sys.stderr)
        return 2
    if args.to_release not in releases.available():
        print(
            f"unknown release {args.to_release!r}; choose one of {releases.available()}",
            file=sys.stderr,
        )
        return 2
    result = upgrade.plan(args.env, args.to_release)
    print(upgrade.as_json(result) if args.json else upgrade.render(result, args.verbose))
    return 0 if result.ok else 1
