"""One stack per tenant, under mocks: the platform stack is independent of the tenants, a
tenant stack is small and wired to the platform's outputs, and a single-stack environment
splits by `pulumi state move` with every tenant URN unchanged."""

from __future__ import annotations

import copy
import time
from typing import Any

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from benchmarks.tenants import generated
from mlplatform.config import ConfigError
from mlplatform.graph import CONFIG_GROUP, Graph
from mlplatform.mockrun import run, run_stack_program
from mlplatform.stackconfig import PROJECT
from mlplatform.tenancy.stacks import (
    PLATFORM_OUTPUTS,
    migration_plan,
    parse_stack_name,
    platform_reference,
    tenant_stack_name,
)
from tests.conftest import secrets_for, stack_config

TENANT = "mlplatform:tenancy:Tenant"


def _with_tenants(env: str, n: int) -> dict[str, Any]:
    config = stack_config(env)
    config["tenants"] = generated(n, config)
    return config


def _platform(env: str, config: dict[str, Any]) -> tuple[Graph, dict[str, Any]]:
    exports: dict[str, Any] = {}
    return run_stack_program(config, env, secrets_for(env), exports=exports), exports


def _tenant(env: str, config: dict[str, Any], name: str, outputs: dict[str, Any]) -> Graph:
    refs = {platform_reference(PROJECT, env): outputs}
    return run_stack_program(config, tenant_stack_name(env, name), secrets_for(env), refs)


@pytest.fixture(scope="module")
def prod_1000() -> tuple[dict[str, Any], dict[str, Any]]:
    """prod with 1,000 generated tenants and its platform stack's outputs."""
    config = _with_tenants("prod", 1000)
    _, exports = _platform("prod", config)
    return config, exports


def test_stack_names_round_trip():
    assert tenant_stack_name("dev", "team-a") == "dev.tenant-team-a"
    assert parse_stack_name("dev.tenant-team-a") == ("dev", "team-a")
    assert parse_stack_name("dev") == ("dev", None)
    assert parse_stack_name("test") == ("test", None)


def test_platform_stack_is_the_same_with_0_and_1000_tenants(prod_1000):
    empty, _ = _platform("prod", _with_tenants("prod", 0))
    full, exports = _platform("prod", prod_1000[0])
    assert not [r for r in full.resources if r.type == TENANT]
    assert sorted(r.urn for r in full.resources) == sorted(r.urn for r in empty.resources)
    assert len(exports["tenants"]) == 1000
    assert set(PLATFORM_OUTPUTS) <= set(exports)
    assert exports["tenantsReady"] is True


def test_one_tenant_stack_is_small_and_fast_among_1000(prod_1000):
    config, outputs = prod_1000
    _tenant("prod", config, "bench-0000", outputs)  # warm imports
    start = time.perf_counter()
    g = _tenant("prod", config, "bench-0999", outputs)
    assert time.perf_counter() - start <= 1.0
    assert sorted((r.type, r.name) for r in g.resources) == sorted(
        [
            (TENANT, "bench-0999"),
            (CONFIG_GROUP, "tenant-bench-0999"),
            ("pulumi:providers:kubernetes", "k8s"),
            ("random:index/randomPassword:RandomPassword", "bench-0999-s3-secret-key"),
        ]
    )
    provider = g.named("k8s", "pulumi:providers:kubernetes")
    assert provider.inputs.get("context") == outputs["context"]
    reference = f"pulumi:pulumi:StackReference::{platform_reference(PROJECT, 'prod')}"
    assert [d for d in provider.dependencies if d.endswith(reference)]


def test_tenant_stack_objects_equal_the_single_stack_ones():
    config = stack_config("dev")
    name = config["tenants"][0]["name"]
    _, outputs = _platform("dev", config)
    alone = _tenant("dev", config, name, outputs)
    whole = run(config, stack="dev", secrets=secrets_for("dev"))

    def objects(g: Graph) -> list[tuple[str, dict]]:
        group = g.named(f"tenant-{name}", CONFIG_GROUP)
        return sorted((o.ref, o.obj) for o in g.objects() if o.owner is group)

    assert objects(alone) == objects(whole)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"tenantsReady": None}, "bring the platform up first"),
        ({"release": "0.0.0"}, "the platform runs release 0.0.0"),
    ],
)
def test_tenant_stack_refuses_a_platform_not_ready_for_it(override, expected):
    config = stack_config("dev")
    _, outputs = _platform("dev", config)
    with pytest.raises(Exception, match=expected):
        _tenant("dev", config, config["tenants"][0]["name"], {**outputs, **override})


def test_tenant_stack_of_a_removed_tenant_is_refused():
    config = stack_config("dev")
    _, outputs = _platform("dev", config)
    removed = config["tenants"].pop(0)["name"]
    with pytest.raises(ConfigError, match=f"no tenant named '{removed}'"):
        _tenant("dev", config, removed, outputs)
    _, exports = _platform("dev", config)
    assert removed not in exports["tenants"]


def test_migration_moves_each_tenant_to_its_stack_with_unchanged_urns():
    """Single-stack state = the whole-environment graph. Each move names one top-level Tenant
    URN; after it, the tenant program registers exactly the moved URNs (stack part renamed),
    so nothing in the tenant (its Namespace above all) is replaced."""
    config = stack_config("dev")
    whole = run(copy.deepcopy(config), stack="dev", secrets=secrets_for("dev"))
    moves = migration_plan("dev", [r.urn for r in whole.resources])
    names = [t["name"] for t in config["tenants"]]
    assert [m.tenant for m in moves] == sorted(names)
    platform, outputs = _platform("dev", config)
    moved_urns = {r.urn for r in platform.resources} ^ {r.urn for r in whole.resources}
    for move in moves:
        assert move.source == "dev" and move.dest == f"dev.tenant-{move.tenant}"
        assert move.command()[:3] == ["pulumi", "state", "move"]
        tenant = whole.named(move.tenant, TENANT)
        subtree = {move.urn} | {r.urn for r in whole.descendants(tenant)}
        alone = _tenant("dev", config, move.tenant, outputs)
        renamed = {u.replace("urn:pulumi:dev::", f"urn:pulumi:{move.dest}::", 1) for u in subtree}
        registered = {r.urn for r in alone.resources if r.type != "pulumi:providers:kubernetes"}
        assert registered == renamed
        moved_urns -= subtree
    # Nothing else leaves the platform stack: the admission policy stays there.
    assert moved_urns == set()
