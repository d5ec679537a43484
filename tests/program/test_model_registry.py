"""The model registry under mocks: one MySQL in `kubeflow`, a registry per tenant on it."""

from pathlib import Path

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import releases
from mlplatform.components import model_registry as mr
from mlplatform.config import parse_platform
from mlplatform.graph import KUSTOMIZE
from mlplatform.overlays import UPSTREAM_OVERLAYS
from mlplatform.tenancy import registry
from mlplatform.tenancy.spec import parse_tenants
from tests import pod_security
from tests.conftest import assert_rejected, stack_config
from tests.schema import problems

TOKEN = "mlplatform:modelregistry:ModelRegistry"


def _kustomization(g, name):
    directory = Path(g.named(name, KUSTOMIZE).inputs["directory"])
    return directory, yaml.safe_load((directory / "kustomization.yaml").read_text())


def _tenant(name="team-a"):
    config = stack_config("dev")
    platform = parse_platform(config["platform"])
    (spec,) = [t for t in parse_tenants(config["tenants"], platform) if t.name == name]
    return spec


def test_platform_database_and_a_server_per_tenant(program, env_release):
    env, release = env_release
    g = program(env, release)
    assert g.named("model-registry", TOKEN)
    source = releases.load(release).component("model_registry").source.kustomize
    assert source.url.endswith("/applications/model-registry/upstream/overlays/db")
    directory, k = _kustomization(g, "model-registry-db")
    assert k["resources"] == [f"{source.url}?ref={source.ref}"]
    assert [(directory / c).resolve() for c in k["components"]] == [
        UPSTREAM_OVERLAYS / "model-registry-db"
    ]
    assert k["namespace"] == "kubeflow"
    tenants = {
        o.name
        for o in g.objects()
        if o.kind == "Namespace" and o.obj["metadata"]["labels"].items() >= mr.TENANTS.items()
    }

    assert tenants
    for tenant in tenants:
        directory, k = _kustomization(g, f"model-registry-{tenant}")
        assert k["namespace"] == tenant
        assert [(directory / c).resolve() for c in k["components"]] == [
            UPSTREAM_OVERLAYS / "model-registry"
        ]
        server = g.named(f"model-registry-{tenant}", KUSTOMIZE)
        group = next(r for r in g.resources if r.name == f"tenant-{tenant}")
        assert g.depends_on(server, group), "the server needs its Secret and Service first"
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    mine = [o for o in g.objects() if o.owner.name == "model-registry-base"]
    mine += [
        o
        for o in g.objects()
        if (o.kind, o.name)
        in {("Service", mr.DATABASE), ("NetworkPolicy", "allow-to-model-registry-db")}
        or (o.kind == "Job" and o.name.endswith("-registry-db"))
    ]
    assert len(mine) > 3
    assert [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []


def test_each_tenant_has_its_own_database_user_and_password(program):
    def both(cfg):
        for t in cfg["tenants"]:
            t["modelRegistry"] = True

    g = program("dev", edit=both)
    for tenant in ("team-a", "team-b"):
        spec = _tenant(tenant)
        server = g.object("Secret", mr.DB_SECRET, tenant)["stringData"]
        job = g.object("Secret", registry.job_secret(spec), "kubeflow")["stringData"]
        assert server == job
        assert server[mr.USER_KEY] == registry.user(spec) != "root"
        assert server[mr.PASSWORD_KEY] == f"mock-password-{tenant}-registry-db-password"
        _, k = _kustomization(g, f"model-registry-{tenant}")
        (params,) = [p for p in k["patches"] if p["target"]["kind"] == "ConfigMap"]
        assert yaml.safe_load(params["patch"])["data"] == {
            "MYSQL_DATABASE": registry.database(spec)
        }
        env = {
            e["name"]: e
            for e in g.object("Job", f"tenant-{tenant}-registry-db", "kubeflow")["spec"][
                "template"
            ]["spec"]["containers"][0]["env"]
        }
        assert env["DATABASE"]["value"] == registry.database(spec)
        assert env["DB_USER"]["valueFrom"]["secretKeyRef"]["name"] == registry.job_secret(spec)
        assert env["MYSQL_PWD"]["valueFrom"]["secretKeyRef"] == {
            "name": mr.DB_SECRET,
            "key": mr.PASSWORD_KEY,
        }
    root = g.object("Secret", mr.DB_SECRET, "kubeflow")["stringData"]
    assert root == {
        mr.USER_KEY: "root",
        mr.PASSWORD_KEY: "mock-password-model-registry-db-root-password",
    }


def test_the_database_job_grants_only_the_tenants_database():
    assert "GRANT ALL PRIVILEGES ON \\`$DATABASE\\`.* TO '$DB_USER'@'%';" in registry.SQL
    assert "*.*" not in registry.SQL


def test_mysql_account_names_fit_and_stay_unique():
    spec = _tenant()
    long_a = spec.model_copy(update={"name": "a" * 40})
    long_b = spec.model_copy(update={"name": "a" * 39 + "b"})
    names = {registry.user(t) for t in (spec, long_a, long_b)}
    assert len(names) == 3 and all(len(n) <= registry.MYSQL_USER_MAX for n in names)
    assert registry.user(spec) == "registry-team-a"


def test_tenant_reaches_mysql_through_its_own_service(program):
    g = program("dev")
    svc = g.object("Service", mr.DATABASE, "team-a")
    assert svc["spec"] == {
        "type": "ExternalName",
        "externalName": "model-registry-db.kubeflow.svc.cluster.local",
    }
    labels = g.object("Namespace", "team-a")["metadata"]["labels"]
    assert labels.items() >= mr.TENANTS.items()


@pytest.mark.parametrize("release", releases.available())
def test_server_containers_and_sizes_per_release(program, release):
    g = program("dev", release)
    _, k = _kustomization(g, "model-registry-team-a")
    sized = [
        yaml.safe_load(p["patch"]) for p in k["patches"] if p["target"]["kind"] == "Deployment"
    ]
    names = [c["name"] for p in sized for c in p["spec"]["template"]["spec"]["containers"]]
    version = releases.load(release).component("model_registry").version
    expected = (
        ["rest-container", "grpc-container"] if version.startswith("v0.2.") else ["rest-container"]
    )
    assert names == expected


def test_database_job_is_restricted(program):
    job = program("dev").object("Job", "tenant-team-a-registry-db", "kubeflow")
    assert pod_security.problems(job["spec"]["template"], "restricted") == []


def test_registry_needs_istio():
    config = stack_config("dev")
    config["platform"]["components"]["istio"] = {"enabled": False}
    assert_rejected(
        config, "platform.components.modelRegistry.enabled: tenant registries run in the mesh"
    )


def test_only_tenants_that_ask_get_a_registry(program):
    g = program("dev")  # team-a asks, team-b does not
    assert not [r for r in g.resources if r.name.endswith("team-b") and "registry" in r.name]
    assert not mr.TENANTS.keys() & g.object("Namespace", "team-b")["metadata"]["labels"].keys()
    names = {(o.kind, o.namespace, o.name) for o in g.objects()}
    assert ("Service", "team-b", mr.DATABASE) not in names
    assert ("Service", "team-a", mr.DATABASE) in names


def test_a_tenant_registry_needs_the_platform_one():
    config = stack_config("dev")
    config["platform"]["components"]["modelRegistry"] = {"enabled": False}
    assert_rejected(
        config, "tenants[0].modelRegistry: needs platform.components.modelRegistry.enabled"
    )


def test_off_means_no_database_no_tenant_servers(program):
    def off(cfg):
        cfg["platform"]["components"]["modelRegistry"] = {"enabled": False}
        for t in cfg["tenants"]:
            t.pop("modelRegistry", None)

    g = program("dev", edit=off)
    assert [r for r in g.resources if "registry" in r.name] == []
    labels = g.object("Namespace", "team-a")["metadata"]["labels"]
    assert not labels.keys() & mr.TENANTS.keys()
