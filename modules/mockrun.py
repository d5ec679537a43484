"""Run the real stack program under Pulumi mocks and record its resource graph.

No Pulumi CLI, cluster or network: `set_mocks` replaces the engine with a recording
monitor. Used by the test suite, the benchmark and `mlplatform policy check`.
"""

from __future__ import annotations

import copy
import gc
import json
import runpy
from collections.abc import Callable
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from mlplatform import releases
from mlplatform.graph import Graph, Resource
from mlplatform.stackconfig import (
    PROJECT,
    ROOT,
    project_config,
    read_stack_file,
    receiver_secret_keys,
    secret_keys,
)
from mlplatform.tenancy.stacks import DIY_ORGANIZATION

MAIN = ROOT / "stacks" / "__main__.py"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
_SECRET_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
# Stand-ins the mocks hand out for generated passwords, their bcrypt hashes and secret
# stack config; tests look for them outside Pulumi secrets to catch leaks. Not credentials.
STAND_IN_PASSWORD = "mock-password-"
STAND_IN_BCRYPT = "$2a$10$mock"
STAND_IN_CONFIG_SECRET = "mock-secret"
STAND_IN_SECRET_URL = f"https://hooks.example.com/{STAND_IN_CONFIG_SECRET}"
STAND_INS = (STAND_IN_PASSWORD, STAND_IN_BCRYPT, STAND_IN_CONFIG_SECRET)


class _Mocks(pulumi.runtime.Mocks):
    """Outputs echo inputs; generated secrets get a recognisable fake value."""

    def __init__(self, stack_outputs: dict[str, dict[str, Any]] | None = None) -> None:
        # StackReference name ("organization/<project>/<stack>") -> that stack's outputs.
        self.stack_outputs = stack_outputs or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:  # a read, not a registration: nothing to record
            name = args.inputs.get("name", args.resource_id)
            if name not in self.stack_outputs:
                raise ValueError(f"mocks: no outputs for stack reference {name}")
            outputs = {"name": name, "outputs": self.stack_outputs[name], "secretOutputNames": []}
            return name, outputs
        outputs = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"{STAND_IN_PASSWORD}{args.name}"
            outputs["bcryptHash"] = f"{STAND_IN_BCRYPT}{args.name}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []


class _RecordingMonitor(mocks.MockMonitor):
    def __init__(self, m: _Mocks) -> None:
        super().__init__(m)
        self.recorded: list[Resource] = []
        self.mocks: _Mocks = m

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object)
            self.recorded.append(
                Resource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=_unwrap(raw),
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    secret_paths=set(_secret_paths(raw, "")),
                    custom=request.custom,
                    # From this request: registrations run on several threads at once, so
                    # "the last transforms the mocks saw" may be another resource's.
                    transforms=mocks._resolve_callbacks(request.transforms),
                )
            )
        return response


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == _SECRET_VALUE:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _secret_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == _SECRET_VALUE:
            return [path.lstrip(".")]
        return [p for k, v in value.items() for p in _secret_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _secret_paths(v, f"{path}[{i}]")]
    return []


def run(
    config: dict[str, Any], stack: str = "test", secrets: dict[str, str] | None = None
) -> Graph:
    """The whole environment as one graph: the platform program with every tenant registered
    in it (what checks and policies see, and what a single-stack environment's state holds)."""
    from mlplatform.stackprogram import platform_program

    return _evaluate(
        lambda: platform_program(project_config(), with_tenants=True), config, stack, secrets
    )


def run_stack_program(
    config: dict[str, Any],
    stack: str,
    secrets: dict[str, str] | None = None,
    stack_outputs: dict[str, dict[str, Any]] | None = None,
    exports: dict[str, Any] | None = None,
) -> Graph:
    """Evaluate stacks/__main__.py as stack `stack` (`<env>`: the platform alone,
    `<env>.tenant-<name>`: one tenant, its StackReference answered from `stack_outputs`);
    `exports` receives the stack's outputs."""
    return _evaluate(
        lambda: runpy.run_path(str(MAIN), run_name="__main__"),
        config,
        stack,
        secrets,
        stack_outputs,
        exports,
    )


def _evaluate(
    program: Callable[[], Any],
    config: dict[str, Any],
    stack: str,
    secrets: dict[str, str] | None,
    stack_outputs: dict[str, dict[str, Any]] | None = None,
    exports: dict[str, Any] | None = None,
) -> Graph:
    monitor = _RecordingMonitor(_Mocks(stack_outputs))
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        monitor.mocks,
        project=PROJECT,
        stack=stack,
        preview=False,
        monitor=monitor,
        organization=DIY_ORGANIZATION,  # what `up` on the file backend sees
    )
    values = {f"{PROJECT}:{k}": json.dumps(v) for k, v in config.items()}
    values.update({f"{PROJECT}:{k}": v for k, v in (secrets or {}).items()})
    set_all_config(values, [f"{PROJECT}:{k}" for k in secrets or {}])
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    thresholds = gc.get_threshold()  # the program tunes the GC for itself; restore ours
    try:
        _sync_await(run_pulumi_func(program))
    except Exception as err:
        err.graph = Graph(monitor.recorded)  # type: ignore[attr-defined]  # what got registered
        raise
    finally:
        gc.set_threshold(*thresholds)
    if exports is not None:  # the root Stack registers them only when a real run finishes
        root = settings.get_root_resource()
        outputs = getattr(root, "outputs", {})
        exports.update(_sync_await(pulumi.Output.from_input(outputs).future()) or {})
    return Graph(monitor.recorded, transforms=monitor.get_registered_transforms())


def secret_stand_ins(values: dict[str, Any], secure: set[str]) -> dict[str, str]:
    """Fake values for every secret config key a stack reads (`secure:` keys, the OIDC one,
    alert receivers'); a Slack webhook URL gets an https stand-in, as its receiver requires."""
    urls = {k for k, kind in receiver_secret_keys(values).items() if kind == "slack"}
    keys = sorted(set(secure) | secret_keys(values))
    return {k: STAND_IN_SECRET_URL if k in urls else STAND_IN_CONFIG_SECRET for k in keys}


def retarget(values: dict[str, Any], release: str) -> None:
    """Point a stack config at `release`, moving Kubernetes into its range if needed."""
    platform = values["platform"]
    platform["release"] = release
    supported = releases.load(release).kubernetes
    if not supported.contains(str(platform.get("kubernetesVersion", ""))):
        platform["kubernetesVersion"] = supported.min


def stack_inputs(env: str, release: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """One environment's plain config (optionally retargeted) and its secret stand-ins."""
    values, secure = read_stack_file(env)
    plain = {k: copy.deepcopy(v) for k, v in values.items() if k not in secure}
    if release:
        retarget(plain, release)
    return plain, secret_stand_ins(values, secure)


def run_stack(env: str, release: str | None = None) -> Graph:
    """Run one environment's stack file under mocks, optionally on another release."""
    values, secrets = stack_inputs(env, release)
    return run(values, stack=env, secrets=secrets)
