"""notebook-access against a fake cluster holding dev's real tenant objects (namespaces,
memberships, queues) and Dex config, with a fake gateway answering over a fake HTTP client."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field

import jsonschema
import pytest
import yaml

from mlplatform import releases
from mlplatform.cluster.lifecycle import load_stack
from mlplatform.components import identity, notebooks
from mlplatform.scenarios.catalog import notebook_access as na
from mlplatform.scenarios.http import Response
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Target
from mlplatform.scenarios.manifests import notebooks as nbm
from mlplatform.scenarios.runner import Progress, execute
from mlplatform.scenarios.waits import Waiter
from mlplatform.tenancy import objects as tenant_objects
from tests import pod_security
from tests.scenarios.fake import FakeClock, _set_condition
from tests.scenarios.fake_kueue import KueueCluster, running_pod
from tests.upstream import CACHE, needs_cache

USERS = {"alice@example.com": "pw-alice", "bob@example.com": "pw-bob"}
CLIENT_SECRET, CA = "client-secret", "-----BEGIN CERTIFICATE-----\nplatform CA\n"
OWNER, OUTSIDER = "bob@example.com", "alice@example.com"  # team-b's owner; not in team-b


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class FakeGateway:
    """Dex's password grant and the notebook route, as the gateway answers them."""

    answers: dict[str | None, int] = field(
        default_factory=lambda: {OWNER: 200, OUTSIDER: 403, None: 302}
    )
    seen: list[tuple[str, str, dict, dict | None, str | None]] = field(default_factory=list)

    def request(self, method, url, *, headers=None, form=None, ca_pem=None, timeout_s=10.0):
        self.seen.append((method, url, headers or {}, form, ca_pem))
        if url.endswith("/dex/token"):
            ok = (form["grant_type"], form["client_secret"]) == ("password", CLIENT_SECRET)
            if not ok or USERS.get(form["username"]) != form["password"]:
                return Response(401, '{"error":"access_denied"}')
            return Response(200, json.dumps({"id_token": f"jwt-{form['username']}"}))
        auth = (headers or {}).get("Authorization")
        user = auth.removeprefix("Bearer jwt-") if auth else None
        return Response(self.answers.get(user, 403), "{}")


def dev_cluster(password_grant: bool = True, notebooks_installed: bool = True) -> KueueCluster:
    stack = load_stack("dev")
    config = stack.platform
    c = KueueCluster(FakeClock())
    for spec in stack.tenants:
        for obj in [tenant_objects.tenant_namespace(spec, config), *tenant_objects.access(spec),
                    *tenant_objects.queues(spec, config)]:  # fmt: skip
            c.put(obj)
        ns = spec.namespace
        c.put({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ClusterQueue",
               "metadata": {"name": spec.cluster_queue},
               "spec": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                        "resourceGroups": [{"coveredResources": ["cpu", "memory"], "flavors": [
                            {"name": "cpu", "resources": [
                                {"name": "cpu", "nominalQuota": "4"},
                                {"name": "memory", "nominalQuota": "16Gi"}]}]}]}})  # fmt: skip
    dex = identity.dex_config(config)
    if not password_grant:
        dex["oauth2"].pop("passwordConnector")
    c.put({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "dex", "namespace": identity.DEX_NAMESPACE},
           "data": {"config.yaml": yaml.safe_dump(dex)}})  # fmt: skip
    c.put({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "dex-oidc-client", "namespace": identity.DEX_NAMESPACE},
           "data": {"OIDC_CLIENT_SECRET": b64(CLIENT_SECRET)}})  # fmt: skip
    c.put({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "mlplatform-ingress-tls", "namespace": "istio-system"},
           "data": {"ca.crt": b64(CA)}})  # fmt: skip
    if notebooks_installed:
        c.put({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": na.CRD}})  # fmt: skip
    c.created_log = []
    c.hooks.append(lambda cl, obj: cl.created_log.append(obj))

    def controller(cl: KueueCluster, obj: dict) -> None:  # the notebook controller's pod
        if obj["kind"] == "Notebook":
            md = obj["metadata"]
            pod = running_pod(f"{md['name']}-0", md["namespace"], {nbm.POD_LABEL: md["name"]})
            cl.put(pod)

    c.hooks.append(controller)
    return c


def run(c: KueueCluster, tmp_path, gateway: FakeGateway, users=USERS, release: str = "1.11"):
    rel = releases.load(release)
    target = Target(rel, Images.for_release(rel), "f4ke00", users=users, http=gateway)
    report = execute(c, target, [na.NAME], tmp_path, False, context="kind-test",
                     waiter=Waiter(c.clock), progress=Progress(io.StringIO()))  # fmt: skip
    (sc,) = report.scenarios
    return sc


def step(sc, name: str):
    return next(s for s in sc.steps if s.name == name)


def test_only_the_owner_reaches_the_notebook(tmp_path):
    c, gw = dev_cluster(), FakeGateway()
    sc = run(c, tmp_path, gw)
    assert sc.status == "passed", sc.message
    assert all(s.status == "passed" for s in sc.steps), [(s.name, s.message) for s in sc.steps]
    made = {o["kind"]: o for o in c.created_log}
    # team-a's static users are all members; team-b (owner bob) has alice outside it.
    assert made["Notebook"]["metadata"]["namespace"] == "team-b"
    assert made["Job"]["metadata"]["namespace"] == "team-a"  # the other team probes
    probe_args = made["Job"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert probe_args[:4] == [
        "--host",
        "conformance-f4ke00.team-b.svc.cluster.local",
        "--port",
        "80",
    ]
    assert "blocked" in probe_args
    tokens = [f for _, url, _, f, _ in gw.seen if url.endswith("/dex/token")]
    assert {f["username"] for f in tokens} == {OWNER, OUTSIDER}
    assert {f["client_id"] for f in tokens} == {identity.CLIENT_ID}
    gets = [(url, h) for m, url, h, _, _ in gw.seen if m == "GET"]
    assert {url for url, _ in gets} == {
        "https://mlplatform.localtest.me:8443/notebook/team-b/conformance-f4ke00/api/status"
    }
    assert {h.get("Authorization") for _, h in gets} == {f"Bearer jwt-{OWNER}",
                                                         f"Bearer jwt-{OUTSIDER}", None}  # fmt: skip
    assert {ca for *_, ca in gw.seen} == {CA}  # verified against the platform CA
    assert sc.metrics["notebook_anonymous_status"] == 302
    assert c.namespaces() == {"team-a", "team-b"}  # nothing left but the tenants
    assert {"Notebook/conformance-f4ke00", f"Job/{na.NAME}-probe"} <= set(c.deleted)


def test_a_non_member_let_through_fails(tmp_path):
    gw = FakeGateway(answers={OWNER: 200, OUTSIDER: 200, None: 302})
    sc = run(dev_cluster(), tmp_path, gw)
    s = step(sc, "non-member refused")
    assert sc.status == "failed" and s.status == "failed"
    assert "alice@example.com (not in team-b) got 200, not 403" in s.message


def test_an_anonymous_answer_fails(tmp_path):
    sc = run(dev_cluster(), tmp_path, FakeGateway(answers={OWNER: 200, OUTSIDER: 403, None: 200}))
    assert step(sc, "no token refused").status == "failed"


def test_an_owner_refused_times_out_with_the_last_answer(tmp_path):
    sc = run(dev_cluster(), tmp_path, FakeGateway(answers={OWNER: 403, OUTSIDER: 403, None: 302}))
    s = step(sc, "owner reaches it")
    assert s.status == "failed" and "last seen: 403" in s.message


def test_a_probe_that_connects_fails(tmp_path):
    c = dev_cluster()

    def connected(cl, obj) -> None:
        if obj["kind"] == "Job":
            _set_condition(cl.objects[("Job", "team-a", obj["metadata"]["name"])], "Failed",
                           message="connected")  # fmt: skip

    c.hooks.append(connected)
    sc = run(c, tmp_path, FakeGateway())
    s = step(sc, "other teams cannot connect")
    assert s.status == "failed" and "connected" in s.message


def test_a_wrong_password_fails_the_owner_step(tmp_path):
    sc = run(dev_cluster(), tmp_path, FakeGateway(), users={**USERS, OWNER: "wrong"})
    assert "Dex refused a token for bob@example.com: 401" in step(sc, "owner reaches it").message


@pytest.mark.parametrize(
    ("cluster", "users", "reason"),
    [
        (lambda: dev_cluster(notebooks_installed=False), USERS, "notebooks are not installed"),
        (lambda: dev_cluster(password_grant=False), USERS, "Dex allows no password grant"),
        (dev_cluster, {}, "no static users' passwords given"),
        (dev_cluster, {OWNER: "pw-bob"}, "no tenant among ['team-a', 'team-b'] has a static"),
    ],
)
def test_without_a_notebook_team_it_does_not_apply(tmp_path, cluster, users, reason):
    c = cluster()
    sc = run(c, tmp_path, FakeGateway(), users=users)
    assert sc.status == "passed"
    assert {s.status for s in sc.steps[1:]} == {"skipped"}
    assert reason in sc.steps[1].message
    assert c.created_log == []


@pytest.mark.parametrize("release", releases.available())
def test_the_notebook_is_the_spawners_and_restricted(release):
    t = Target(releases.load(release), Images.for_release(releases.load(release)), "t3st01")
    nb = na.objects(t, "team-b", "team-a", OWNER)["notebook"]
    assert nb["apiVersion"] == t.release.component("notebook_controller").api("notebooks")
    spec = nb["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "default-editor"
    assert nb["metadata"]["annotations"]["notebooks.kubeflow.org/creator"] == OWNER
    (container,) = spec["containers"]
    assert container["image"] in t.release.component("jupyter_web_app").images.values()
    assert container["resources"]["limits"] == {"cpu": "250m", "memory": "512Mi"}
    # The pod the controller makes of it (labels, port, NB_PREFIX) passes restricted.
    pod = {"metadata": {"labels": {nbm.POD_LABEL: "nb"}},
           "spec": {**spec, "containers": [{**container, "ports": [{"containerPort": 8888}]}]}}  # fmt: skip
    assert pod_security.problems(pod, "restricted") == []
    assert spec["securityContext"]["runAsUser"] == notebooks.NOTEBOOK_UID


@needs_cache
@pytest.mark.parametrize("release", releases.available())
def test_the_notebook_validates_against_the_pinned_crd(release):
    """The Notebook CRD the notebook-controller kustomization at the release's manifests ref
    ships (crd/bases/kubeflow.org_notebooks.yaml): the served version and its spec schema."""
    rel = releases.load(release)
    k = rel.component("notebook_controller").source.kustomize
    assert CACHE is not None and k is not None
    overlay = CACHE.base(f"{k.url}?ref={k.ref}")  # .../upstream/overlays/kubeflow
    path = overlay.parent.parent / "crd" / "bases" / "kubeflow.org_notebooks.yaml"
    if not path.exists():
        pytest.skip(f"no Notebook CRD at {path}")
    crd = yaml.safe_load(path.read_text())
    nb = na.objects(Target(rel, Images.for_release(rel), "t3st01"), "team-b", "team-a", OWNER)[
        "notebook"
    ]
    group, version = nb["apiVersion"].split("/")
    assert crd["spec"]["group"] == group
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert served["served"]
    jsonschema.validate(nb["spec"], served["schema"]["openAPIV3Schema"]["properties"]["spec"])


def test_the_http_client_reports_redirects_and_denials_as_answers():
    """A login redirect is not followed and a 403 is an answer, not an exception."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from mlplatform.scenarios.http import UrllibHttp

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 302 if self.path == "/login" else 403
            self.send_response(status)
            self.send_header("Location", "/oauth2/start")
            self.end_headers()
            self.wfile.write(b"RBAC: access denied" if status == 403 else b"")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        http = UrllibHttp()
        redirect = http.request("GET", f"{base}/login")
        assert (redirect.status, redirect.headers["Location"]) == (302, "/oauth2/start")
        assert http.request("GET", f"{base}/x").body == "RBAC: access denied"
        form = http.request("POST", f"{base}/dex/token", form={"grant_type": "password"})
        assert (form.status, form.body) == (200, "grant_type=password")
    finally:
        server.shutdown()
