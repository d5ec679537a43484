"""upgrade-rehearsal: release N up, state created, scenarios green; upgrade to N+1 while a
load keeps hitting the served model; scenarios green again; the model (data) still served;
downtime measured. It composes the other scenarios around the stack upgrade, which only
the end-to-end entry can perform (it owns `pulumi up`), so it is a function, not a
`Scenario`: the e2e entry passes its upgrade callable and `runner.run` as the suite.
"""

from __future__ import annotations

import contextlib
import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlplatform import releases
from mlplatform.scenarios.catalog.pipeline_run import build as build_pipeline
from mlplatform.scenarios.catalog.serve_and_load import MODEL, load_metrics, parse_load
from mlplatform.scenarios.catalog.serve_and_load import build as build_serving
from mlplatform.scenarios.client import Cluster, Obj
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Endpoints, Target
from mlplatform.scenarios.manifests import serving
from mlplatform.scenarios.report import Report
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import Waiter

NAME = "upgrade-rehearsal"
LOAD_PROFILE = "upgrade"  # scenarios/slo.yaml: errors during the roll are the downtime


@dataclass(frozen=True)
class Phase:
    name: str
    expect: str


PHASES = (
    Phase("baseline", "every scenario passes on release N"),
    Phase("state", "a model is served from MinIO (serve-and-load, namespace kept)"),
    Phase("load", "a paced Locust load runs against it for the whole upgrade"),
    Phase("upgrade", "the stack is upgraded to release N+1 (pulumi up by the e2e entry)"),
    Phase("after", "every scenario passes on release N+1"),
    Phase("data", "the model created on N is still Ready and served, its MinIO objects are "
          "there; load SLO ('upgrade') holds; downtime = failed requests / request rate"),
)  # fmt: skip


@dataclass
class Rehearsal:
    before: Report
    after: Report
    downtime_s: float
    load: dict[str, float]
    passed: bool
    checks: dict[str, str] = field(default_factory=dict)  # data check -> "ok" or what failed


def objects_job(upload: Obj) -> Obj:
    """`mc stat --recursive` of what the model upload Job copied (same store, credentials and
    queue): it fails when the objects are gone."""
    job = copy.deepcopy(upload)
    job["metadata"]["name"] = "model-objects"
    pod = job["spec"]["template"]["spec"]
    pod.pop("initContainers", None)
    mc = pod["containers"][0]
    args = mc["args"]
    cp = args.index("cp")
    mc["args"] = [*args[:cp], "stat", "--recursive", args[-1]]
    return job


def kfp_check_job(submit: Obj, run_id: str) -> Obj:
    """The pipeline submit Job (same identity, queue and KFP host) reading `run_id` back
    with scenarios.pipeline_check: it fails unless the run is still there, SUCCEEDED."""
    job = copy.deepcopy(submit)
    job["metadata"]["name"] = "pipeline-kept"
    c = job["spec"]["template"]["spec"]["containers"][0]
    args = c["args"]
    host, ns = args[args.index("--host") + 1], args[args.index("--namespace") + 1]
    c["command"] = ["python", "-m", "mlplatform.scenarios.pipeline_check"]
    c["args"] = ["--host", host, "--namespace", ns, "--run-id", run_id]
    return job


def _kfp_check(session: Session) -> str:
    submit = next(o for o in session.created if o["metadata"]["name"] == "pipeline-submit")
    run_id = str(session.payload_metrics(submit)["run_id"])
    job = kfp_check_job(submit, run_id)
    session.create(job)
    with contextlib.suppress(StepFailed):  # the payload's verdict is its metrics line
        session.finished(job)
    try:
        state = session.payload_metrics(job).get("state")
    except StepFailed as err:
        return f"run {run_id}: {err}"
    return "ok" if state == "SUCCEEDED" else f"run {run_id}: {state}"


def _data_checks(session: Session, kfp_run: bool) -> dict[str, str]:
    """After the upgrade: the InferenceService created on N is Ready; its objects are in MinIO;
    with `kfp_run`, the pipeline run made on N is still SUCCEEDED in KFP."""
    checks = {}
    isvc = next(o for o in session.created if o["kind"] == "InferenceService")
    live = session.live(isvc)
    checks["served model"] = "ok" if condition(live, "Ready") else (
        f"InferenceService {isvc['metadata']['name']} not Ready: {(live or {}).get('status')}"
    )  # fmt: skip
    upload = next(o for o in session.created if o["metadata"]["name"] == "model-upload")
    job = objects_job(upload)
    try:
        session.create(job)
        session.finished(job)
        checks["minio objects"] = "ok"
    except StepFailed as err:
        checks["minio objects"] = f"missing: {err}"
    if kfp_run:
        checks["kfp run"] = _kfp_check(session)
    return checks


def rehearse(
    cluster: Cluster,
    from_release: str,
    to_release: str,
    upgrade: Callable[[], None],
    suite: Callable[[str, Path], Report],
    out_dir: Path,
    load_seconds: int,
    keep_on_failure: bool = False,
    waiter: Waiter | None = None,
    on_phase: Callable[[str], None] = lambda name: None,
    kfp_run: bool = False,
    image: str | None = None,
) -> Rehearsal:
    """Run the phases. `upgrade` performs the stack upgrade and returns when it is done;
    `suite(release, out_dir)` runs every scenario (the e2e entry passes `runner.run`);
    `on_phase(name)` is told when the state and load phases are done; `kfp_run`: the state
    includes a KFP pipeline run, read back after the upgrade; `image`: the scenario image."""
    before = suite(from_release, out_dir / "before")
    rel = releases.load(from_release)
    target = Target(rel, Images.for_release(rel, image), secrets.token_hex(3), Endpoints())
    session = Session(cluster, waiter or Waiter(), target, out_dir / "state")
    plan = build_serving(target)
    tenant = plan.tenants[0]
    for obj in [*plan.cluster_objects, *tenant.objects(rel)]:
        session.create(obj)
    for step in plan.steps[:2]:  # model in MinIO, InferenceService ready
        step.run(session)
    kept = [plan]
    if kfp_run:  # a pipeline run in its own namespace, recorded in KFP
        pipeline = build_pipeline(target)
        kept.append(pipeline)
        for obj in [*pipeline.cluster_objects, *pipeline.tenants[0].objects(rel)]:
            session.create(obj)
        for step in pipeline.steps:
            step.run(session)
    on_phase("state")
    load = serving.load_job("upgrade-load", tenant.namespace, tenant.local_queue,
                            target.images.scenario, session.state["url"], MODEL, 4,
                            load_seconds, LOAD_PROFILE)  # fmt: skip
    session.create(load)
    session.admitted(load)
    on_phase("load")
    upgrade()
    after = suite(to_release, out_dir / "after")
    with contextlib.suppress(StepFailed):  # the gate verdict comes from the report below
        session.finished(load)
    report = parse_load(session.pod_logs(load))
    rps = report.result.rps
    downtime = report.result.failures / rps if rps else float(load_seconds)
    checks = _data_checks(session, kfp_run)
    checks["load slo"] = "ok" if report.gate.passed else "; ".join(report.gate.reasons)
    ok = before.passed and after.passed and all(v == "ok" for v in checks.values())
    if ok or not keep_on_failure:
        for p in kept:
            cluster.delete("v1", "Namespace", p.tenants[0].namespace)
            for obj in p.cluster_objects:
                cluster.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
            cluster.delete(
                target.release.component("kueue").api("kueue"), "ClusterQueue",
                p.tenants[0].cluster_queue,
            )  # fmt: skip
    return Rehearsal(before, after, round(downtime, 2), load_metrics(report), ok, checks)
