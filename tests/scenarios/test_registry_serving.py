"""registry-serving against a fake cluster: a platform tenant with a registry, jobs printing
what the payloads print, an InferenceService that becomes Ready."""

from __future__ import annotations

import io
import json

from mlplatform import releases
from mlplatform.components import model_registry as mr
from mlplatform.components.pipelines import TENANTS as PIPELINES_LABELS
from mlplatform.scenarios.catalog import registry_serving as rs
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Target
from mlplatform.scenarios.manifests.serving import LOAD_PREFIX
from mlplatform.scenarios.runner import Progress, execute
from mlplatform.scenarios.waits import Waiter
from mlplatform.scenarios.workloads.distenv import format_metrics
from tests.scenarios.fake import FakeClock, load_report
from tests.scenarios.fake_kueue import KueueCluster

URI = "s3://tenant-team-a/v2/artifacts/train/model"


def tenant(name: str, enforce: str, registry: bool = True) -> dict:
    labels = {**PIPELINES_LABELS, rs.ENFORCE: enforce, **(mr.TENANTS if registry else {})}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def cluster(namespaces: list[dict], uri: str = URI, state: str = "SUCCEEDED") -> KueueCluster:
    c = KueueCluster(FakeClock())
    for ns in namespaces:
        c.put(ns)
        name = ns["metadata"]["name"]
        c.put({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "model-registry-service", "namespace": name}})  # fmt: skip
        c.put({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ClusterQueue",
               "metadata": {"name": f"tenant-{name}"},
               "spec": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}},
                        "resourceGroups": [{"coveredResources": ["cpu", "memory"], "flavors": [
                            {"name": "cpu", "resources": [
                                {"name": "cpu", "nominalQuota": "8"},
                                {"name": "memory", "nominalQuota": "16Gi"}]}]}]}})  # fmt: skip
        c.put({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue",
               "metadata": {"name": "default", "namespace": name},
               "spec": {"clusterQueue": f"tenant-{name}"}})  # fmt: skip
    load = load_report(p95_ms=40.0)
    c.pod_logs.update({
        "submit": format_metrics({"run_id": "r1", "state": state, "duration_s": 42.0}),
        "resolve": format_metrics({"uri": uri}),
        "load": f"{LOAD_PREFIX}{json.dumps(json.loads(load.to_json()))}",
    })  # fmt: skip
    c.created_log = []
    c.hooks.append(lambda cl, obj: cl.created_log.append(obj))

    def ready(cl, obj) -> None:
        if obj["kind"] == "InferenceService":
            obj["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}

    c.hooks.append(ready)
    return c


def run(c: KueueCluster, tmp_path, release: str = "1.11"):
    rel = releases.load(release)
    report = execute(c, Target(rel, Images.for_release(rel), "f4ke00"), [rs.NAME], tmp_path,
                     False, context="kind-test", waiter=Waiter(c.clock),
                     progress=Progress(io.StringIO()))  # fmt: skip
    (sc,) = report.scenarios
    return sc


def test_registered_model_is_served_from_the_teams_bucket(tmp_path):
    c = cluster([tenant("team-b", "restricted"), tenant("team-a", "baseline")])
    sc = run(c, tmp_path)
    assert sc.status == "passed", sc.message
    made = {(o["kind"], o["metadata"]["name"]): o for o in c.created_log}
    assert {o["metadata"].get("namespace") for o in c.created_log} == {"team-a"}
    (isvc,) = [o for (kind, _), o in made.items() if kind == "InferenceService"]
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == URI
    assert predictor["serviceAccountName"] == "s3-storage"  # the team's own keys
    args = made[("Job", f"{rs.NAME}-submit")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--arg=registry_url={rs.registry_url('team-a')}" in args


def test_without_a_tenant_that_admits_pipelines_it_does_not_apply(tmp_path):
    c = cluster([tenant("team-b", "restricted"), tenant("team-c", "baseline", registry=False)])
    sc = run(c, tmp_path)
    assert sc.status == "passed"
    assert {s.status for s in sc.steps[1:]} == {"skipped"}  # after the (empty) tenants step
    assert "podSecurity: baseline" in sc.steps[1].message
    assert c.created_log == []


def test_a_uri_outside_the_object_store_fails(tmp_path):
    sc = run(cluster([tenant("team-a", "baseline")], uri="file:///tmp/model"), tmp_path)
    step = next(s for s in sc.steps if s.name == "version resolves")
    assert step.status == "failed" and "not in the team's object store" in step.message


def test_a_failed_run_fails_the_registration_step(tmp_path):
    sc = run(cluster([tenant("team-a", "baseline")], state="FAILED"), tmp_path)
    step = next(s for s in sc.steps if s.name == "pipeline registers the model")
    assert step.status == "failed" and "ended FAILED" in step.message


def test_from_kfp_2_16_a_restricted_tenant_runs_it(tmp_path):
    """26.03's KFP hardens its own pods; the conformance pipeline declares runAsNonRoot."""
    sc = run(cluster([tenant("team-a", "restricted")]), tmp_path, release="26.03")
    assert sc.status == "passed", sc.message
    assert all(s.status == "passed" for s in sc.steps)
