"""inference-traffic against a fake cluster: the Gateway and route conditions, the weighted
split observed by the in-tenant probe, and what makes each step fail; the route's shape."""

from __future__ import annotations

import copy
import json

import pytest

from mlplatform.components import gateway_api
from mlplatform.scenarios.catalog import inference_traffic as it
from mlplatform.scenarios.library import scenarios
from mlplatform.scenarios.manifests.routing import BACKEND_HEADER
from tests.scenarios import crs
from tests.scenarios.test_ai_scenarios import cluster, run, serving, statuses, target

API = "gateway.networking.k8s.io/v1"


def gateway(c, *conditions: str) -> None:
    conds = [{"type": k, "status": "True", "reason": k} for k in conditions]
    c.put({"apiVersion": API, "kind": "Gateway",
           "metadata": {"name": gateway_api.GATEWAY, "namespace": gateway_api.NAMESPACE},
           "status": {"conditions": conds}})  # fmt: skip


def routes(c, *conditions: str) -> None:
    """istiod's status on every HTTPRoute created: these conditions for the Gateway."""

    def hook(cl, obj):
        if obj["kind"] == "HTTPRoute":
            ref = obj["spec"]["parentRefs"][0]
            conds = [{"type": k, "status": "True"} for k in conditions]
            obj["status"] = {"parents": [{"parentRef": ref, "conditions": conds}]}

    c.hooks.append(hook)


def probe(c, backends: dict[str, int], errors: int = 0) -> None:
    report = {"requests": sum(backends.values()) + errors, "backends": backends,
              "errors": errors, "error_kinds": {"HTTPError": errors} if errors else {}}  # fmt: skip
    c.pod_logs["split"] = "MLPLATFORM_METRICS " + json.dumps(report)


def ready_cluster(backends=None, gw=("Accepted", "Programmed"), rt=("Accepted", "ResolvedRefs")):
    c, clock = cluster()
    serving(c)
    gateway(c, *gw)
    routes(c, *rt)
    probe(c, backends if backends is not None else {it.STABLE: 161, it.CANARY: 39})
    return c, clock


def test_weighted_split_through_the_gateway_proves_ai_inference(tmp_path):
    c, clock = ready_cluster()
    created = set()
    c.hooks.append(lambda cl, obj: created.add((obj["kind"], obj["metadata"]["name"])))
    report, sc = run(c, clock, tmp_path, it.NAME)
    assert sc.status == "passed", sc.message
    assert sc.metrics["answers_stable"] == 161 and sc.metrics["answers_canary"] == 39
    assert {("InferenceService", it.STABLE), ("InferenceService", it.CANARY)} <= created
    assert ("HTTPRoute", it.ROUTE) in created
    cov = report.coverage()["ai_inference"]
    assert cov.state == "proved"
    assert cov.by == tuple(f"{it.NAME} / {s}" for s in
                           ("Gateway programmed", "route accepted", "traffic follows weights"))  # fmt: skip


def test_a_gateway_not_programmed_fails(tmp_path):
    c, clock = ready_cluster(gw=("Accepted",))
    report, sc = run(c, clock, tmp_path, it.NAME)
    step = next(s for s in sc.steps if s.name == "Gateway programmed")
    assert step.status == "failed"
    assert step.message.endswith("Accepted and Programmed; last seen: Accepted=True Accepted")
    assert statuses(sc)["traffic follows weights"] == "skipped"
    assert report.coverage()["ai_inference"].state == "not covered"


def test_a_route_with_unresolved_backends_fails(tmp_path):
    c, clock = ready_cluster(rt=("Accepted",))
    _, sc = run(c, clock, tmp_path, it.NAME)
    step = next(s for s in sc.steps if s.name == "route accepted")
    assert step.status == "failed" and "Accepted=True" in step.message


@pytest.mark.parametrize(
    ("backends", "errors", "message"),
    [
        ({it.STABLE: 200}, 0, "iris-stable 100% (weight 80%), iris-canary 0% (weight 20%)"),
        ({it.STABLE: 100, it.CANARY: 100}, 0, "iris-stable 50% (weight 80%)"),
        ({it.STABLE: 150, "-": 50}, 0, "backends not in the route: ['-']"),
        ({it.STABLE: 160, it.CANARY: 30}, 10, "10 of 200 requests through the Gateway failed"),
    ],
)
def test_a_split_off_its_weights_fails(tmp_path, backends, errors, message):
    c, clock = ready_cluster()
    probe(c, backends, errors)
    _, sc = run(c, clock, tmp_path, it.NAME)
    step = sc.steps[-1]
    assert (step.name, step.status) == ("traffic follows weights", "failed")
    assert message in step.message


def test_split_tolerance_edges():
    weights = {"a": 80, "b": 20}
    assert it.split_problem({"a": 180, "b": 20}, weights) is None  # 10% canary: the edge
    assert it.split_problem({"a": 182, "b": 18}, weights) is not None
    assert it.split_problem({}, weights) == "no answers through the Gateway"


def test_route_and_tenant_objects():
    plan = scenarios()[it.NAME].build(target())
    route = next(o for o in plan.objects if o["kind"] == "HTTPRoute")
    (parent,) = route["spec"]["parentRefs"]
    assert (parent["namespace"], parent["name"]) == (gateway_api.NAMESPACE, gateway_api.GATEWAY)
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [
        (f"{it.STABLE}-predictor", 80), (f"{it.CANARY}-predictor", 20)]  # fmt: skip
    tags = [r["filters"][0]["responseHeaderModifier"]["set"] for r in refs]
    assert tags == [[{"name": BACKEND_HEADER, "value": n}] for n in (it.STABLE, it.CANARY)]
    (tenant,) = plan.tenants
    assert route["metadata"]["namespace"] == tenant.namespace
    # The Gateway admits the route: the tenant namespace carries the tenant label.
    ns = next(o for o in tenant.objects(target().release) if o["kind"] == "Namespace")
    assert gateway_api.TENANT_LABEL in ns["metadata"]["labels"]
    egress = [e for e in tenant.egress if e.namespace == gateway_api.NAMESPACE]
    assert [e.ports for e in egress] == [(gateway_api.PORT,)]
    runtime = next(o for o in plan.objects if o["kind"] == "ServingRuntime")
    assert "--model_name=iris" in runtime["spec"]["containers"][0]["args"]


def test_route_shape_check_catches_an_unknown_field():
    route = next(
        o for o in scenarios()[it.NAME].build(target()).objects if o["kind"] == "HTTPRoute"
    )
    assert crs.problems(route, "1.33") == []
    bad = copy.deepcopy(route)
    bad["spec"]["rules"][0]["backendRefs"][0]["weigth"] = 1
    assert crs.problems(bad, "1.33") == [".spec.rules[0].backendRefs[0].weigth: not a field"]


def test_the_probe_counts_answers_by_backend_header(capsys):
    """scenarios.traffic_split against a local server tagging answers as the route does."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from mlplatform.scenarios import traffic_split

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.headers["Host"])
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"predictions": [1, 1]}' if len(seen) != 3 else b"{}"
            self.send_response(200)
            if len(seen) % 2:
                self.send_header(BACKEND_HEADER, "a")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1/models/iris:predict"
        rc = traffic_split.main(["--url", url, "--host", "iris.t.x", "--header",
                                 BACKEND_HEADER, "--requests", "4"])  # fmt: skip
    finally:
        server.shutdown()
    line = capsys.readouterr().out.strip()
    report = json.loads(line.removeprefix("MLPLATFORM_METRICS "))
    assert rc == 1 and seen == ["iris.t.x"] * 4
    assert report["backends"] == {"a": 1, "-": 2} and report["error_kinds"] == {"ValueError": 1}
