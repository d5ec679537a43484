"""The runner against a fake cluster: steps, waits, artifacts, cleanup and the reports."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest

from mlplatform import releases
from mlplatform.scenarios.catalog.train_queued import build as train_queued_build
from mlplatform.scenarios.client import ApiError
from mlplatform.scenarios.images import Images
from mlplatform.scenarios.library import Scenario, Target
from mlplatform.scenarios.report import JSON_FILE, SCHEMA_VERSION, Report, markdown, rerender
from mlplatform.scenarios.runner import Progress, execute
from mlplatform.scenarios.waits import Waiter
from mlplatform.scenarios.workloads.distenv import format_metrics
from tests.scenarios.fake import (
    FakeClock,
    FakeCluster,
    kueue_and_jobs,
    load_report,
    node,
    serving_cluster,
)

RELEASE = "1.11"
GPU_STEPS = ["tenants ready", "GPU capacity", "admitted to GPU flavor", "runs on a GPU node"]


def target() -> Target:
    rel = releases.load(RELEASE)
    return Target(rel, Images.for_release(rel), "f4ke00")


def cluster_with(*nodes, **sim) -> FakeCluster:
    c = FakeCluster()
    c.hooks.append(kueue_and_jobs(**sim))
    for n in nodes:
        c.put(n)
    return with_controller(c)


def with_controller(c: FakeCluster) -> FakeCluster:
    c.put({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "kueue-controller-manager-0", "namespace": "kueue-system",
                        "labels": {"control-plane": "controller-manager"}},
           "spec": {"containers": [{"name": "manager"}]}})  # fmt: skip
    c.logs_by_pod[("kueue-system", "kueue-controller-manager-0", "manager")] = "kueue says hi"
    return c


def run(cluster, tmp_path, names, keep=False):
    out = io.StringIO()
    report = execute(cluster, target(), names, tmp_path, keep, context="kind-test",
                     waiter=Waiter(FakeClock()), progress=Progress(out))  # fmt: skip
    return report, out.getvalue()


def junit(tmp_path) -> ET.Element:
    return ET.parse(tmp_path / "junit.xml").getroot()


def test_gpu_scheduling_passes_and_cleans_up(tmp_path):
    cluster = cluster_with(node("gpu-node", gpus=1), node("cpu-node"), node="gpu-node")
    report, progress = run(cluster, tmp_path, ["gpu-scheduling"])
    (sc,) = report.scenarios
    assert report.passed and sc.status == "passed", sc.message
    assert [s.name for s in sc.steps] == GPU_STEPS
    assert sc.metrics["admission_latency_s"] == 2.0
    assert sc.artifacts == []  # evidence only on failure
    assert not any(ns.startswith("scn-") for ns in cluster.namespaces())
    assert {"ClusterQueue", "ResourceFlavor", "Workload", "Job"}.isdisjoint(cluster.kinds())
    assert all(f"gpu-scheduling | {s}" in progress for s in GPU_STEPS)
    root = junit(tmp_path)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "0", "0")
    assert [c.get("name") for c in root.iter("testcase")] == GPU_STEPS


def test_job_on_a_cpu_node_fails_the_placement_step(tmp_path):
    cluster = cluster_with(node("gpu-node", gpus=1), node="cpu-node")
    report, _ = run(cluster, tmp_path, ["gpu-scheduling"])
    (sc,) = report.scenarios
    assert sc.status == "failed"
    assert sc.steps[-1].message == "ran on ['cpu-node'], GPU nodes are ['gpu-node']"


def test_failure_collects_evidence_skips_the_rest_and_cleans_up(tmp_path):
    cluster = cluster_with(node("cpu-only"))  # no GPU capacity anywhere
    report, _ = run(cluster, tmp_path, ["gpu-scheduling"])
    (sc,) = report.scenarios
    assert not report.passed and sc.status == "failed"
    assert [s.status for s in sc.steps] == ["passed", "failed", "skipped", "skipped"]
    assert "advertises nvidia.com/gpu" in sc.message
    ns = sc.namespaces[0]
    files = {p.replace(str(tmp_path / "artifacts" / "gpu-scheduling") + "/", "")
             for p in sc.artifacts}  # fmt: skip
    assert f"events/{ns}.txt" in files
    assert f"describe/LocalQueue_{ns}_main.yaml" in files
    assert "controllers/logs/kueue-system/kueue-controller-manager-0.manager.log" in files
    described = tmp_path / "artifacts/gpu-scheduling" / f"describe/LocalQueue_{ns}_main.yaml"
    assert "Active" in described.read_text()  # the live object, status included
    assert ns not in cluster.namespaces()  # cleaned up after collecting
    root = junit(tmp_path)
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "1", "2")
    failure = root.find(".//testcase[@name='GPU capacity']/failure")
    assert failure is not None and "nvidia.com/gpu" in failure.get("message")


def test_keep_on_failure_leaves_the_tenant(tmp_path):
    cluster = cluster_with(node("cpu-only"))
    report, progress = run(cluster, tmp_path, ["gpu-scheduling"], keep=True)
    ns = report.scenarios[0].namespaces[0]
    assert ns in cluster.namespaces() and "ClusterQueue" in cluster.kinds()
    assert cluster.deleted == []
    assert f"kept for inspection: {ns}" in progress


def test_admission_timeout_names_the_tier(tmp_path):
    cluster = cluster_with(node("gpu-node", gpus=1), admit=False)
    report, _ = run(cluster, tmp_path, ["gpu-scheduling"])
    step = report.scenarios[0].steps[2]
    assert step.status == "failed"
    assert step.message.startswith("timed out after long (45s): Job/")
    assert "admitted by Kueue; last seen: -" in step.message


def test_api_errors_are_errors_not_failures(tmp_path):
    cluster = cluster_with(node("gpu-node", gpus=1))
    cluster.fail_create["Job"] = ApiError(500, "etcd unavailable")
    report, _ = run(cluster, tmp_path, ["gpu-scheduling"])
    (sc,) = report.scenarios
    assert sc.status == "error" and "ApiError: 500 etcd unavailable" in sc.message
    root = junit(tmp_path)
    assert (root.get("errors"), root.get("failures")) == ("1", "0")


def test_unreadable_logs_are_recorded_not_raised(tmp_path):
    cluster = cluster_with(node("cpu-only"))
    cluster.fail_logs = True
    report, _ = run(cluster, tmp_path, ["gpu-scheduling"])
    errors = tmp_path / "artifacts/gpu-scheduling/errors.txt"
    assert str(errors) in report.scenarios[0].artifacts
    assert "log backend down" in errors.read_text()


def test_tenant_isolation_holds_on_an_isolating_cluster(tmp_path):
    cluster = cluster_with()
    cluster.access = lambda user, ns: user.startswith(ns)  # members act in their own tenant
    report, _ = run(cluster, tmp_path, ["tenant-isolation"])
    sc = report.scenarios[0]
    assert sc.status == "passed", sc.message
    a, _ = sc.namespaces
    assert cluster.get("", "Job", "probe-across", a) is None  # cleaned up with the namespace


def test_tenant_isolation_catches_cross_tenant_rbac(tmp_path):
    cluster = cluster_with()  # every access allowed
    report, _ = run(cluster, tmp_path, ["tenant-isolation"])
    step = report.scenarios[0].steps[1]
    assert step.status == "failed"
    assert step.message.startswith("unexpected access for A's member: create jobs in scn-")


def test_reports_agree_and_rerender(tmp_path):
    cluster = cluster_with(node("gpu-node", gpus=1), node="gpu-node")
    report, _ = run(cluster, tmp_path, ["gpu-scheduling", "tenant-isolation"])
    doc = json.loads((tmp_path / JSON_FILE).read_text())
    assert doc["schema_version"] == SCHEMA_VERSION and doc["release"] == RELEASE
    assert doc["passed"] is False  # tenant-isolation: the fake allows every access
    assert [s["name"] for s in doc["scenarios"]] == ["gpu-scheduling", "tenant-isolation"]
    for s in doc["scenarios"]:
        assert set(s) >= {"status", "duration_s", "metrics", "steps", "artifacts", "namespaces"}
        assert all(isinstance(v, float | int) for v in s["metrics"].values())
    md = (tmp_path / "report.md").read_text()
    assert "| gpu-scheduling | PASSED |" in md and "| tenant-isolation | FAILED |" in md
    assert md.splitlines()[0].endswith("FAILED")
    assert Report.from_json((tmp_path / JSON_FILE).read_text()) == report
    (tmp_path / "report.md").unlink()
    assert rerender(tmp_path).read_text() == md == markdown(report)
    suites = junit(tmp_path).findall("testsuite")
    assert [s.get("name") for s in suites] == ["gpu-scheduling", "tenant-isolation"]
    assert suites[0].find("properties/property[@name='admission_latency_s']").get("value") == "2"


def test_unknown_scenarios_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown scenarios \['nope'\]"):
        run(FakeCluster(), tmp_path, ["nope"])


def test_results_of_another_schema_version_are_refused():
    with pytest.raises(ValueError, match="schema_version 99"):
        Report.from_json(json.dumps({"schema_version": 99}))


def test_train_queued_reads_rank_metrics(tmp_path):
    line = format_metrics({"final_loss": 0.01, "duration_s": 3.5, "reached_target": True,
                           "world_size": 2})  # fmt: skip
    cluster = cluster_with(pod_log=f"[rank0]: epoch 9\n{line}\n")
    report, _ = run(cluster, tmp_path, ["train-queued"])
    sc = report.scenarios[0]
    assert sc.status == "passed", sc.message
    assert sc.metrics["pytorchjob_final_loss"] == 0.01 and sc.metrics["trainjob_duration_s"] == 3.5


def test_train_queued_fails_when_a_job_fails(tmp_path):
    cluster = cluster_with(fail_jobs={"pytorch-dist"})
    report, _ = run(cluster, tmp_path, ["train-queued"])
    step = report.scenarios[0].steps[2]
    assert (
        step.message
        == "PyTorchJob/scn-train-queued-f4ke00/pytorch-dist failed: BackoffLimitExceeded"
    )


def test_serve_and_load_gates_on_slos(tmp_path):
    cluster = serving_cluster(load_report(p95_ms=100))
    report, _ = run(cluster, tmp_path, ["serve-and-load"])
    sc = report.scenarios[0]
    assert sc.status == "passed", sc.message
    assert (sc.metrics["p95_ms"], sc.metrics["rps"], sc.metrics["error_rate"]) == (100, 80, 0)
    secret = next(o for o in cluster.deleted if o.startswith("Namespace/"))
    assert secret  # the tenant (and its copied S3 secret) went away


def test_serve_and_load_reports_the_violated_slo(tmp_path):
    report, _ = run(serving_cluster(load_report(p95_ms=900)), tmp_path, ["serve-and-load"])
    sc = report.scenarios[0]
    assert sc.status == "failed"
    assert sc.steps[-1].message == "SLO gate failed: p95 900 ms > 500 ms"
    assert sc.metrics["p95_ms"] == 900  # measured numbers still land in the sidecar


def test_unsupported_scenarios_are_skipped(tmp_path, monkeypatch):
    needs = Scenario("needs-trainer", "TrainJob only", ("kueue", "trainer"), train_queued_build)
    monkeypatch.setattr(
        "mlplatform.scenarios.runner.library_scenarios", lambda: {needs.name: needs}
    )
    rel = releases.load("1.10")
    out = io.StringIO()
    target_1_10 = Target(rel, Images.for_release(rel), "f4ke00")
    report = execute(FakeCluster(), target_1_10, None, tmp_path, False,
                     waiter=Waiter(FakeClock()), progress=Progress(out))  # fmt: skip
    assert report.passed and report.scenarios[0].status == "skipped"
    assert "needs-trainer SKIPPED: release 1.10 ships no trainer" in out.getvalue()
    assert junit(tmp_path).get("tests") == "0"
