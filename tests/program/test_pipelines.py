"""Kubeflow Pipelines on the platform MinIO, under mocks."""

import re
from pathlib import Path

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from modules import releases
from modules.components import minio
from modules.graph import CONFIG_GROUP, KUSTOMIZE
from modules.overlays import UPSTREAM_OVERLAYS
from tests.conftest import assert_rejected, stack_config
from tests.schema import problems

TOKEN = "mlplatform:pipelines:Pipelines"
MINIO_HOST = "minio.minio.svc.cluster.local"


def _one(g, name):
    return next(r for r in g.resources if r.name == name and r.type.startswith("kubernetes:"))


def _kustomization(g):
    directory = Path(g.named("kfp", KUSTOMIZE).inputs["directory"])
    return directory, yaml.safe_load((directory / "kustomization.yaml").read_text())


def test_kfp_from_the_catalogue_with_our_overlay(program, env_release):
    env, release = env_release
    g = program(env, release)
    assert g.named("pipelines", TOKEN)
    source = releases.load(release).component("kfp").source.kustomize
    directory, k = _kustomization(g)
    assert k["resources"] == [f"{source.url}?ref={source.ref}"]
    assert [(directory / c).resolve() for c in k["components"]] == [UPSTREAM_OVERLAYS / "kfp"]
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    mine = [o for o in g.objects() if o.owner.name == "pipelines-base"]
    assert mine and [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []


def test_every_release_uses_applications():
    """kubeflow/manifests renamed apps/ to applications/ (PR #3167) before v1.10.2."""
    for release in releases.available():
        url = releases.load(release).component("kfp").source.kustomize.url
        assert "/applications/pipeline/" in url


def test_minio_and_istio_come_first(program, env_release):
    g = program(*env_release)
    kfp, base = _one(g, "kfp"), _one(g, "pipelines-base")
    for earlier in ("minio", "istio-ingressgateway", "istiod", "cert-manager"):
        assert g.depends_on(kfp, _one(g, earlier)), f"kfp must wait for {earlier}"
    assert g.depends_on(kfp, base)  # the credentials Secret and store alias exist first
    assert g.depends_on(kfp, _one(g, "kubeflow-namespace-base"))
    assert g.depends_on(base, _one(g, "kubeflow-namespace-base"))


def test_artifacts_go_to_the_platform_minio(program):
    g = program("dev")
    secret = g.object("Secret", "mlpipeline-minio-artifact", "kubeflow")
    assert secret["stringData"]["accesskey"] == minio.ROOT_USER
    assert secret["stringData"]["secretkey"] == "mock-password-minio-root-password"
    alias = g.object("Service", "minio-service", "kubeflow")["spec"]
    assert (alias["type"], alias["externalName"]) == ("ExternalName", MINIO_HOST)
    assert alias["ports"][0]["port"] == minio.PORT
    assert "mlpipeline" in minio.PLATFORM_BUCKETS
    _, k = _kustomization(g)
    api = next(p for p in k["patches"] if p["target"]["kind"] == "Deployment")
    env = yaml.safe_load(api["patch"])["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"]: e["value"] for e in env} == {
        "OBJECTSTORECONFIG_HOST": MINIO_HOST,
        "OBJECTSTORECONFIG_PORT": "9000",
    }
    gateway = next(p for p in k["patches"] if p["target"]["kind"] == "VirtualService")
    assert yaml.safe_load(gateway["patch"])[0]["value"] == ["istio-system/mlplatform-gateway"]


def test_the_bundled_object_store_is_removed():
    component = yaml.safe_load((UPSTREAM_OVERLAYS / "kfp" / "kustomization.yaml").read_text())
    targets = [p["target"] for p in component["patches"]]
    assert all("$patch: delete" in p["patch"] for p in component["patches"])
    store = next(t for t in targets if "kind" not in t)["name"]
    for name in ("minio", "minio-pvc", "minio-service", "seaweedfs", "seaweedfs-pvc"):
        assert re.match(store, name), name
    for name in ("ml-pipeline", "mlpipeline-minio-artifact", "metadata-grpc-service"):
        assert not re.match(store, name), name


def test_kubeflow_namespace_is_meshed_and_may_reach_minio(program):
    g = program("dev")
    labels = g.object("Namespace", "kubeflow")["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"
    assert labels["mlplatform.io/object-store-client"] == "true"
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    to_minio = g.object("NetworkPolicy", "pipelines-to-minio", "kubeflow")["spec"]["egress"][0]
    assert to_minio["ports"] == [{"protocol": "TCP", "port": 9000}]
    assert to_minio["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "minio"
    }
    ui = g.object("NetworkPolicy", "pipelines-from-ingress-gateway", "kubeflow")["spec"]
    assert ui["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 3000}]


def test_prod_runs_two_api_servers_and_uis(program):
    _, k = _kustomization(program("prod"))
    assert k["replicas"] == [
        {"name": "ml-pipeline", "count": 2},
        {"name": "ml-pipeline-ui", "count": 2},
    ]
    _, dev = _kustomization(program("dev"))
    assert dev["replicas"][0]["count"] == 1


def test_minio_credentials_stay_secret(program, env_release):
    g = program(*env_release)
    base = g.named("pipelines-base", CONFIG_GROUP)
    (secret,) = [o for o in g.objects() if o.owner is base and o.kind == "Secret"]
    assert secret.secret_paths() == {"stringData.accesskey", "stringData.secretkey"}
    password = secret.obj["stringData"]["secretkey"]
    directory, _ = _kustomization(g)
    assert password not in (directory / "kustomization.yaml").read_text()
    others = [o for o in g.objects() if o.owner is base and o.kind != "Secret"]
    assert not any(password in str(o.obj) for o in others)


def test_pipelines_can_be_turned_off(program):
    def off(cfg):
        cfg["platform"]["components"]["pipelines"] = {"enabled": False}

    g = program("dev", edit=off)
    assert not g.has("pipelines") and not g.has("kfp")
    labels = g.object("Namespace", "kubeflow")["metadata"]["labels"]
    assert "istio-injection" not in labels


BAD = {
    "pipelines without minio": (
        {"minio": {"enabled": False}},
        "platform.components.pipelines.enabled: Kubeflow Pipelines needs components.minio; "
        "enable them or set pipelines.enabled: false",
    ),
    "pipelines without minio and istio": (
        {"minio": {"enabled": False}, "istio": {"enabled": False}},
        "Kubeflow Pipelines needs components.minio and components.istio",
    ),
    "api server replicas zero": (
        {"pipelines": {"apiServerReplicas": 0}},
        "platform.components.pipelines.apiServerReplicas: Input should be greater than or equal",
    ),
    "typo in pipelines": (
        {"pipelines": {"uiReplica": 2}},
        "platform.components.pipelines.uiReplica: unknown key; allowed keys here: "
        "apiServerReplicas, enabled, uiReplicas",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_pipelines_config_is_rejected_before_any_resource(case):
    components, expected = BAD[case]
    cfg = stack_config("dev")
    cfg["platform"]["components"].update(components)
    assert_rejected(cfg, expected)


def test_ha_needs_two_pipelines_replicas():
    cfg = stack_config("prod")
    cfg["platform"]["components"]["pipelines"] = {"uiReplicas": 1, "apiServerReplicas": 2}
    assert_rejected(cfg, "components.pipelines.uiReplicas", "prod", {"oidcClientSecret": "x"})
