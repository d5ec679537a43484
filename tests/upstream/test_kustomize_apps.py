"""Every upstream kustomize app but KFP as the platform builds it, against the real trees.

For every case (each environment at its release, dev on every release) the kustomizations of
Dex, oauth2-proxy, the Training Operator (and Trainer's runtimes where pinned) are built with
the kustomize CLI, and the claims of overlays/upstream/{dex,oauth2-proxy,training-operator},
identity.py and training.py are checked in the output beside the program's own objects:
no default credentials, no Namespaces, nothing referenced that is not deployed (keys included),
the platform's gateway, Pod Security. KFP has its own file (test_kfp.py), Katib's own claims
are in test_katib.py. ModelMesh was removed
from the platform (modules/config/serving.py says why); no other upstream app goes unchecked.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform import releases, render
from mlplatform.components import identity, training
from mlplatform.components.istio import GATEWAY_LABELS, GATEWAY_PRINCIPAL, PLATFORM_GATEWAY
from mlplatform.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from mlplatform.components.kubeflow_namespace import NAMESPACE as KUBEFLOW
from mlplatform.graph import Graph, K8sObject
from mlplatform.overlays import UPSTREAM_OVERLAYS
from mlplatform.stackconfig import ROOT
from tests import pod_security
from tests.upstream import CACHE, CASE_IDS, CASES, needs_cache, strings, upstream_graph

pytestmark = needs_cache
Obj = dict[str, Any]
Key = tuple[str, str, str]  # (kind, namespace or "", name)
cases = pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)

TENANT_NAMESPACES = "<each tenant's namespace>"  # an app built once per tenant


def app_name(build: str) -> str:
    """The app of a build: per-tenant builds are named `<app>-<tenant>`."""
    return "model-registry" if re.fullmatch(r"model-registry-(?!db$).+", build) else build


# kustomization name -> catalogue entry, namespace its namespaced objects land in
APPS: dict[str, tuple[str, str]] = {
    "dex": ("dex", identity.DEX_NAMESPACE),
    "oauth2-proxy": ("oauth2_proxy", identity.PROXY_NAMESPACE),
    "training-operator": ("training_operator", KUBEFLOW),
    # Trainer's ClusterTrainingRuntimes, where the release pins them (all cluster-scoped).
    "trainer-runtimes": ("trainer_runtimes", training.TRAINER_NAMESPACE),
    "katib": ("katib", KUBEFLOW),  # its own claims: test_katib.py
    # The model registry's database, and each tenant's registry server (one app, every tenant's
    # build); their own claims: test_model_registry.py.
    "model-registry-db": ("model_registry", KUBEFLOW),
    "model-registry": ("model_registry", TENANT_NAMESPACES),
}
ALWAYS = {"dex", "oauth2-proxy", "training-operator"}  # on in every environment
CHECKED_ELSEWHERE = {"kfp"}  # tests/upstream/test_kfp.py
# tests/upstream/test_kubeflow_apps.py
CHECKED_ELSEWHERE |= {"centraldashboard", "profiles", "jupyter-web-app", "notebook-controller"}
CHECKED_ELSEWHERE |= {"admission-webhook"}
IDENTITY_SECRETS_OWNER = "identity-base"  # the ConfigGroup identity.py writes its Secrets with
# Names the operator derives its webhook certificate wiring from (no flags set in the manifests):
# kubeflow/training-operator release-1.9 cmd/training-operator.v1/main.go (webhook-service-name,
# webhook-secret-name, webhookConfigurationName) and pkg/cert/cert.go (namespace from
# MY_POD_NAMESPACE). The stored snapshot has no v1.9.2 tag; these did not change on the branch.
OPERATOR_WEBHOOK = {
    "service": "training-operator",
    "secret": "training-operator-webhook-cert",
    "configuration": "validator.training-operator.kubeflow.org",
    "cert_dir": "/tmp/k8s-webhook-server/serving-certs",
}
KUBEFLOW_GATEWAY = "kubeflow-gateway"  # Kubeflow's own Gateway, which we do not deploy


@dataclass(frozen=True)
class Case:
    graph: Graph
    builds: dict[str, list[Obj]]  # app -> its generated kustomization, built

    def ours(self) -> dict[Key, K8sObject]:
        return {(o.kind, o.namespace or "", o.name): o for o in self.graph.objects()}

    def objects(self) -> dict[Key, Obj]:
        """Every object the case deploys outside charts: all builds and all of ours."""
        found = {_key(o): o for objs in self.builds.values() for o in objs}
        return found | {k: o.obj for k, o in self.ours().items()}

    def built(self, app: str) -> list[Obj]:
        """One app's build; skips where this case does not install the app."""
        if app not in self.builds:
            pytest.skip(f"{app} is not installed here")
        return self.builds[app]

    def deployment(self, app: str, name: str) -> Obj:
        (found,) = [o for o in self.built(app) if _key(o) == ("Deployment", APPS[app][1], name)]
        return found


@cache
def case(env: str, release: str) -> Case:
    graph = upstream_graph(env, release)
    builds: dict[str, list[Obj]] = {}
    for b in render.kustomizations(graph):
        if app_name(b.name) in APPS:
            builds.setdefault(app_name(b.name), []).extend(render.kustomize(b.directory))
    return Case(graph, builds)


@cache
def upstream(release: str, app: str) -> tuple[Obj, ...]:
    """The catalogue's upstream base of one app, built alone (no overlay)."""
    assert CACHE is not None
    source = releases.load(release).component(APPS[app][0]).source.kustomize
    assert source is not None
    return render.kustomize(str(CACHE.base(f"{source.url}?ref={source.ref}")))


# -- walking objects --------------------------------------------------------------------------


def _key(o: Obj) -> Key:
    return (o["kind"], o["metadata"].get("namespace") or "", o["metadata"]["name"])


@cache
def _crd_scopes() -> dict[str, str]:
    """kind -> scope of every CRD extracted in the cache (crds/<project>-<tag>/*.json)."""
    assert CACHE is not None
    return {
        d["kind"]: d["scope"]
        for f in sorted((CACHE.root / "crds").glob("*/*.json"))
        for d in [json.loads(f.read_text())]
    }


def _cluster_scoped_kinds(built: list[Obj]) -> set[str]:
    """Built-in cluster-scoped kinds, and custom ones by their CRD (the cache's or the build's)."""
    kinds = set(render.CLUSTER_SCOPED) | {k for k, s in _crd_scopes().items() if s == "Cluster"}
    return kinds | {
        o["spec"]["names"]["kind"]
        for o in built
        if o["kind"] == "CustomResourceDefinition" and o["spec"]["scope"] == "Cluster"
    }


def _generated_name(o: Obj) -> str:
    """A generated Secret's or ConfigMap's name without the hash suffix kustomize appends
    (overlay patches target the generator's name)."""
    name = o["metadata"]["name"]
    return re.sub(r"-[a-z0-9]{10}$", "", name) if o["kind"] in ("Secret", "ConfigMap") else name


def _pods(objs: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield o, o["spec"]["template"]


def _containers(pod: Obj) -> list[Obj]:
    spec = pod["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _data(o: Obj) -> dict[str, str]:
    """A Secret's or ConfigMap's keys and (decoded) values."""
    data = {
        k: base64.b64decode(v).decode() if o["kind"] == "Secret" else v
        for k, v in (o.get("data") or {}).items()
    }
    return {**data, **(o.get("stringData") or {})}


def _matches(selector: Obj, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels / matchExpressions) against a label set."""
    if not set((selector.get("matchLabels") or {}).items()) <= set(labels.items()):
        return False
    for e in selector.get("matchExpressions") or []:
        present, value = e["key"] in labels, labels.get(e["key"])
        ok = {
            "In": present and value in e.get("values", []),
            "NotIn": not present or value not in e.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[e["operator"]]
        if not ok:
            return False
    return True


def _service_ports(objects: dict[Key, Obj], namespace: str, name: str) -> set[int]:
    svc = objects.get(("Service", namespace, name))
    return {p["port"] for p in svc["spec"]["ports"]} if svc else set()


def _url_service(url: str) -> tuple[str, str, int] | None:
    """(service, namespace, port) of an in-cluster URL (`http://svc.ns.svc.cluster.local:p/..`)."""
    m = re.match(
        r"^(https?)://([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?(?::(\d+))?", url
    )
    if not m:
        return None
    return m[2], m[3], int(m[4] or (443 if m[1] == "https" else 80))


# -- what the platform deploys, per app --------------------------------------------------------


@cases
def test_every_upstream_kustomize_app_is_checked(env, release):
    """A kustomize app not listed here (ModelMesh, say) would skip every claim below."""
    builds = render.kustomizations(case(env, release).graph)
    local = {b.name for b in builds if Path(b.directory).is_relative_to(ROOT / "overlays")}
    upstream_apps = {app_name(b.name) for b in builds} - {app_name(n) for n in local}
    assert upstream_apps - CHECKED_ELSEWHERE <= set(APPS), "add the app to APPS (checked here)"
    assert upstream_apps >= ALWAYS


@pytest.mark.parametrize("release", releases.available())
@pytest.mark.parametrize("app", [a for a in APPS if (UPSTREAM_OVERLAYS / a).is_dir()])
def test_every_removal_removes_something_upstream_ships(release, app):
    """Each `$patch: delete` of our overlay matches an object of the pinned upstream base."""
    if not releases.load(release).has(APPS[app][0]):
        pytest.skip(f"release {release} pins no {app}")
    overlay = yaml.safe_load((UPSTREAM_OVERLAYS / app / "kustomization.yaml").read_text())
    deletes = [p["target"] for p in overlay.get("patches", []) if "$patch: delete" in p["patch"]]
    assert deletes
    for target in deletes:
        found = [
            o
            for o in upstream(release, app)
            if target.get("kind", o["kind"]) == o["kind"]
            and re.fullmatch(target.get("name", ".*"), _generated_name(o))
        ]
        assert found, f"{app}@{release}: nothing upstream matches {target}"


@cases
@pytest.mark.parametrize("app", list(APPS))
def test_no_namespace_objects_and_everything_in_its_namespace(env, release, app):
    c = case(env, release)
    built = c.built(app)
    tenants = {o.name for o in c.graph.objects() if o.kind == "Namespace" and _is_tenant(o.obj)}
    namespaces = tenants if APPS[app][1] == TENANT_NAMESPACES else {APPS[app][1]}
    assert [o["metadata"]["name"] for o in built if o["kind"] == "Namespace"] == []
    cluster_scoped = _cluster_scoped_kinds(built)
    misplaced = [
        _key(o)
        for o in built
        if o["kind"] not in cluster_scoped and o["metadata"].get("namespace") not in namespaces
    ]
    assert misplaced == []
    # ...and the namespace is the platform's, with its Pod Security level.
    for namespace in namespaces:
        ours = c.ours()[("Namespace", "", namespace)]
        assert "pod-security.kubernetes.io/enforce" in ours.obj["metadata"]["labels"]


def _is_tenant(namespace: Obj) -> bool:
    return "mlplatform.io/tenant" in (namespace["metadata"].get("labels") or {})


@cases
def test_every_object_has_one_owner(env, release):
    """Nothing a build ships is also an object of ours (two owners would fight over it)."""
    c = case(env, release)
    ours = c.ours()
    both = [(app, _key(o)) for app, objs in c.builds.items() for o in objs if _key(o) in ours]
    assert both == []


# -- credentials ------------------------------------------------------------------------------


def _default_credentials(release: str) -> dict[str, str]:
    """Secret values upstream's dex and oauth2-proxy bases ship (ids are not credentials)."""
    found = {}
    for app in ("dex", "oauth2-proxy"):
        for o in upstream(release, app):
            if o["kind"] == "Secret":
                for key, value in _data(o).items():
                    if not re.search(r"(^|[-_])id$", key, re.IGNORECASE):
                        found[f"{_generated_name(o)}/{key}"] = value
    return found


@pytest.mark.parametrize("release", releases.available())
def test_upstream_ships_default_credentials(release):
    """The fact the removals rest on: a bcrypt hash, the OIDC client secret, the cookie secret."""
    assert set(_default_credentials(release)) == {
        "dex-passwords/DEX_USER_PASSWORD",
        "dex-oidc-client/OIDC_CLIENT_SECRET",
        "oauth2-proxy/client-secret",
        "oauth2-proxy/cookie-secret",
    }


@cases
def test_no_upstream_default_credential_is_left(env, release):
    """In no Secret, ConfigMap, env literal or argument of a build or of ours."""
    c = case(env, release)
    defaults = _default_credentials(release)
    assert all(len(v) >= 16 for v in defaults.values())
    texts = [
        (f"{app}: {_key(o)}", text)
        for app, objs in c.builds.items()
        for o in objs
        for text in [*strings(o), *(_data(o).values() if o["kind"] == "Secret" else [])]
    ]
    texts += [(o.ref, text) for o in c.graph.objects() for text in strings(o.obj)]
    leaks = [
        f"{where}: {name}" for where, text in texts for name, v in defaults.items() if v in text
    ]
    assert leaks == []


# -- references: everything a build names is deployed -----------------------------------------


def dangling_references(c: Case, app: str) -> list[str]:
    """Secrets/ConfigMaps (and keys), ServiceAccounts, roles, aggregation targets, Services and
    webhook Services that a build names but nothing deploys."""
    objects = c.objects()
    built = c.builds[app]
    out: list[str] = []

    # Secrets cert-manager writes for a Certificate the case deploys (its keys are fixed).
    issued = {
        ("Secret", o["metadata"].get("namespace", ""), o["spec"]["secretName"]): {
            "data": dict.fromkeys(("tls.crt", "tls.key", "ca.crt"), "")
        }
        for o in objects.values()
        if o["kind"] == "Certificate"
    }

    def need(kind: str, ns: str, name: str, key: str | None, where: str) -> None:
        target = objects.get((kind, ns, name)) or issued.get((kind, ns, name))
        if target is None:
            out.append(f"{where}: {kind} {ns}/{name} is not deployed")
        elif key is not None and key not in _data(target):
            out.append(f"{where}: {kind} {ns}/{name} has no key {key!r}")

    for o, pod in _pods(built):
        ns, where = o["metadata"]["namespace"], f"{o['kind']} {o['metadata']['name']}"
        spec = pod["spec"]
        if spec.get("serviceAccountName", "default") != "default":
            need("ServiceAccount", ns, spec["serviceAccountName"], None, where)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for v in volumes.values():
            for field, kind, name_field in (
                ("secret", "Secret", "secretName"),
                ("configMap", "ConfigMap", "name"),
            ):
                if field in v and not v[field].get("optional"):
                    need(kind, ns, v[field][name_field], None, where)
                    for item in v[field].get("items", []):
                        need(kind, ns, v[field][name_field], item["key"], where)
        for container in _containers(pod):
            for mount in container.get("volumeMounts", []):
                v = volumes[mount["name"]]
                source = v.get("configMap") or v.get("secret")
                if source and "subPath" in mount and "items" not in source:
                    kind = "ConfigMap" if "configMap" in v else "Secret"
                    name = source.get("name") or source.get("secretName")
                    need(kind, ns, name, mount["subPath"], where)
            for e in container.get("env", []):
                source = e.get("valueFrom", {})
                for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if field in source and not source[field].get("optional"):
                        need(kind, ns, source[field]["name"], source[field]["key"], where)
            for e in container.get("envFrom", []):
                for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    if field in e and not e[field].get("optional"):
                        need(kind, ns, e[field]["name"], None, where)
    pods = [(o["metadata"]["namespace"], pod) for o, pod in _pods(built)]
    for o in built:
        kind, name, ns = o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", "")
        where = f"{kind} {name}"
        if kind == "Service" and o["spec"].get("selector"):
            selector = {"matchLabels": o["spec"]["selector"]}
            selected = [
                p for pns, p in pods if pns == ns and _matches(selector, p["metadata"]["labels"])
            ]
            if not selected:
                out.append(f"{where}: selects no pod")
            ports = {
                key
                for p in selected
                for c in _containers(p)
                for cp in c.get("ports", [])
                for key in (cp["containerPort"], cp.get("name"))
            }
            out += [
                f"{where}: targetPort {p.get('targetPort', p['port'])} is no container port"
                for p in o["spec"]["ports"]
                if p.get("targetPort", p["port"]) not in ports
            ]
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            need(
                o["roleRef"]["kind"],
                ns if o["roleRef"]["kind"] == "Role" else "",
                o["roleRef"]["name"],
                None,
                where,
            )
            for s in o.get("subjects", []):
                if s["kind"] == "ServiceAccount":
                    need("ServiceAccount", s.get("namespace", ns), s["name"], None, where)
        for label in o["metadata"].get("labels") or {}:
            m = re.fullmatch(r"rbac\.authorization\.[a-z.]+/aggregate-to-(.+)", label)
            if m:
                aggregator = objects.get(("ClusterRole", "", m[1]))
                selectors = ((aggregator or {}).get("aggregationRule") or {}).get(
                    "clusterRoleSelectors", []
                )
                if not any(_matches(s, o["metadata"]["labels"]) for s in selectors):
                    out.append(f"{where}: aggregates into ClusterRole {m[1]}, not deployed")
        if kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            for w in o["webhooks"]:
                svc = w["clientConfig"].get("service")
                if svc:
                    port = svc.get("port", 443)
                    if port not in _service_ports(objects, svc["namespace"], svc["name"]):
                        out.append(f"{where}: {w['name']} calls {svc} which is not deployed")
    return out


@cases
@pytest.mark.parametrize("app", list(APPS))
def test_nothing_points_at_what_is_not_deployed(env, release, app):
    c = case(env, release)
    c.built(app)
    assert dangling_references(c, app) == []


@cases
@pytest.mark.parametrize(("app", "deployment"), [("dex", "dex"), ("oauth2-proxy", "oauth2-proxy")])
def test_identity_secrets_are_the_ones_identity_writes(env, release, app, deployment):
    """Every Secret the Deployment reads is written by identity.py (its keys checked above)."""
    c = case(env, release)
    pod = c.deployment(app, deployment)["spec"]["template"]
    names = {v["secret"]["secretName"] for v in pod["spec"].get("volumes", []) if "secret" in v}
    for container in _containers(pod):
        names |= {e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e}
        names |= {
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }
    assert names
    ours = c.ours()
    owners = {n: ours.get(("Secret", APPS[app][1], n)) for n in names}
    assert {n: o.owner.name if o else None for n, o in owners.items()} == dict.fromkeys(
        names, IDENTITY_SECRETS_OWNER
    )


def _dex_config(c: Case) -> Obj:
    return yaml.safe_load(
        c.ours()[("ConfigMap", identity.DEX_NAMESPACE, "dex")].obj["data"]["config.yaml"]
    )


@cases
def test_dex_reads_its_config_and_every_variable_it_names(env, release):
    c = case(env, release)
    (container,) = c.deployment("dex", "dex")["spec"]["template"]["spec"]["containers"]
    pod = c.deployment("dex", "dex")["spec"]["template"]["spec"]
    # `dex serve <file>`: the file is a key of the mounted ConfigMap (ours).
    path = Path(container["command"][-1])
    (mount,) = [m for m in container["volumeMounts"] if path.parent == Path(m["mountPath"])]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (item,) = [i for i in volume["configMap"]["items"] if i["path"] == path.name]
    assert (volume["configMap"]["name"], item["key"]) == ("dex", "config.yaml")
    config = _dex_config(c)
    named = {
        v
        for entry in [*config["staticPasswords"], *config["staticClients"]]
        for k, v in entry.items()
        if k.endswith("Env")
    }
    named |= {
        m for text in strings(config.get("connectors", [])) for m in re.findall(r"\$(\w+)", text)
    }
    ours = c.ours()
    provided = {
        key
        for e in container["envFrom"]
        for key in ours[("Secret", identity.DEX_NAMESPACE, e["secretRef"]["name"])].obj[
            "stringData"
        ]
    }
    assert named and named <= provided
    # Dex listens where its Service sends traffic.
    listen = int(config["web"]["http"].rsplit(":", 1)[1])
    assert listen in {p["containerPort"] for p in container["ports"]}
    assert _url_service(config["issuer"]) == ("dex", identity.DEX_NAMESPACE, identity.DEX_PORT)


def _proxy_config(c: Case) -> dict[str, str]:
    """oauth2_proxy.cfg (the file `--config` names) as key -> quoted string value."""
    (container,) = c.deployment("oauth2-proxy", "oauth2-proxy")["spec"]["template"]["spec"][
        "containers"
    ]
    pod = c.deployment("oauth2-proxy", "oauth2-proxy")["spec"]["template"]["spec"]
    (path,) = [a.split("=", 1)[1] for a in container["args"] if a.startswith("--config=")]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == path]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    objects = c.objects()
    cfg = _data(objects[("ConfigMap", identity.PROXY_NAMESPACE, volume["configMap"]["name"])])
    text = cfg[mount["subPath"]]
    return dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', text, re.MULTILINE))


@cases
def test_oauth2_proxy_talks_to_our_dex_and_serves_where_istio_calls(env, release):
    c = case(env, release)
    objects = c.objects()
    cfg, dex = _proxy_config(c), _dex_config(c)
    assert cfg["oidc_issuer_url"] == dex["issuer"] == identity.DEX_ISSUER
    for key in ("oidc_issuer_url", "redeem_url", "oidc_jwks_url"):
        target = _url_service(cfg[key])
        assert target, f"{key}={cfg[key]}"
        assert target[2] in _service_ports(objects, target[1], target[0]), f"{key}={cfg[key]}"
    (client,) = dex["staticClients"]
    assert cfg["redirect_url"] in client["redirectURIs"]
    # istiod's ext-authz provider and our routes name Services (and ports) the builds deploy.
    (istiod,) = [i for i in render.charts(c.graph) if i.name == "istiod"]
    (provider,) = istiod.values["meshConfig"]["extensionProviders"]
    authz = provider["envoyExtAuthzHttp"]
    assert _url_service(f"http://{authz['service']}:{authz['port']}") == (
        "oauth2-proxy",
        identity.PROXY_NAMESPACE,
        authz["port"],
    )
    assert authz["port"] in _service_ports(objects, identity.PROXY_NAMESPACE, "oauth2-proxy")
    routes = [o for o in c.graph.objects() if o.kind == "VirtualService"]
    for route in [
        r for r in routes if r.namespace in (identity.DEX_NAMESPACE, identity.PROXY_NAMESPACE)
    ]:
        for http in route.obj["spec"]["http"]:
            for r in http["route"]:
                d = r["destination"]
                svc = _url_service(f"http://{d['host']}:{d['port']['number']}")
                assert svc and svc[2] in _service_ports(objects, svc[1], svc[0]), route.ref
    # The NetworkPolicies identity.py writes open the ports the pods listen on.
    for app, deployment, port, pods in (
        ("dex", "dex", identity.DEX_PORT, identity.DEX_PODS),
        ("oauth2-proxy", "oauth2-proxy", identity.PROXY_PORT, identity.PROXY_PODS),
    ):
        template = c.deployment(app, deployment)["spec"]["template"]
        assert _matches({"matchLabels": pods}, template["metadata"]["labels"])
        ports = {p["containerPort"] for k in _containers(template) for p in k.get("ports", [])}
        assert port in ports


@cases
def test_oauth2_proxy_settings_of_the_overlay(env, release):
    c = case(env, release)
    (container,) = c.deployment("oauth2-proxy", "oauth2-proxy")["spec"]["template"]["spec"][
        "containers"
    ]
    objects = c.objects()
    settings = {}
    for e in container["env"]:
        ref = e.get("valueFrom", {}).get("configMapKeyRef")
        if ref:
            settings[e["name"]] = _data(
                objects[("ConfigMap", identity.PROXY_NAMESPACE, ref["name"])]
            )[ref["key"]]
    # Secure cookies behind the HTTPS gateway; TLS verification on.
    assert settings["OAUTH2_PROXY_COOKIE_SECURE"] == "true"
    assert settings["OAUTH2_PROXY_SSL_INSECURE_SKIP_VERIFY"] == "false"


# -- the gateway ------------------------------------------------------------------------------


@pytest.mark.parametrize("release", releases.available())
def test_upstream_routes_oauth2_proxy_through_kubeflows_gateway(release):
    """The fact the removal rests on."""
    (route,) = [o for o in upstream(release, "oauth2-proxy") if o["kind"] == "VirtualService"]
    assert route["spec"]["gateways"] == [f"kubeflow/{KUBEFLOW_GATEWAY}"]


@cases
@pytest.mark.parametrize("app", list(APPS))
def test_gateway_wiring_is_the_platforms(env, release, app):
    """No gateway of the build's own; its routes and whatever names the gateway name ours."""
    built = case(env, release).built(app)
    assert [_key(o) for o in built if o["kind"] in ("HTTPRoute", "Gateway")] == []
    platform = [f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"]
    routes = {_key(o): o["spec"].get("gateways") for o in built if o["kind"] == "VirtualService"}
    assert routes == dict.fromkeys(routes, platform)
    mentions = [_key(o) for o in built for t in strings(o) if KUBEFLOW_GATEWAY in t]
    assert mentions == []
    for o in built:
        if o["kind"] == "NetworkPolicy":
            for rule in [*o["spec"].get("ingress", []), *o["spec"].get("egress", [])]:
                for peer in rule.get("from", []) + rule.get("to", []):
                    ns = peer.get("namespaceSelector")
                    if ns and _matches(ns, {"kubernetes.io/metadata.name": GATEWAY_NAMESPACE}):
                        assert _matches(peer.get("podSelector", {}), GATEWAY_LABELS), _key(o)
        if o["kind"] == "AuthorizationPolicy":
            principals = [
                p
                for rule in o["spec"].get("rules", [])
                for f in rule.get("from", [])
                for p in f.get("source", {}).get("principals", [])
                if "ingressgateway" in p
            ]
            assert set(principals) <= {GATEWAY_PRINCIPAL}, _key(o)
    # Our own routes for the identity apps hang off the platform gateway.
    ours = [o for o in case(env, release).graph.objects() if o.kind == "VirtualService"]
    for o in ours:
        if o.namespace == APPS[app][1]:
            assert o.obj["spec"]["gateways"] == [f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"]


# -- Pod Security -----------------------------------------------------------------------------


@cases
@pytest.mark.parametrize("app", list(APPS))
def test_pods_fit_their_namespaces_pod_security(env, release, app):
    c = case(env, release)
    ours = c.ours()
    problems = []
    for o, template in _pods(c.built(app)):
        namespace = ours[("Namespace", "", o["metadata"]["namespace"])].obj
        level = namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        problems += [f"{_key(o)} ({level}): {p}" for p in pod_security.problems(template, level)]
    assert problems == []


# -- the Training Operator --------------------------------------------------------------------


@cases
def test_training_operator_webhook_certificate_wiring(env, release):
    """The Service, Secret and webhook configuration the operator's cert rotation names exist
    in `kubeflow`, and the Service reaches the webhook server's port."""
    c = case(env, release)
    built = {_key(o): o for o in c.builds["training-operator"]}
    (vwc,) = [o for o in built.values() if o["kind"] == "ValidatingWebhookConfiguration"]
    assert vwc["metadata"]["name"] == OPERATOR_WEBHOOK["configuration"]
    assert {
        (w["clientConfig"]["service"]["name"], w["clientConfig"]["service"]["namespace"])
        for w in vwc["webhooks"]
    } == {(OPERATOR_WEBHOOK["service"], KUBEFLOW)}
    service = built[("Service", KUBEFLOW, OPERATOR_WEBHOOK["service"])]
    assert ("Secret", KUBEFLOW, OPERATOR_WEBHOOK["secret"]) in built
    template = c.deployment("training-operator", "training-operator")["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert "args" not in container  # the defaults above apply
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == 443]
    assert port["targetPort"] == training.OPERATOR_WEBHOOK_PORT
    (mount,) = [
        m for m in container["volumeMounts"] if m["mountPath"] == OPERATOR_WEBHOOK["cert_dir"]
    ]
    (volume,) = [v for v in template["spec"]["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == OPERATOR_WEBHOOK["secret"]
    # training.py's NetworkPolicies and PodMonitor select these pods and ports.
    assert _matches({"matchLabels": training.OPERATOR_PODS}, template["metadata"]["labels"])
    ports = {p["containerPort"] for p in container["ports"]}
    assert {training.OPERATOR_WEBHOOK_PORT, training.OPERATOR_METRICS_PORT} <= ports
    env_names = {e["name"] for e in container.get("env", [])}
    assert "MY_POD_NAMESPACE" in env_names


@pytest.mark.parametrize("release", releases.available())
def test_upstream_training_roles_aggregate_into_kubeflow_roles(release):
    """The fact the removal rests on: the kubeflow overlay's roles feed Kubeflow's own."""
    labels = {
        label
        for o in upstream(release, "training-operator")
        if o["kind"] == "ClusterRole" and o["metadata"]["name"].startswith("kubeflow-training-")
        for label in o["metadata"].get("labels", {})
    }
    assert {
        "rbac.authorization.kubeflow.org/aggregate-to-kubeflow-admin",
        "rbac.authorization.kubeflow.org/aggregate-to-kubeflow-edit",
        "rbac.authorization.kubeflow.org/aggregate-to-kubeflow-view",
    } <= labels
