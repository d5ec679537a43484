"""Bring a platform stack up (and down) on its cluster: kind for dev, any kubeconfig otherwise.

Shared by `mlplatform up/down` and the end-to-end session fixture.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplatform.cluster import REPORTS
from mlplatform.cluster import stack as stacks
from mlplatform.cluster.kind import ClusterError, KindCluster, cluster_name, kind_config
from mlplatform.cluster.tools import search_path
from mlplatform.config import PlatformConfig
from mlplatform.platform import Stack, load_config
from mlplatform.stackconfig import read_stack_file
from mlplatform.tenancy.stacks import migration_plan, tenant_stack_name

if TYPE_CHECKING:
    from pulumi import automation as auto

Printer = stacks.Printer


def load_stack(env: str) -> Stack:
    """The validated stack config of `env`, tenants included (raises ConfigError)."""
    values, _ = read_stack_file(env)
    return load_config(values)


def load(env: str) -> PlatformConfig:
    """The validated platform config of `env` (raises ConfigError / FileNotFoundError)."""
    return load_stack(env).platform


def pinned(config: PlatformConfig) -> dict[str, str]:
    """The stack-file keys a Deployment's config pins (it may be retargeted: a rehearsal)."""
    return {"release": config.release, "kubernetesVersion": config.kubernetes_version}


def uses_kind(config: PlatformConfig) -> bool:
    return bool(config.cluster.context and config.cluster.context.startswith("kind-"))


@dataclass
class Deployment:
    env: str
    config: PlatformConfig
    kubeconfig: Path | None
    workspace: stacks.Workspace
    stack: auto.Stack | None = None
    cluster: KindCluster | None = None
    created_cluster: bool = False
    outputs: dict[str, Any] | None = None

    @property
    def context(self) -> str:
        return self.cluster.context if self.cluster else self.config.cluster.context or ""


def check_context(config: PlatformConfig, kubeconfig: Path | None) -> None:
    """The stack's kubeconfig context must exist before Pulumi is pointed at it."""
    context = config.cluster.context
    argv = ["kubectl", "config", "get-contexts", "-o", "name"]
    env = {**os.environ, "PATH": search_path(os.environ)}
    if kubeconfig:
        env["KUBECONFIG"] = str(kubeconfig)
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    names = done.stdout.split()
    if context is None:
        if not names:
            raise ClusterError(
                "no kubeconfig context at all; set cluster.context in the stack file"
            )
        return
    if context not in names:
        where = kubeconfig or env.get("KUBECONFIG", "~/.kube/config")
        raise ClusterError(
            f"kubeconfig {where} has no context {context!r} (has: {', '.join(names) or 'none'})"
        )


def bring_up(
    env: str,
    config: PlatformConfig,
    *,
    kind: bool,
    kubeconfig: Path | None = None,
    keep_cluster: bool = False,
    out: Printer = print,
) -> Deployment:
    """Cluster (kind: created or reused, fake GPUs) -> pulumi up -> idempotency preview.

    On failure the kind logs are exported, and a cluster this call created is deleted unless
    `keep_cluster`; the error is re-raised.
    """
    kubeconfig = kubeconfig or (
        Path(config.cluster.kubeconfig) if config.cluster.kubeconfig else None
    )
    ws = stacks.prepare(env, kubeconfig=kubeconfig, platform=pinned(config))
    dep = Deployment(env, config, kubeconfig, ws)
    try:
        _bring_up(dep, kind, out)
    except (ClusterError, stacks.StackError):
        collect_logs(dep, out)
        if dep.cluster and dep.created_cluster and not keep_cluster:
            out(f"deleting kind cluster {dep.cluster.name} (pass --keep-cluster to inspect it)")
            try:
                dep.cluster.delete()
            except ClusterError as err:
                out(f"could not delete it: {err}")
        raise
    return dep


def _bring_up(dep: Deployment, kind: bool, out: Printer) -> None:
    config = dep.config
    if kind:
        dep.cluster = KindCluster(cluster_name(config.cluster.context), dep.kubeconfig)
        if dep.cluster.exists():
            out(f"reusing kind cluster {dep.cluster.name}")
        else:
            out(
                f"creating kind cluster {dep.cluster.name} (Kubernetes {config.kubernetes_version})"
            )
            dep.created_cluster = True
            dep.cluster.create(kind_config(config))
        dep.cluster.write_kubeconfig()
        for node, gpus in dep.cluster.fake_gpus().items():
            out(f"node {node}: {gpus} fake nvidia.com/gpu")
    else:
        check_context(config, dep.kubeconfig)
    dep.stack = stacks.select(dep.workspace)
    left = migration_plan(dep.env, [r["urn"] for r in _resources(dep.stack)])
    if left:  # the platform program registers no tenant: an up now would delete them
        raise stacks.StackError(
            f"stack {dep.env} still holds {len(left)} tenants; move them to their own stacks "
            f"first: mlplatform tenant migrate --env {dep.env}"
        )
    out(f"pulumi up of stack {dep.env} (state: {stacks.Layout().backend_url})")
    dep.outputs = stacks.up(dep.stack, out)
    out("checking idempotency: a second preview must plan no change")
    stacks.check_idempotent(dep.stack, out)
    names = tenant_names(dep.env)
    if names:  # each tenant on its own stack, once the platform's outputs say it is ready
        out(f"pulumi up of {len(names)} tenant stacks ({dep.env}.tenant-<name>)")
        errors = up_tenants(dep.env, names, kubeconfig=dep.kubeconfig, platform=pinned(config))
        if errors:
            failed = "; ".join(f"{n}: {e.splitlines()[-1] if e else ''}" for n, e in errors.items())
            raise stacks.StackError(f"{len(errors)} tenant stacks failed: {failed}")


def _resources(stack: auto.Stack) -> list[dict[str, Any]]:
    """The resources of a stack's state (none for a new stack)."""
    from pulumi import automation as auto

    try:
        deployment = stack.export_stack().deployment or {}
    except auto.errors.CommandError as err:
        raise stacks.StackError(f"reading the state of {stack.name} failed: {err}") from err
    return list(deployment.get("resources") or [])


def collect_logs(dep: Deployment, out: Printer = print) -> Path | None:
    """`kind export logs` into reports/cluster-logs/<env>-<time>; None when not on kind."""
    if dep.cluster is None:
        return None
    target = REPORTS / "cluster-logs" / f"{dep.env}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        dep.cluster.export_logs(target)
    except ClusterError as err:
        out(f"could not export cluster logs: {err}")
        return None
    out(f"cluster logs: {target}")
    return target


def tear_down(dep: Deployment, *, keep_cluster: bool, out: Printer = print) -> None:
    """Destroy the stack and delete the kind cluster (unless `keep_cluster`).

    When the kind cluster goes away its resources go with it, so the stack is then only removed
    from the backend instead of destroyed object by object.
    """
    stack = dep.stack or stacks.select(dep.workspace)
    deleting = bool(dep.cluster and not keep_cluster and dep.cluster.exists())
    for name in existing_tenant_stacks(dep.env):  # tenants first: they live on the platform
        tenant = stacks.select(stacks.prepare(dep.env, kubeconfig=dep.kubeconfig, tenant=name))
        if deleting:
            stacks.remove(tenant)
        else:
            stacks.destroy(tenant, out)
    if dep.cluster and not keep_cluster and dep.cluster.exists():
        out(f"deleting kind cluster {dep.cluster.name} and removing stack {dep.env}")
        dep.cluster.delete()
        stacks.remove(stack)
        return
    stacks.destroy(stack, out)


# --- tenant stacks ----------------------------------------------------------------------


def tenant_names(env: str) -> list[str]:
    """The tenants of `env`'s stack file, in file order."""
    values, _ = read_stack_file(env)
    return [t["name"] for t in values.get("tenants") or [] if isinstance(t, dict) and "name" in t]


def tenant_stack_exists(env: str, name: str, layout: stacks.Layout | None = None) -> bool:
    """Whether the file backend holds `<env>.tenant-<name>`: `.pulumi/stacks/<project>/<stack>
    .json` (project-scoped layout) or `.pulumi/stacks/<stack>.json` (legacy), maybe gzipped."""
    return bool(existing_tenant_stacks(env, layout, name))


def existing_tenant_stacks(
    env: str, layout: stacks.Layout | None = None, name: str = "*"
) -> list[str]:
    """Tenant names of the tenant stacks of `env` in the file backend."""
    layout = layout or stacks.Layout()
    root = layout.state_dir / ".pulumi" / "stacks"
    project = layout.project().get("name", "")
    prefix = tenant_stack_name(env, "")
    found = set()
    for where in (root / project, root):
        for path in where.glob(f"{tenant_stack_name(env, name)}.json*"):
            if path.name.endswith((".json", ".json.gz")):
                found.add(path.name.split(".json")[0].removeprefix(prefix))
    return sorted(found)


def up_tenant(
    env: str,
    name: str,
    kubeconfig: Path | None = None,
    out: Printer = print,
    platform: dict[str, str] | None = None,
) -> None:
    """`pulumi up` of one tenant's stack (raises StackError); `platform`: as the platform's."""
    ws = stacks.prepare(env, kubeconfig=kubeconfig, tenant=name, platform=platform)
    stacks.up(stacks.select(ws), out)


def up_tenants(
    env: str,
    names: list[str],
    *,
    parallel: int = 4,
    kubeconfig: Path | None = None,
    on_done: Callable[[str, str | None], None] = lambda name, error: None,
    platform: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every named tenant stack up, `parallel` at a time; returns name -> error of the failed."""
    errors: dict[str, str] = {}

    def one(name: str) -> None:
        try:
            pins = {"platform": platform} if platform else {}  # a rehearsal's release
            up_tenant(env, name, kubeconfig, out=lambda _: None, **pins)
        except stacks.StackError as err:
            errors[name] = str(err)
        on_done(name, errors.get(name))

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        list(pool.map(one, names))
    return errors


def destroy_tenant(
    env: str, name: str, kubeconfig: Path | None = None, out: Printer = print
) -> bool:
    """Destroy and remove `<env>.tenant-<name>` when it exists; False when there was none."""
    if not tenant_stack_exists(env, name):
        return False
    ws = stacks.prepare(env, kubeconfig=kubeconfig, tenant=name)
    stacks.destroy(stacks.select(ws), out)
    return True
