"""The model registry's own claims (modules/components/model_registry.py) against the real trees.

The generic checks (builds, removals, references, Pod Security) run in test_kustomize_apps.py
for the platform database (`model-registry-db`) and every tenant's server (`model-registry`).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from mlplatform import releases
from mlplatform.components import model_registry as mr
from mlplatform.config import PlatformConfig, parse_platform
from mlplatform.mockrun import stack_inputs
from mlplatform.tenancy import registry
from mlplatform.tenancy.spec import TenantSpec, parse_tenants
from tests.upstream import CACHE, CASE_IDS, CASES, needs_cache
from tests.upstream.test_kustomize_apps import case, upstream

pytestmark = needs_cache
cases = pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)
Obj = dict[str, Any]


def _deployments(objs: list[Obj]) -> dict[tuple[str, str], Obj]:
    return {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o
        for o in objs
        if o["kind"] == "Deployment"
    }


@pytest.mark.parametrize("release", releases.available())
def test_upstreams_shared_registry_admits_everyone(release):
    """The fact the per-tenant design rests on: Kubeflow's shared install has no authz."""
    assert CACHE is not None
    source = releases.load(release).component("model_registry").source.kustomize
    istio = CACHE.base(f"{source.url}?ref={source.ref}").parent.parent / "options" / "istio"
    (policy,) = yaml.safe_load_all((istio / "istio-authorization-policy.yaml").read_text())
    assert policy["spec"]["rules"] == [{}]


@pytest.mark.parametrize("release", releases.available())
def test_upstream_ships_default_database_credentials(release):
    (secret,) = [o for o in upstream(release, "model-registry") if o["kind"] == "Secret"]
    assert secret["metadata"]["name"] == mr.DB_SECRET
    (params,) = [
        o for o in upstream(release, "model-registry") if o["metadata"]["name"] == mr.DB_PARAMETERS
    ]
    assert params["data"]["MYSQL_ALLOW_EMPTY_PASSWORD"] == "true"


@cases
def test_platform_keeps_only_mysql_with_our_root_password(env, release):
    built = case(env, release).built("model-registry-db")
    assert {(o["kind"], o["metadata"]["name"]) for o in built} == {
        ("Deployment", mr.DATABASE),
        ("Service", mr.DATABASE),
        ("PersistentVolumeClaim", mr.DATABASE_CLAIM),
        ("ConfigMap", mr.DB_PARAMETERS),
    }
    (db,) = _deployments(built).values()
    assert db["spec"]["template"]["metadata"]["labels"].items() >= mr.DATABASE_PODS.items()
    (container,) = db["spec"]["template"]["spec"]["containers"]
    assert container["image"] == releases.load(release).component("model_registry").images["mysql"]
    assert {e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e} == {
        mr.DB_SECRET
    }
    assert mr.DATABASE_PORT in [p["containerPort"] for p in container["ports"]]
    (params,) = [o for o in built if o["kind"] == "ConfigMap"]
    assert "MYSQL_ALLOW_EMPTY_PASSWORD" not in params["data"]


@cases
def test_each_tenant_server_uses_its_database_through_our_service(env, release):
    c = case(env, release)
    built = c.built("model-registry")
    servers = {ns: d for (ns, name), d in _deployments(built).items() if name == mr.SERVER}
    tenants = _tenants(env, release)
    assert set(servers) == set(tenants)
    for ns, server in servers.items():
        pod = server["spec"]["template"]
        assert pod["metadata"]["labels"].items() >= mr.SERVER_PODS.items()
        names = [ct["name"] for ct in pod["spec"]["containers"]]
        config = _config(env, release)
        assert sorted(names) == sorted(registry.containers(config))
        args = " ".join(a for ct in pod["spec"]["containers"] for a in ct.get("args", []))
        # The database host upstream wires the server to is the Service we create.
        hosts = set(re.findall(r"mysql_config_host=([\w-]+)|tcp\(([\w-]+):", args))
        assert {h for pair in hosts for h in pair if h} == {mr.DATABASE}
        ours = c.ours()[("Service", ns, mr.DATABASE)].obj
        assert ours["spec"]["type"] == "ExternalName"
        params = next(
            o
            for o in built
            if o["metadata"]["name"] == mr.DB_PARAMETERS and o["metadata"]["namespace"] == ns
        )
        assert params["data"]["MYSQL_DATABASE"] == registry.database(tenants[ns])
        assert "MYSQL_ALLOW_EMPTY_PASSWORD" not in params["data"]
        assert [o for o in built if o["kind"] == "Secret"] == []
        for ct in pod["spec"]["containers"]:
            assert ct["resources"]["requests"] and ct["resources"]["limits"], ct["name"]
        # The server's port is the one tenant-local clients use.
        ports = [
            p["containerPort"] for ct in pod["spec"]["containers"] for p in ct.get("ports", [])
        ]
        assert mr.SERVER_PORT in ports


def _config(env: str, release: str) -> PlatformConfig:
    values, _ = stack_inputs(env, release)
    return parse_platform(values["platform"])


def _tenants(env: str, release: str) -> dict[str, TenantSpec]:
    values, _ = stack_inputs(env, release)
    config = _config(env, release)
    tenants = parse_tenants(values.get("tenants"), config)
    return {t.namespace: t for t in tenants if registry.enabled(t, config)}
