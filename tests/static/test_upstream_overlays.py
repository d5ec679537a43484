"""overlays/upstream/*: our kustomize Components build and do what they claim.

Each is composed (with the kustomize embedded in kubectl) over a stand-in base carrying the
object names upstream uses, so the removals and patches are checked without network.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlplatform.overlays import UPSTREAM_OVERLAYS

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="needs kubectl (embedded kustomize)")


def _obj(kind: str, name: str, api: str = "v1", **rest) -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name}, **rest}


def _deployment(name: str, container: str) -> dict:
    pod = {
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [
                {"name": container, "image": "upstream", "env": [{"name": "KEEP", "value": "1"}]}
            ]
        },
    }
    return _obj(
        "Deployment",
        name,
        "apps/v1",
        spec={"selector": {"matchLabels": {"app": name}}, "template": pod},
    )


def _build(tmp_path: Path, app: str, objs: list[dict], extra: dict | None = None) -> list[dict]:
    base, top = tmp_path / "base", tmp_path / "top"
    base.mkdir()
    top.mkdir()
    (base / "all.yaml").write_text(yaml.safe_dump_all(objs))
    (base / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["all.yaml"]}))
    kustomization = {
        "resources": ["../base"],
        "components": [os.path.relpath(UPSTREAM_OVERLAYS / app, top)],
        **(extra or {}),
    }
    (top / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    out = subprocess.run([KUBECTL, "kustomize", str(top)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return list(yaml.safe_load_all(out.stdout))


def _names(objs: list[dict]) -> set[tuple[str, str]]:
    return {(o["kind"], o["metadata"]["name"]) for o in objs}


def _env(name: str, value: str | None = None, **source: dict) -> dict:
    return {"name": name, **({"value": value} if value is not None else {"valueFrom": source})}


def test_kfp_overlay_removes_store_controller_and_default_credentials(tmp_path):
    mysql = _deployment("mysql", "mysql")
    mysql["spec"]["template"]["spec"]["containers"][0]["env"] = [
        _env("MYSQL_ALLOW_EMPTY_PASSWORD", "true")
    ]
    ui = _deployment("ml-pipeline-ui", "ml-pipeline-ui")
    ui["spec"]["template"]["spec"]["containers"][0]["env"] += [
        _env("ARTIFACTS_SERVICE_PROXY_NAME", "ml-pipeline-ui-artifact"),
        _env("ARTIFACTS_SERVICE_PROXY_PORT", "80"),
        _env(
            "ARTIFACTS_SERVICE_PROXY_ENABLED",
            configMapKeyRef={"name": "pipeline-install-config", "key": "ARTIFACTS_PROXY_ENABLED"},
        ),
    ]
    crd = "apiextensions.k8s.io/v1"
    upstream = [
        _deployment("ml-pipeline", "ml-pipeline-api-server"),
        _obj("Service", "ml-pipeline", spec={"ports": [{"port": 8888}]}),
        mysql,
        ui,
        _deployment("minio", "minio"),  # KFP <= 2.5
        _obj("PersistentVolumeClaim", "minio-pvc", spec={"accessModes": ["ReadWriteOnce"]}),
        _deployment("seaweedfs", "seaweedfs"),  # KFP >= 2.15
        _obj("Service", "seaweedfs", spec={"ports": [{"port": 8333}]}),
        _obj("ServiceAccount", "seaweedfs"),
        _obj("NetworkPolicy", "seaweedfs", "networking.k8s.io/v1", spec={"podSelector": {}}),
        _obj("AuthorizationPolicy", "seaweedfs-service", "security.istio.io/v1beta1", spec={}),
        _obj("DestinationRule", "ml-pipeline-seaweedfs", "networking.istio.io/v1alpha3", spec={}),
        _obj("Service", "minio-service", spec={"ports": [{"port": 9000}]}),
        _obj("Secret", "mlpipeline-minio-artifact", stringData={"accesskey": "minio"}),
        _obj("Secret", "mysql-secret", stringData={"username": "root", "password": ""}),
        _deployment("kubeflow-pipelines-profile-controller", "profile-controller"),
        _obj("Service", "kubeflow-pipelines-profile-controller", spec={"ports": [{"port": 80}]}),
        _obj("ConfigMap", "kubeflow-pipelines-profile-controller-code-gcdfg7f657", data={}),
        _obj(
            "DecoratorController",
            "kubeflow-pipelines-profile-controller",
            "metacontroller.k8s.io/v1alpha1",
            spec={},
        ),
        _obj("StatefulSet", "metacontroller", "apps/v1", spec={}),
        _obj("ServiceAccount", "meta-controller-service"),
        _obj("ClusterRole", "kubeflow-metacontroller", "rbac.authorization.k8s.io/v1", rules=[]),
        _obj("CustomResourceDefinition", "decoratorcontrollers.metacontroller.k8s.io", crd),
        _obj("CustomResourceDefinition", "workflows.argoproj.io", crd),
        _obj("Namespace", "kubeflow"),
    ]
    out = _build(tmp_path, "kfp", upstream)
    assert _names(out) == {
        ("Deployment", "ml-pipeline"),
        ("Service", "ml-pipeline"),
        ("Deployment", "mysql"),
        ("Deployment", "ml-pipeline-ui"),
        ("CustomResourceDefinition", "workflows.argoproj.io"),
    }
    pods = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]
        for o in out
        if o["kind"] == "Deployment"
    }
    assert pods["mysql"]["containers"][0]["env"] == [
        _env("MYSQL_ROOT_PASSWORD", secretKeyRef={"name": "mysql-secret", "key": "password"})
    ]
    assert pods["ml-pipeline-ui"]["containers"][0]["env"] == [
        _env("ARTIFACTS_SERVICE_PROXY_ENABLED", "false"),
        _env("KEEP", "1"),
    ]


def test_dex_overlay_leaves_only_the_workload(tmp_path):
    upstream = [
        _obj("Namespace", "auth"),
        _obj("ConfigMap", "dex", data={"config.yaml": "issuer: x"}),
        _obj("Secret", "dex-passwords", stringData={"DEX_USER_PASSWORD": "default"}),
        _obj("Secret", "dex-oidc-client", stringData={"OIDC_CLIENT_SECRET": "default"}),
        _deployment("dex", "dex"),
        _obj("Service", "dex", spec={"ports": [{"port": 5556}]}),
    ]
    out = _build(tmp_path, "dex", upstream, {"replicas": [{"name": "dex", "count": 2}]})
    assert _names(out) == {("Deployment", "dex"), ("Service", "dex")}
    deployment = next(o for o in out if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["env"] == [{"name": "KEEP", "value": "1"}]


def test_oauth2_proxy_overlay_hardens_and_drops_defaults(tmp_path):
    upstream = [
        _obj("Namespace", "oauth2-proxy"),
        _obj("Secret", "oauth2-proxy", stringData={"cookie-secret": "default"}),
        _obj("VirtualService", "oauth2-proxy", "networking.istio.io/v1alpha3", spec={}),
        _obj(
            "ConfigMap",
            "oauth2-proxy-parameters",
            data={"FORCE_HTTPS": "false", "ALLOW_SELF_SIGNED_ISSUER": "true"},
        ),
        _deployment("oauth2-proxy", "oauth2-proxy"),
    ]
    out = _build(tmp_path, "oauth2-proxy", upstream)
    assert _names(out) == {("ConfigMap", "oauth2-proxy-parameters"), ("Deployment", "oauth2-proxy")}
    params = next(o for o in out if o["kind"] == "ConfigMap")
    assert params["data"] == {"FORCE_HTTPS": "true", "ALLOW_SELF_SIGNED_ISSUER": "false"}
    pod = next(o for o in out if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["containers"][0]["env"] == [{"name": "KEEP", "value": "1"}]
    assert set(pod["containers"][0]["resources"]) == {"requests", "limits"}


def test_training_operator_overlay_drops_kubeflow_roles_and_bounds_the_operator(tmp_path):
    rbac = "rbac.authorization.k8s.io/v1"
    upstream = [
        _obj("ClusterRole", name, rbac, rules=[])
        for name in (
            "kubeflow-training-admin",
            "kubeflow-training-edit",
            "kubeflow-training-view",
            "training-operator",
        )
    ] + [_deployment("training-operator", "training-operator")]
    out = _build(tmp_path, "training-operator", upstream)
    assert _names(out) == {
        ("ClusterRole", "training-operator"),
        ("Deployment", "training-operator"),
    }
    pod = next(o for o in out if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["env"] == [{"name": "KEEP", "value": "1"}]
