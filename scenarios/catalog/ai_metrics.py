"""ai-metrics: Prometheus collects accelerator metrics (DCGM exporter, where GPUs are real)
and a model server's request metrics (discovered from a PodMonitor the tenant creates),
queried through the API server's service proxy.

Real GPUs are nodes carrying Node Feature Discovery's NVIDIA PCI label (vendor 10de), the
selector the platform's DCGM exporter runs on; kind's fake GPU capacity has no device, no
driver and no DCGM, so there the accelerator check is not applicable. The model server
(KServe's ModelServer in the scenario image) serves `request_predict_seconds` on /metrics
(kserve.metrics PREDICT_HIST_TIME, kserve 0.21).
"""

from __future__ import annotations

from mlplatform.config.gpu import NVIDIA_PCI_LABEL
from mlplatform.scenarios import prometheus
from mlplatform.scenarios.catalog.serve_and_load import MODEL, model_steps, serving_tenant
from mlplatform.scenarios.catalog.serve_and_load import model_store as store_for
from mlplatform.scenarios.library import NotApplicable, Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests import serving
from mlplatform.scenarios.manifests.accelerators import named_port_runtime, scrape_objects
from mlplatform.scenarios.manifests.pods import GPU_RESOURCE, Size
from mlplatform.scenarios.session import Session, StepFailed
from mlplatform.scenarios.waits import SERVE

NAME = "ai-metrics"
REAL_GPU_LABEL = NVIDIA_PCI_LABEL  # NFD's NVIDIA PCI vendor label: where DCGM exporter runs
# DCGM exporter's per-GPU utilisation and framebuffer memory in use (default counters).
GPU_METRICS = ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED")
SERVICE_METRIC = "request_predict_seconds_count"
LOAD_USERS, LOAD_SECONDS = 4, 30


def real_gpus(s: Session) -> int:
    nodes = s.cluster.list("v1", "Node", labels={REAL_GPU_LABEL: "true"})
    return sum(int(n.get("status", {}).get("allocatable", {}).get(GPU_RESOURCE, "0"))
               for n in nodes)  # fmt: skip


def build(t: Target) -> Plan:
    tenant = serving_tenant(t, NAME)
    ns, queue = tenant.namespace, tenant.local_queue
    size = Size(cpu="500m", memory="512Mi")
    runtime = named_port_runtime(serving.serving_runtime(t.release, ns, t.images.scenario, size))
    # Standard mode whatever the platform's default: Knative renames the model server's port
    # (user-port) and fronts it with its queue-proxy; the PodMonitor selects the port by name.
    isvc = serving.inference_service(t.release, MODEL, ns, store_for(t, ns), size, "standard")
    served, serve_steps = model_steps(t, tenant, runtime, isvc)
    scrape = scrape_objects(t.release.component("monitoring").api("monitoring"), ns, MODEL)
    series = f'{SERVICE_METRIC}{{namespace="{ns}",model_name="{MODEL}"}}'

    def load(url: str) -> dict:
        return serving.load_job("load", ns, queue, t.images.scenario, url, MODEL, LOAD_USERS,
                                LOAD_SECONDS, "cluster")  # fmt: skip

    def answers(s: Session) -> None:
        if not prometheus.query(s, "up"):
            raise StepFailed("Prometheus answers but scrapes nothing (no `up` series)")

    def accelerators(s: Session) -> None:
        gpus = real_gpus(s)
        if not gpus:
            raise NotApplicable(f"no node labelled {REAL_GPU_LABEL}=true has GPUs")
        for metric in GPU_METRICS:
            got = prometheus.query(s, metric)
            if len(got) < gpus:
                raise StepFailed(f"{metric}: {len(got)} series for {gpus} GPUs")
        s.metrics["gpus_reporting"] = float(gpus)

    def service(s: Session) -> None:
        for obj in scrape:
            s.create(obj)
        job = load(s.state["url"])
        s.create(job)
        s.admitted(job)
        s.finished(job)
        got = s.waiter.until(
            lambda: [x for x in prometheus.query(s, series) if prometheus.value(x) > 0],
            SERVE,
            f"Prometheus has {series} > 0",
        )
        s.metrics["predict_requests_scraped"] = sum(prometheus.value(x) for x in got)

    steps = [
        Step("Prometheus answers", "an instant query through the API server's service proxy "
             "returns scraped series", answers),
        Step("accelerator metrics", f"every real GPU reports {' and '.join(GPU_METRICS)}",
             accelerators, ("accelerator_metrics",)),
        *serve_steps,
        Step("service metrics collected", f"after {LOAD_SECONDS}s of load, Prometheus has "
             f"scraped {SERVICE_METRIC} from the predictor via the tenant's PodMonitor",
             service, ("ai_service_metrics",)),
    ]  # fmt: skip
    objects = [*served, *scrape, load(serving.predictor_url(MODEL, ns))]
    return Plan([tenant], [tenant.flavor.build(t.release)], objects, steps, ["kserve", "kueue"])


SCENARIO = Scenario(
    NAME,
    "Prometheus collects accelerator metrics (real GPUs) and a model server's request metrics.",
    ("kserve", "minio", "kueue", "monitoring"),
    build,
)
