"""`mlplatform doctor | up | down`: the platform on a local kind cluster or any kubeconfig."""

from __future__ import annotations

import argparse
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING

from mlplatform.cluster import toolchain
from mlplatform.cluster.kind import ClusterError
from mlplatform.cluster.stack import StackError, show_secrets_command
from mlplatform.cluster.tools import KIND_TOOLS, REMOTE_TOOLS, doctor
from mlplatform.config import ConfigError, PlatformConfig
from mlplatform.stackconfig import environments

if TYPE_CHECKING:
    from mlplatform.cluster.lifecycle import Deployment


class Exit(IntEnum):
    OK = 0
    USAGE = 2  # unknown environment or invalid stack config
    MISSING = 3  # a prerequisite tool is missing or too old
    CLUSTER = 4  # kind / kubectl / kubeconfig problem
    PULUMI = 5  # pulumi up / destroy failed
    NOT_IDEMPOTENT = 6  # a preview right after up plans changes


def register(sub: argparse._SubParsersAction) -> None:
    envs = environments()
    env_help = f"stack environment, one of: {', '.join(envs)}"

    d = sub.add_parser(
        "doctor", help="check pulumi, kind, helm, kubectl, docker; say how to get them"
    )
    d.add_argument(
        "--install", action="store_true", help="install what the repo can (helm, kubectl)"
    )
    d.add_argument("--env", choices=envs, metavar="ENV", help=env_help + " (default: dev on kind)")
    d.set_defaults(run=_doctor)

    u = sub.add_parser("up", help="bring a platform stack up (dev: on a local kind cluster)")
    u.add_argument("--env", required=True, choices=envs, metavar="ENV", help=env_help)
    u.add_argument("--no-kind", action="store_true", help="use the stack's context as it is")
    u.add_argument(
        "--keep-cluster",
        action="store_true",
        help="keep a kind cluster this run created if it fails",
    )
    u.add_argument("--kubeconfig", type=Path, help="kubeconfig to write/use (default: kind's)")
    u.set_defaults(run=_up)

    dn = sub.add_parser("down", help="destroy a platform stack (dev: and its kind cluster)")
    dn.add_argument("--env", required=True, choices=envs, metavar="ENV", help=env_help)
    dn.add_argument(
        "--keep-cluster", action="store_true", help="destroy the stack, keep the cluster"
    )
    dn.add_argument("--kubeconfig", type=Path, help="kubeconfig of the cluster (default: kind's)")
    dn.set_defaults(run=_down)


def _config(env: str) -> PlatformConfig | None:
    from mlplatform.cluster.lifecycle import load

    try:
        return load(env)
    except ConfigError as err:
        print(f"stacks/Pulumi.{env}.yaml: {err}")
        return None


def _prerequisites(names: tuple[str, ...], install: bool) -> bool:
    checks = doctor(names, install=install)
    for check in checks:
        print(check.line())
    missing = [c.name for c in checks if not c.ok]
    if missing:
        print(f"missing prerequisites: {', '.join(missing)} (see the install lines above)")
    return not missing


def _doctor(args: argparse.Namespace) -> int:
    names = KIND_TOOLS
    if args.env:
        from mlplatform.cluster.lifecycle import uses_kind

        config = _config(args.env)
        if config is None:
            return Exit.USAGE
        names = KIND_TOOLS if uses_kind(config) else REMOTE_TOOLS
    return Exit.OK if _prerequisites(names, args.install) else Exit.MISSING


def _up(args: argparse.Namespace) -> int:
    from mlplatform.cluster import lifecycle

    config = _config(args.env)
    if config is None:
        return Exit.USAGE
    kind = lifecycle.uses_kind(config) and not args.no_kind
    if not _prerequisites(KIND_TOOLS if kind else REMOTE_TOOLS, install=True):
        return Exit.MISSING
    try:
        dep = lifecycle.bring_up(
            args.env, config, kind=kind, kubeconfig=args.kubeconfig, keep_cluster=args.keep_cluster
        )
    except ClusterError as err:
        print(f"cluster: {err}")
        return Exit.CLUSTER
    except StackError as err:
        print(f"pulumi: {err}")
        return Exit.NOT_IDEMPOTENT if str(err).startswith("not idempotent") else Exit.PULUMI
    _print_access(dep)
    return Exit.OK


def _down(args: argparse.Namespace) -> int:
    from mlplatform.cluster import lifecycle
    from mlplatform.cluster.kind import KindCluster, cluster_name
    from mlplatform.cluster.stack import prepare

    config = _config(args.env)
    if config is None:
        return Exit.USAGE
    kind = lifecycle.uses_kind(config)
    if not _prerequisites(KIND_TOOLS if kind else REMOTE_TOOLS, install=False):
        return Exit.MISSING
    kubeconfig = args.kubeconfig
    dep = lifecycle.Deployment(
        args.env, config, kubeconfig, prepare(args.env, kubeconfig=kubeconfig)
    )
    try:
        if kind:
            dep.cluster = KindCluster(cluster_name(config.cluster.context), kubeconfig)
        lifecycle.tear_down(dep, keep_cluster=args.keep_cluster)
    except ClusterError as err:
        print(f"cluster: {err}")
        return Exit.CLUSTER
    except StackError as err:
        print(f"pulumi: {err}")
        return Exit.PULUMI
    return Exit.OK


def _print_access(dep: Deployment) -> None:
    cfg = dep.config
    ports = cfg.components.istio.gateway_node_ports
    print(f"\nplatform {cfg.release} is up: env {dep.env}, Kubernetes {cfg.kubernetes_version}")
    print(f"  context  {dep.context}")
    if dep.cluster and ports:
        host = toolchain().kind.host_ports
        print(f"  open     https://{cfg.ingress.domain}:{host.https}/  (http on :{host.http})")
        print(f"           gateway NodePorts {ports.https}/{ports.http} published on 127.0.0.1")
    else:
        kind = cfg.components.istio.gateway_service_type
        print(f"  open     https://{cfg.ingress.domain}/ (gateway Service type {kind})")
    for user in cfg.identity.static_users:
        print(f"  user     {user.email}")
    print(f"  secrets  generated passwords: {show_secrets_command(dep.workspace)}")
    for key, value in sorted((dep.outputs or {}).items()):
        print(f"  output   {key} = {value}")
