"""Katib manifests: an Experiment whose trials are queued Jobs in the tenant namespace.

Fields: kubeflow/katib v0.18.0/v0.19.0 pkg/apis/controller/experiments/v1beta1/
experiment_types.go and common/v1beta1/common_types.go (the CRDs keep unknown fields, so the
Go types are the schema). The StdOut collector parses `name=value` lines of the primary
container (pkg/metricscollector/v1beta1/file-metricscollector, default filter).
"""

from __future__ import annotations

from mlplatform.manifests import Obj, meta
from mlplatform.scenarios.manifests.pods import Container, Size, pod_spec, queue_labels

CONTAINER = "training"
METRIC = "accuracy"
# A toy objective: accuracy peaks at lr = 0.05; printed the way the collector reads it.
SCRIPT = (
    "import sys; lr = float(sys.argv[1]); "
    f"print('{METRIC}=%.4f' % (1 - abs(lr - 0.05)), flush=True)"
)


def experiment(name: str, namespace: str, queue: str, image: str, api: str, trials: int = 3) -> Obj:
    """Random search over `lr`, `trials` trials two at a time, each a Job on `queue`."""
    trial = Container(CONTAINER, image, ["python", "-c", SCRIPT, "${trialParameters.learningRate}"],
                      size=Size(cpu="100m", memory="128Mi"))  # fmt: skip
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"labels": queue_labels(queue)},
        "spec": {
            "suspend": True,  # Kueue resumes it on admission
            "backoffLimit": 0,
            "template": {"spec": pod_spec([trial])},
        },
    }
    return {
        "apiVersion": api,
        "kind": "Experiment",
        "metadata": meta(name, namespace),
        "spec": {
            "objective": {"type": "maximize", "goal": 0.999, "objectiveMetricName": METRIC},
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": 2,
            "maxTrialCount": trials,
            "maxFailedTrialCount": 1,
            "parameters": [
                {
                    "name": "lr",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "0.01", "max": "0.1"},
                }
            ],
            "metricsCollectorSpec": {"collector": {"kind": "StdOut"}},
            "trialTemplate": {
                "primaryContainerName": CONTAINER,
                "trialParameters": [
                    {"name": "learningRate", "description": "SGD learning rate", "reference": "lr"}
                ],
                "trialSpec": job,
            },
        },
    }
