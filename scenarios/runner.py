"""Run conformance scenarios against any kubeconfig and write JUnit, JSON and markdown.

    report = run("~/.kube/config", "1.11", ["train-queued"], Path("out"), keep_on_failure=False)

Each scenario gets its own generated namespace(s) and queues, runs its steps in order
(the first failure skips the rest), collects evidence on failure before cleanup, and
cleans up unless `keep_on_failure` is set and it failed. `execute` is the same loop on
an injected `Cluster` (tests use a fake).
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from mlplatform import releases
from mlplatform.scenarios import report as reports
from mlplatform.scenarios.artifacts import collect
from mlplatform.scenarios.client import Cluster, KubeCluster, Obj
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Endpoints, NotApplicable, Plan, Scenario, Step, Target
from mlplatform.scenarios.library import scenarios as library_scenarios
from mlplatform.scenarios.report import Report, ScenarioResult, Status, StepResult
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import SHORT, Waiter, WaitTimeout

TENANTS_STEP = "tenants ready"


class Progress:
    """One line per finished step with the run's elapsed time (plain text, any stream)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.start = time.monotonic()

    def line(self, text: str) -> None:
        print(f"[{time.monotonic() - self.start:7.1f}s] {text}", file=self.stream, flush=True)

    def scenario(self, name: str, index: int, total: int, namespaces: list[str]) -> None:
        self.line(f"({index}/{total}) {name} in {', '.join(namespaces) or '-'}")

    def step(self, scenario: str, step: StepResult) -> None:
        detail = f": {step.message.splitlines()[0]}" if step.message else ""
        self.line(
            f"  {scenario} | {step.name} ... {step.status.upper()} ({step.duration_s:.1f}s){detail}"
        )


def _tenants_step(plan: Plan) -> Step:
    def setup(s: Session) -> None:
        for obj in plan.cluster_objects:
            s.create(obj)
        for tenant in plan.tenants:
            for obj in tenant.objects(s.target.release):
                s.create(obj)
        for tenant in plan.tenants:
            lq = {
                "apiVersion": s.kueue_api,
                "kind": "LocalQueue",
                "metadata": {"name": tenant.local_queue, "namespace": tenant.namespace},
            }
            s.waiter.until(
                lambda lq=lq: condition(s.live(lq), "Active"),
                SHORT,
                f"LocalQueue {tenant.namespace}/{tenant.local_queue} Active",
            )

    return Step(
        TENANTS_STEP,
        "namespaces, network policies, RBAC and Kueue queues exist; every LocalQueue is Active",
        setup,
    )


def _run_step(step: Step, session: Session) -> StepResult:
    start = time.monotonic()
    status: Status = "passed"
    message = inapplicable = ""
    try:
        step.run(session)
    except NotApplicable as e:
        status, inapplicable = "skipped", str(e)
        message = f"not applicable: {e}"
    except (StepFailed, WaitTimeout, AssertionError) as e:
        status, message = "failed", str(e)
    except Exception as e:  # a harness or API error, reported as such
        status, message = "error", f"{type(e).__name__}: {e}"
    return StepResult(step.name, step.expect, status, round(time.monotonic() - start, 3), message,
                      list(step.proves), inapplicable)  # fmt: skip


def _cleanup(cluster: Cluster, created: list[Obj]) -> list[str]:
    """Delete namespaces, then cluster-scoped objects and those made in namespaces the run
    did not create (a platform tenant's), newest first; returns problems."""
    problems = []
    own = {o["metadata"]["name"] for o in created if o["kind"] == "Namespace"}
    scoped = [
        o
        for o in reversed(created)
        if o["kind"] == "Namespace" or o["metadata"].get("namespace") not in own
    ]
    scoped.sort(key=lambda o: o["kind"] != "Namespace")
    for obj in scoped:
        if obj["kind"] == "SubjectAccessReview":
            continue
        md = obj["metadata"]
        try:
            cluster.delete(obj["apiVersion"], obj["kind"], md["name"], md.get("namespace"))
        except Exception as e:
            problems.append(f"delete {obj['kind']}/{obj['metadata']['name']}: {e}")
    return problems


def run_scenario(
    scenario: Scenario,
    cluster: Cluster,
    target: Target,
    waiter: Waiter,
    out_dir: Path,
    keep_on_failure: bool,
    progress: Progress,
    position: tuple[int, int] = (1, 1),
) -> ScenarioResult:
    start = time.monotonic()
    if reason := scenario.unsupported(target.release):
        progress.line(f"({position[0]}/{position[1]}) {scenario.name} SKIPPED: {reason}")
        return ScenarioResult(scenario.name, scenario.summary, [], "skipped", 0.0, message=reason)
    plan = scenario.build(target)
    namespaces = [t.namespace for t in plan.tenants]
    progress.scenario(scenario.name, *position, namespaces)
    session = Session(cluster, waiter, target, out_dir / "work" / scenario.name)
    result = ScenarioResult(scenario.name, scenario.summary, namespaces, "passed", 0.0)
    for step in [_tenants_step(plan), *plan.steps]:
        if result.status != "passed":
            step_result = StepResult(
                step.name, step.expect, "skipped", 0.0, "an earlier step failed", list(step.proves)
            )
        else:
            step_result = _run_step(step, session)
            if step_result.status in ("failed", "error"):
                result.status = step_result.status
                result.message = f"{step.name}: {step_result.message.splitlines()[0]}"
        result.steps.append(step_result)
        progress.step(scenario.name, step_result)
    result.metrics = {**session.metrics}
    result.metrics.update(
        {f"step_s.{s.name}": s.duration_s for s in result.steps if s.status != "skipped"}
    )
    if result.status != "passed":
        controllers = [
            target.endpoints.controllers[c]
            for c in plan.controllers
            if c in target.endpoints.controllers
        ]
        result.artifacts = collect(
            cluster, out_dir / "artifacts" / scenario.name, namespaces, session.created, controllers
        )
    if result.status == "passed" or not keep_on_failure:
        if problems := _cleanup(cluster, session.created):
            result.message = (result.message + "; " if result.message else "") + (
                "cleanup: " + "; ".join(problems)
            )
    else:
        progress.line(f"  {scenario.name} | kept for inspection: {', '.join(namespaces)}")
    result.duration_s = round(time.monotonic() - start, 3)
    return result


def execute(
    cluster: Cluster,
    target: Target,
    names: Sequence[str] | None,
    out_dir: Path,
    keep_on_failure: bool,
    *,
    context: str = "",
    waiter: Waiter | None = None,
    progress: Progress | None = None,
) -> Report:
    library = library_scenarios()
    unknown = sorted(set(names or ()) - set(library))
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; known: {sorted(library)}")
    chosen = [library[n] for n in (names or library)]
    waiter = waiter or Waiter()
    progress = progress or Progress()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.monotonic()
    report = Report(target.release.release, context, started, 0.0, kubernetes=cluster.version())
    for i, scenario in enumerate(chosen, 1):
        report.scenarios.append(
            run_scenario(
                scenario,
                cluster,
                target,
                waiter,
                out_dir,
                keep_on_failure,
                progress,
                (i, len(chosen)),
            )
        )
    report.duration_s = round(time.monotonic() - t0, 3)
    files = reports.write(report, out_dir)
    c = report.counts()
    progress.line(
        f"{'PASSED' if report.passed else 'FAILED'}: {c['passed']} passed, "
        f"{c['failed']} failed, {c['error']} errors, {c['skipped']} skipped; "
        f"report {files['markdown']}"
    )
    return report


def _context_name(kubeconfig: str | None) -> str:
    from kubernetes import config

    _, active = config.list_kube_config_contexts(config_file=kubeconfig)
    return str(active["name"])


def run(
    kubeconfig: str | None,
    release: str,
    scenarios: list[str] | None,
    out_dir: Path,
    keep_on_failure: bool,
    *,
    context: str | None = None,
    image: str | None = None,
    registry: str | None = None,
    timeout_scale: float = 1.0,
    endpoints: Endpoints | None = None,
    users: Mapping[str, str] | None = None,
) -> Report:
    """The conformance suite on the cluster of `context` in `kubeconfig` (default: its current
    context; no kubeconfig: $KUBECONFIG, else ~/.kube/config). `users`: static users'
    passwords (email -> password) for the scenarios that log in at the gateway."""
    rel = releases.load(release)
    target = Target(
        rel,
        Images.for_release(rel, image, registry),
        secrets.token_hex(3),
        endpoints or Endpoints(),
        users=dict(users or {}),
    )
    cluster = KubeCluster.from_kubeconfig(kubeconfig, context)
    return execute(
        cluster,
        target,
        scenarios,
        out_dir,
        keep_on_failure,
        context=context or _context_name(kubeconfig),
        waiter=Waiter(scale=timeout_scale),
    )
