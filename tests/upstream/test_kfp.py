"""Kubeflow Pipelines as the platform builds it, against the real kubeflow/manifests trees.

For every case (each environment at its release, dev on every release) the generated `kfp`
kustomization is built with the kustomize CLI and every claim of overlays/upstream/kfp and
modules/components/pipelines.py is checked in the output, beside the program's own objects.
Facts about upstream that the design rests on are pinned on the unmodified upstream env
(`upstream`), so a release that changes them fails here rather than on a cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import yaml

from mlplatform import alerting, releases, render
from mlplatform.components import minio, pipelines
from mlplatform.components import model_registry as mr
from mlplatform.components.istio import GATEWAY_PRINCIPAL, PLATFORM_GATEWAY
from mlplatform.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from mlplatform.components.kubeflow_namespace import NAMESPACE
from mlplatform.graph import Graph, K8sObject
from mlplatform.minio_users import POLICY_ENV
from mlplatform.mockrun import STAND_IN_PASSWORD
from mlplatform.tenancy import storage
from mlplatform.tenancy.objects import TENANT_LABEL
from mlplatform.upstream import RemoteBase
from tests.upstream import CACHE, CASE_IDS, CASES, needs_cache, strings, upstream_graph

pytestmark = needs_cache
Obj = dict[str, Any]
cases = pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)

STORE = re.compile(r"(^|-)(minio|seaweedfs)(-|$)")
# What only the bundled store's own objects (or references to them) spell.
STORE_WORDS = ("seaweedfs", "minio-service")
PROFILE_CONTROLLER = "kubeflow-pipelines-profile-controller"
MINIO_ENV = "applications/pipeline/upstream/env/platform-agnostic-multi-user-minio"
SEAWEEDFS_IAM_ENV = ("AWS_ENDPOINT_URL", "S3_ENDPOINT_URL", "OBJECT_STORE_HOST")
WRITE = {"create", "update", "patch", "*"}
PLATFORM_GATEWAY_REF = f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"


@dataclass(frozen=True)
class Case:
    graph: Graph
    build: list[Obj]  # the generated kustomization, built
    upstream: list[Obj]  # the catalogue's upstream env alone
    kfp_version: tuple[int, ...]

    def ours(self, namespace: str | None = None) -> list[K8sObject]:
        return [o for o in self.graph.objects() if namespace is None or o.namespace == namespace]

    def our(self, kind: str, name: str, namespace: str) -> K8sObject:
        (found,) = [o for o in self.ours(namespace) if (o.kind, o.name) == (kind, name)]
        return found

    def built(self, kind: str, name: str) -> Obj:
        (found,) = [o for o in self.build if (o["kind"], o["metadata"]["name"]) == (kind, name)]
        return found


@cache
def case(env: str, release: str) -> Case:
    assert CACHE is not None
    graph = upstream_graph(env, release)
    (kfp,) = [b for b in render.kustomizations(graph) if b.name == "kfp"]
    entry = releases.load(release).component("kfp")
    source = entry.source.kustomize
    assert source is not None
    base = CACHE.base(f"{source.url}?ref={source.ref}")
    return Case(
        graph,
        list(render.kustomize(kfp.directory)),
        list(render.kustomize(str(base))),
        tuple(int(p) for p in entry.version.split(".")),
    )


# -- walking objects -------------------------------------------------------------------------


def _pods(objs: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield o, o["spec"]["template"]["spec"]


def _containers(pod: Obj) -> list[Obj]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def _env(container: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container.get("env", [])}


def _container(objs: list[Obj], workload: str, container: str) -> Obj:
    (pod,) = [p for o, p in _pods(objs) if o["metadata"]["name"] == workload]
    (found,) = [c for c in pod["containers"] if c["name"] == container]
    return found


def _namespace(o: Obj) -> str:
    return o["metadata"].get("namespace") or NAMESPACE


def _data(o: Obj) -> dict[str, Any]:
    return {**(o.get("data") or {}), **(o.get("stringData") or {})}


# -- what exists ----------------------------------------------------------------------------


def _objects(c: Case) -> dict[tuple[str, str, str], Obj]:
    """(kind, namespace, name) -> object: the build and every object of ours."""
    found = {(o["kind"], _namespace(o), o["metadata"]["name"]): o for o in c.build}
    found |= {(o.kind, o.namespace or "", o.name): o.obj for o in c.ours()}
    return found


def _services(c: Case) -> set[tuple[str, str]]:
    """(name, namespace) of every Service the platform deploys that KFP may address."""
    services = {(n, ns) for kind, ns, n in _objects(c) if kind == "Service"}
    # MinIO's Service comes from its chart: named by fullnameOverride in its namespace.
    (chart,) = [i for i in render.charts(c.graph) if i.component == "minio"]
    services.add((chart.values["fullnameOverride"], chart.namespace))
    return services


def _host(value: str, namespace: str) -> tuple[str, str] | None:
    """(service, namespace) of a cluster host name (`svc`, `svc.ns`, `svc.ns.svc[...]`)."""
    host = value.split("://")[-1].split("/")[0].split(":")[0]
    parts = host.removesuffix(".svc.cluster.local").removesuffix(".svc").split(".")
    if len(parts) == 1:
        return parts[0], namespace
    return (parts[0], parts[1]) if len(parts) == 2 else None


def dangling_references(c: Case) -> list[str]:
    """Secrets, ConfigMaps (and their keys), ServiceAccounts and Service hosts the build's
    objects name that nothing deploys."""
    objects, services = _objects(c), _services(c)
    issued = {  # Secrets cert-manager writes for the build's Certificates
        (_namespace(o), o["spec"]["secretName"]) for o in c.build if o["kind"] == "Certificate"
    }
    namespaces = {ns for _, ns, _ in objects} - {""}
    qualified = re.compile(
        r"(?<![\w.-])([a-z0-9][-a-z0-9]*)\.(" + "|".join(sorted(namespaces)) + r")"
        r"(\.svc(\.cluster\.local)?)?(?=$|[:/\s\"',])"
    )
    out: list[str] = []

    def need(kind: str, ns: str, name: str, key: str | None, optional: bool, where: str) -> None:
        if optional or (kind == "Secret" and (ns, name) in issued):
            return
        target = objects.get((kind, ns, name))
        if target is None:
            out.append(f"{where}: {kind} {ns}/{name} is not deployed")
        elif key is not None and key not in _data(target):
            out.append(f"{where}: {kind} {ns}/{name} has no key {key}")

    for o, pod in _pods(c.build):
        ns, where = _namespace(o), f"{o['kind']} {o['metadata']['name']}"
        account = pod.get("serviceAccountName", "default")
        if account != "default":
            need("ServiceAccount", ns, account, None, False, where)
        for volume in pod.get("volumes", []):
            sources = [volume, *volume.get("projected", {}).get("sources", [])]
            for s in sources:
                if "secret" in s:
                    name = s["secret"].get("secretName") or s["secret"].get("name")
                    need("Secret", ns, name, None, s["secret"].get("optional", False), where)
                if "configMap" in s:
                    cm = s["configMap"]
                    need("ConfigMap", ns, cm["name"], None, cm.get("optional", False), where)
        for container in _containers(pod):
            env = _env(container)
            for e in env.values():
                source = e.get("valueFrom", {})
                for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if field in source:
                        ref = source[field]
                        need(kind, ns, ref["name"], ref["key"], ref.get("optional", False), where)
            for e in container.get("envFrom", []):
                for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    if field in e:
                        ref = e[field]
                        need(kind, ns, ref["name"], None, ref.get("optional", False), where)
            for name, e in env.items():
                value = _env_value(objects, ns, e)
                if name.endswith(("_HOST", "_HOST_NAME")) and value:
                    # `<X>_HOST` with a sibling `<X>_NAMESPACE` names a Service there.
                    sibling = env.get(name.rsplit("_HOST", 1)[0] + "_NAMESPACE")
                    host_ns = (_env_value(objects, ns, sibling) if sibling else None) or ns
                    target = _host(value, host_ns)
                    if target not in services:
                        out.append(f"{where}: {name}={value} names no deployed Service")
    for o in c.build:
        if o["kind"] == "CustomResourceDefinition":
            continue  # schema prose
        where = f"{o['kind']} {o['metadata']['name']}"
        for text in strings(o):
            for m in qualified.finditer(text):
                if (m[1], m[2]) not in services:
                    out.append(f"{where}: {m[0]} names no deployed Service")
        if o["kind"] == "ConfigMap":
            for key, value in _data(o).items():
                if re.search(r"(host|Host|_HOST)$", key) and (
                    _host(value, _namespace(o)) not in services
                ):
                    out.append(f"{where}: {key}={value} names no deployed Service")
    return out


def _env_value(objects: dict[tuple[str, str, str], Obj], ns: str, e: Obj) -> str | None:
    if "value" in e:
        return str(e["value"])
    ref = e.get("valueFrom", {}).get("configMapKeyRef")
    target = objects.get(("ConfigMap", ns, ref["name"])) if ref else None
    return _data(target).get(ref["key"]) if target and ref else None


# -- the bundled object store -----------------------------------------------------------------


@cases
def test_upstream_bundles_an_object_store_with_every_kind_of_object(env, release):
    """The facts the removal rests on: MinIO up to KFP 2.5, SeaweedFS from 2.15."""
    c = case(env, release)
    kinds = {o["kind"] for o in c.upstream if STORE.search(o["metadata"]["name"])}
    expected = {
        "Deployment",
        "PersistentVolumeClaim",
        "Service",
        "Secret",
        "AuthorizationPolicy",
        "DestinationRule",
    }
    if c.kfp_version >= (2, 15):
        expected |= {"ServiceAccount", "NetworkPolicy"}
    assert kinds >= expected
    store = "seaweedfs" if c.kfp_version >= (2, 15) else "minio"
    assert ("Deployment", store) in {(o["kind"], o["metadata"]["name"]) for o in c.upstream}


@cases
def test_the_bundled_object_store_is_removed_whole(env, release):
    c = case(env, release)
    left = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in c.build
        if STORE.search(o["metadata"]["name"])
    ]
    assert left == []
    text = json.dumps(c.build)
    assert [w for w in STORE_WORDS if w in text] == []


@cases
def test_the_minio_env_is_no_better_base(env, release):
    """kubeflow/manifests v1.11.0 also ships `env/platform-agnostic-multi-user-minio`: it
    bundles MinIO again and feeds the profile controller the platform's keys (its sync.py is
    KFP 2.5.0's, which copies them into every namespace); 1.10.2 and 26.03 have no such env."""
    assert CACHE is not None
    source = releases.load(release).component("kfp").source.kustomize
    assert source is not None
    remote = RemoteBase.parse(f"{source.url}?ref={source.ref}")
    assert remote is not None
    assert (CACHE.root / remote.tree / MINIO_ENV).is_dir() == (remote.ref == "v1.11.0")
    if remote.ref != "v1.11.0":
        return
    repo = f"{remote.host}/{remote.owner}/{remote.repo}"
    objs = list(render.kustomize(str(CACHE.base(f"{repo}/{MINIO_ENV}?ref={remote.ref}"))))
    assert ("Deployment", "minio") in {(o["kind"], o["metadata"]["name"]) for o in objs}
    controller = _env(_container(objs, PROFILE_CONTROLLER, "profile-controller"))
    assert controller["MINIO_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == (
        pipelines.ARTIFACT_SECRET
    )


# -- references -------------------------------------------------------------------------------


@cases
def test_nothing_points_at_what_the_platform_does_not_deploy(env, release):
    assert dangling_references(case(env, release)) == []


@cases
def test_kfp_addresses_the_platform_minio_where_its_code_defaults_to_the_bundled_store(
    env, release
):
    """The API server falls back to `minio-service` variables, the UI defaults to
    `minio-service`/`seaweedfs` in `kubeflow` (frontend/server/configs.ts, 2.5.0/2.16.0),
    Argo's default repository names the bundled store (26.03: `seaweedfs.kubeflow:9000`)."""
    c = case(env, release)
    api = {
        k: e.get("value")
        for k, e in _env(_container(c.build, "ml-pipeline", "ml-pipeline-api-server")).items()
    }
    assert f"{api['OBJECTSTORECONFIG_HOST']}:{api['OBJECTSTORECONFIG_PORT']}" == minio.ENDPOINT
    ui = {
        k: e.get("value")
        for k, e in _env(_container(c.build, "ml-pipeline-ui", "ml-pipeline-ui")).items()
    }
    host = f"{ui['MINIO_HOST']}.{ui['MINIO_NAMESPACE']}.svc.cluster.local:{ui['MINIO_PORT']}"
    assert host == minio.ENDPOINT
    assert ui["ARTIFACTS_SERVICE_PROXY_ENABLED"] == "false"  # nothing serves the proxy

    def repository(objs: list[Obj]) -> Obj:
        (cm,) = [o for o in objs if o["metadata"]["name"] == "workflow-controller-configmap"]
        return yaml.safe_load(cm["data"]["artifactRepository"])["s3"]

    bundled = "seaweedfs.kubeflow:9000" if release == "26.03" else "minio-service.kubeflow:9000"
    assert repository(c.upstream)["endpoint"] == bundled
    s3 = repository(c.build)
    assert (s3["endpoint"], s3["bucket"]) == (minio.ENDPOINT, pipelines.BUCKET)
    secret = c.our("Secret", pipelines.ARTIFACT_SECRET, NAMESPACE).obj["stringData"]
    for ref in (s3["accessKeySecret"], s3["secretKeySecret"]):
        assert ref["name"] == pipelines.ARTIFACT_SECRET and ref["key"] in secret


# -- credentials ------------------------------------------------------------------------------


@cases
def test_no_upstream_default_or_empty_credentials(env, release):
    c = case(env, release)
    (upstream,) = [o for o in c.upstream if o["metadata"]["name"] == "mysql-secret"]
    assert _data(upstream) == {"username": "root", "password": ""}  # every release
    assert [o["metadata"]["name"] for o in c.build if o["kind"] == "Secret"] == []
    # Every Secret the build's pods read is ours, every value set, every key but the user
    # name a Pulumi secret.
    for o, pod in _pods(c.build):
        for container in _containers(pod):
            for e in container.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if not ref:
                    continue
                secret = c.our("Secret", ref["name"], _namespace(o))
                value = secret.obj["stringData"][ref["key"]]
                assert value, f"{o['metadata']['name']}: {ref} is empty"
                if ref["key"] != "username":
                    assert f"stringData.{ref['key']}" in secret.secret_paths(), ref


@cases
def test_mysql_and_every_client_use_the_generated_password(env, release):
    c = case(env, release)
    secret = c.our("Secret", pipelines.MYSQL_SECRET, NAMESPACE)
    assert secret.obj["stringData"]["password"] == f"{STAND_IN_PASSWORD}pipelines-mysql-password"
    assert secret.secret_paths() >= {"stringData.password"}
    mysql = _env(_container(c.build, "mysql", "mysql"))
    assert "MYSQL_ALLOW_EMPTY_PASSWORD" not in mysql
    password = {"secretKeyRef": {"name": pipelines.MYSQL_SECRET, "key": "password"}}
    assert mysql["MYSQL_ROOT_PASSWORD"]["valueFrom"] == password
    clients = set()
    for o, pod in _pods(c.build):
        for container in _containers(pod):
            for name, e in _env(container).items():
                if re.search(r"(DB|MYSQL).*PASSWORD", name):
                    assert e.get("valueFrom") == password, f"{o['metadata']['name']}: {name}"
                    clients.add(o["metadata"]["name"])
    assert clients == {"mysql", "ml-pipeline", "metadata-grpc-deployment", "cache-server"}


@cases
def test_nothing_in_kfp_writes_credentials_into_tenant_namespaces(env, release):
    c = case(env, release)
    # Upstream: the profile controller reads the platform's keys and metacontroller writes
    # Secrets into every pipelines-enabled namespace for it.
    controller = _env(_container(c.upstream, PROFILE_CONTROLLER, "profile-controller"))
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in controller.values()
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {pipelines.ARTIFACT_SECRET}
    if c.kfp_version >= (2, 15):  # sync.py creates keys through SeaweedFS' IAM API
        iam = [n for n in SEAWEEDFS_IAM_ENV if n in controller]
        assert iam == list(SEAWEEDFS_IAM_ENV[: 3 if c.kfp_version >= (2, 16) else 2])
        assert "seaweedfs" in controller["AWS_ENDPOINT_URL"]["value"]
    assert _writes_secrets(c.upstream) == ["ClusterRole/kubeflow-metacontroller"]
    # Built: no controller, no metacontroller, nothing may write a Secret.
    kinds = {o["kind"] for o in c.build}
    assert not kinds & {"DecoratorController", "CompositeController"}
    assert [o for o in c.build if "metacontroller" in o["metadata"]["name"]] == []
    assert [o for o in c.build if PROFILE_CONTROLLER in o["metadata"]["name"]] == []
    assert _writes_secrets(c.build) == []
    names = {n for _, pod in _pods(c.build) for ct in _containers(pod) for n in _env(ct)}
    assert not names & set(SEAWEEDFS_IAM_ENV)


def _writes_secrets(objs: list[Obj]) -> list[str]:
    return [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in objs
        if o["kind"] in ("Role", "ClusterRole")
        and any(
            "" in r.get("apiGroups", [])
            and {"secrets", "*"} & set(r.get("resources", []))
            and WRITE & set(r.get("verbs", []))
            for r in o.get("rules") or []
        )
    ]


@cases
def test_kfp_holds_its_own_minio_user_limited_to_its_bucket(env, release):
    c = case(env, release)
    secret = c.our("Secret", pipelines.ARTIFACT_SECRET, NAMESPACE)
    access, key = pipelines.ARTIFACT_KEYS
    data = secret.obj["stringData"]
    assert data[access] == pipelines.USER != minio.ROOT_USER
    assert data[key] == f"{STAND_IN_PASSWORD}pipelines-minio-secret-key"
    assert secret.secret_paths() == {f"stringData.{access}", f"stringData.{key}"}
    (job,) = [
        o
        for o in c.ours(minio.NAMESPACE)
        if o.kind == "Job" and _job_env(o).get("POLICY") == pipelines.USER
    ]
    env = _job_env(job)
    assert env["BUCKET"] == pipelines.BUCKET
    assert _policy_buckets(env) == {pipelines.BUCKET}
    # The same Job as every tenant's (modules/minio_users.py), not a copy of it.
    tenant_jobs = [
        o
        for o in c.ours(minio.NAMESPACE)
        if o.kind == "Job" and TENANT_LABEL in (o.obj["metadata"].get("labels") or {})
    ]
    assert tenant_jobs
    command = job.obj["spec"]["template"]["spec"]["containers"][0]["command"]
    assert all(
        t.obj["spec"]["template"]["spec"]["containers"][0]["command"] == command
        for t in tenant_jobs
    )
    # Its keys reach the Job from a Secret of their own; only `minio` sees MinIO's root.
    (keys,) = [
        e["valueFrom"]["secretKeyRef"]["name"]
        for n, e in _job_container_env(job).items()
        if n == "SECRET_KEY"
    ]
    assert c.our("Secret", keys, minio.NAMESPACE).obj["stringData"][storage.SECRET_KEY] == data[key]


def _job_container_env(job: K8sObject) -> dict[str, Obj]:
    return _env(job.obj["spec"]["template"]["spec"]["containers"][0])


def _job_env(job: K8sObject) -> dict[str, str]:
    return {n: e.get("value", "") for n, e in _job_container_env(job).items()}


def _policy_buckets(env: dict[str, str]) -> set[str]:
    statements = json.loads(env[POLICY_ENV])["Statement"]
    return {
        r.removeprefix("arn:aws:s3:::").split("/")[0] for s in statements for r in s["Resource"]
    }


@cases
def test_no_tenant_is_handed_root_or_platform_credentials(env, release):
    c = case(env, release)
    root = f"{STAND_IN_PASSWORD}minio-root-password"
    holders = [o.ref for o in c.ours() if o.kind == "Secret" and root in json.dumps(o.obj)]
    assert holders == [f"Secret/{minio.NAMESPACE}/{minio.ROOT_SECRET}"]
    readers = {o.namespace for o in c.ours() if minio.ROOT_SECRET in json.dumps(o.obj)}
    assert readers == {minio.NAMESPACE}
    platform_secrets = [o for o in c.ours(NAMESPACE) if o.kind == "Secret"] + [
        c.our("Secret", name, minio.NAMESPACE) for name in (minio.ROOT_SECRET, pipelines.USER_KEYS)
    ]
    platform = {v for o in platform_secrets for v in o.obj["stringData"].values()}
    platform -= {pipelines.MYSQL_USER}
    tenants = [
        o.obj
        for o in c.ours()
        if o.kind == "Namespace" and TENANT_LABEL in o.obj["metadata"]["labels"]
    ]
    assert tenants
    for ns in (t["metadata"]["name"] for t in tenants):
        mine = {(o.kind, o.name): o.obj for o in c.ours(ns)}
        secrets = {n for k, n in mine if k == "Secret"}
        # Beside its bucket keys a tenant holds only its own registry database account and
        # its own alert receivers' credentials.
        assert storage.CREDENTIALS in secrets, ns
        assert secrets - {storage.CREDENTIALS} <= {mr.DB_SECRET, alerting.TENANT_SECRET}, ns
        if mr.DB_SECRET in secrets:
            account = mine[("Secret", mr.DB_SECRET)]["stringData"]
            registry_root = c.our("Secret", mr.DB_SECRET, NAMESPACE).obj["stringData"]
            assert account[mr.USER_KEY] != "root", ns
            assert account[mr.PASSWORD_KEY] != registry_root[mr.PASSWORD_KEY], ns
        creds = mine[("Secret", storage.CREDENTIALS)]["stringData"]
        assert not set(creds.values()) & platform, f"{ns} holds platform keys"
        (job,) = [
            o
            for o in c.ours(minio.NAMESPACE)
            if o.kind == "Job" and _job_env(o).get("POLICY") == creds[storage.ACCESS_KEY]
        ]
        bucket = _job_env(job)["BUCKET"]
        assert _policy_buckets(_job_env(job)) == {bucket}
        # KFP's per-namespace objects (the profile controller's, ours instead): three, on the
        # tenant's own bucket and keys only.
        kfp = {n: o for (k, n), o in mine.items() if k == "ConfigMap"}
        assert set(kfp) == {
            storage.LAUNCHER_CONFIG,
            pipelines.ARTIFACT_REPOSITORIES,
            pipelines.METADATA_CONFIG,
        }
        launcher = kfp[storage.LAUNCHER_CONFIG]["data"]
        assert launcher["defaultPipelineRoot"].startswith(f"minio://{bucket}/")
        provider = json.loads(launcher["providers"])["minio"]["default"]
        assert provider["endpoint"] == minio.ENDPOINT
        assert provider["credentials"]["secretRef"]["secretName"] == storage.CREDENTIALS
        repositories = kfp[pipelines.ARTIFACT_REPOSITORIES]
        default = repositories["metadata"]["annotations"][pipelines.DEFAULT_REPOSITORY_ANNOTATION]
        s3 = json.loads(repositories["data"][default])["s3"]
        assert (s3["endpoint"], s3["bucket"]) == (minio.ENDPOINT, bucket)
        for ref in (s3["accessKeySecret"], s3["secretKeySecret"]):
            assert ref["name"] == storage.CREDENTIALS and ref["key"] in creds
        metadata = kfp[pipelines.METADATA_CONFIG]["data"]
        host = (metadata["METADATA_GRPC_SERVICE_HOST"], metadata["METADATA_GRPC_SERVICE_PORT"])
        service = c.built("Service", pipelines.METADATA_SERVICE)
        assert host == (f"{pipelines.METADATA_SERVICE}.{NAMESPACE}", str(pipelines.METADATA_PORT))
        assert pipelines.METADATA_PORT in [p["port"] for p in service["spec"]["ports"]]


# -- routing ----------------------------------------------------------------------------------


@cases
def test_routes_bind_the_platform_gateway_and_admit_its_principal(env, release):
    c = case(env, release)
    upstream = {
        o["metadata"]["name"]: o["spec"]["gateways"]
        for o in c.upstream
        if o["kind"] == "VirtualService"
    }
    assert upstream and all(g != [PLATFORM_GATEWAY_REF] for g in upstream.values())
    built = {
        o["metadata"]["name"]: o["spec"]["gateways"]
        for o in c.build
        if o["kind"] == "VirtualService"
    }
    assert built == {name: [PLATFORM_GATEWAY_REF] for name in upstream}
    assert [o for o in c.build if o["kind"] == "Gateway"] == []
    named = []
    for o in c.build:
        if o["kind"] != "AuthorizationPolicy":
            continue
        for rule in o["spec"].get("rules") or []:
            for source in (f.get("source", {}) for f in rule.get("from", [])):
                principals = source.get("principals", [])
                gateway = [p for p in principals if f"/ns/{GATEWAY_NAMESPACE}/" in p]
                assert gateway in ([], [GATEWAY_PRINCIPAL]), o["metadata"]["name"]
                assert GATEWAY_NAMESPACE not in source.get("namespaces", [])
                named += [o["metadata"]["name"]] if gateway else []
    assert named == [pipelines.UI]  # the UI is the one KFP service behind the gateway


@cases
def test_tenant_network_allows_select_the_api_server_and_metadata_pods(env, release):
    """pipelines.py admits tenants to these pods only; they must carry the labels it selects."""
    c = case(env, release)
    labels = {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
        for o, _ in _pods(c.build)
    }
    assert labels["ml-pipeline"].items() >= pipelines.API_SERVER_PODS.items()
    assert labels["metadata-grpc-deployment"].items() >= pipelines.METADATA_PODS.items()
