"""A platform stack through the Pulumi Automation API: local file backend, passphrase secrets.

LocalWorkspace ignores `stackConfigDir` (pulumi/pulumi#10305): its stack-settings methods read
`Pulumi.<stack>.yaml` beside `Pulumi.yaml`, and `stack init` with the passphrase provider writes
its `encryptionsalt` into the stack file, which would dirty the tracked `stacks/` files. So every
stack runs from a generated workspace `.pulumi-state/workspaces/<env>/` (gitignored):

- `Pulumi.yaml`: the repo's project file with `main` and the virtualenv pointing back into the
  repo, `stackConfigDir` dropped and `backend.url` set to the local file backend;
- `Pulumi.<env>.yaml`: the tracked stack file copied afresh on every run (edit `stacks/`, never
  the copy), plus the salt the CLI wrote on `stack init`, carried over between runs.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlplatform.cluster import ROOT
from mlplatform.tenancy.stacks import tenant_stack_name

if TYPE_CHECKING:
    from pulumi import automation as auto

PASSPHRASE_VARS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")
# Every platform and tenant stack on the file backend, which rewrites the whole checkpoint
# once per resource step (pulumi/pulumi#10960, #14967): gzip'd state (`<stack>.json.gz`,
# pulumi/pulumi#9610; several times smaller, so each rewrite costs less I/O), no update check
# per run. Checkpoints are NOT skipped (PULUMI_SKIP_CHECKPOINTS): a crash would lose state.
STATE_HYGIENE = {"PULUMI_SELF_MANAGED_STATE_GZIP": "true", "PULUMI_SKIP_UPDATE_CHECK": "true"}
_SECRETS_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt")
Printer = Callable[[str], None]


class StackError(RuntimeError):
    """A Pulumi step failed; the message names the step and the CLI's last words."""


@dataclass(frozen=True)
class Layout:
    """Where the project, its stack files, the state and the generated workspaces live."""

    root: Path = ROOT

    @property
    def state_dir(self) -> Path:
        return self.root / ".pulumi-state"

    @property
    def backend_url(self) -> str:
        return f"file://{self.state_dir.resolve()}"

    @property
    def passphrase_file(self) -> Path:
        return self.state_dir / "passphrase"

    def project(self) -> dict[str, Any]:
        return yaml.safe_load((self.root / "Pulumi.yaml").read_text())

    def stack_file(self, env: str) -> Path:
        return self.root / self.project().get("stackConfigDir", ".") / f"Pulumi.{env}.yaml"

    def work_dir(self, env: str) -> Path:
        return self.state_dir / "workspaces" / env


@dataclass(frozen=True)
class Workspace:
    env: str
    work_dir: Path
    env_vars: dict[str, str]
    tenant: str | None = None  # a tenant's own stack `<env>.tenant-<name>`

    @property
    def stack_name(self) -> str:
        return tenant_stack_name(self.env, self.tenant) if self.tenant else self.env


def ensure_passphrase_file(path: Path) -> Path:
    """Create a random passphrase readable only by its owner; refuse one others can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise StackError(
                f"{path} is readable by others (mode {mode:o}); chmod 600 it"
            ) from None
        return path
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32))
    return path


def passphrase_env(environ: Mapping[str, str], layout: Layout) -> dict[str, str]:
    """The caller's passphrase variables win; otherwise the generated passphrase file."""
    if any(var in environ for var in PASSPHRASE_VARS):
        return {}
    return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(ensure_passphrase_file(layout.passphrase_file))}


def project_document(layout: Layout, work_dir: Path) -> dict[str, Any]:
    doc = layout.project()
    doc.pop("stackConfigDir", None)
    doc["main"] = os.path.relpath(layout.root / doc.get("main", "."), work_dir)
    runtime = doc.get("runtime")
    options = runtime.get("options", {}) if isinstance(runtime, dict) else {}
    if "virtualenv" in options:
        options["virtualenv"] = os.path.relpath(layout.root / options["virtualenv"], work_dir)
    doc["backend"] = {"url": layout.backend_url}
    return doc


def stack_document(
    layout: Layout,
    env: str,
    stack_name: str | None = None,
    platform: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The tracked stack file, plus the secrets-provider keys of the previous generated copy.

    A tenant stack (`stack_name` `<env>.tenant-<name>`) gets the same file: its program reads
    its own entry of `mlplatform:tenants` by name. `platform` overrides keys of
    `mlplatform:platform` (`upgrade rehearse` runs the stack at two releases; the file is kept).
    """
    stack_name = stack_name or env
    source = layout.stack_file(env)
    if not source.is_file():
        raise StackError(f"no stack file {source}")
    doc = yaml.safe_load(source.read_text()) or {}
    previous = layout.work_dir(stack_name) / f"Pulumi.{stack_name}.yaml"
    if previous.is_file() and not any(key in doc for key in _SECRETS_KEYS):
        old = yaml.safe_load(previous.read_text()) or {}
        doc.update({key: old[key] for key in _SECRETS_KEYS if key in old})
    if platform:
        doc.setdefault("config", {}).setdefault("mlplatform:platform", {}).update(platform)
    return doc


def prepare(
    env: str,
    layout: Layout | None = None,
    environ: Mapping[str, str] = os.environ,
    kubeconfig: Path | None = None,
    tenant: str | None = None,
    platform: Mapping[str, str] | None = None,
) -> Workspace:
    """Write the generated workspace for `env` (or for its tenant `tenant`'s own stack: same
    project, backend and passphrase) and return it with the variables Pulumi needs."""
    layout = layout or Layout()
    name = tenant_stack_name(env, tenant) if tenant else env
    work_dir = layout.work_dir(name)
    stack = stack_document(layout, env, name, platform)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "Pulumi.yaml").write_text(yaml.safe_dump(project_document(layout, work_dir)))
    (work_dir / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(stack, sort_keys=False))
    env_vars = {**STATE_HYGIENE, **passphrase_env(environ, layout)}
    if kubeconfig:
        env_vars["KUBECONFIG"] = str(kubeconfig)
    return Workspace(env, work_dir, env_vars, tenant)


def select(ws: Workspace) -> auto.Stack:
    """Create or select the stack (needs the pulumi CLI)."""
    from pulumi import automation as auto

    opts = auto.LocalWorkspaceOptions(env_vars=ws.env_vars, secrets_provider="passphrase")
    try:
        return auto.create_or_select_stack(
            stack_name=ws.stack_name, work_dir=str(ws.work_dir), opts=opts
        )
    except (auto.errors.CommandError, auto.errors.InvalidVersionError, OSError) as err:
        raise StackError(f"selecting stack {ws.stack_name} failed: {_tail(err)}") from err


def _color() -> str:
    return "always" if sys.stdout.isatty() else "never"


def _tail(err: BaseException, lines: int = 5) -> str:
    text = str(err).strip().splitlines()
    return "\n".join(text[-lines:]) if text else type(err).__name__


def up(stack: auto.Stack, on_output: Printer = print) -> dict[str, Any]:
    """`pulumi up`, streaming progress; returns the stack outputs (secrets stay masked)."""
    from pulumi import automation as auto

    try:
        result = stack.up(on_output=on_output, color=_color())
    except auto.errors.CommandError as err:
        raise StackError(f"pulumi up of {stack.name} failed:\n{_tail(err)}") from err
    return {k: ("[secret]" if v.secret else v.value) for k, v in result.outputs.items()}


def check_idempotent(stack: auto.Stack, on_output: Printer = print) -> None:
    """A second preview must plan no change at all."""
    from pulumi import automation as auto

    try:
        stack.preview(expect_no_changes=True, on_output=on_output, color=_color())
    except auto.errors.CommandError as err:
        raise StackError(f"not idempotent: preview after up plans changes:\n{_tail(err)}") from err


def destroy(stack: auto.Stack, on_output: Printer = print) -> None:
    from pulumi import automation as auto

    try:
        stack.destroy(on_output=on_output, color=_color(), remove=True)
    except auto.errors.CommandError as err:
        raise StackError(f"pulumi destroy of {stack.name} failed:\n{_tail(err)}") from err


def remove(stack: auto.Stack) -> None:
    """Drop the stack and its state from the backend (its cluster is already gone)."""
    from pulumi import automation as auto

    try:
        stack.workspace.remove_stack(stack.name, force=True)
    except auto.errors.CommandError as err:
        raise StackError(f"removing stack {stack.name} failed:\n{_tail(err)}") from err


def show_secrets_command(ws: Workspace) -> str:
    """The shell line that prints the stack outputs, generated passwords included."""
    prefix = " ".join(f"{k}={v}" for k, v in ws.env_vars.items() if k in PASSPHRASE_VARS)
    command = f"pulumi stack output --stack {ws.stack_name} --show-secrets"
    return f"cd {ws.work_dir} && {prefix} {command}" if prefix else f"cd {ws.work_dir} && {command}"
