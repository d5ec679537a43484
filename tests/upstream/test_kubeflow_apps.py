"""The central dashboard, kfam and notebooks as the platform builds them, against the real trees.

For every case (each environment at its release, dev on every release) the generated
kustomizations of overlays/upstream/{centraldashboard,profiles,...} are built with the
kustomize CLI and the claims of modules/components/{dashboard,notebooks}.py checked in the
output beside the program's own objects. The upstream facts the design rests on are pinned on
the unmodified upstream bases, so a release that changes them fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema
import pytest
import yaml

from mlplatform import releases, render
from mlplatform.components import dashboard, identity, notebooks
from mlplatform.components.istio import GATEWAY_PRINCIPAL, PLATFORM_GATEWAY
from mlplatform.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from mlplatform.components.kubeflow_namespace import NAMESPACE as KUBEFLOW
from mlplatform.graph import Graph, K8sObject
from mlplatform.overlays import UPSTREAM_OVERLAYS
from mlplatform.tenancy.objects import MEMBER_ROLE, MEMBER_USER, TENANT_LABEL
from tests import pod_security
from tests.upstream import CACHE, CASE_IDS, CASES, needs_cache, strings, upstream_graph

pytestmark = needs_cache
Obj = dict[str, Any]
Key = tuple[str, str, str]
cases = pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)

# kustomization name -> catalogue entry
APPS = {
    "centraldashboard": "centraldashboard",
    "profiles": "kfam",
    "notebook-controller": "notebook_controller",
    "admission-webhook": "admission_webhook",
    "jupyter-web-app": "jupyter_web_app",
}
KUBEFLOW_GATEWAY = "kubeflow-gateway"
WRITE = {"create", "update", "patch", "delete", "deletecollection", "*"}


@dataclass(frozen=True)
class Case:
    graph: Graph
    builds: dict[str, list[Obj]]

    def ours(self) -> list[K8sObject]:
        return list(self.graph.objects())

    def built(self, app: str) -> list[Obj]:
        if app not in self.builds:
            pytest.skip(f"{app} is not installed here")
        return self.builds[app]

    def one(self, app: str, kind: str, name: str) -> Obj:
        (found,) = [o for o in self.built(app) if (o["kind"], _name(o)) == (kind, name)]
        return found


@cache
def case(env: str, release: str) -> Case:
    graph = upstream_graph(env, release)
    builds = {
        b.name: list(render.kustomize(b.directory))
        for b in render.kustomizations(graph)
        if b.name in APPS
    }
    return Case(graph, builds)


@cache
def upstream(release: str, app: str) -> tuple[Obj, ...]:
    """The catalogue's upstream base of one app, built alone (no overlay)."""
    assert CACHE is not None
    source = releases.load(release).component(APPS[app]).source.kustomize  # type: ignore[arg-type]
    assert source is not None
    return render.kustomize(str(CACHE.base(f"{source.url}?ref={source.ref}")))


def _name(o: Obj) -> str:
    """The name, without the hash kustomize appends to generated ConfigMaps and Secrets."""
    name = o["metadata"]["name"]
    return re.sub(r"-[a-z0-9]{10}$", "", name) if o["kind"] in ("ConfigMap", "Secret") else name


def _pods(objs: list[Obj] | tuple[Obj, ...]) -> Iterator[tuple[Obj, Obj]]:
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield o, o["spec"]["template"]


def _env(container: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container.get("env", [])}


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return set(selector.items()) <= set(labels.items())


def _principal(namespace: str, account: str) -> str:
    return f"cluster.local/ns/{namespace}/sa/{account}"


# -- every app ---------------------------------------------------------------------------------


@cases
@pytest.mark.parametrize("app", list(APPS))
def test_builds_without_namespaces_and_everything_in_kubeflow(env, release, app):
    built = case(env, release).built(app)
    assert built
    assert [o for o in built if o["kind"] == "Namespace"] == []
    cluster = set(render.CLUSTER_SCOPED)
    misplaced = [
        (o["kind"], o["metadata"]["name"])
        for o in built
        if o["kind"] not in cluster and o["metadata"].get("namespace") != KUBEFLOW
    ]
    assert misplaced == []


@cases
@pytest.mark.parametrize("app", list(APPS))
def test_nothing_names_kubeflows_gateway_and_only_the_platform_gateway_is_admitted(
    env, release, app
):
    built = case(env, release).built(app)
    assert [o["kind"] for o in built for t in strings(o) if KUBEFLOW_GATEWAY in t] == []
    for o in built:
        if o["kind"] == "VirtualService":
            assert o["spec"]["gateways"] == [f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"]
        if o["kind"] == "AuthorizationPolicy":
            principals = {
                p
                for rule in o["spec"].get("rules", [])
                for f in rule.get("from", [])
                for p in f.get("source", {}).get("principals", [])
            }
            assert principals == {GATEWAY_PRINCIPAL}, _name(o)


@cases
@pytest.mark.parametrize("app", list(APPS))
def test_no_dangling_references(env, release, app):
    """ServiceAccounts, ConfigMaps (volumes, envFrom, key refs) a pod names are deployed."""
    c = case(env, release)
    built = c.built(app)
    present = {(o["kind"], o["metadata"]["name"]) for o in built}
    present |= {(o.kind, o.name) for o in c.ours() if o.namespace in (KUBEFLOW, None)}
    out = []
    for o, pod in _pods(built):
        spec = pod["spec"]
        account = spec.get("serviceAccountName", "default")
        if account != "default" and ("ServiceAccount", account) not in present:
            out.append(f"{_name(o)}: ServiceAccount {account}")
        for v in spec.get("volumes", []):
            if "configMap" in v and ("ConfigMap", v["configMap"]["name"]) not in present:
                out.append(f"{_name(o)}: ConfigMap {v['configMap']['name']}")
        for container in spec["containers"]:
            for e in container.get("envFrom", []):
                ref = e.get("configMapRef")
                if ref and ("ConfigMap", ref["name"]) not in present:
                    out.append(f"{_name(o)}: ConfigMap {ref['name']}")
            for e in container.get("env", []):
                ref = e.get("valueFrom", {}).get("configMapKeyRef")
                if ref and ("ConfigMap", ref["name"]) not in present:
                    out.append(f"{_name(o)}: ConfigMap {ref['name']}")
    assert out == []


@cases
@pytest.mark.parametrize("app", list(APPS))
def test_no_secrets_and_every_container_sized(env, release, app):
    built = case(env, release).built(app)
    assert [o for o in built if o["kind"] == "Secret"] == []
    for o, pod in _pods(built):
        for container in pod["spec"]["containers"]:
            res = container.get("resources", {})
            assert {"cpu", "memory"} <= set(res.get("requests", {})), _name(o)
            assert {"cpu", "memory"} <= set(res.get("limits", {})), _name(o)


# -- kfam -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("release", releases.available())
def test_upstream_profiles_app_runs_the_controller_with_cluster_admin_and_routes_kfam(release):
    """The facts the removals rest on (every release)."""
    objs = upstream(release, "profiles")
    (deployment,) = [o for o in objs if o["kind"] == "Deployment"]
    names = [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert sorted(names) == ["kfam", "manager"]
    (crb,) = [o for o in objs if o["kind"] == "ClusterRoleBinding"]
    assert crb["roleRef"]["name"] == "cluster-admin"
    (route,) = [o for o in objs if o["kind"] == "VirtualService"]
    assert route["spec"]["gateways"] == [KUBEFLOW_GATEWAY]
    assert route["spec"]["http"][0]["match"] == [{"uri": {"prefix": "/kfam/"}}]


@cases
def test_only_kfam_runs_and_it_can_only_read(env, release):
    c = case(env, release)
    built = c.built("profiles")
    (deployment,) = [o for o in built if o["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["name"] == dashboard.KFAM_CONTAINER
    assert pod["spec"]["serviceAccountName"] == dashboard.KFAM_SERVICE_ACCOUNT
    assert [v["name"] for v in pod["spec"].get("volumes", [])] == []
    assert _matches(dashboard.KFAM_PODS, pod["metadata"]["labels"])
    assert dashboard.KFAM_PORT in {p["containerPort"] for p in container["ports"]}
    assert not {o["kind"] for o in built} & {
        "VirtualService",
        "AuthorizationPolicy",
        "ClusterRoleBinding",
        "RoleBinding",
        "Role",
        "ClusterRole",
    }
    # Every binding of kfam's account in the whole case grants only reads.
    account = {
        "kind": "ServiceAccount",
        "name": dashboard.KFAM_SERVICE_ACCOUNT,
        "namespace": KUBEFLOW,
    }
    ours = {(o.kind, o.name): o.obj for o in c.ours()}
    bindings = [
        o.obj
        for o in c.ours()
        if o.kind in ("RoleBinding", "ClusterRoleBinding") and account in o.obj.get("subjects", [])
    ]
    assert bindings
    for b in bindings:
        role = ours[(b["roleRef"]["kind"], b["roleRef"]["name"])]
        assert {v for r in role["rules"] for v in r["verbs"]} <= {"get", "list", "watch"}
    # kfam reads the gateway's user header.
    (config,) = [o for o in built if o["kind"] == "ConfigMap" and _name(o) == "profiles-config"]
    assert config["data"]["USERID_HEADER"] == identity.USERID_HEADER
    assert config["data"]["USERID_PREFIX"] == ""
    assert _principal(KUBEFLOW, "centraldashboard") == dashboard.DASHBOARD_PRINCIPAL


@cases
def test_tenant_profiles_validate_against_the_profile_crd(env, release):
    """The Profile CRD ships with kfam; ours validate against the version we write."""
    c = case(env, release)
    (crd,) = [o for o in c.built("profiles") if o["kind"] == "CustomResourceDefinition"]
    assert crd["spec"]["scope"] == "Cluster"
    group, version = dashboard.PROFILE_API.split("/")
    assert crd["spec"]["group"] == group
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert served["served"] and served["storage"]
    profiles = [o.obj for o in c.ours() if o.kind == "Profile"]
    assert profiles
    for p in profiles:
        jsonschema.validate(p["spec"], served["schema"]["openAPIV3Schema"]["properties"]["spec"])
        # Every annotated binding of the namespace names one subject (kfam fails the whole
        # list otherwise) and the owner is one of them.
        ns = p["metadata"]["name"]
        annotated = [
            o.obj
            for o in c.ours()
            if o.kind == "RoleBinding"
            and o.namespace == ns
            and MEMBER_USER in (o.obj["metadata"].get("annotations") or {})
        ]
        assert all(len(b["subjects"]) == 1 for b in annotated)
        owners = {
            b["metadata"]["annotations"][MEMBER_USER]
            for b in annotated
            if b["metadata"]["annotations"][MEMBER_ROLE] == "admin"
        }
        assert p["spec"]["owner"]["name"] in owners


# -- the dashboard ---------------------------------------------------------------------------------


@cases
def test_dashboard_reads_the_gateway_header_and_finds_kfam(env, release):
    c = case(env, release)
    deployment = c.one("centraldashboard", "Deployment", dashboard.DASHBOARD)
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    env_ = {k: e.get("value") for k, e in _env(container).items()}
    assert env_["USERID_HEADER"] == identity.USERID_HEADER
    assert env_["USERID_PREFIX"] == ""
    assert env_["REGISTRATION_FLOW"] == "false"
    assert env_["LOGOUT_URL"] == "/oauth2/sign_out"  # oauth2-proxy's sign-out
    # kfam's Service, as the dashboard addresses it (http://<host>:8081/kfam).
    host = env_["PROFILES_KFAM_SERVICE_HOST"]
    service = c.one("profiles", "Service", host.split(".")[0])
    assert host.split(".")[1] == KUBEFLOW
    assert dashboard.KFAM_PORT in {p["port"] for p in service["spec"]["ports"]}
    assert _matches(
        service["spec"]["selector"],
        c.one("profiles", "Deployment", dashboard.KFAM_DEPLOYMENT)["spec"]["template"]["metadata"][
            "labels"
        ],
    )
    assert pod["spec"]["serviceAccountName"] == dashboard.DASHBOARD
    assert _matches(dashboard.DASHBOARD_PODS, pod["metadata"]["labels"])
    assert dashboard.DASHBOARD_PORT in {p["containerPort"] for p in container["ports"]}


@cases
def test_dashboard_route_refuses_writes_before_serving_anything(env, release):
    c = case(env, release)
    route = c.one("centraldashboard", "VirtualService", dashboard.DASHBOARD)
    first, *rest = route["spec"]["http"]
    assert first["directResponse"]["status"] == 403
    assert {(m["uri"]["prefix"], m["ignoreUriCase"]) for m in first["match"]} == {
        (p, True) for p in dashboard.REFUSED_PATHS
    }
    (serve,) = rest
    assert serve["match"] == [{"uri": {"prefix": "/"}}]
    (dest,) = serve["route"]
    service = c.one("centraldashboard", "Service", dashboard.DASHBOARD)
    assert dest["destination"]["host"] == f"{dashboard.DASHBOARD}.{KUBEFLOW}.svc.cluster.local"
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (
        dest["destination"]["port"]["number"],
        dashboard.DASHBOARD_PORT,
    )


# -- notebooks -------------------------------------------------------------------------------------


def _spawner(objs: list[Obj] | tuple[Obj, ...]) -> Obj:
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap" and _name(o) == notebooks.WEB_APP_CONFIG]
    return yaml.safe_load(cm["data"]["spawner_ui_config.yaml"])["spawnerFormDefaults"]


def _crd(c: Case, app: str, name: str) -> Obj:
    (crd,) = [
        o
        for o in c.built(app)
        if o["kind"] == "CustomResourceDefinition" and o["metadata"]["name"] == name
    ]
    return crd


def _schema(crd: Obj, version: str) -> Obj:
    (v,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert v["served"]
    return v["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("release", releases.available())
def test_upstream_spawner_offers_gpus_and_the_webhook_selects_profile_namespaces(release):
    """The facts the spawner config and the webhook patch rest on (every release)."""
    form = _spawner(upstream(release, "jupyter-web-app"))
    assert form["gpus"]["readOnly"] is False
    assert "nvidia.com/gpu" in {v["limitsKey"] for v in form["gpus"]["value"]["vendors"]}
    assert [i for i in form["image"]["options"] if "cuda" in i]
    # Our CPU images are upstream's own options at this ref.
    offered = {i for k in ("image", "imageGroupOne", "imageGroupTwo") for i in form[k]["options"]}
    ours = set(releases.load(release).component("jupyter_web_app").images.values())
    assert ours <= offered
    (webhook,) = [
        o
        for o in upstream(release, "admission-webhook")
        if o["kind"] == "MutatingWebhookConfiguration"
    ]
    assert webhook["webhooks"][0]["namespaceSelector"] == {
        "matchLabels": {"app.kubernetes.io/part-of": "kubeflow-profile"}
    }
    (config,) = [
        o
        for o in upstream(release, "notebook-controller")
        if o["kind"] == "ConfigMap" and _name(o) == notebooks.CONTROLLER_CONFIG
    ]
    assert config["data"]["ISTIO_GATEWAY"] == f"kubeflow/{KUBEFLOW_GATEWAY}"


@cases
def test_webhook_serves_tenant_namespaces_with_its_issued_certificate(env, release):
    c = case(env, release)
    built = c.built("admission-webhook")
    (webhook,) = [o for o in built if o["kind"] == "MutatingWebhookConfiguration"]
    (hook,) = webhook["webhooks"]
    assert hook["namespaceSelector"] == {
        "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
    }
    assert notebooks.TENANT_LABEL_KEY == TENANT_LABEL
    tenants = [
        o for o in c.ours() if o.kind == "Namespace" and TENANT_LABEL in o.obj["metadata"]["labels"]
    ]
    assert tenants
    service = c.one("admission-webhook", "Service", hook["clientConfig"]["service"]["name"])
    deployment = c.one("admission-webhook", "Deployment", notebooks.WEBHOOK)
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    (port,) = service["spec"]["ports"]
    (target,) = [p for p in container["ports"] if p["name"] == port["targetPort"]]
    assert target["containerPort"] == notebooks.WEBHOOK_PORT
    assert _matches(notebooks.WEBHOOK_PODS, pod["metadata"]["labels"])
    (cert,) = [o for o in built if o["kind"] == "Certificate"]
    (volume,) = pod["spec"]["volumes"]
    assert volume["secret"]["secretName"] == cert["spec"]["secretName"]
    assert webhook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"{KUBEFLOW}/{cert['metadata']['name']}"
    )


@cases
def test_controller_routes_notebooks_on_the_platform_gateway(env, release):
    c = case(env, release)
    (config,) = [
        o
        for o in c.built("notebook-controller")
        if o["kind"] == "ConfigMap" and _name(o) == notebooks.CONTROLLER_CONFIG
    ]
    assert config["data"]["USE_ISTIO"] == "true"
    assert config["data"]["ISTIO_GATEWAY"] == f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"
    deployment = c.one("notebook-controller", "Deployment", notebooks.CONTROLLER)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["name"] == notebooks.CONTROLLER_CONTAINER
    assert "ADD_FSGROUP" not in _env(container)  # the controller's fsGroup default stays on


@cases
def test_no_upstream_role_aggregates_into_kubeflow_roles(env, release):
    """Kubeflow's kubeflow-{admin,edit,view} are not deployed; tenant tiers are ours."""
    c = case(env, release)
    for app in ("notebook-controller", "admission-webhook", "jupyter-web-app"):
        labels = [
            k
            for o in c.built(app)
            for k in (o["metadata"].get("labels") or {})
            if k.startswith("rbac.authorization.kubeflow.org/aggregate-to-kubeflow")
        ]
        assert labels == [], app
    upstream_labels = {
        k
        for o in upstream(release, "notebook-controller")
        for k in (o["metadata"].get("labels") or {})
    }
    assert "rbac.authorization.kubeflow.org/aggregate-to-kubeflow-edit" in upstream_labels


@cases
def test_web_app_uses_our_template_and_spawner_config(env, release):
    c = case(env, release)
    deployment = c.one("jupyter-web-app", "Deployment", notebooks.WEB_APP)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    template = mounts[notebooks.TEMPLATE_PATH]
    # The image's app tree is /src/apps (upstream mounts the logos inside it too).
    assert any(p.startswith("/src/apps/default/") for p in mounts)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[template["name"]]["configMap"]["name"] == notebooks.TEMPLATE
    ours = {(o.kind, o.name): o.obj for o in c.ours() if o.namespace == KUBEFLOW}
    assert template["subPath"] in ours[("ConfigMap", notebooks.TEMPLATE)]["data"]
    env_ = {k: e.get("value") for k, e in _env(container).items()}
    assert (env_["USERID_HEADER"], env_["USERID_PREFIX"]) == (identity.USERID_HEADER, "")
    assert env_["APP_PREFIX"] == "/jupyter"
    form = _spawner(c.built("jupyter-web-app"))
    assert form["gpus"] == {"readOnly": True, "value": {"vendor": "", "vendors": [], "num": "none"}}


def _spawned_pod(c: Case, namespace: str) -> Obj:
    """The pod template of a notebook spawned with the form's defaults, as the web app builds
    the Notebook (jupyter backend default/routes/post.py, common/form.py) and the controller
    the StatefulSet (notebook_controller.go generateStatefulSet), PodDefaults applied."""
    ours = {(o.kind, o.namespace or "", o.name): o.obj for o in c.ours()}
    text = ours[("ConfigMap", KUBEFLOW, notebooks.TEMPLATE)]["data"]["notebook_template.yaml"]
    nb = yaml.safe_load(
        text.format(name="nb", namespace=namespace, serviceAccount="default-editor", creator="u")
    )
    form = _spawner(c.built("jupyter-web-app"))
    spec = nb["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    container["image"] = form["image"]["value"]
    cpu, memory = form["cpu"]["value"], form["memory"]["value"]
    container["resources"] = {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {
            "cpu": str(round(float(cpu) * float(form["cpu"]["limitFactor"]), 1)),
            "memory": str(round(float(memory.replace("Gi", "")) * 1.2, 1)) + "Gi",
        },
    }
    for label in form["configurations"]["value"]:
        nb["metadata"]["labels"][label] = "true"
    if form["shm"]["value"]:
        spec["volumes"].append({"name": "dshm", "emptyDir": {"medium": "Memory"}})
        container["volumeMounts"].append({"mountPath": "/dev/shm", "name": "dshm"})
    spec["volumes"].append({"name": "ws", "persistentVolumeClaim": {"claimName": "nb-workspace"}})
    container["volumeMounts"].append({"mountPath": "/home/jovyan", "name": "ws"})
    # The controller: labels, working dir, port, fsGroup only when no securityContext is set.
    labels = {"statefulset": "nb", "notebook-name": "nb", **nb["metadata"]["labels"]}
    container.setdefault("workingDir", "/home/jovyan")
    container.setdefault("ports", [{"containerPort": 8888, "name": "notebook-port"}])
    spec.setdefault("securityContext", {"fsGroup": 100})
    # PodDefaults selected by the labels (env, volumes, mounts).
    for (kind, ns, _), pd in ours.items():
        if (
            kind == "PodDefault"
            and ns == namespace
            and _matches(pd["spec"]["selector"]["matchLabels"], labels)
        ):
            container["env"] += pd["spec"].get("env", [])
            spec["volumes"] += pd["spec"].get("volumes", [])
            container["volumeMounts"] += pd["spec"].get("volumeMounts", [])
    return {"metadata": {"labels": labels}, "spec": spec}


@cases
def test_spawned_notebooks_pass_restricted_with_the_team_credentials(env, release):
    c = case(env, release)
    c.built("jupyter-web-app")
    tenants = [
        o for o in c.ours() if o.kind == "Namespace" and TENANT_LABEL in o.obj["metadata"]["labels"]
    ]
    for ns in tenants:
        level = ns.obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        pod = _spawned_pod(c, ns.name)
        assert pod_security.problems(pod, "restricted") == [], ns.name
        assert level == "restricted" or pod_security.problems(pod, level) == []
        (container,) = pod["spec"]["containers"]
        env_ = {e["name"]: e for e in container["env"]}
        assert (
            env_["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "s3-credentials"
        )
        assert "KF_PIPELINES_SA_TOKEN_PATH" in env_
        assert container["resources"]["limits"]["memory"] == "1.2Gi"


@cases
def test_upstream_template_fails_restricted_without_our_security_context(env, release):
    """The fix is needed: without the securityContext we add, the same pod is refused."""
    c = case(env, release)
    c.built("jupyter-web-app")
    ns = next(
        o.name
        for o in c.ours()
        if o.kind == "Namespace" and TENANT_LABEL in o.obj["metadata"]["labels"]
    )
    pod = _spawned_pod(c, ns)
    pod["spec"]["securityContext"] = {"fsGroup": 100}  # what the controller adds to upstream's
    pod["spec"]["containers"][0].pop("securityContext")
    assert "runAsNonRoot is not true" in " ".join(pod_security.problems(pod, "restricted"))


@cases
def test_notebooks_and_poddefaults_validate_against_their_crds(env, release):
    c = case(env, release)
    notebook_crd = _crd(c, "notebook-controller", "notebooks.kubeflow.org")
    ours = {(o.kind, o.namespace or "", o.name): o.obj for o in c.ours()}
    text = ours[("ConfigMap", KUBEFLOW, notebooks.TEMPLATE)]["data"]["notebook_template.yaml"]
    nb = yaml.safe_load(text.format(name="nb", namespace="team-a", serviceAccount="x", creator="u"))
    group, version = nb["apiVersion"].split("/")
    assert notebook_crd["spec"]["group"] == group
    schema = _schema(notebook_crd, version)
    jsonschema.validate(nb["spec"], schema["properties"]["spec"])
    # The GPU policy's CEL walks these typed fields.
    container = schema["properties"]["spec"]["properties"]["template"]["properties"]["spec"][
        "properties"
    ]["containers"]["items"]["properties"]
    assert {"limits", "requests"} <= set(container["resources"]["properties"])
    pd_crd = _crd(c, "admission-webhook", "poddefaults.kubeflow.org")
    pds = [o.obj for o in c.ours() if o.kind == "PodDefault"]
    assert pds
    for pd in pds:
        g, v = pd["apiVersion"].split("/")
        assert pd_crd["spec"]["group"] == g
        jsonschema.validate(pd["spec"], _schema(pd_crd, v)["properties"]["spec"])


OVERLAYS = {  # kustomization name -> overlay directory under overlays/upstream
    "centraldashboard": "centraldashboard",
    "profiles": "profiles",
    "notebook-controller": "notebook-controller",
    "admission-webhook": "admission-webhook",
    "jupyter-web-app": "jupyter",
}


@pytest.mark.parametrize("release", releases.available())
@pytest.mark.parametrize("app", list(OVERLAYS))
def test_every_removal_removes_something_upstream_ships(release, app):
    """Each `$patch: delete` of our overlay (but the blanket Namespace one) matches an object
    of the pinned upstream base; each container removed exists there."""
    overlay = yaml.safe_load((UPSTREAM_OVERLAYS / OVERLAYS[app] / "kustomization.yaml").read_text())
    objs = upstream(release, app)
    for p in overlay.get("patches", []):
        target = p["target"]
        if target.get("kind") == "Namespace":
            continue
        found = [
            o
            for o in objs
            if re.fullmatch(target.get("kind", ".*"), o["kind"])
            and re.fullmatch(target.get("name", ".*"), _name(o))
        ]
        assert found, f"{app}@{release}: nothing upstream matches {target}"
        body = yaml.safe_load(p["patch"])
        containers = body.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        for c in containers:
            if c.get("$patch") == "delete":
                names = {
                    k["name"] for o in found for k in o["spec"]["template"]["spec"]["containers"]
                }
                assert c["name"] in names, f"{app}@{release}: no container {c['name']}"


@cases
def test_every_menu_link_is_routed_at_the_gateway(env, release):
    """The dashboard links only apps whose VirtualService (on the platform gateway) serves them."""
    c = case(env, release)
    config = c.one("centraldashboard", "ConfigMap", "centraldashboard-config")
    menu = json.loads(config["data"]["links"])
    links = [m["link"] for m in menu["menuLinks"] if "link" in m]
    links += [i["link"] for m in menu["menuLinks"] for i in m.get("items", [])]
    links += [q["link"] for q in menu["quickLinks"]]
    assert links
    routes = [
        o
        for b in render.kustomizations(c.graph)
        for o in render.kustomize(b.directory)
        if o["kind"] == "VirtualService"
    ] + [o.obj for o in c.ours() if o.kind == "VirtualService"]
    prefixes = {
        m["uri"]["prefix"]
        for r in routes
        if r["spec"].get("gateways") == [f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"]
        for h in r["spec"]["http"]
        if "route" in h
        for m in h.get("match", [])
        if "prefix" in m.get("uri", {})
    }
    for link in links:
        path = link.split("#")[0]
        served = [p for p in prefixes if p != "/" and path.startswith(p.rstrip("/"))]
        assert served, f"{link}: no route on the platform gateway"


@cases
@pytest.mark.parametrize(
    ("app", "deployment"),
    [
        ("centraldashboard", dashboard.DASHBOARD),
        ("profiles", dashboard.KFAM_DEPLOYMENT),
        ("jupyter-web-app", notebooks.WEB_APP),
    ],
)
def test_pods_behind_authorization_policies_get_a_sidecar(env, release, app, deployment):
    """Istio enforces an AuthorizationPolicy (and ISTIO_MUTUAL) only with a sidecar; `kubeflow`
    is labelled for injection only where KFP runs, so these pods opt in by label."""
    pod = case(env, release).one(app, "Deployment", deployment)["spec"]["template"]
    assert pod["metadata"]["labels"].get("sidecar.istio.io/inject") == "true"
