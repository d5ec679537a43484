"""`mlplatform conformance run --env`: the cluster and release come from the stack file."""

from types import SimpleNamespace

import pytest

from mlplatform.cli import main
from mlplatform.config import ClusterAccess
from mlplatform.scenarios import runner


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """runner.run recorded, never run: (kubeconfig, release, context) of each call."""
    seen = []

    def fake(kubeconfig, release, scenarios, out, keep, *, context=None, **kwargs):
        seen.append((kubeconfig, release, context))
        return SimpleNamespace(passed=True)

    monkeypatch.setattr(runner, "run", fake)
    monkeypatch.chdir(tmp_path)  # the default --out directory lands here
    return seen


def test_env_gives_context_and_release(calls):
    assert main(["conformance", "run", "--env", "staging"]) == 0
    assert calls == [(None, "26.03", "mlplatform-staging")]
    assert main(["conformance", "run", "--env", "dev", "--kubeconfig", "/k/dev.yaml"]) == 0
    assert calls[-1] == ("/k/dev.yaml", "1.11", "kind-mlplatform-dev")  # fills what is unset
    assert main(["conformance", "run", "--env", "dev", "--release", "1.11"]) == 0  # agrees


def test_contradicting_flags_are_refused(calls, capsys):
    assert main(["conformance", "run", "--env", "dev", "--release", "1.10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--release 1.10 contradicts Pulumi.dev.yaml platform.release 1.11" in err
    assert main(["conformance", "run", "--env", "prod", "--context", "kind-x"]) == 2
    assert "platform.cluster.context mlplatform-prod" in capsys.readouterr().err
    assert calls == []


def test_kubeconfig_from_the_stack_compares_as_a_file(calls, capsys, monkeypatch, tmp_path):
    import mlplatform.cluster.lifecycle as lifecycle

    stack = lifecycle.load_stack("dev")
    cluster = ClusterAccess(kubeconfig=str(tmp_path / "kc"), context="kind-a")
    platform = stack.platform.model_copy(update={"cluster": cluster})
    monkeypatch.setattr(lifecycle, "load_stack", lambda env: SimpleNamespace(platform=platform))
    assert main(["conformance", "run", "--env", "dev", "--kubeconfig", "./kc"]) == 0
    assert calls[-1] == (str(tmp_path / "kc"), "1.11", "kind-a")
    assert main(["conformance", "run", "--env", "dev", "--kubeconfig", "/other"]) == 2
    assert "--kubeconfig /other contradicts" in capsys.readouterr().err


def test_without_env_kubeconfig_and_release_are_needed(calls, capsys):
    assert main(["conformance", "run", "--kubeconfig", "/k"]) == 2
    assert "pass --env ENV, or --kubeconfig PATH and --release RELEASE" in capsys.readouterr().err
    assert main(["conformance", "run", "--kubeconfig", "/k", "--release", "1.10"]) == 0
    assert calls == [("/k", "1.10", None)]
