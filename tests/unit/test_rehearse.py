"""`upgrade rehearse`: the plan (order, the Kueue migration only when the API changes), its
refusals, the walk with fake lifecycle callables over the fake cluster, and the migration."""

from __future__ import annotations

import functools
import json
import shutil

import pytest
import yaml

from mlplatform import rehearsal
from mlplatform.cli import main
from mlplatform.cli.app import Exit
from mlplatform.cluster import ROOT
from mlplatform.cluster.lifecycle import load, pinned
from mlplatform.cluster.stack import Layout, prepare
from mlplatform.scenarios.catalog.upgrade_rehearsal import rehearse
from mlplatform.scenarios.client import ApiError
from mlplatform.scenarios.report import Report, ScenarioResult
from mlplatform.scenarios.waits import Waiter
from mlplatform.scenarios.workloads.distenv import format_metrics
from tests.scenarios.fake import FakeClock, FakeCluster, load_report, serving_cluster

ORDER = ["up 1.11", "image", "suite 1.11", "state", "load", "upgrade 26.03", "migrate kueue",
         "suite 26.03", "data", "report"]  # fmt: skip


@pytest.fixture(scope="module")
def dev():
    return load("dev")


def test_the_plan_is_ordered_and_migrates_kueue_when_its_api_changes(dev):
    p = rehearsal.plan("dev", dev, "1.11", "26.03", kubernetes="1.34")
    assert [s.name for s in p.steps] == ORDER
    assert p.migration == rehearsal.Migration(
        "kueue", "kueue.x-k8s.io", "v1beta1", "v1beta2", p.migration.how
    )
    assert "storedVersions" in p.migration.how  # the catalogue's 26.03 storage_migration
    assert p.kubernetes == "1.34" and any(c.component == "kueue" for c in p.changes)
    migrate = p.steps[ORDER.index("migrate kueue")].does
    assert "kueue.x-k8s.io/v1beta2" in migrate and "Workload" in migrate


ORDER_110 = ["up 1.10", "image", "suite 1.10", "state", "load", "back up Cohort", "upgrade 1.11",
             "restore Cohort", "suite 1.11", "data", "report"]  # fmt: skip


def test_no_migration_but_the_cohort_crd_recreated_from_kueue_0_11_to_0_14(dev):
    p = rehearsal.plan("dev", dev, "1.10", "1.11")
    assert p.migration is None  # Kueue stores v1beta1 on both
    assert [s.name for s in p.steps] == ORDER_110
    assert [r.kind for r in p.recreates] == ["Cohort"]
    assert "spec.parent -> spec.parentName" in p.steps[ORDER_110.index("restore Cohort")].does
    with pytest.raises(rehearsal.RehearsalRefused, match="no pinned kind node image fits both"):
        rehearsal.plan("dev", dev, "1.10", "26.03", "1.34")  # Kubernetes ranges do not meet


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("26.03", "1.11", None), "26.03 -> 1.11 is a downgrade"),
        (("1.11", "1.11", None), "1.11 -> 1.11 is no upgrade"),
        (("1.11", "27.01", None), "--to '27.01' is not a release"),
        (("1.11", "26.03", None), "Kubernetes 1.33 is not in both 1.11 (1.33-1.34) and 26.03"),
        (("1.11", "26.03", "1.36"), "pass --kubernetes 1.34"),
    ],
)
def test_refusals(dev, args, message):
    with pytest.raises(
        rehearsal.RehearsalRefused, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        rehearsal.plan("dev", dev, *args)


def test_a_stack_not_on_kind_is_refused(dev):
    remote = dev.model_copy(
        update={"cluster": dev.cluster.model_copy(update={"context": "prod-eks"})}
    )
    with pytest.raises(rehearsal.RehearsalRefused, match=r"not on kind .* use --env dev"):
        rehearsal.plan("dev", remote, "1.10", "1.11")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "26.03", "--to", "1.11"], "is a downgrade"),
        (["--from", "1.11", "--to", "26.03"], "pass --kubernetes 1.34"),
        (["--from", "1.11", "--to", "9.9"], "'9.9' is not a release"),
    ],
)
def test_cli_refusals_are_one_line_and_exit_2(capsys, monkeypatch, argv, message):
    monkeypatch.setattr(rehearsal, "live_actions", lambda *a, **k: pytest.fail("ran"))
    code = main(["upgrade", "rehearse", "--env", "dev", *argv])
    err = capsys.readouterr().err
    assert code == Exit.USAGE and err.count("\n") == 1 and message in err, err


def test_cli_dry_run_prints_the_plan_and_touches_nothing(capsys, monkeypatch):
    monkeypatch.setattr(rehearsal, "live_actions", lambda *a, **k: pytest.fail("ran"))
    argv = ["upgrade", "rehearse", "--env", "dev", "--from", "1.11", "--to", "26.03",
            "--kubernetes", "1.34", "--dry-run"]  # fmt: skip
    assert main(argv) == Exit.OK
    out = capsys.readouterr().out
    numbered = [
        ln.split(":")[0].strip() for ln in out.splitlines() if ln[:4].strip()[:-1].isdigit()
    ]
    assert numbered == [f"{i}. {n}" for i, n in enumerate(ORDER, 1)], out
    assert main([*argv, "-o", "json"]) == Exit.OK
    doc = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in doc["steps"]] == ORDER and doc["migration"][
        "to_version"
    ] == "v1beta2"


# --- execution with fake lifecycle callables -----------------------------------------------


def _crd(plural: str, stored: list[str]) -> dict:
    return {"apiVersion": rehearsal.CRD_API, "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.kueue.x-k8s.io"},
            "status": {"storedVersions": stored}}  # fmt: skip


def _kueue_state(cluster: FakeCluster) -> None:
    """What the old release left: Kueue CRDs storing v1beta1 and objects written at v1beta1."""
    for plural in ("clusterqueues", "localqueues", "resourceflavors", "workloads"):
        cluster.put(_crd(plural, ["v1beta1", "v1beta2"]))
    old = "kueue.x-k8s.io/v1beta1"
    cluster.put({"apiVersion": old, "kind": "ResourceFlavor", "metadata": {"name": "default"}})
    cluster.put({"apiVersion": old, "kind": "ClusterQueue", "metadata": {"name": "team-a"}})
    cluster.put({"apiVersion": old, "kind": "LocalQueue",
                 "metadata": {"name": "main", "namespace": "team-a"}})  # fmt: skip


def _kfp_logs(state_after: str = "SUCCEEDED"):
    """The pipeline payloads' metrics lines: the run submitted on the old release, then read
    back after the upgrade in `state_after`."""

    def hook(cluster: FakeCluster, obj: dict) -> None:
        name, ns = obj["metadata"]["name"], obj["metadata"].get("namespace")
        lines = {
            "pipeline-submit": {"run_id": "run-1", "state": "SUCCEEDED", "duration_s": 42},
            "pipeline-kept": {"run_id": "run-1", "state": state_after},
        }
        if obj["kind"] == "Job" and name in lines:
            cluster.logs_by_pod[(ns, f"{name}-0", "main")] = format_metrics(lines[name])

    return hook


def _cluster(kfp_after: str = "SUCCEEDED", **load) -> FakeCluster:
    """Serving and KFP answer as the platform does (tests/scenarios/fake.py)."""
    cluster = serving_cluster(load_report(**{"p95_ms": 200, "profile": "upgrade", **load}))
    cluster.hooks.append(_kfp_logs(kfp_after))
    return cluster


class Lifecycle:
    """Fake lifecycle: records what runs, in order; the cluster is the fake cluster."""

    def __init__(self, cluster: FakeCluster, fail_up: str = "", suites_pass: bool = True) -> None:
        self.calls: list[str] = []
        self.cluster = cluster
        self.fail_up = fail_up
        self.suites_pass = suites_pass
        self.dropped: list[tuple[str, list[str]]] = []
        self.cohort_crd_at_up: dict[str, bool] = {}

    def up(self, release: str) -> None:
        self.calls.append(f"up {release}")
        crd = self.cluster.get(
            rehearsal.CRD_API, "CustomResourceDefinition", "cohorts.kueue.x-k8s.io"
        )
        self.cohort_crd_at_up[release] = crd is not None
        if release == self.fail_up:
            raise RuntimeError(f"pulumi up of dev at {release} failed")

    def suite(self, release, out, image) -> Report:
        self.calls.append(f"suite {release} {image}")
        status = "passed" if self.suites_pass else "failed"
        return Report(release, "kind-x", "2026-11-29T02:00:00+00:00", 1.0,
                      [ScenarioResult("x", "", [], status, 1.0)])  # fmt: skip

    def migrate(self, m: rehearsal.Migration) -> rehearsal.Migrated:
        self.calls.append(f"migrate {m.api_version}")
        return rehearsal.migrate_storage(self.cluster, m, lambda c, v: self.dropped.append((c, v)))

    def actions(self) -> rehearsal.Actions:
        middle = functools.partial(rehearse, waiter=Waiter(FakeClock()))
        return rehearsal.Actions(self.up, lambda: "scn:1", lambda: self.cluster, self.suite,
                                 self.migrate, middle)  # fmt: skip


def _plan(dev, from_release="1.11", to="26.03"):
    return rehearsal.plan("dev", dev, from_release, to, "1.34" if to == "26.03" else None)


def test_execute_walks_the_plan_in_order_and_reports_downtime(dev, tmp_path):
    cluster = _cluster(failures=30, rps=20)
    _kueue_state(cluster)
    fake = Lifecycle(cluster)
    lines: list[str] = []
    done = rehearsal.execute(_plan(dev), fake.actions(), tmp_path, 600, say=lines.append)
    assert fake.calls == ["up 1.11", "suite 1.11 scn:1", "up 26.03",
                          "migrate kueue.x-k8s.io/v1beta2", "suite 26.03 scn:1"]  # fmt: skip
    assert [s.name for s in done.steps] == ORDER
    assert done.passed and all(s.status == "passed" for s in done.steps), done.steps
    assert [ln.split("] ")[1].split(":")[0] for ln in lines] == ORDER
    assert done.downtime_s == 1.5  # 30 failed requests at 20 rps
    assert done.checks == {
        "served model": "ok", "minio objects": "ok", "kfp run": "ok", "load slo": "ok"
    }  # fmt: skip
    assert not any(k[0] == "Job" for k in cluster.objects)  # gone with the rehearsal namespace
    written = json.loads((tmp_path / "rehearsal.json").read_text())
    assert written["passed"] and written["downtime_s"] == 1.5
    # the migration rewrote the old objects and dropped v1beta1 from the CRDs' storedVersions
    cq = cluster.get("", "ClusterQueue", "team-a")
    assert cq["apiVersion"] == "kueue.x-k8s.io/v1beta2"
    assert ("clusterqueues.kueue.x-k8s.io", ["v1beta2"]) in fake.dropped
    migrate = done.steps[ORDER.index("migrate kueue")]
    # the old objects and the serving and pipeline tenants' queues (made on the old release)
    assert "ClusterQueue 3" in migrate.detail and "dropped from 4 CRDs" in migrate.detail


def test_the_objects_check_is_an_mc_stat_of_the_uploaded_prefix(dev, tmp_path):
    cluster = _cluster()
    created: list[dict] = []
    cluster.hooks.append(lambda c, obj: created.append(obj))
    rehearsal.execute(_plan(dev, "1.10", "1.11"), Lifecycle(cluster).actions(), tmp_path, 600,
                      say=lambda _: None)  # fmt: skip
    jobs = {o["metadata"]["name"]: o for o in created if o["kind"] == "Job"}
    upload = jobs["model-upload"]["spec"]["template"]["spec"]["containers"][0]["args"]
    stat = jobs["model-objects"]["spec"]["template"]["spec"]
    assert "initContainers" not in stat
    assert stat["containers"][0]["args"][-3:] == ["stat", "--recursive", upload[-1]]


def test_missing_objects_fail_the_data_step(dev, tmp_path):
    cluster = _cluster()
    cluster.hooks.insert(0, _fail_job("model-objects"))
    done = rehearsal.execute(_plan(dev, "1.10", "1.11"), Lifecycle(cluster).actions(), tmp_path,
                             600, say=lambda _: None)  # fmt: skip
    data = done.steps[-2]
    assert (
        data.name == "data" and data.status == "failed" and "minio objects: missing" in data.detail
    )
    assert not done.passed


def _fail_job(name: str):
    def hook(cluster: FakeCluster, obj: dict) -> None:
        if obj["kind"] == "Job" and obj["metadata"]["name"] == name:
            obj["metadata"].setdefault("labels", {}).pop("kueue.x-k8s.io/queue-name", None)
            obj.setdefault("status", {})["conditions"] = [
                {"type": "Failed", "status": "True", "message": "mc: Object does not exist"}
            ]

    return hook


def test_a_failed_upgrade_stops_the_rehearsal(dev, tmp_path):
    cluster = _cluster()
    fake = Lifecycle(cluster, fail_up="26.03")
    done = rehearsal.execute(_plan(dev), fake.actions(), tmp_path, 600, say=lambda _: None)
    status = {s.name: s.status for s in done.steps}
    assert status["upgrade 26.03"] == "failed" and not done.passed
    assert [status[n] for n in ORDER[ORDER.index("migrate kueue") :]] == ["skipped"] * 4
    assert "migrate kueue.x-k8s.io/v1beta2" not in fake.calls
    assert "pulumi up of dev at 26.03 failed" in done.steps[ORDER.index("upgrade 26.03")].detail
    written = json.loads((tmp_path / "rehearsal.json").read_text())
    assert not written["passed"] and written["steps"][-1]["status"] == "skipped"


def test_a_failed_first_up_skips_everything_else(dev, tmp_path):
    fake = Lifecycle(FakeCluster(), fail_up="1.11")
    done = rehearsal.execute(_plan(dev), fake.actions(), tmp_path, 600, say=lambda _: None)
    assert [s.status for s in done.steps] == ["failed"] + ["skipped"] * (len(ORDER) - 1)
    assert fake.calls == ["up 1.11"]


def test_a_failed_suite_fails_the_rehearsal_but_it_runs_to_the_end(dev, tmp_path):
    cluster = _cluster()
    fake = Lifecycle(cluster, suites_pass=False)
    done = rehearsal.execute(_plan(dev, "1.10", "1.11"), fake.actions(), tmp_path, 600,
                             say=lambda _: None)  # fmt: skip
    status = {s.name: s.status for s in done.steps}
    assert status["suite 1.10"] == status["suite 1.11"] == "failed" and not done.passed
    assert status["data"] == "passed"


# --- the storage migration ------------------------------------------------------------------


def test_migration_skips_absent_apis_and_keeps_stored_versions_after_a_failure(dev):
    m = rehearsal.Migration("kueue", "kueue.x-k8s.io", "v1beta1", "v1beta2", "")
    cluster = FakeCluster()
    _kueue_state(cluster)
    dropped: list = []
    real_patch = cluster.patch

    def patch(api_version, kind, name, body, namespace=None):
        if kind == "LocalQueue":
            raise ApiError(500, "conversion webhook unavailable")
        return real_patch(api_version, kind, name, body, namespace)

    cluster.patch = patch
    done = rehearsal.migrate_storage(cluster, m, lambda c, v: dropped.append(c))
    assert (
        done.failed == ["LocalQueue team-a/main: 500 conversion webhook unavailable"]
        and dropped == []
    )
    assert set(done.objects) == {"ClusterQueue", "LocalQueue", "ResourceFlavor", "Workload"}


def test_migration_tolerates_objects_gone_meanwhile():
    m = rehearsal.Migration("kueue", "kueue.x-k8s.io", "v1beta1", "v1beta2", "")
    cluster = FakeCluster()
    _kueue_state(cluster)

    def gone(*args, **kwargs):
        raise ApiError(404, "NotFound")

    cluster.patch = gone
    dropped: list = []
    done = rehearsal.migrate_storage(cluster, m, lambda c, v: dropped.append(c))
    assert not done.failed and len(dropped) == 4


# --- the stack at another release ----------------------------------------------------------


def test_prepare_pins_the_rehearsed_release_in_the_generated_copy_only(tmp_path, dev):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    tracked = tmp_path / "stacks" / "Pulumi.dev.yaml"
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", tracked)
    before = tracked.read_bytes()
    at = rehearsal.config_at(dev, "26.03", "1.34")
    ws = prepare("dev", Layout(tmp_path), environ={}, platform=pinned(at))
    doc = yaml.safe_load((ws.work_dir / "Pulumi.dev.yaml").read_text())
    platform = doc["config"]["mlplatform:platform"]
    assert platform["release"] == "26.03" and platform["kubernetesVersion"] == "1.34"
    assert platform["cluster"] == yaml.safe_load(before)["config"]["mlplatform:platform"]["cluster"]
    assert tracked.read_bytes() == before


def test_the_migration_follows_the_kueue_api_not_the_release_pair():
    from mlplatform import releases

    r110, r111, r2603 = (releases.load(r) for r in ("1.10", "1.11", "26.03"))
    assert rehearsal.kueue_migration(r110, r2603) == rehearsal.kueue_migration(r111, r2603)
    assert rehearsal.kueue_migration(r110, r2603).to_version == "v1beta2"
    # 26.03 says how to migrate, but from a release already on v1beta2 nothing moves
    assert r2603.component("kueue").storage_migration
    assert rehearsal.kueue_migration(r2603, r2603) is None
    assert rehearsal.kueue_migration(r110, r111) is None  # v1beta1 on both


def test_cohorts_are_saved_and_restored_around_the_upgrade_that_drops_v1alpha1(dev, tmp_path):
    cluster = _cluster()
    cluster.put(_crd("cohorts", ["v1alpha1"]))
    cluster.put({"apiVersion": "kueue.x-k8s.io/v1alpha1", "kind": "Cohort",
                 "metadata": {"name": "org", "labels": {"team": "ml"}, "uid": "u1",
                              "resourceVersion": "7"},
                 "spec": {"parent": "root", "resourceGroups": []}})  # fmt: skip
    real_delete = cluster.delete

    def delete(api_version, kind, name, namespace=None):  # a CRD takes its objects with it
        real_delete(api_version, kind, name, namespace)
        if (kind, name) == ("CustomResourceDefinition", "cohorts.kueue.x-k8s.io"):
            for key in [k for k in cluster.objects if k[0] == "Cohort"]:
                del cluster.objects[key]

    cluster.delete = delete
    fake = Lifecycle(cluster)
    done = rehearsal.execute(_plan(dev, "1.10", "1.11"), fake.actions(), tmp_path, 600,
                             say=lambda _: None)  # fmt: skip
    assert [s.name for s in done.steps] == ORDER_110 and done.passed, done.steps
    # the CRD was gone when the upgrade ran (the API server refuses dropping a stored version)
    assert fake.cohort_crd_at_up == {"1.10": True, "1.11": False}
    cohort = cluster.get("kueue.x-k8s.io/v1beta1", "Cohort", "org")
    assert cohort["apiVersion"] == "kueue.x-k8s.io/v1beta1"
    assert cohort["spec"] == {"parentName": "root", "resourceGroups": []}
    assert cohort["metadata"]["labels"] == {"team": "ml"} and cohort["metadata"]["uid"] != "u1"
    saved = json.loads((tmp_path / "backup-cohorts.json").read_text())
    assert [o["metadata"]["name"] for o in saved] == ["org"]
    assert done.steps[ORDER_110.index("back up Cohort")].detail == "1 saved, CRD deleted"


def test_the_kfp_run_made_before_is_read_back_after_the_upgrade(dev, tmp_path):
    cluster = _cluster()
    created: list[dict] = []
    cluster.hooks.append(lambda c, obj: created.append(obj))
    done = rehearsal.execute(_plan(dev, "1.10", "1.11"), Lifecycle(cluster).actions(), tmp_path,
                             600, say=lambda _: None)  # fmt: skip
    assert done.checks["kfp run"] == "ok"
    jobs = {o["metadata"]["name"]: o for o in created if o["kind"] == "Job"}
    names = list(jobs)
    assert (
        names.index("pipeline-submit") < names.index("upgrade-load") < names.index("pipeline-kept")
    )
    submit = jobs["pipeline-submit"]["spec"]["template"]["spec"]
    kept = jobs["pipeline-kept"]["spec"]["template"]["spec"]
    assert kept["containers"][0]["command"] == [
        "python",
        "-m",
        "mlplatform.scenarios.pipeline_check",
    ]
    assert kept["containers"][0]["args"][-2:] == ["--run-id", "run-1"]
    assert kept["serviceAccountName"] == submit["serviceAccountName"]
    assert kept["volumes"] == submit["volumes"]  # the projected KFP token


def test_a_lost_kfp_run_fails_the_data_step(dev, tmp_path):
    done = rehearsal.execute(_plan(dev, "1.10", "1.11"), Lifecycle(_cluster("MISSING")).actions(),
                             tmp_path, 600, say=lambda _: None)  # fmt: skip
    assert done.checks["kfp run"] == "run run-1: MISSING" and not done.passed
    assert done.steps[-2].status == "failed"


def test_without_kfp_no_pipeline_is_kept(dev, tmp_path):
    off = dev.model_copy(update={"components": dev.components.model_copy(
        update={"pipelines": dev.components.pipelines.model_copy(update={"enabled": False})})})  # fmt: skip
    p = rehearsal.plan("dev", off, "1.10", "1.11")
    assert not p.kfp_run and "KFP" not in " ".join(s.does for s in p.steps)
    cluster = _cluster()
    done = rehearsal.execute(p, Lifecycle(cluster).actions(), tmp_path, 600, say=lambda _: None)
    assert done.passed and "kfp run" not in done.checks


def test_pipeline_check_payload_reads_the_run_back(monkeypatch, capsys):
    import kfp

    from mlplatform.scenarios import pipeline_check

    states = {"run-1": "SUCCEEDED", "run-2": "FAILED"}

    class Client:
        def __init__(self, host, namespace, credentials):
            assert (host, namespace) == ("http://kfp:8888", "team-a")

        def get_run(self, run_id):
            if run_id not in states:
                raise RuntimeError("(404) run not found")
            return type("Run", (), {"state": states[run_id]})()

    monkeypatch.setattr(kfp, "Client", Client)
    base = ["--host", "http://kfp:8888", "--namespace", "team-a", "--run-id"]
    assert pipeline_check.main([*base, "run-1"]) == 0
    assert '"state": "SUCCEEDED"' in capsys.readouterr().out
    assert pipeline_check.main([*base, "run-2"]) == 1
    assert pipeline_check.main([*base, "gone"]) == 1
    assert '"state": "MISSING"' in capsys.readouterr().out.splitlines()[-1]


@pytest.fixture
def live(monkeypatch):
    """The live path with the world faked: tools present, no kind cluster yet, execute stubbed."""
    from mlplatform.cli import cluster as cluster_cli
    from mlplatform.cluster import kind, lifecycle

    seen: dict = {"torn_down": [], "exists": False}
    monkeypatch.setattr(cluster_cli, "_prerequisites", lambda names, install: None)
    monkeypatch.setattr(kind.KindCluster, "exists", lambda self: seen["exists"])
    monkeypatch.setattr(rehearsal, "live_actions", lambda *a, **k: "actions")
    monkeypatch.setattr(lifecycle, "tear_down", lambda dep, **k: seen["torn_down"].append(dep))

    def execute(plan, actions, out, load_seconds, keep_on_failure, say):
        seen["plan"] = plan
        status = "passed" if seen.get("pass", True) else "failed"
        steps = [rehearsal.StepResult(s.name, status, 1.0) for s in plan.steps]
        return rehearsal.Outcome(plan, steps, 2.5 if status == "passed" else None)

    monkeypatch.setattr(rehearsal, "execute", execute)
    return seen


ARGV = ["upgrade", "rehearse", "--env", "dev", "--from", "1.10", "--to", "1.11"]


def test_a_passed_rehearsal_deletes_its_cluster_unless_kept(live, capsys, tmp_path):
    assert main([*ARGV, "--out", str(tmp_path)]) == Exit.OK
    out = capsys.readouterr().out
    assert "rehearsal 1.10 -> 1.11: PASSED; downtime 2.5s" in out
    assert [d.cluster.name for d in live["torn_down"]] == ["mlplatform-dev"]
    assert main([*ARGV, "--keep-cluster", "-o", "json"]) == Exit.OK
    doc = json.loads(capsys.readouterr().out)  # progress goes to stderr with -o json
    assert doc["passed"] and doc["downtime_s"] == 2.5 and len(live["torn_down"]) == 1


def test_a_failed_rehearsal_exits_1_and_keeps_the_cluster(live, capsys):
    live["pass"] = False
    assert main(ARGV) == Exit.FINDINGS
    assert "FAILED; downtime -" in capsys.readouterr().out and live["torn_down"] == []


def test_an_existing_kind_cluster_is_refused(live, capsys):
    live["exists"] = True
    code = main(ARGV)
    err = capsys.readouterr().err
    assert code == Exit.USAGE and err.count("\n") == 1
    assert "kind cluster mlplatform-dev exists" in err and "mlplatform down --env dev" in err
    assert "plan" not in live


def test_stored_versions_are_patched_through_the_status_subresource(monkeypatch):
    import subprocess

    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(
            argv, 1 if "bad.kueue.x-k8s.io" in argv else 0, "", "nope"
        )

    monkeypatch.setattr(subprocess, "run", run)
    drop = rehearsal.kubectl_drop_stored_version("/k/config", "kind-x")
    drop("workloads.kueue.x-k8s.io", ["v1beta2"])
    assert calls[0] == ["kubectl", "--kubeconfig", "/k/config", "--context", "kind-x", "patch",
                        "customresourcedefinition", "workloads.kueue.x-k8s.io",
                        "--subresource=status", "--type=merge",
                        "-p", '{"status": {"storedVersions": ["v1beta2"]}}']  # fmt: skip
    with pytest.raises(RuntimeError, match="nope"):
        drop("bad.kueue.x-k8s.io", ["v1beta2"])
