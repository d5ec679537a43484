"""serve-and-load: a model stored in MinIO is served by an InferenceService and holds its
SLOs (p95, p99, error rate, throughput from scenarios/slo.yaml) under Locust load."""

from __future__ import annotations

import base64
import re

from mlplatform.manifests import Obj
from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.load import LoadReport
from mlplatform.scenarios.manifests import serving
from mlplatform.scenarios.manifests.pods import Size
from mlplatform.scenarios.manifests.tenancy import Egress, Quota, ScenarioTenant
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import SERVE

NAME = "serve-and-load"
MODEL = "iris"
LOAD_USERS, LOAD_SECONDS = 8, 60
SLO_PROFILE = "cluster"
RUNTIME_VALUE = "resolved at run time from the platform's MinIO secret"
_LOAD_RE = re.compile(re.escape(serving.LOAD_PREFIX) + r"(\{.*\})\s*$", re.MULTILINE)


def parse_load(log_text: str) -> LoadReport:
    found = _LOAD_RE.findall(log_text)
    if not found:
        raise StepFailed("the load job printed no report line")
    return LoadReport.from_json(found[-1])


def load_metrics(report: LoadReport) -> dict[str, float]:
    r = report.result
    return {
        "p50_ms": r.p50_ms,
        "p95_ms": r.p95_ms,
        "p99_ms": r.p99_ms,
        "rps": r.rps,
        "error_rate": r.fail_ratio,
        "requests": float(r.requests),
    }


def serving_tenant(t: Target, scenario: str, quota: Quota | None = None) -> ScenarioTenant:
    e = t.endpoints
    return ScenarioTenant(
        t.namespace(scenario),
        scenario,
        t.flavor(scenario),
        quota or Quota(cpu="4", memory="4Gi"),
        egress=(Egress(e.minio_namespace, (int(e.minio_endpoint.rsplit(":", 1)[1]),)),),
        pod_security="baseline",
    )  # KServe injects its storage initializer


def s3_credentials(s: Session, ns: str, store: serving.ModelStore) -> list[Obj]:
    """The tenant's S3 Secret and ServiceAccount, with keys read from the platform."""
    e = s.target.endpoints
    root = s.cluster.get("v1", "Secret", e.minio_secret, e.minio_namespace)
    if not root:
        raise StepFailed(f"no Secret {e.minio_namespace}/{e.minio_secret} to read S3 keys from")
    data = {k: base64.b64decode(v).decode() for k, v in root.get("data", {}).items()}
    return serving.s3_credentials(ns, store, data["rootUser"], data["rootPassword"])


def model_store(t: Target, ns: str, model: str = MODEL) -> serving.ModelStore:
    e = t.endpoints
    return serving.ModelStore(e.minio_endpoint, e.model_bucket, f"scenarios/{ns}/{model}")


def model_steps(
    t: Target, tenant: ScenarioTenant, runtime: Obj, isvc: Obj
) -> tuple[list[Obj], list[Step]]:
    """Upload the model to MinIO, then serve it: the objects and the two steps; the second
    leaves the predictor's URL in `state["url"]`."""
    ns, queue = tenant.namespace, tenant.local_queue
    name, mode = isvc["metadata"]["name"], isvc["metadata"]["annotations"][serving.MODE_ANNOTATION]
    store = model_store(t, ns)
    upload = serving.model_upload_job(
        "model-upload", ns, queue, t.images.scenario, t.images.mc, store
    )

    def uploaded(s: Session) -> None:
        for obj in s3_credentials(s, ns, store):
            s.create(obj)
        s.create(upload)
        s.finished(upload)

    def ready(s: Session) -> None:
        s.create(runtime)
        s.create(isvc)
        live = s.waiter.until(
            lambda: (o := s.live(isvc)) and condition(o, "Ready") and o,
            SERVE,
            f"InferenceService {ns}/{name} Ready",
            lambda: str((s.live(isvc) or {}).get("status", {})),
        )
        s.state["url"] = live["status"].get("address", {}).get("url") or serving.predictor_url(
            name, ns
        )

    creds = serving.s3_credentials(ns, store, RUNTIME_VALUE, RUNTIME_VALUE)
    steps = [
        Step("model in MinIO", "the fitted model is copied to the tenant's prefix with its "
             "S3 credentials", uploaded),
        Step("InferenceService ready", f"the {mode} predictor loads the model from "
             "MinIO through the tenant's ServiceAccount", ready),
    ]  # fmt: skip
    return [*creds, upload, runtime, isvc], steps


def build(t: Target) -> Plan:
    tenant = serving_tenant(t, NAME)
    ns, queue = tenant.namespace, tenant.local_queue
    size = Size(cpu="1", memory="1Gi")
    runtime = serving.serving_runtime(t.release, ns, t.images.scenario, size)
    isvc = serving.inference_service(t.release, MODEL, ns, model_store(t, ns), size, t.serving_mode)
    served, serve_steps = model_steps(t, tenant, runtime, isvc)
    offline_load = serving.load_job(
        "load",
        ns,
        queue,
        t.images.scenario,
        serving.predictor_url(MODEL, ns),
        MODEL,
        LOAD_USERS,
        LOAD_SECONDS,
        SLO_PROFILE,
    )

    def holds_slo(s: Session) -> None:
        job = serving.load_job(
            "load",
            ns,
            queue,
            t.images.scenario,
            s.state["url"],
            MODEL,
            LOAD_USERS,
            LOAD_SECONDS,
            SLO_PROFILE,
        )
        s.create(job)
        s.admitted(job)
        failure: StepFailed | None = None
        try:
            s.finished(job)
        except StepFailed as e:  # the harness exits 1 when the gate fails: say why
            failure = e
        report = parse_load(s.pod_logs(job))
        s.metrics.update(load_metrics(report))
        if not report.gate.passed:
            raise StepFailed("SLO gate failed: " + "; ".join(report.gate.reasons))
        if failure:
            raise failure

    steps = [
        *serve_steps,
        Step("load within SLOs", f"{LOAD_USERS} Locust users for {LOAD_SECONDS}s meet the "
             f"'{SLO_PROFILE}' SLO profile", holds_slo),
    ]  # fmt: skip
    objects = [*served, offline_load]
    return Plan([tenant], [tenant.flavor.build(t.release)], objects, steps, ["kserve", "kueue"])


SCENARIO = Scenario(
    NAME,
    "A model in MinIO served by an InferenceService meets latency, error and throughput SLOs.",
    ("kserve", "minio", "kueue"),
    build,
)
