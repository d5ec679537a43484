"""The AI-conformance scenarios against a fake cluster with quota-aware Kueue admission:
their steps, what makes each fail, and the coverage the reports derive from them."""

from __future__ import annotations

import base64
import io
import json
import xml.etree.ElementTree as ET

from mlplatform import releases
from mlplatform.scenarios.catalog.ai_metrics import REAL_GPU_LABEL, SERVICE_METRIC
from mlplatform.scenarios.client import ApiError
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Target
from mlplatform.scenarios.report import JSON_FILE, MARKDOWN_FILE
from mlplatform.scenarios.runner import Progress, execute
from mlplatform.scenarios.waits import Waiter
from tests.scenarios.fake import FakeClock, node
from tests.scenarios.fake_kueue import KueueCluster

RELEASE = "1.11"


def target() -> Target:
    rel = releases.load(RELEASE)
    return Target(rel, Images.for_release(rel), "f4ke00")


def cluster(*nodes, **durations) -> tuple[KueueCluster, FakeClock]:
    clock = FakeClock()
    c = KueueCluster(clock)
    c.durations.update(durations)
    for n in nodes:
        c.put(n)
    return c, clock


def run(c: KueueCluster, clock: FakeClock, tmp_path, name: str):
    report = execute(c, target(), [name], tmp_path, False, context="kind-test",
                     waiter=Waiter(clock), progress=Progress(io.StringIO()))  # fmt: skip
    (sc,) = report.scenarios
    return report, sc


def statuses(sc) -> dict[str, str]:
    return {s.name: s.status for s in sc.steps}


# --- gang-scheduling ------------------------------------------------------------------


def test_gang_waits_whole_then_runs_whole(tmp_path):
    c, clock = cluster(holder=None, gang=30)
    report, sc = run(c, clock, tmp_path, "gang-scheduling")
    assert sc.status == "passed", sc.message
    assert "Job/holder" in c.deleted  # the holder freed the quota
    cov = report.coverage()["gang_scheduling"]
    assert cov.state == "proved"
    assert cov.by == ("gang-scheduling / gang waits whole", "gang-scheduling / gang runs whole")


def test_a_gang_started_rank_by_rank_fails(tmp_path):
    c, clock = cluster(holder=None)

    def partial(obj):  # a per-pod scheduler: one rank starts while the other cannot fit
        if obj["kind"] == "PyTorchJob":
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "gang-master-0", "namespace": obj["metadata"]["namespace"],
                                "labels": {"training.kubeflow.org/job-name": "gang"}},
                   "spec": {"containers": []}, "status": {"phase": "Running"}}  # fmt: skip
            c.put(pod)

    c.hooks.append(lambda cl, obj: partial(obj))
    report, sc = run(c, clock, tmp_path, "gang-scheduling")
    step = sc.steps[2]
    assert (step.name, step.status) == ("gang waits whole", "failed")
    assert "1 pods" in step.message
    assert report.coverage()["gang_scheduling"].state == "not covered"


# --- secure-accelerator-access --------------------------------------------------------


def probe_logs(visible: str = "", devices: tuple[str, ...] = ()) -> dict[str, str]:
    def line(container: str, seen: str, devs: tuple[str, ...]) -> str:
        report = {"container": container, "devices": list(devs), "visible": seen}
        return "MLPLATFORM_METRICS " + json.dumps(report)

    return {"plain": line("plain", visible, ()), "asks-all": line("asks-all", "all", devices)}


def test_gpu_access_is_mediated(tmp_path):
    c, clock = cluster(node("gpu-node", gpus=1), **{"own-gpu": None})  # runs until deleted
    c.pod_logs = probe_logs()
    report, sc = run(c, clock, tmp_path, "secure-accelerator-access")
    assert sc.status == "passed", sc.message
    assert statuses(sc)["no device without a request"] == "passed"
    assert report.coverage()["secure_accelerator_access"].state == "proved"


def test_a_device_reached_without_a_request_fails(tmp_path):
    c, clock = cluster(node("gpu-node", gpus=1), **{"own-gpu": None})  # runs until deleted
    c.pod_logs = probe_logs(devices=("/dev/nvidia0", "/dev/nvidiactl"))
    _, sc = run(c, clock, tmp_path, "secure-accelerator-access")
    assert sc.status == "failed"
    assert sc.steps[-1].message == (
        "a pod without a GPU request reached a GPU: asks-all sees /dev/nvidia0, /dev/nvidiactl"
    )


def test_a_visible_devices_value_fails(tmp_path):
    c, clock = cluster(node("gpu-node", gpus=1), **{"own-gpu": None})  # runs until deleted
    c.pod_logs = probe_logs(visible="all")
    _, sc = run(c, clock, tmp_path, "secure-accelerator-access")
    assert "plain has NVIDIA_VISIBLE_DEVICES=all" in sc.steps[-1].message


def test_a_queue_admitting_foreign_gpu_quota_fails(tmp_path):
    c, clock = cluster(node("gpu-node", gpus=1), **{"own-gpu": None})  # runs until deleted
    c.pod_logs = probe_logs()
    # A ClusterQueue that selects every namespace, as a careless tenant setup would.
    real = c._cluster_queue

    def leaky(job):
        lq = c.objects.get(("LocalQueue", job["metadata"]["namespace"],
                            job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"]))  # fmt: skip
        return lq and c.objects.get(("ClusterQueue", "", lq["spec"]["clusterQueue"]))

    c._cluster_queue = leaky
    _, sc = run(c, clock, tmp_path, "secure-accelerator-access")
    assert real is not leaky
    assert statuses(sc)["foreign GPU quota refused"] == "failed"
    assert "Job/own-gpu" in c.deleted  # B's quota was free: the refusal must be isolation


def test_without_gpu_nodes_the_device_check_is_not_applicable(tmp_path):
    c, clock = cluster(node("cpu-node"), **{"own-gpu": None})  # runs until deleted
    report, sc = run(c, clock, tmp_path, "secure-accelerator-access")
    assert sc.status == "passed", sc.message
    last = sc.steps[-1]
    assert (last.status, last.inapplicable) == (
        "skipped",
        "no node advertises nvidia.com/gpu: no device to isolate",
    )
    # The quota steps still prove the requirement.
    assert report.coverage()["secure_accelerator_access"].state == "proved"


# --- robust-controller ----------------------------------------------------------------


def controller_cluster(**durations) -> tuple[KueueCluster, FakeClock]:
    c, clock = cluster(**durations)
    c.add_controller("kubeflow", {"control-plane": "kubeflow-training-operator"})
    c.add_controller("kueue-system", {"control-plane": "controller-manager"})

    def webhook(obj):
        if obj["kind"] == "PyTorchJob" and not any(
            ctr["name"] == "pytorch"
            for r in obj["spec"]["pytorchReplicaSpecs"].values()
            for ctr in r["template"]["spec"]["containers"]
        ):
            raise ApiError(422, "Unprocessable Entity")

    c.validate = webhook
    return c, clock


def test_a_run_survives_its_controllers(tmp_path):
    c, clock = controller_cluster(survivor=120)
    report, sc = run(c, clock, tmp_path, "robust-controller")
    assert sc.status == "passed", sc.message
    assert {"Pod/ctrl-1", "Pod/ctrl-2"} <= set(c.deleted)
    assert report.coverage()["robust_controller"].by == (
        "robust-controller / webhook validates",
        "robust-controller / run completes",
    )


def test_an_accepting_webhook_fails(tmp_path):
    c, clock = controller_cluster(survivor=120)
    c.validate = lambda obj: None
    _, sc = run(c, clock, tmp_path, "robust-controller")
    assert sc.steps[2].message == "a PyTorchJob without a `pytorch` container was accepted"


def test_a_controller_that_does_not_come_back_fails(tmp_path):
    c, clock = controller_cluster(survivor=120)
    c.controllers = c.controllers[:1]  # Kueue's pod is not replaced
    _, sc = run(c, clock, tmp_path, "robust-controller")
    step = sc.steps[4]
    assert step.status == "failed"
    assert step.message.startswith("timed out after long (45s): a new Ready kueue pod")


# --- serving: pod-autoscaling and ai-metrics -------------------------------------------


def serving(c: KueueCluster) -> None:
    c.put({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "minio-root", "namespace": "minio"},
           "data": {"rootUser": base64.b64encode(b"admin").decode(),
                    "rootPassword": base64.b64encode(b"pw").decode()}})  # fmt: skip

    def ready(cl, obj):
        if obj["kind"] == "InferenceService":
            obj["status"] = {"conditions": [{"type": "Ready", "status": "True"}],
                             "address": {"url": "http://iris.svc"}}  # fmt: skip

    c.hooks.append(ready)


def metrics_api(c: KueueCluster, available: bool = True) -> None:
    c.put({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
           "metadata": {"name": "v1beta1.metrics.k8s.io"},
           "status": {"conditions": [{"type": "Available",
                                      "status": "True" if available else "False"}]}})  # fmt: skip


def hpa_follows_load(c: KueueCluster, peak: int = 3) -> None:
    """KServe's HPA for the predictor; the load job running puts it at `peak` replicas."""

    def made(cl, obj):
        if obj["kind"] == "InferenceService":
            ns = obj["metadata"]["namespace"]
            p = obj["spec"]["predictor"]
            cl.put({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": "iris-predictor", "namespace": ns},
                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "iris-predictor"},
                             "minReplicas": p["minReplicas"], "maxReplicas": p["maxReplicas"]},
                    "status": {"currentReplicas": 1}})  # fmt: skip

    real_list = c.list

    def listing(api_version, kind, namespace=None, labels=None):
        found = real_list(api_version, kind, namespace, labels)
        if kind == "HorizontalPodAutoscaler":
            load = c.objects.get(("Job", namespace or "", "load"))
            busy = (
                load is not None
                and not c._done(load)
                and (("Job", namespace, "load") in c._running)
            )
            for h in found:
                h["status"]["currentReplicas"] = peak if busy else 1
        return found

    c.hooks.append(made)
    c.list = listing


def test_pod_autoscaling_scales_out_and_back(tmp_path):
    c, clock = cluster(load=240)
    serving(c)
    metrics_api(c)
    hpa_follows_load(c)
    report, sc = run(c, clock, tmp_path, "pod-autoscaling")
    assert sc.status == "passed", sc.message
    assert sc.metrics["replicas_peak"] == 3
    assert "Job/load" in c.deleted
    assert report.coverage()["pod_autoscaling"].state == "proved"


def test_pod_autoscaling_without_metrics_server_fails_first(tmp_path):
    c, clock = cluster(load=240)
    serving(c)
    metrics_api(c, available=False)
    _, sc = run(c, clock, tmp_path, "pod-autoscaling")
    assert sc.steps[1].message.startswith("APIService v1beta1.metrics.k8s.io is not Available")


def test_pod_autoscaling_that_never_scales_fails(tmp_path):
    c, clock = cluster(load=240)
    serving(c)
    metrics_api(c)
    hpa_follows_load(c, peak=1)
    _, sc = run(c, clock, tmp_path, "pod-autoscaling")
    step = next(s for s in sc.steps if s.name == "scales out under load")
    assert step.status == "failed" and "above 1 replica; last seen: 1 replicas" in step.message


def prometheus(c: KueueCluster, gpu_series: int) -> list[str]:
    """Prometheus behind the API server proxy; the predict counter appears after the load."""
    asked: list[str] = []

    def answer(params):
        q = params["query"]
        asked.append(q)
        if q == "up":
            result = [{"metric": {"job": "x"}, "value": [0, "1"]}]
        elif q.startswith("DCGM_FI_DEV_"):
            result = [{"metric": {"gpu": str(i)}, "value": [0, "40"]} for i in range(gpu_series)]
        elif q.startswith(SERVICE_METRIC):
            done = any(
                k[0] == "Job" and k[2] == "load" and c._done(o) for k, o in c.objects.items()
            )
            result = [{"metric": {}, "value": [0, "120"]}] if done else []
        else:
            return json.dumps({"status": "error", "error": f"unknown {q}"})
        return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})

    c.proxied[("monitoring", "kps-prometheus:http-web", "api/v1/query")] = answer
    return asked


def real_gpu_node(name: str, gpus: int) -> dict:
    n = node(name, gpus)
    n["metadata"]["labels"][REAL_GPU_LABEL] = "true"
    return n


def test_ai_metrics_on_real_gpus(tmp_path):
    c, clock = cluster(real_gpu_node("gpu-node", 2), load=30)
    serving(c)
    asked = prometheus(c, gpu_series=2)
    report, sc = run(c, clock, tmp_path, "ai-metrics")
    assert sc.status == "passed", sc.message
    assert sc.metrics["gpus_reporting"] == 2 and sc.metrics["predict_requests_scraped"] == 120
    assert any('namespace="scn-ai-metrics-f4ke00"' in q for q in asked)
    cov = report.coverage()
    assert (cov["accelerator_metrics"].state, cov["ai_service_metrics"].state) == ("proved",) * 2
    kinds = {k[0] for k in c.objects}
    assert "PodMonitor" not in kinds  # cleaned up with the tenant


def test_ai_metrics_missing_gpu_series_fails(tmp_path):
    c, clock = cluster(real_gpu_node("gpu-node", 2), load=30)
    serving(c)
    prometheus(c, gpu_series=1)
    _, sc = run(c, clock, tmp_path, "ai-metrics")
    assert sc.steps[2].message == "DCGM_FI_DEV_GPU_UTIL: 1 series for 2 GPUs"


def test_ai_metrics_without_real_gpus_is_not_applicable_for_accelerators(tmp_path):
    c, clock = cluster(node("kind-worker", gpus=4), load=30)  # fake capacity, no NFD label
    serving(c)
    prometheus(c, gpu_series=0)
    report, sc = run(c, clock, tmp_path, "ai-metrics")
    assert sc.status == "passed", sc.message
    cov = report.coverage()["accelerator_metrics"]
    assert (cov.state, cov.why) == (
        "not applicable",
        f"ai-metrics / accelerator metrics: no node labelled {REAL_GPU_LABEL}=true has GPUs",
    )
    doc = json.loads((tmp_path / JSON_FILE).read_text())
    assert doc["kubernetes"] == "1.34"
    assert doc["coverage"]["accelerator_metrics"]["status"] == "not applicable"
    assert doc["coverage"]["ai_service_metrics"] == {
        "level": "MUST",
        "status": "proved",
        "by": ["ai-metrics / service metrics collected"],
    }
    assert doc["coverage"]["gang_scheduling"]["status"] == "not covered"  # not run here
    md = (tmp_path / MARKDOWN_FILE).read_text()
    assert "## AI-conformance coverage (Kubernetes 1.34, checklist v1.34)" in md
    assert "| ai_service_metrics | MUST | proved | ai-metrics / service metrics collected |" in md
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["ai_conformance.accelerator_metrics"] == "not applicable"
    assert props["ai_conformance.ai_service_metrics"] == "proved"


def test_ai_metrics_service_metric_never_scraped_fails(tmp_path):
    c, clock = cluster(node("cpu-node"), load=30)
    serving(c)
    prometheus(c, gpu_series=0)
    c.proxied[("monitoring", "kps-prometheus:http-web", "api/v1/query")] = lambda p: json.dumps(
        {
            "status": "success",
            "data": {"result": [] if p["query"] != "up" else [{"value": [0, "1"]}]},
        }
    )
    report, sc = run(c, clock, tmp_path, "ai-metrics")
    assert sc.steps[-1].status == "failed"
    assert sc.steps[-1].message.startswith(
        "timed out after serve (600s): Prometheus has request_predict_seconds_count"
    )
    assert report.coverage()["ai_service_metrics"].state == "not covered"
