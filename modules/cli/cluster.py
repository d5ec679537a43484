"""`mlplatform doctor | up | down`: the platform on a local kind cluster or any kubeconfig.

Exit codes follow the CLI contract: an invalid stack config is 2; a missing tool, a bad
kubeconfig, an unreachable API server or a kind failure is 3; a failed `pulumi up`/`destroy`
or a second preview that still plans changes is 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from mlplatform.cli.app import (
    DryRunOption,
    EnvOption,
    Exit,
    OptionalEnvOption,
    fail,
    one_line,
    progress,
)
from mlplatform.cluster import toolchain
from mlplatform.cluster.kind import ClusterError
from mlplatform.cluster.stack import StackError, show_secrets_command
from mlplatform.cluster.tools import KIND_TOOLS, REMOTE_TOOLS, doctor, search_path
from mlplatform.config import PlatformConfig

if TYPE_CHECKING:
    from mlplatform.cluster.lifecycle import Deployment


def register(app: typer.Typer) -> None:
    app.command("doctor")(cmd_doctor)
    app.command("up")(cmd_up)
    app.command("down")(cmd_down)


Kubeconfig = Annotated[
    Path | None,
    typer.Option(
        help="kubeconfig of the cluster (default: the stack's cluster.kubeconfig; on kind, "
        "the file kind writes)"
    ),
]
KeepCluster = Annotated[
    bool, typer.Option("--keep-cluster", help="keep the kind cluster (up: if the run fails)")
]


def _config(env: str) -> PlatformConfig:
    from mlplatform.cluster.lifecycle import load

    return load(env)  # ConfigError: exit 2 with the problems on one line


def _prerequisites(names: tuple[str, ...], install: bool) -> None:
    """One line per tool on stdout; exit 3 naming what is missing."""
    checks = doctor(names, install=install)
    for check in checks:
        print(check.line())
    missing = [c.name for c in checks if not c.ok]
    if missing:
        fail(
            f"missing prerequisites: {', '.join(missing)} (see the install lines above)",
            Exit.ENVIRONMENT,
        )


def _kubeconfig(config: PlatformConfig, given: Path | None) -> Path | None:
    return given or (Path(config.cluster.kubeconfig) if config.cluster.kubeconfig else None)


def _check_kubeconfig(path: Path | None) -> None:
    """A kubeconfig given must exist and be a kubeconfig (exit 3 otherwise)."""
    if path is None:
        return
    try:
        doc = yaml.safe_load(path.expanduser().read_text())
    except (OSError, yaml.YAMLError) as err:
        fail(f"kubeconfig {path}: {one_line(str(err))}", Exit.ENVIRONMENT)
    if not isinstance(doc, dict) or not doc.get("clusters") or not doc.get("contexts"):
        fail(f"kubeconfig {path}: not a kubeconfig (no clusters or contexts)", Exit.ENVIRONMENT)


def _check_reachable(config: PlatformConfig, kubeconfig: Path | None) -> None:
    """The API server answers (exit 3 otherwise); skipped when kubectl is missing (doctor says)."""
    path = search_path(os.environ)
    kubectl = shutil.which("kubectl", path=path)
    if kubectl is None:
        return
    argv = [kubectl, "--request-timeout=10s", "get", "--raw", "/version"]
    if kubeconfig:
        argv[1:1] = ["--kubeconfig", str(kubeconfig)]
    if config.cluster.context:
        argv[1:1] = ["--context", config.cluster.context]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        why = one_line(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no answer")
        fail(f"cannot reach the cluster's API server: {why}", Exit.ENVIRONMENT)


def cmd_doctor(
    install: Annotated[
        bool, typer.Option("--install", help="install what the repo can (helm, kubectl)")
    ] = False,
    env: OptionalEnvOption = None,
) -> None:
    """Check pulumi, kind, helm, kubectl, docker; say how to get them (exit 3 if one is missing)."""
    names = KIND_TOOLS
    if env:
        from mlplatform.cluster.lifecycle import uses_kind

        names = KIND_TOOLS if uses_kind(_config(env)) else REMOTE_TOOLS
    _prerequisites(names, install)


def cmd_up(
    env: EnvOption,
    no_kind: Annotated[
        bool, typer.Option("--no-kind", help="use the stack's context as it is, no kind")
    ] = False,
    keep_cluster: KeepCluster = False,
    kubeconfig: Kubeconfig = None,
    dry_run: DryRunOption = False,
) -> None:
    """Bring a platform stack up (dev: on a local kind cluster), then check it is idempotent."""
    from mlplatform.cluster import lifecycle

    config = _config(env)
    kind = lifecycle.uses_kind(config) and not no_kind
    target = _kubeconfig(config, kubeconfig)
    if not kind:
        _check_kubeconfig(target)
        _check_reachable(config, target)
    _prerequisites(KIND_TOOLS if kind else REMOTE_TOOLS, install=not dry_run)
    if dry_run:
        where = (
            f"kind cluster for context {config.cluster.context} (created if absent)"
            if kind
            else f"context {config.cluster.context or '(current)'} of {target or '~/.kube/config'}"
        )
        print(
            f"dry run: would run `pulumi up` of stack {env} (release {config.release}) on {where}"
        )
        return
    try:
        with progress(f"up: stack {env}"):
            dep = lifecycle.bring_up(
                env, config, kind=kind, kubeconfig=kubeconfig, keep_cluster=keep_cluster
            )
    except ClusterError as err:
        fail(f"cluster: {one_line(str(err))}", Exit.ENVIRONMENT)
    except StackError as err:
        fail(f"pulumi: {one_line(str(err))}", Exit.FINDINGS)
    _print_access(dep)


def cmd_down(
    env: EnvOption,
    keep_cluster: KeepCluster = False,
    kubeconfig: Kubeconfig = None,
    dry_run: DryRunOption = False,
) -> None:
    """Destroy a platform stack (dev: and its kind cluster unless --keep-cluster)."""
    from mlplatform.cluster import lifecycle
    from mlplatform.cluster.kind import KindCluster, cluster_name
    from mlplatform.cluster.stack import prepare

    config = _config(env)
    kind = lifecycle.uses_kind(config)
    if not kind:
        _check_kubeconfig(_kubeconfig(config, kubeconfig))
        _check_reachable(config, _kubeconfig(config, kubeconfig))
    _prerequisites(KIND_TOOLS if kind else REMOTE_TOOLS, install=False)
    if dry_run:
        cluster = (
            f" and kind cluster {cluster_name(config.cluster.context)}"
            if kind and not keep_cluster
            else ""
        )
        print(f"dry run: would destroy stack {env}{cluster}")
        return
    dep = lifecycle.Deployment(env, config, kubeconfig, prepare(env, kubeconfig=kubeconfig))
    try:
        with progress(f"down: stack {env}"):
            if kind:
                dep.cluster = KindCluster(cluster_name(config.cluster.context), kubeconfig)
            lifecycle.tear_down(dep, keep_cluster=keep_cluster)
    except ClusterError as err:
        fail(f"cluster: {one_line(str(err))}", Exit.ENVIRONMENT)
    except StackError as err:
        fail(f"pulumi: {one_line(str(err))}", Exit.FINDINGS)


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
