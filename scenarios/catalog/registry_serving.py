"""registry-serving: in a team's namespace, a KFP run registers its model in the team's model
registry; the registered version resolves to the model's URI in the team's bucket, and an
InferenceService serves that URI with the team's own storage credentials.

It runs in a platform tenant, not a scenario namespace: the registry server, its database
account and the bucket keys are what the tenant's stack provisions (tenancy/registry.py,
tenancy/storage.py). The tenant is the first whose namespace carries the registry and
pipelines labels and admits KFP's pods (before KFP 2.16 only Pod Security baseline does:
mlplatform.kfp_pod_security); with none, the scenario is not applicable and says which
setting makes it so.
"""

from __future__ import annotations

from mlplatform import kfp_pod_security
from mlplatform.components import model_registry as mr
from mlplatform.components.pipelines import TENANTS as PIPELINES_LABELS
from mlplatform.manifests import Obj
from mlplatform.scenarios.catalog.serve_and_load import LOAD_SECONDS, load_metrics, parse_load
from mlplatform.scenarios.library import NotApplicable, Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests import pipelines, serving
from mlplatform.scenarios.manifests.pods import Container, Size, pod_spec, queue_labels, queued_job
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import PIPELINE, SERVE
from mlplatform.tenancy.objects import LOCAL_QUEUE
from mlplatform.tenancy.storage import STORAGE_ACCOUNT

NAME = "registry-serving"
PLACEHOLDER = "team"  # the namespace offline checks build for; the run picks a real tenant
ENFORCE = "pod-security.kubernetes.io/enforce"
SIZE = Size(cpu="500m", memory="512Mi")


def registry_url(ns: str) -> str:
    return f"http://model-registry-service.{ns}.svc.cluster.local:{mr.SERVER_PORT}"


def objects(t: Target, ns: str) -> dict[str, Obj]:
    """Everything the run creates in tenant namespace `ns` (model name and version per run)."""
    model, version = f"conformance-{t.run_id}", t.run_id
    # The submitter and its KFP rights; the run account (`default-editor`) is the tenant's.
    submitter = [
        o for o in pipelines.identities(ns) if o["metadata"]["name"] == pipelines.SUBMITTER
    ]
    submit = pipelines.submit_job(
        f"{NAME}-submit", ns, LOCAL_QUEUE, t.images.scenario, t.endpoints.kfp_host,
        int(PIPELINE.timeout_s),
        {"registry_url": registry_url(ns), "model_name": model, "model_version": version},
    )  # fmt: skip
    resolve = Container(
        "resolve", t.images.scenario, ["python", "-m", "mlplatform.scenarios.workloads.registry"],
        ["resolve", "--url", registry_url(ns), "--name", model, "--version", version],
        Size(cpu="100m", memory="128Mi"),
    )  # fmt: skip
    runtime = serving.serving_runtime(t.release, ns, t.images.scenario, SIZE)
    isvc = serving.inference_service(t.release, model, ns, serving.ModelStore("", "", ""), SIZE,
                                     t.serving_mode)  # fmt: skip
    isvc["spec"]["predictor"]["serviceAccountName"] = STORAGE_ACCOUNT  # the team's own keys
    isvc["spec"]["predictor"]["model"]["storageUri"] = "s3://resolved-at-run-time/model"
    load = serving.load_job(f"{NAME}-predict", ns, LOCAL_QUEUE, t.images.scenario,
                            serving.predictor_url(model, ns), model, 2, LOAD_SECONDS // 4,
                            "cluster")  # fmt: skip
    return {
        **{f"identity-{o['kind']}": o for o in submitter},
        "submit": submit,
        "resolve": queued_job(
            f"{NAME}-resolve", ns, pod_spec([resolve]), queue_labels(LOCAL_QUEUE)
        ),
        "runtime": runtime,
        "isvc": isvc,
        "load": load,
    }


def made(s: Session) -> dict[str, Obj]:
    """The run's objects for the tenant found; later steps do not apply without one."""
    if "no_tenant" in s.state:
        raise NotApplicable(s.state["no_tenant"])
    return dict(s.state["objects"])


def build(t: Target) -> Plan:
    def tenant(s: Session) -> None:
        labels = {**mr.TENANTS, **PIPELINES_LABELS}
        blocker = kfp_pod_security.restricted(t.release.component("kfp").version).blocker
        candidates = sorted(
            (n for n in s.cluster.list("v1", "Namespace", None, labels)
             if not blocker or n["metadata"]["labels"].get(ENFORCE) != "restricted"),
            key=lambda n: n["metadata"]["name"],
        )  # fmt: skip
        if not candidates:
            s.state["no_tenant"] = (
                "no tenant with a model registry admits KFP runs: give one `podSecurity: "
                f"baseline` ({blocker})"
            )
            raise NotApplicable(s.state["no_tenant"])
        ns = candidates[0]["metadata"]["name"]
        if not s.cluster.get("v1", "Service", "model-registry-service", ns):
            raise StepFailed(f"tenant {ns} has no model-registry-service (its tenant stack?)")
        s.state["objects"] = objects(t, ns)

    def registers(s: Session) -> None:
        objs = made(s)
        for obj in [o for k, o in objs.items() if k.startswith("identity-")]:
            s.create(obj)
        s.create(objs["submit"])
        s.admitted(objs["submit"])
        s.finished(objs["submit"], PIPELINE)
        m = s.payload_metrics(objs["submit"])
        s.metrics["pipeline_duration_s"] = float(m["duration_s"])
        if m.get("state") != "SUCCEEDED":
            raise StepFailed(f"pipeline run {m.get('run_id')} ended {m.get('state')}")

    def resolves(s: Session) -> None:
        job = made(s)["resolve"]
        s.create(job)
        s.finished(job)
        uri = str(s.payload_metrics(job)["uri"])
        if not uri.startswith("s3://"):
            raise StepFailed(f"the registered URI {uri!r} is not in the team's object store")
        s.state["uri"] = uri

    def served(s: Session) -> None:
        objs = made(s)
        isvc = objs["isvc"]
        isvc["spec"]["predictor"]["model"]["storageUri"] = s.state["uri"]
        s.create(objs["runtime"])
        s.create(isvc)
        s.waiter.until(
            lambda: (o := s.live(isvc)) and condition(o, "Ready") and o,
            SERVE,
            f"InferenceService {isvc['metadata']['name']} Ready",
            lambda: str((s.live(isvc) or {}).get("status", {})),
        )
        job = objs["load"]
        s.create(job)
        s.finished(job)
        report = parse_load(s.pod_logs(job))
        s.metrics.update({f"registry_{k}": v for k, v in load_metrics(report).items()})
        if report.result.requests == 0 or report.result.fail_ratio > 0:
            raise StepFailed(f"predictions failed: {report.result.fail_ratio:.0%} errors")

    steps = [
        Step("a team with a registry", "a tenant namespace runs its own model registry and "
             "admits KFP runs", tenant),
        Step("pipeline registers the model", "a KFP run in the team's namespace trains, "
             "passes the gate and registers the model version", registers),
        Step("version resolves", "the registered version resolves to the model in the team's "
             "bucket", resolves),
        Step("registered model served", "an InferenceService serves the registered URI with "
             "the team's storage credentials and answers predictions", served),
    ]  # fmt: skip
    return Plan([], [], list(objects(t, PLACEHOLDER).values()), steps, ["kfp", "kserve"])


SCENARIO = Scenario(
    NAME,
    "A model a pipeline registered in the team's registry is served from the team's bucket.",
    ("model_registry", "kfp", "kserve"),
    build,
)
