"""katib-tuning against a fake cluster: Kueue admits by quota, a fake Katib turns the Experiment
into trial Jobs from its template and reports the best trial's metric."""

from __future__ import annotations

import copy
import io

from mlplatform import releases
from mlplatform.components import katib
from mlplatform.scenarios.catalog import katib_tuning
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Target
from mlplatform.scenarios.manifests import tuning
from mlplatform.scenarios.runner import Progress, execute
from mlplatform.scenarios.waits import Waiter
from tests.scenarios.fake import FakeClock
from tests.scenarios.fake_kueue import KueueCluster


def fake_katib(c: KueueCluster, *, drop_labels: bool = False, metric: bool = True) -> None:
    """On an Experiment: its trials as Jobs from the template (as Katib's trial controller
    does), then Succeeded with the optimal trial's observation (or none: collection failed)."""

    def hook(cluster, obj) -> None:
        if obj["kind"] != "Experiment":
            return
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        for i in range(obj["spec"]["maxTrialCount"]):
            job = copy.deepcopy(obj["spec"]["trialTemplate"]["trialSpec"])
            labels = {} if drop_labels else dict(job["metadata"].get("labels", {}))
            labels[katib_tuning.EXPERIMENT_LABEL] = name
            job["metadata"] = {"name": f"{name}-{i}", "namespace": ns, "labels": labels}
            cluster.create(job)
        optimal = {"observation": {"metrics": [{"name": tuning.METRIC, "latest": "0.998"}]}}
        live = cluster.objects[("Experiment", ns, name)]
        live["status"] = {
            "conditions": [{"type": "Succeeded", "status": "True"}],
            "currentOptimalTrial": optimal if metric else {},
        }

    c.hooks.append(hook)


def run(tmp_path, **katib_behaviour):
    clock = FakeClock()
    c = KueueCluster(clock)
    fake_katib(c, **katib_behaviour)
    c.created_log = []  # the runner cleans up: keep what existed
    c.hooks.append(lambda cluster, obj: cluster.created_log.append(copy.deepcopy(obj)))
    rel = releases.load("1.11")
    report = execute(c, Target(rel, Images.for_release(rel), "f4ke00"), [katib_tuning.NAME],
                     tmp_path, False, context="kind-test", waiter=Waiter(clock),
                     progress=Progress(io.StringIO()))  # fmt: skip
    (sc,) = report.scenarios
    return c, sc


def test_trials_run_through_the_queue_and_report_metrics(tmp_path):
    c, sc = run(tmp_path)
    assert sc.status == "passed", sc.message
    made = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
            for o in c.created_log}  # fmt: skip
    ns = next(k[1] for k in made if k[0] == "Experiment")
    labels = made[("Namespace", None, ns)]["metadata"]["labels"]
    assert labels.items() >= katib.INJECTION_LABEL.items()
    assert ("NetworkPolicy", ns, "allow-from-katib-controller") in made
    trials = [o for k, o in made.items() if k[0] == "Job" and k[1] == ns]
    assert len(trials) == katib_tuning.TRIALS


def test_trials_that_bypass_the_queue_fail_the_scenario(tmp_path):
    _, sc = run(tmp_path, drop_labels=True)
    step = next(s for s in sc.steps if s.name == "every trial queued")
    assert step.status == "failed" and "admitted by Kueue" in step.message


def test_metrics_that_never_reach_katib_fail_the_scenario(tmp_path):
    _, sc = run(tmp_path, metric=False)
    step = next(s for s in sc.steps if s.name == "metrics collected")
    assert step.status == "failed" and "no accuracy observed" in step.message
