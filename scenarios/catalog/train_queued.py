"""train-queued: distributed training through a tenant's Kueue LocalQueue.

A PyTorchJob (Master + Worker) and, where the release ships Trainer v2, a TrainJob are
admitted within the tenant's quota, run every rank, succeed, and report their metrics.
"""

from __future__ import annotations

from mlplatform.manifests import Obj
from mlplatform.releases import ComponentName
from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests.tenancy import Quota, ScenarioTenant
from mlplatform.scenarios.manifests.training import (
    TrainSpec,
    pytorch_job,
    train_job,
    training_runtime,
)
from mlplatform.scenarios.session import Session, StepFailed

NAME = "train-queued"


def _train_steps(label: str, job: Obj, spec: TrainSpec, prefix: str) -> list[Step]:
    def submit(s: Session) -> None:
        s.create(job)
        s.admitted(job)

    def succeed(s: Session) -> None:
        s.finished(job)
        pods = s.pods(job)
        done = [p for p in pods if p.get("status", {}).get("phase") == "Succeeded"]
        if len(done) < spec.nodes:
            raise StepFailed(f"{len(done)} of {spec.nodes} ranks succeeded")

    def metrics(s: Session) -> None:
        m = s.payload_metrics(job)
        s.metrics[f"{prefix}_final_loss"] = float(m["final_loss"])
        s.metrics[f"{prefix}_duration_s"] = float(m["duration_s"])
        if not m.get("reached_target") or m.get("world_size") != spec.nodes:
            raise StepFailed(f"training metrics off target: {m}")

    return [
        Step(f"{label} admitted", "Kueue admits it from the tenant LocalQueue within quota",
             submit),
        Step(f"{label} succeeds", f"all {spec.nodes} ranks run and the job succeeds", succeed,
             ("robust_controller",)),
        Step(f"{label} metrics", "rank 0 reports loss below target with the full world size",
             metrics),
    ]  # fmt: skip


def _create(s: Session, obj: Obj) -> None:
    s.create(obj)


def build(t: Target) -> Plan:
    tenant = ScenarioTenant(t.namespace(NAME), NAME, t.flavor(NAME), Quota(cpu="4", memory="8Gi"))
    ns, queue = tenant.namespace, tenant.local_queue
    spec = TrainSpec(t.images.scenario)
    ptj = pytorch_job(t.release, "pytorch-dist", ns, queue, spec)
    objects, steps = [ptj], _train_steps("PyTorchJob", ptj, spec, "pytorchjob")
    controllers: list[ComponentName] = ["kueue", "training_operator"]
    if t.release.has("trainer"):
        runtime = training_runtime(t.release, ns, spec)
        tj = train_job(t.release, "trainjob-dist", ns, queue, spec)
        objects += [runtime, tj]
        steps.append(
            Step(
                "TrainingRuntime created",
                "the namespaced torch runtime is accepted",
                lambda s: _create(s, runtime),
            )
        )
        steps += _train_steps("TrainJob", tj, spec, "trainjob")
        controllers.append("trainer")
    return Plan([tenant], [tenant.flavor.build(t.release)], objects, steps, controllers)


SCENARIO = Scenario(
    NAME,
    "A distributed PyTorchJob (and TrainJob where shipped) goes through the tenant's queue "
    "and succeeds on every rank.",
    ("kueue", "training_operator"),
    build,
)
