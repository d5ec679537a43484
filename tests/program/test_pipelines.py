"""Kubeflow Pipelines on the platform MinIO, under mocks."""

import json
import re
from pathlib import Path

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import minio_users, releases
from mlplatform.components import minio, pipelines
from mlplatform.config.pipelines import CONTAINERS
from mlplatform.graph import CONFIG_GROUP, KUSTOMIZE
from mlplatform.overlays import UPSTREAM_OVERLAYS
from tests.conftest import assert_rejected, evaluate, secrets_for, stack_config
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


def _patch(k, kind, name):
    (found,) = [p for p in k["patches"] if p["target"] == {"kind": kind, "name": f"^{name}$"}]
    return yaml.safe_load(found["patch"])


def _containers(k, deployment):
    """The container patches of one Deployment (env and resources are separate patches)."""
    target = {"kind": "Deployment", "name": f"^{deployment}$"}
    return [
        c
        for p in k["patches"]
        if p["target"] == target
        for c in yaml.safe_load(p["patch"])["spec"]["template"]["spec"]["containers"]
    ]


def _patched_env(k, deployment):
    (container,) = [c for c in _containers(k, deployment) if "env" in c]
    return {e["name"]: e["value"] for e in container["env"]}


def test_every_kfp_container_is_sized_and_config_overrides_one():
    config = stack_config("dev")
    sized = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
    config["platform"]["components"]["pipelines"]["resources"] = {"mysql": sized}
    _, k = _kustomization(evaluate(config, "dev", secrets_for("dev")))
    for deployment, (container, default) in CONTAINERS.items():
        (patch,) = [c for c in _containers(k, deployment) if "resources" in c]
        assert patch["name"] == container
        expected = sized if deployment == "mysql" else default.as_k8s()
        assert patch["resources"] == expected


def test_artifacts_go_to_the_platform_minio_with_kfps_own_user(program):
    g = program("dev")
    secret = g.object("Secret", "mlpipeline-minio-artifact", "kubeflow")
    assert secret["stringData"]["accesskey"] == pipelines.USER != minio.ROOT_USER
    assert secret["stringData"]["secretkey"] == "mock-password-pipelines-minio-secret-key"
    keys = g.object("Secret", pipelines.USER_KEYS, "minio")["stringData"]
    assert keys == {
        "AWS_ACCESS_KEY_ID": pipelines.USER,
        "AWS_SECRET_ACCESS_KEY": "mock-password-pipelines-minio-secret-key",
    }
    _, k = _kustomization(g)
    assert _patched_env(k, "ml-pipeline") == {
        "OBJECTSTORECONFIG_HOST": MINIO_HOST,
        "OBJECTSTORECONFIG_PORT": "9000",
    }
    assert _patched_env(k, "ml-pipeline-ui") == {
        "MINIO_HOST": "minio",
        "MINIO_NAMESPACE": "minio",
        "MINIO_PORT": "9000",
    }
    argo = _patch(k, "ConfigMap", "workflow-controller-configmap")["data"]["artifactRepository"]
    assert yaml.safe_load(argo)["s3"] == {
        "endpoint": f"{MINIO_HOST}:9000",
        "bucket": "mlpipeline",
        "keyFormat": pipelines.KEY_FORMAT,
        "insecure": True,
        "accessKeySecret": {"name": "mlpipeline-minio-artifact", "key": "accesskey"},
        "secretKeySecret": {"name": "mlpipeline-minio-artifact", "key": "secretkey"},
    }
    gateway = next(p for p in k["patches"] if p["target"].get("kind") == "VirtualService")
    assert yaml.safe_load(gateway["patch"])[0]["value"] == ["istio-system/mlplatform-gateway"]
    with pytest.raises(KeyError):  # no alias of the bundled store's Service any more
        g.object("Service", "minio-service", "kubeflow")


def test_kfps_bucket_user_is_the_shared_mc_job_limited_to_its_bucket(program):
    g = program("dev")
    job = g.object("Job", "kfp-bucket", "minio")
    tenant = g.object("Job", "tenant-team-a-bucket", "minio")
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == tenant["spec"]["template"]["spec"]["containers"][0]["command"]
    env = {e["name"]: e for e in c["env"]}
    assert env["BUCKET"]["value"] == "mlpipeline"
    assert env["POLICY"]["value"] == pipelines.USER
    assert json.loads(env["POLICY_JSON"]["value"]) == minio_users.bucket_policy("mlpipeline")
    assert env["QUOTA_BYTES"]["value"] == ""
    assert env["SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == pipelines.USER_KEYS
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "pipelines-storage"


def test_mysql_gets_a_generated_password(program, env_release):
    g = program(*env_release)
    secret = g.object("Secret", "mysql-secret", "kubeflow")
    assert secret["stringData"] == {
        "username": "root",
        "password": "mock-password-pipelines-mysql-password",
    }


def test_overlay_removes_store_profile_controller_and_default_credentials():
    component = yaml.safe_load((UPSTREAM_OVERLAYS / "kfp" / "kustomization.yaml").read_text())
    deletes = [p["target"] for p in component["patches"] if "$patch: delete" in p["patch"]]
    store, controller = (t["name"] for t in deletes if "kind" not in t)
    removed = {
        store: ["minio", "minio-pvc", "minio-service", "seaweedfs", "ml-pipeline-seaweedfs"],
        controller: [
            "kubeflow-pipelines-profile-controller",
            "kubeflow-pipelines-profile-controller-code-gcdfg7f657",
            "metacontroller",
            "meta-controller-service",
            "kubeflow-metacontroller",
        ],
    }
    for pattern, names in removed.items():
        for name in names:
            assert re.fullmatch(pattern, name), name
        for name in ("ml-pipeline", "mlpipeline-minio-artifact", "ml-pipeline-ui", "mysql"):
            assert not re.fullmatch(pattern, name), name
    (secrets,) = [t["name"] for t in deletes if t.get("kind") == "Secret"]
    assert {n for n in ("mysql-secret", "mlpipeline-minio-artifact") if re.fullmatch(secrets, n)}


def test_kubeflow_namespace_is_meshed_and_may_reach_minio(program):
    g = program("dev")
    labels = g.object("Namespace", "kubeflow")["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"
    assert labels["mlplatform.io/object-store-client"] == "true"
    # Istio CNI redirects traffic: the injected containers need no privilege (istio_cni.py)
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
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


def test_credentials_stay_secret(program, env_release):
    g = program(*env_release)
    base = g.named("pipelines-base", CONFIG_GROUP)
    secrets = {o.name: o for o in g.objects() if o.owner is base and o.kind == "Secret"}
    assert {n: s.secret_paths() for n, s in secrets.items()} == {
        "mlpipeline-minio-artifact": {"stringData.accesskey", "stringData.secretkey"},
        "mysql-secret": {"stringData.password"},
        "kfp-s3": {"stringData.AWS_ACCESS_KEY_ID", "stringData.AWS_SECRET_ACCESS_KEY"},
    }
    passwords = [
        s.obj["stringData"]["password"]
        for s in secrets.values()
        if "password" in s.obj["stringData"]
    ]
    passwords.append(secrets["kfp-s3"].obj["stringData"]["AWS_SECRET_ACCESS_KEY"])
    directory, _ = _kustomization(g)
    text = (directory / "kustomization.yaml").read_text()
    others = [o for o in g.objects() if o.owner is base and o.kind != "Secret"]
    for password in passwords:
        assert password not in text
        assert not any(password in str(o.obj) for o in others)


def test_pipelines_can_be_turned_off(program):
    def off(cfg):
        cfg["platform"]["components"]["pipelines"] = {"enabled": False}

    g = program("dev", edit=off)
    assert not g.has("pipelines") and not g.has("kfp")
    labels = g.object("Namespace", "kubeflow")["metadata"]["labels"]
    assert "istio-injection" not in labels
    tenant = {o.name for o in g.objects() if o.namespace == "team-a" and o.kind == "ConfigMap"}
    assert tenant == set()  # no KFP configuration in tenant namespaces either


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
        "apiServerReplicas, enabled, resources, uiReplicas",
    ),
    "unknown KFP deployment": (
        {"pipelines": {"resources": {"ml-pipelin": {}}}},
        "platform.components.pipelines.resources: unknown KFP Deployment(s) ml-pipelin",
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
