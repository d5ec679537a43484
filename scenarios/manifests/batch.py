"""batch/v1 Jobs for queueing scenarios: sized sleepers (quota, preemption) and GPU jobs."""

from __future__ import annotations

from mlplatform.config.gpu import GPU_PRESENT_LABEL
from mlplatform.manifests import Obj
from mlplatform.scenarios.manifests.pods import (
    GPU_RESOURCE,
    Container,
    Size,
    pod_spec,
    queue_labels,
    queued_job,
)

GPU_NODE_LABEL = GPU_PRESENT_LABEL  # what the NVIDIA device plugin selects nodes by
# Reports the node it ran on and whether a GPU was allocated to it (NVIDIA_VISIBLE_DEVICES
# is set by the device plugin; fake capacity on kind allocates without a device).
_GPU_REPORT = (
    "import json, os, socket; print('MLPLATFORM_METRICS ' + json.dumps("
    "{'node': os.environ.get('NODE_NAME', socket.gethostname()),"
    " 'visible_devices': os.environ.get('NVIDIA_VISIBLE_DEVICES', '')}))"
)


def sleeper_job(
    name: str,
    namespace: str,
    image: str,
    queue: str,
    size: Size,
    seconds: int,
    priority: str | None = None,
) -> Obj:
    """A suspended Job (Kueue resumes it on admission) holding `size` for `seconds`."""
    worker = Container(
        "sleep", image, ["python", "-c", f"import time; time.sleep({seconds})"], size=size
    )
    labels = queue_labels(queue, priority)
    return queued_job(name, namespace, pod_spec([worker]), labels, ttl_s=600)


def gpu_job(name: str, namespace: str, image: str, queue: str, gpus: int = 1) -> Obj:
    """A Job requesting `nvidia.com/gpu`; the GPU flavor, not the job, picks the nodes."""
    worker = Container(
        "gpu",
        image,
        ["python", "-c", _GPU_REPORT],
        size=Size(cpu="100m", memory="128Mi", gpus=gpus),
        env_from_field={"NODE_NAME": "spec.nodeName"},
    )
    # GPU nodes are commonly tainted for their resource; the flavor adds node labels.
    tolerations = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    spec = pod_spec([worker], tolerations=tolerations)
    labels = queue_labels(queue)
    return queued_job(name, namespace, spec, labels, ttl_s=600)
