"""The CLI, the network probe payload, and the upgrade-rehearsal composition."""

from __future__ import annotations

import socket

from mlplatform.cli import main
from mlplatform.scenarios import probe
from mlplatform.scenarios.catalog.upgrade_rehearsal import PHASES, rehearse
from mlplatform.scenarios.report import Report, ScenarioResult, write
from mlplatform.scenarios.waits import Waiter
from tests.scenarios.fake import FakeClock, load_report, serving_cluster


def test_run_arguments_reach_the_runner(monkeypatch, tmp_path):
    seen = {}

    def fake_run(kubeconfig, release, scenarios, out_dir, keep_on_failure, **kw):
        seen.update(kubeconfig=kubeconfig, release=release, scenarios=scenarios, out=out_dir,
                    keep=keep_on_failure, **kw)  # fmt: skip
        return Report(release, "ctx", "now", 0.0, [ScenarioResult("x", "", [], "failed", 1.0)])

    monkeypatch.setattr("mlplatform.scenarios.runner.run", fake_run)
    code = main(["conformance", "run", "--kubeconfig", "k.yaml", "--release", "1.11",
                 "--scenario", "train-queued", "--scenario", "tenant-isolation",
                 "--out", str(tmp_path), "--keep-on-failure", "--timeout-scale", "2"])  # fmt: skip
    assert code == 1  # the report did not pass
    assert seen == {
        "kubeconfig": "k.yaml", "release": "1.11", "out": tmp_path, "keep": True,
        "scenarios": ["train-queued", "tenant-isolation"],
        "image": None, "registry": None, "timeout_scale": 2.0, "context": None,
    }  # fmt: skip


def test_run_refuses_an_unknown_release(capsys):
    assert main(["conformance", "run", "--kubeconfig", "k", "--release", "0.9"]) == 2
    assert "'0.9' is not a release" in capsys.readouterr().err


def test_report_rerenders_markdown(tmp_path, capsys):
    write(
        Report("1.11", "ctx", "now", 3.0, [ScenarioResult("x", "s", [], "passed", 1.0)]), tmp_path
    )
    (tmp_path / "report.md").unlink()
    assert main(["conformance", "report", str(tmp_path)]) == 0
    assert "| x | PASSED | 1.0 |" in (tmp_path / "report.md").read_text()
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.md")


def test_probe_outcomes():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert (
            probe.main(["--host", "127.0.0.1", "--port", str(port), "--expect", "reachable"]) == 0
        )
        assert probe.main(["--host", "127.0.0.1", "--port", str(port), "--expect", "blocked"]) == 1
    assert probe.main(["--host", "127.0.0.1", "--port", str(port), "--expect", "blocked",
                       "--timeout", "1"]) == 0  # fmt: skip


def test_upgrade_rehearsal_composes_suites_around_the_upgrade(tmp_path):
    cluster = serving_cluster(load_report(p95_ms=200, failures=30, rps=20, profile="upgrade"))
    calls = []

    def suite(release, out):
        calls.append(("suite", release))
        return Report(release, "ctx", "now", 1.0, [ScenarioResult("x", "", [], "passed", 1.0)])

    done = rehearse(cluster, "1.11", "26.03", lambda: calls.append(("upgrade", "")), suite,
                    tmp_path, 60, waiter=Waiter(FakeClock()))  # fmt: skip
    assert calls == [("suite", "1.11"), ("upgrade", ""), ("suite", "26.03")]
    assert done.passed and done.downtime_s == 1.5  # 30 failed requests at 20 rps
    assert done.load["error_rate"] == 30 / 5000
    assert not any(ns.startswith("scn-") for ns in cluster.namespaces())
    assert "ClusterQueue" not in cluster.kinds()
    assert [p.name for p in PHASES] == ["baseline", "state", "load", "upgrade", "after", "data"]
