"""inference-traffic: the Kubernetes Gateway API carries inference traffic. Two predictors of
the scenario model (stable and canary InferenceServices, Standard mode, serving the same model
name) sit behind one HTTPRoute on the platform's inference Gateway (class `istio`) with an
80/20 weighted split; the Gateway and the route must be Accepted and Programmed / resolved,
and a Job in the tenant counts the answers of each backend through the Gateway's Service (each
backendRef tags its answers with a response header), which must follow the weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from mlplatform.components import gateway_api
from mlplatform.manifests import Obj
from mlplatform.scenarios.catalog.serve_and_load import MODEL, model_steps, serving_tenant
from mlplatform.scenarios.catalog.serve_and_load import model_store as store_for
from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests import routing, serving
from mlplatform.scenarios.manifests.pods import Size
from mlplatform.scenarios.manifests.tenancy import Egress, Quota
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import SERVE, SHORT

NAME = "inference-traffic"
STABLE, CANARY = f"{MODEL}-stable", f"{MODEL}-canary"
WEIGHTS = {STABLE: 80, CANARY: 20}
REQUESTS = 200
TOLERANCE = 0.1  # each backend's share within ±0.1 of its weight's (>4 sigma at 200, 80/20)
ROUTE = "iris-split"
HOST_SUFFIX = "inference.internal"
PREDICT_PATH = f"/v1/models/{MODEL}:predict"
PROVES = ("ai_inference",)


def split_problem(answered: Mapping[str, int], weights: Mapping[str, int]) -> str | None:
    """Why the answers per backend do not follow the weights, or None."""
    total = sum(answered.values())
    if total == 0:
        return "no answers through the Gateway"
    if stray := sorted(set(answered) - set(weights)):
        return f"answers from backends not in the route: {stray}"
    weight_sum = sum(weights.values())
    off = []
    for backend, weight in weights.items():
        share, want = answered.get(backend, 0) / total, weight / weight_sum
        if answered.get(backend, 0) == 0 or abs(share - want) > TOLERANCE:
            off.append(f"{backend} {share:.0%} (weight {want:.0%})")
    return "split off its weights: " + ", ".join(off) if off else None


def _parent_status(route: Obj | None) -> Obj | None:
    """The route's status for the inference Gateway, as `{"status": <RouteParentStatus>}`."""
    for p in (route or {}).get("status", {}).get("parents", []) or []:
        ref = p.get("parentRef", {})
        if (ref.get("name"), ref.get("namespace")) == (gateway_api.GATEWAY, gateway_api.NAMESPACE):
            return {"status": p}  # conditions where session.condition looks for them
    return None


def _conditions(obj: Obj | None) -> str:
    conds = (obj or {}).get("status", {}).get("conditions", []) or []
    return "; ".join(f"{c['type']}={c['status']} {c.get('reason', '')}" for c in conds) or "-"


def build(t: Target) -> Plan:
    base = serving_tenant(t, NAME, Quota(cpu="6", memory="6Gi"))
    # Tenant pods call the inference Gateway's listener (its Service port = pod port 80).
    tenant = dataclasses.replace(
        base, egress=(*base.egress, Egress(gateway_api.NAMESPACE, (gateway_api.PORT,)))
    )
    ns, queue = tenant.namespace, tenant.local_queue
    size = Size(cpu="500m", memory="512Mi")
    runtime = serving.serving_runtime(t.release, ns, t.images.scenario, size)
    # Both predictors serve the model under one name, so one predict path fits either.
    server = runtime["spec"]["containers"][0]
    server["args"] = [f"--model_name={MODEL}" if a.startswith("--model_name=") else a
                      for a in server["args"]]  # fmt: skip
    store = store_for(t, ns)
    isvcs = {
        name: serving.inference_service(t.release, name, ns, store, size, "standard")
        for name in WEIGHTS
    }
    served, serve_steps = model_steps(t, tenant, runtime, isvcs[STABLE])
    hostname = f"{MODEL}.{ns}.{HOST_SUFFIX}"
    backends = [routing.Backend(f"{n}-predictor", w, n) for n, w in WEIGHTS.items()]
    route = routing.http_route(t.release, ROUTE, ns, hostname, backends)
    admit = routing.allow_from_inference_gateway(ns, serving.HTTP_PORT)
    probe = routing.split_job("split", ns, queue, t.images.scenario, hostname, PREDICT_PATH,
                              REQUESTS)  # fmt: skip
    api = t.release.component("gateway_api").api("gateway")

    def canary_ready(s: Session) -> None:
        isvc = isvcs[CANARY]
        s.create(isvc)
        s.waiter.until(
            lambda: condition(s.live(isvc), "Ready"),
            SERVE,
            f"InferenceService {ns}/{CANARY} Ready",
            lambda: str((s.live(isvc) or {}).get("status", {})),
        )

    def gateway_programmed(s: Session) -> None:
        def live() -> Obj | None:
            return s.cluster.get(api, "Gateway", gateway_api.GATEWAY, gateway_api.NAMESPACE)

        s.waiter.until(
            lambda: condition(live(), "Accepted") and condition(live(), "Programmed"),
            SHORT,
            f"Gateway {gateway_api.NAMESPACE}/{gateway_api.GATEWAY} Accepted and Programmed",
            lambda: _conditions(live()) if live() else "no such Gateway",
        )

    def route_accepted(s: Session) -> None:
        s.create(admit)
        s.create(route)

        def parent() -> Obj | None:
            return _parent_status(s.live(route))

        s.waiter.until(
            lambda: (p := parent()) and condition(p, "Accepted") and condition(p, "ResolvedRefs"),
            SHORT,
            f"HTTPRoute {ns}/{ROUTE} Accepted with resolved refs by {gateway_api.GATEWAY}",
            lambda: _conditions(parent()),
        )

    def follows_weights(s: Session) -> None:
        s.create(probe)
        s.admitted(probe)
        failure: StepFailed | None = None
        try:
            s.finished(probe)
        except StepFailed as e:  # the probe exits 1 on failed requests: say how many
            failure = e
        report: dict[str, Any] = s.payload_metrics(probe)
        answered = {str(k): int(v) for k, v in (report.get("backends") or {}).items()}
        for backend in WEIGHTS:
            s.metrics[f"answers_{backend.rsplit('-', 1)[-1]}"] = float(answered.get(backend, 0))
        s.metrics["errors"] = float(report.get("errors", 0))
        if report.get("errors"):
            raise StepFailed(
                f"{report['errors']} of {report.get('requests')} requests through the Gateway "
                f"failed: {report.get('error_kinds')}"
            )
        if problem := split_problem(answered, WEIGHTS):
            raise StepFailed(problem)
        if failure:
            raise failure

    split = "/".join(str(w) for w in WEIGHTS.values())
    steps = [
        *serve_steps,
        Step("canary ready", f"a second predictor ({CANARY}) of the model is Ready",
             canary_ready),
        Step("Gateway programmed", f"the platform's inference Gateway (class "
             f"{gateway_api.CLASS}) is Accepted and Programmed", gateway_programmed, PROVES),
        Step("route accepted", f"an HTTPRoute splitting {split} across the predictors is "
             "Accepted by the Gateway with its backends resolved", route_accepted, PROVES),
        Step("traffic follows weights", f"{REQUESTS} predict posts through the Gateway are "
             f"all answered, split {split} within ±{TOLERANCE:.0%}", follows_weights, PROVES),
    ]  # fmt: skip
    objects = [*served, isvcs[CANARY], admit, route, probe]
    return Plan([tenant], [tenant.flavor.build(t.release)], objects, steps, ["kserve", "kueue"])


SCENARIO = Scenario(
    NAME,
    "Gateway API: an HTTPRoute on the inference Gateway splits predict traffic 80/20 across "
    "two predictors.",
    ("kserve", "minio", "kueue", "gateway_api"),
    build,
)
