"""Distributed training objects: PyTorchJob (Training Operator v1) and TrainJob (Trainer v2).

Both run `mlplatform.scenarios.workloads.train` from the scenario image. The PyTorchJob starts the
script in each replica (the operator injects MASTER_ADDR/RANK/WORLD_SIZE); the TrainJob
runs it under torchrun (Trainer injects PET_*). The TrainJob references a namespaced
TrainingRuntime `torch-distributed` we create beside it: upstream's cluster runtime of
that name sets no security context, which a restricted namespace would refuse.
Where the runtime or the TrainJob carries `numProcPerNode` follows the catalogue
(`trainer.num_proc_per_node_in`; Trainer 2.2 removed it from the runtime's torch policy).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlplatform.manifests import Obj, meta
from mlplatform.releases import Release
from mlplatform.scenarios.manifests.pods import (
    SCRATCH_PATH,
    Container,
    Size,
    pod_spec,
    queue_labels,
    template,
)

TRAIN_MODULE = "mlplatform.scenarios.workloads.train"
OUTPUT_DIR = f"{SCRATCH_PATH}/train-out"
RUNTIME_NAME = "torch-distributed"
ANCESTOR_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
TRAINER_CONTAINER = "node"  # the container Trainer's torch plugin injects PET_* into
PYTORCH_CONTAINER = "pytorch"  # the Training Operator requires this name


@dataclass(frozen=True)
class TrainSpec:
    """One distributed run: `nodes` pods of one process each."""

    image: str
    nodes: int = 2
    size: Size = field(default_factory=lambda: Size(cpu="500m", memory="512Mi"))
    target_loss: float = 0.05
    max_epochs: int = 40
    timeout_s: int = 120  # rendezvous and every collective

    def args(self) -> list[str]:
        return [
            "--output-dir", OUTPUT_DIR,
            "--target-loss", str(self.target_loss),
            "--max-epochs", str(self.max_epochs),
            "--timeout-s", str(self.timeout_s),
        ]  # fmt: skip


def pytorch_job(
    release: Release,
    name: str,
    namespace: str,
    queue: str,
    spec: TrainSpec,
    priority: str | None = None,
) -> Obj:
    """A PyTorchJob: one Master plus `nodes - 1` Workers, queued through Kueue."""
    container = Container(
        PYTORCH_CONTAINER, spec.image, ["python", "-m", TRAIN_MODULE], spec.args(), spec.size
    )

    def replicas(count: int) -> Obj:
        return {
            "replicas": count,
            "restartPolicy": "Never",
            "template": template(pod_spec([container])),
        }

    md = meta(name, namespace, **queue_labels(queue, priority))
    return {
        "apiVersion": release.component("training_operator").api("training"),
        "kind": "PyTorchJob",
        "metadata": md,
        "spec": {
            "runPolicy": {"backoffLimit": 0, "cleanPodPolicy": "None"},
            "pytorchReplicaSpecs": {"Master": replicas(1), "Worker": replicas(spec.nodes - 1)},
        },
    }


def _num_proc_in(release: Release) -> str:
    where = release.component("trainer").num_proc_per_node_in
    if where is None:
        raise ValueError(f"catalogue {release.release}: trainer.num_proc_per_node_in is unset")
    return where


def training_runtime(release: Release, namespace: str, spec: TrainSpec) -> Obj:
    """The namespaced torch runtime: one restricted, sized `node` container per node."""
    torch: Obj = {"numProcPerNode": 1} if _num_proc_in(release) == "runtime" else {}
    node = Container(TRAINER_CONTAINER, spec.image, ["python", "-m", TRAIN_MODULE], size=spec.size)
    job = {"template": template(pod_spec([node]))}
    return {
        "apiVersion": release.component("trainer").api("trainer"),
        "kind": "TrainingRuntime",
        "metadata": meta(RUNTIME_NAME, namespace),
        "spec": {
            "mlPolicy": {"numNodes": spec.nodes, "torch": torch},
            "template": {
                "spec": {
                    "replicatedJobs": [
                        {
                            "name": TRAINER_CONTAINER,
                            "replicas": 1,
                            "template": {
                                "metadata": {"labels": {ANCESTOR_LABEL: "trainer"}},
                                "spec": job,
                            },
                        }
                    ]
                }
            },
        },
    }


def train_job(
    release: Release,
    name: str,
    namespace: str,
    queue: str,
    spec: TrainSpec,
    priority: str | None = None,
) -> Obj:
    """A TrainJob on the namespaced runtime, running the payload under torchrun."""
    trainer: Obj = {
        "image": spec.image,
        "command": ["torchrun", "-m", TRAIN_MODULE],
        "args": spec.args(),
        "numNodes": spec.nodes,
        "resourcesPerNode": spec.size.resources(),
    }
    if _num_proc_in(release) == "trainjob":
        trainer["numProcPerNode"] = 1
    return {
        "apiVersion": release.component("trainer").api("trainer"),
        "kind": "TrainJob",
        "metadata": meta(name, namespace, **queue_labels(queue, priority)),
        "spec": {
            "runtimeRef": {
                "apiGroup": release.component("trainer").api("trainer").split("/")[0],
                "kind": "TrainingRuntime",
                "name": RUNTIME_NAME,
            },
            "trainer": trainer,
        },
    }
