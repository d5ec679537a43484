"""Objects of the AI-conformance scenarios: the accelerator-isolation probe, scrape wiring for
a model server (PodMonitor + NetworkPolicy), and an autoscaled InferenceService.

The probe runs two containers on a GPU node without requesting a GPU: `plain` (what any pod
sees) and `asks-all`, which sets NVIDIA_VISIBLE_DEVICES=all itself. The NVIDIA container
runtime must hand neither a device: the variable is the device plugin's to set, and a
runtime that honours it from an unprivileged pod (`accept-nvidia-visible-devices-envvar-
when-unprivileged`, NVIDIA k8s-device-plugin README "deviceListStrategy") lets any pod take
every GPU.
"""

from __future__ import annotations

import copy

from mlplatform import netpol
from mlplatform.manifests import Obj, meta
from mlplatform.releases import Release
from mlplatform.scenarios.manifests import serving
from mlplatform.scenarios.manifests.pods import (
    GPU_RESOURCE,
    Container,
    Size,
    pod_spec,
    queue_labels,
    queued_job,
)

# One metrics line per container: the NVIDIA device nodes it sees and the variable's value.
_DEVICE_REPORT = (
    "import glob, json, os; print('MLPLATFORM_METRICS ' + json.dumps("
    "{'container': os.environ['PROBE'], 'devices': sorted(glob.glob('/dev/nvidia*')),"
    " 'visible': os.environ.get('NVIDIA_VISIBLE_DEVICES', '')}))"
)
NO_DEVICE_VALUES = ("", "void", "none")  # what the runtime treats as "no GPU"
PROBE_CONTAINERS = ("plain", "asks-all")
SCRAPE_PORT_NAME = "http1"  # Knative accepts only http1/h2c; PodMonitors select by name


def device_probe_job(name: str, namespace: str, image: str, queue: str) -> Obj:
    """A GPU-less Job whose flavor puts it on a GPU node; tolerates the GPU taint."""
    size = Size(cpu="50m", memory="64Mi")
    plain = Container("plain", image, ["python", "-c", _DEVICE_REPORT], size=size,
                      env={"PROBE": "plain"})  # fmt: skip
    asks = Container("asks-all", image, ["python", "-c", _DEVICE_REPORT], size=size,
                     env={"PROBE": "asks-all", "NVIDIA_VISIBLE_DEVICES": "all"})  # fmt: skip
    tolerations = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    spec = pod_spec([plain, asks], tolerations=tolerations)
    return queued_job(name, namespace, spec, queue_labels(queue), ttl_s=600)


def scrape_objects(monitoring_api: str, namespace: str, isvc: str) -> list[Obj]:
    """A PodMonitor for the predictor's /metrics and the NetworkPolicy letting Prometheus in."""
    monitor = {
        "apiVersion": monitoring_api,
        "kind": "PodMonitor",
        "metadata": meta(f"{isvc}-predictor", namespace),
        "spec": {
            "selector": {"matchLabels": {serving.ISVC_LABEL: isvc}},
            "podMetricsEndpoints": [{"port": SCRAPE_PORT_NAME, "path": "/metrics",
                                     "interval": "15s"}],
        },
    }  # fmt: skip
    return [monitor, netpol.allow_prometheus_scrape(namespace, [serving.HTTP_PORT])]


def named_port_runtime(runtime: Obj) -> Obj:
    """The ServingRuntime with its HTTP port named, so a PodMonitor can select it."""
    out = copy.deepcopy(runtime)
    for port in out["spec"]["containers"][0]["ports"]:
        port["name"] = SCRAPE_PORT_NAME
    return out


def autoscaled(isvc: Obj, release: Release, low: int, high: int, cpu_percent: int) -> Obj:
    """The InferenceService in Standard (raw Deployment) mode, where KServe manages an
    autoscaling/v2 HorizontalPodAutoscaler from minReplicas/maxReplicas and
    scaleMetric/scaleTarget (fields in the InferenceService CRD's predictor at KServe
    v0.15.2 and v0.16.0, serving.kserve.io_inferenceservices.yaml)."""
    out = copy.deepcopy(isvc)
    modes = release.component("kserve").deployment_modes or {}
    out["metadata"]["annotations"][serving.MODE_ANNOTATION] = modes["standard"]
    predictor = out["spec"]["predictor"]
    predictor.update({"minReplicas": low, "maxReplicas": high, "scaleMetric": "cpu",
                      "scaleTarget": cpu_percent})  # fmt: skip
    return out
