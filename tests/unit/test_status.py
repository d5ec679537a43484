"""`mlplatform status`: the stack file's view always; health from a (fake) cluster; exit codes."""

import json
from types import SimpleNamespace as NS

import pytest
import yaml

from mlplatform import status as state
from mlplatform.cli import status as cli
from mlplatform.cluster.lifecycle import load_stack
from tests.unit.cli_only import invoke


def _meta(ns, name):
    return NS(namespace=ns, name=name)


def _deploy(ns, name, replicas, ready):
    return NS(metadata=_meta(ns, name), spec=NS(replicas=replicas), status=NS(ready_replicas=ready))


def _ds(ns, name, desired, ready):
    return NS(
        metadata=_meta(ns, name),
        status=NS(number_ready=ready, desired_number_scheduled=desired),
    )


class FakeCore:
    def __init__(self, names):
        self.names = names

    def list_namespace(self, _request_timeout):
        assert _request_timeout == 2.0
        return NS(items=[NS(metadata=NS(name=n)) for n in self.names])


class FakeApps:
    """Workloads per namespace; `ready` None is what the API returns when nothing is ready."""

    def __init__(self, deployments=(), statefulsets=(), daemonsets=()):
        self.d, self.s, self.ds = deployments, statefulsets, daemonsets

    def list_namespaced_deployment(self, ns, _request_timeout):
        return NS(items=[d for d in self.d if d.metadata.namespace == ns])

    def list_namespaced_stateful_set(self, ns, _request_timeout):
        return NS(items=[s for s in self.s if s.metadata.namespace == ns])

    def list_namespaced_daemon_set(self, ns, _request_timeout):
        return NS(items=[d for d in self.ds if d.metadata.namespace == ns])


def _fake(ready=True):
    apps = FakeApps(
        deployments=[
            _deploy("istio-system", "istiod", 1, 1),
            _deploy("kserve", "kserve-controller-manager", 2, 2 if ready else None),
            _deploy("tenant-x", "not-ours", 1, 0),
        ],
        statefulsets=[_deploy("minio", "minio", 1, 1)],
        daemonsets=[_ds("monitoring", "node-exporter", 3, 3)],
    )
    core = FakeCore(["istio-system", "kserve", "minio", "monitoring", "tenant-x", "kube-system"])
    return state.KubernetesCluster(core, apps, timeout=2.0)


def test_health_ready_vs_desired_per_platform_namespace():
    found = state.health(_fake(ready=False), state.platform_namespaces())
    assert set(found["namespaces"]) == {"istio-system", "kserve", "minio", "monitoring"}
    assert found["namespaces"]["kserve"] == [
        {
            "kind": "Deployment",
            "namespace": "kserve",
            "name": "kserve-controller-manager",
            "ready": 0,
            "desired": 2,
            "healthy": False,
        }
    ]
    assert found["namespaces"]["monitoring"][0]["kind"] == "DaemonSet"
    assert found["unhealthy"] == ["Deployment/kserve/kserve-controller-manager"]
    assert "kube-system" not in found["absent"] and "auth" in found["absent"]


def test_offline_part_from_the_stack_file():
    data = state.offline("dev", load_stack("dev"))
    assert data["release"] == load_stack("dev").platform.release
    assert data["tenants"] == ["team-a", "team-b"]
    assert data["url"] == "https://mlplatform.localtest.me/"
    assert data["staticUsers"] == ["alice@example.com", "bob@example.com"]
    assert "gpu" not in data["components"] and "pipelines" in data["components"]


@pytest.mark.parametrize(("ready", "code"), [(True, 0), (False, 1)])
def test_cli_health_exit_codes(monkeypatch, capsys, ready, code):
    seen = {}

    def connect(kubeconfig, context, timeout):
        seen.update(kubeconfig=kubeconfig, context=context)
        return _fake(ready)

    monkeypatch.setattr(state, "connect", connect)
    assert invoke(["status", "--env", "dev"], cli) == code
    out = capsys.readouterr().out
    assert seen == {"kubeconfig": None, "context": "kind-mlplatform-dev"}
    assert "StatefulSet/minio  1/1  ok" in out
    if not ready:
        assert "Deployment/kserve-controller-manager  0/2  NOT READY" in out
        assert "1 workload(s) not ready" in out


def test_unreachable_cluster_prints_offline_part_one_line_exit_3(tmp_path, monkeypatch, capsys):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "kind-mlplatform-dev", "context": {"cluster": "c", "user": "u"}}
                ],
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert invoke(["status", "--env", "dev", "-o", "json"], cli) == 3
    captured = capsys.readouterr()
    assert json.loads(captured.out)["tenants"] == ["team-a", "team-b"]
    assert captured.err.count("\n") == 1
    assert "cluster kind-mlplatform-dev unreachable: no answer from the API server" in captured.err


def test_missing_context_is_unreachable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    assert invoke(["status", "--env", "dev"], cli) == 3
    assert f"unreachable: kubeconfig {tmp_path / 'absent'}:" in capsys.readouterr().err


def test_offline_flag_never_connects(monkeypatch):
    monkeypatch.setattr(state, "connect", lambda *a: pytest.fail("connected"))
    assert invoke(["status", "--env", "prod", "--offline"], cli) == 0


class FakeStack:
    def __init__(self, outputs):
        self._outputs = outputs

    def outputs(self):
        return self._outputs


@pytest.fixture
def workspace(monkeypatch):
    """The pulumi CLI present, the generated workspace recorded, stack outputs from a dict."""
    from pulumi import automation as auto

    from mlplatform import preview
    from mlplatform.cluster import stack as stacks

    seen = {
        "outputs": {"staticUserPasswords": auto.OutputValue({"alice@example.com": "pw-a"}, True)}
    }
    monkeypatch.setattr(preview, "pulumi_problem", lambda: None)

    def prepare(env):
        seen["prepared"] = env
        return env

    monkeypatch.setattr(stacks, "prepare", prepare)
    monkeypatch.setattr(stacks, "select", lambda ws: FakeStack(seen["outputs"]))
    return seen


def test_show_passwords_reads_the_stack_outputs_of_up(workspace, capsys):
    assert invoke(["status", "--env", "dev", "--offline", "--show-passwords"], cli) == 0
    assert workspace["prepared"] == "dev"
    assert "    alice@example.com  pw-a\n" in capsys.readouterr().out
    assert (
        invoke(["status", "--env", "dev", "--offline", "--show-passwords", "-o", "json"], cli) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["staticUserPasswords"] == {"alice@example.com": "pw-a"}
    assert invoke(["status", "--env", "dev", "--offline"], cli) == 0  # not asked: not shown
    assert "pw-a" not in capsys.readouterr().out


def test_show_passwords_of_a_stack_never_deployed_is_one_line_exit_3(workspace, capsys):
    workspace["outputs"] = {}
    assert invoke(["status", "--env", "dev", "--offline", "--show-passwords"], cli) == 3
    err = capsys.readouterr().err
    assert err == (
        "mlplatform: stack dev has no staticUserPasswords output: deploy it first "
        "(mlplatform up --env dev)\n"
    )


def test_show_passwords_without_the_pulumi_cli_is_one_line_exit_3(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi on it
    assert invoke(["status", "--env", "dev", "--offline", "--show-passwords"], cli) == 3
    err = capsys.readouterr().err
    assert err.startswith("mlplatform: pulumi CLI: ") and err.count("\n") == 1
    assert invoke(["status", "--env", "prod", "--offline", "--show-passwords"], cli) == 0  # OIDC
