"""pod-autoscaling: an InferenceService with minReplicas 1 / maxReplicas 3 scales out under
Locust load and back in after it, through the HorizontalPodAutoscaler KServe manages in
Standard (raw Deployment) mode, whatever the platform's default serving mode.

The HPA scales on CPU utilisation, read from the resource metrics API (metrics.k8s.io,
served by metrics-server): without it no HPA can scale, which the first step reports.
"""

from __future__ import annotations

from mlplatform.manifests import Obj
from mlplatform.scenarios.catalog.serve_and_load import MODEL, model_steps, serving_tenant
from mlplatform.scenarios.catalog.serve_and_load import model_store as store_for
from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests import serving
from mlplatform.scenarios.manifests.accelerators import autoscaled
from mlplatform.scenarios.manifests.pods import Size
from mlplatform.scenarios.manifests.tenancy import Quota
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import JOB, SHORT

NAME = "pod-autoscaling"
LOW, HIGH, CPU_TARGET = 1, 3, 50  # replicas; % of the predictor's CPU request
LOAD_USERS, LOAD_SECONDS, LOAD_PROFILE = 32, 240, "autoscale"
METRICS_API = "v1beta1.metrics.k8s.io"
HPA_API = "autoscaling/v2"
AUTOSCALE = ("pod_autoscaling",)


def predictor_hpa(s: Session, ns: str) -> Obj | None:
    """The HPA KServe made for the predictor Deployment (the tenant holds one)."""
    found = [
        h
        for h in s.cluster.list(HPA_API, "HorizontalPodAutoscaler", ns)
        if h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    ]
    return found[0] if found else None


def replicas(s: Session, ns: str) -> int:
    hpa = predictor_hpa(s, ns) or {}
    return int(hpa.get("status", {}).get("currentReplicas") or 0)


def build(t: Target) -> Plan:
    # Each predictor pod counts its storage initializer's 1 CPU / 1Gi limit (kserve chart
    # inferenceservice-config storageInitializer: templates/configmap.yaml at v0.15.0 and
    # v0.15.2, values.yaml kserve.storage.resources at v0.16.0) against the namespace quota:
    # an init container's limit beats a smaller sum of containers.
    tenant = serving_tenant(t, NAME, Quota(cpu="6", memory="6Gi"))
    ns, queue = tenant.namespace, tenant.local_queue
    size = Size(cpu="500m", memory="512Mi")
    runtime = serving.serving_runtime(t.release, ns, t.images.scenario, size)
    base = serving.inference_service(t.release, MODEL, ns, store_for(t, ns), size, "standard")
    isvc = autoscaled(base, t.release, LOW, HIGH, CPU_TARGET)
    served, serve_steps = model_steps(t, tenant, runtime, isvc)

    def load(url: str) -> Obj:
        return serving.load_job("load", ns, queue, t.images.scenario, url, MODEL, LOAD_USERS,
                                LOAD_SECONDS, LOAD_PROFILE)  # fmt: skip

    def metrics_api(s: Session) -> None:
        api = s.cluster.get("apiregistration.k8s.io/v1", "APIService", METRICS_API)
        if not condition(api, "Available"):
            raise StepFailed(
                f"APIService {METRICS_API} is not Available: no HPA can read CPU usage "
                "(install metrics-server)"
            )

    def bounded(s: Session) -> None:
        hpa = s.waiter.until(lambda: predictor_hpa(s, ns), SHORT, f"an HPA in {ns}")
        got = (hpa["spec"].get("minReplicas"), hpa["spec"]["maxReplicas"])
        if got != (LOW, HIGH):
            raise StepFailed(f"HPA {hpa['metadata']['name']} bounds {got}, set {(LOW, HIGH)}")
        s.state["hpa"] = hpa["metadata"]["name"]

    def scales_out(s: Session) -> None:
        job = load(s.state["url"])
        s.create(job)
        s.admitted(job)
        start = s.waiter.clock.now()
        peak = s.waiter.until(
            lambda: (n := replicas(s, ns)) > LOW and n,
            JOB,
            f"HPA {ns}/{s.state['hpa']} above {LOW} replica",
            lambda: f"{replicas(s, ns)} replicas",
        )
        s.metrics["scale_out_s"] = round(s.waiter.clock.now() - start, 1)
        s.metrics["replicas_peak"] = float(peak)
        s.finished(job)
        s.cluster.delete(job["apiVersion"], job["kind"], "load", ns)

    def scales_in(s: Session) -> None:
        start = s.waiter.clock.now()
        s.waiter.until(
            lambda: replicas(s, ns) == LOW,
            JOB,
            f"HPA {ns}/{s.state['hpa']} back to {LOW} replica",
            lambda: f"{replicas(s, ns)} replicas",
        )
        s.metrics["scale_in_s"] = round(s.waiter.clock.now() - start, 1)

    steps = [
        Step("resource metrics served", f"APIService {METRICS_API} is Available", metrics_api),
        *serve_steps,
        Step("HPA bounds", f"KServe made an HPA for the predictor with {LOW}-{HIGH} replicas",
             bounded, AUTOSCALE),
        Step("scales out under load", f"{LOAD_USERS} Locust users for {LOAD_SECONDS}s push "
             f"CPU past {CPU_TARGET}% and the HPA adds replicas", scales_out, AUTOSCALE),
        Step("scales back in", f"after the load the HPA returns to {LOW} replica", scales_in,
             AUTOSCALE),
    ]  # fmt: skip
    objects = [*served, load(serving.predictor_url(MODEL, ns))]
    return Plan([tenant], [tenant.flavor.build(t.release)], objects, steps, ["kserve", "kueue"])


SCENARIO = Scenario(
    NAME,
    "An InferenceService scales out under load and back in through its HPA.",
    ("kserve", "minio", "kueue"),
    build,
)
