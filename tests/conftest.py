"""Shared fixtures: the real stack program under Pulumi mocks, recorded as a graph."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from mlplatform import releases
from mlplatform.config import ConfigError
from mlplatform.graph import Graph
from mlplatform.mockrun import run, secret_stand_ins
from mlplatform.stackconfig import environments, read_stack_file

ENVIRONMENTS = environments()
RELEASES = releases.available()
# Each release's supported Kubernetes minor that the env x release matrix targets.
KUBERNETES_FOR = {r: releases.load(r).kubernetes.min for r in RELEASES}
_graphs: dict[str, Graph] = {}


def stack_config(env: str, release: str | None = None) -> dict[str, Any]:
    """A deep copy of one environment's stack config, optionally retargeted to `release`."""
    values, _ = read_stack_file(env)
    values = copy.deepcopy(values)
    if release:
        values["platform"]["release"] = release
        values["platform"]["kubernetesVersion"] = KUBERNETES_FOR[release]
    return values


def secrets_for(env: str) -> dict[str, str]:
    """Fake values for the secret config keys an environment expects to be set."""
    values, secure = read_stack_file(env)
    return secret_stand_ins(values, secure)


def evaluate(
    config: dict[str, Any], env: str = "test", secrets: dict[str, str] | None = None
) -> Graph:
    """Run the program with `config`; identical inputs reuse the recorded graph."""
    key = json.dumps([config, env, secrets], sort_keys=True)
    if key not in _graphs:
        _graphs[key] = run(config, stack=env, secrets=secrets)
    return _graphs[key]


def assert_rejected(
    config: dict[str, Any], expected: str, env: str = "dev", secrets: dict[str, str] | None = None
) -> ConfigError:
    """The program refuses `config` naming `expected`, having registered nothing."""
    with pytest.raises(ConfigError) as err:
        run(config, stack=env, secrets=secrets)
    assert expected in str(err.value)
    assert err.value.graph.resources == []  # type: ignore[attr-defined]
    return err.value


@pytest.fixture
def program() -> Callable[..., Graph]:
    """program(env, release=None, edit=None) -> Graph of that stack under mocks."""

    def _run(
        env: str, release: str | None = None, edit: Callable[[dict], None] | None = None
    ) -> Graph:
        config = stack_config(env, release)
        if edit:
            edit(config)
        return evaluate(config, env, secrets_for(env))

    return _run


@pytest.fixture(
    params=[(e, r) for e in ENVIRONMENTS for r in RELEASES], ids=lambda p: f"{p[0]}-{p[1]}"
)
def env_release(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param
