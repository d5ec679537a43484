"""robust-controller: the Training Operator (an AI operator with CRDs and webhooks) and Kueue
run, validate and reconcile; a PyTorchJob still completes when both controllers' pods are
deleted mid-run.

The webhook check submits a PyTorchJob without a container named `pytorch`, which the
operator's validating webhook refuses (kubeflow/training-operator release-1.9,
pkg/webhooks/pytorch/pytorchjob_webhook.go: "must have at least one container with name
pytorch"; manifests/base/webhook failurePolicy Fail).
"""

from __future__ import annotations

import copy

from mlplatform.manifests import Obj
from mlplatform.scenarios.artifacts import Controller
from mlplatform.scenarios.client import ApiError
from mlplatform.scenarios.library import Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests.tenancy import Quota, ScenarioTenant
from mlplatform.scenarios.manifests.training import TrainSpec, pytorch_job
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import LONG

NAME = "robust-controller"
CONTROLLERS = ("training_operator", "kueue")
ROBUST = ("robust_controller",)


def ready_pods(s: Session, c: Controller) -> list[Obj]:
    pods = s.cluster.list("v1", "Pod", c.namespace, c.labels)
    return [
        p
        for p in pods
        if p.get("status", {}).get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
        and condition(p, "Ready")
    ]


def invalid(job: Obj) -> Obj:
    """The job with its containers renamed: the operator's webhook must refuse it."""
    out = copy.deepcopy(job)
    out["metadata"]["name"] = "no-pytorch-container"
    for replica in out["spec"]["pytorchReplicaSpecs"].values():
        replica["template"]["spec"]["containers"][0]["name"] = "trainer"
    return out


def build(t: Target) -> Plan:
    tenant = ScenarioTenant(t.namespace(NAME), NAME, t.flavor(NAME), Quota(cpu="2", memory="4Gi"))
    ns, queue = tenant.namespace, tenant.local_queue
    spec = TrainSpec(t.images.scenario)
    job = pytorch_job(t.release, "survivor", ns, queue, spec)
    refused = invalid(job)
    controllers = [t.endpoints.controllers[c] for c in CONTROLLERS]

    def running(s: Session) -> None:
        for c in controllers:
            if not (pods := ready_pods(s, c)):
                raise StepFailed(f"no Ready {c.component} pod in {c.namespace} ({c.labels})")
            s.state[c.component] = {p["metadata"]["name"] for p in pods}

    def webhook(s: Session) -> None:
        try:
            s.create(refused)
        except ApiError as e:
            if 400 <= e.status < 500 and e.status not in (404, 409):
                return
            raise
        raise StepFailed("a PyTorchJob without a `pytorch` container was accepted")

    def started(s: Session) -> None:
        s.create(job)
        s.admitted(job)
        s.running_pod_ip(job)

    def restarted(s: Session) -> None:
        for c in controllers:
            for pod in s.state[c.component]:
                s.cluster.delete("v1", "Pod", pod, c.namespace)
        for c in controllers:
            old = s.state[c.component]

            def replaced(c: Controller = c, old: set[str] = old) -> list[Obj]:
                return [p for p in ready_pods(s, c) if p["metadata"]["name"] not in old]

            s.waiter.until(replaced, LONG, f"a new Ready {c.component} pod in {c.namespace}")

    def completes(s: Session) -> None:
        s.finished(job)
        done = [p for p in s.pods(job) if p.get("status", {}).get("phase") == "Succeeded"]
        if len(done) < spec.nodes:
            raise StepFailed(f"{len(done)} of {spec.nodes} ranks succeeded")

    steps = [
        Step("controllers ready", "the Training Operator and Kueue each have a Ready pod",
             running),
        Step("webhook validates", "the operator's webhook refuses a PyTorchJob without a "
             "`pytorch` container", webhook, ROBUST),
        Step("run started", "a 2-rank PyTorchJob is admitted and has a running pod", started),
        Step("controllers deleted mid-run", "both controllers' pods are deleted and replaced "
             "by new Ready pods", restarted),
        Step("run completes", "the PyTorchJob is reconciled to Succeeded on every rank",
             completes, ROBUST),
    ]  # fmt: skip
    return Plan(
        [tenant],
        [tenant.flavor.build(t.release)],
        [job, refused],
        steps,
        ["kueue", "training_operator"],
    )


SCENARIO = Scenario(
    NAME,
    "The Training Operator validates and reconciles, and a run survives its controllers' restart.",
    ("kueue", "training_operator"),
    build,
)
