"""Katib's own claims (modules/components/katib.py) against the real kubeflow/manifests trees.

The generic checks (builds, removals, references, gateway, Pod Security) run for Katib in
test_kustomize_apps.py; here: our katib-config keeps every algorithm, collector and image
upstream ships and only narrows the trial kinds, the fields and labels we rely on exist, and
the built output carries our settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform import releases
from mlplatform.components import katib
from mlplatform.graph import KUSTOMIZE
from tests.upstream import CASE_IDS, CASES, needs_cache
from tests.upstream.test_kustomize_apps import case, upstream

pytestmark = needs_cache
cases = pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)
RELEASES = releases.available()
Obj = dict[str, Any]


def _find(objs: tuple[Obj, ...] | list[Obj], kind: str, name: str) -> Obj:
    (found,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _katib_config(objs: tuple[Obj, ...] | list[Obj]) -> Obj:
    return yaml.safe_load(_find(objs, "ConfigMap", katib.CONFIG_MAP)["data"][katib.CONFIG_FILE])


def _image_names(entries: list[Obj], key: str, tag: str) -> dict[str, str]:
    out = {}
    for e in entries:
        repo, _, found = e["image"].rpartition(":")
        assert found == tag, e
        assert repo.startswith(f"{katib.IMAGES}/"), e
        out[e[key]] = repo.removeprefix(f"{katib.IMAGES}/")
    return out


@pytest.mark.parametrize("release", RELEASES)
def test_our_algorithms_collectors_and_images_are_upstreams(release):
    tag = releases.load(release).component("katib").version
    runtime = _katib_config(upstream(release, "katib"))["runtime"]
    assert _image_names(runtime["suggestions"], "algorithmName", tag) == katib.SUGGESTIONS
    assert _image_names(runtime["metricsCollectors"], "kind", tag) == katib.COLLECTORS
    assert _image_names(runtime["earlyStoppings"], "algorithmName", tag) == katib.EARLY_STOPPINGS
    (pbt,) = [s for s in runtime["suggestions"] if s["algorithmName"] == "pbt"]
    assert pbt["persistentVolumeClaimSpec"] == katib.PBT_VOLUME


@pytest.mark.parametrize("release", RELEASES)
def test_upstream_images_are_the_catalogues_version(release):
    tag = releases.load(release).component("katib").version
    images = {
        c["image"]
        for o in upstream(release, "katib")
        if o["kind"] == "Deployment" and o["metadata"]["name"] != "katib-mysql"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert images and {i.rpartition(":")[2] for i in images} == {tag}


@cases
def test_the_build_carries_our_katib_config(env, release):
    c = case(env, release)
    built = _katib_config(c.built("katib"))
    ours = yaml.safe_load(
        next(
            yaml.safe_load(p["patch"])
            for p in _kustomization_patches(c)
            if p["target"].get("kind") == "ConfigMap"
        )["data"][katib.CONFIG_FILE]
    )
    assert built == ours
    upstream_kinds = _katib_config(upstream(release, "katib"))["init"]["controller"][
        "trialResources"
    ]
    assert set(built["init"]["controller"]["trialResources"]) <= set(upstream_kinds)


def _kustomization_patches(c) -> list[Obj]:
    directory = Path(c.graph.named("katib", KUSTOMIZE).inputs["directory"])
    return yaml.safe_load((directory / "kustomization.yaml").read_text())["patches"]


@cases
def test_mysql_takes_our_password_and_allows_no_empty_one(env, release):
    built = case(env, release).built("katib")
    for name in ("katib-mysql", "katib-db-manager"):
        (container,) = _find(built, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        env_vars = {e["name"]: e for e in container.get("env", [])}
        assert "MYSQL_ALLOW_EMPTY_PASSWORD" not in env_vars
        refs = [
            e["valueFrom"]["secretKeyRef"]
            for e in env_vars.values()
            if "secretKeyRef" in e.get("valueFrom", {})
        ]
        assert {"name": katib.MYSQL_SECRET, "key": katib.MYSQL_PASSWORD_KEY} in refs, name
    assert not [
        o for o in built if o["kind"] == "Secret" and o["metadata"]["name"] == "katib-mysql-secrets"
    ]
    claim = _find(built, "PersistentVolumeClaim", "katib-mysql")
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"


@cases
def test_every_katib_container_is_sized(env, release):
    for o in case(env, release).built("katib"):
        if o["kind"] == "Deployment":
            for c in o["spec"]["template"]["spec"]["containers"]:
                assert c["resources"]["requests"] and c["resources"]["limits"], o["metadata"][
                    "name"
                ]


@pytest.mark.parametrize("release", RELEASES)
def test_labels_ports_and_fields_our_policies_rely_on(release):
    objs = upstream(release, "katib")
    # The pod webhook injects collectors in namespaces carrying our tenant label.
    (pods_hook,) = [
        w
        for o in objs
        if o["kind"] == "MutatingWebhookConfiguration"
        for w in o["webhooks"]
        if "namespaceSelector" in w
    ]
    assert pods_hook["namespaceSelector"] == {"matchLabels": katib.INJECTION_LABEL}
    ports = {
        name: {
            p["containerPort"]
            for c in _find(objs, "Deployment", f"katib-{name}")["spec"]["template"]["spec"][
                "containers"
            ]
            for p in c.get("ports", [])
        }
        for name in ("controller", "db-manager", "ui", "mysql")
    }
    assert katib.WEBHOOK_PORT in ports["controller"]
    assert katib.DB_MANAGER_PORT in ports["db-manager"]
    assert katib.UI_PORT in ports["ui"]
    assert katib.MYSQL_PORT in ports["mysql"]
    for name in ("controller", "db-manager", "ui", "mysql"):
        labels = _find(objs, "Deployment", f"katib-{name}")["spec"]["template"]["metadata"][
            "labels"
        ]
        assert labels.items() >= katib.pods(name).items()
    # The admission policy reads spec.earlyStopping: the CRD keeps unknown fields (no schema),
    # the field is Katib's API (kubeflow/katib v0.18.0, v0.19.0: pkg/apis/controller/
    # experiments/v1beta1/experiment_types.go, `json:"earlyStopping,omitempty"`).
    crd = _find(objs, "CustomResourceDefinition", "experiments.kubeflow.org")
    (served,) = [v for v in crd["spec"]["versions"] if v["served"]]
    assert served["schema"]["openAPIV3Schema"].get("x-kubernetes-preserve-unknown-fields") is True
    assert f"{crd['spec']['group']}/{served['name']}" == releases.load(release).component(
        "katib"
    ).api("katib")
