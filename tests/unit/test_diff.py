"""`mlplatform diff`: configuration and resource differences, secrets never printed."""

import json
import shutil

import pytest

from mlplatform import envdiff, stackconfig
from mlplatform.cli import diff as cli
from mlplatform.graph import CHART, CONFIG_GROUP, Graph, Resource
from mlplatform.mockrun import STAND_INS
from tests.unit.cli_only import invoke


def test_flatten_keys_named_items_by_name_and_secrets_as_secret():
    flat = envdiff.flatten(
        {
            "tenants": [{"name": "a", "quota": {"gpu": 2.0}}, {"name": "b", "owners": ["x@y"]}],
            "pw": {"secure": "v1:abc"},
            "ports": [{"port": 80}, {"port": 443}],
        }
    )
    assert flat == {
        "tenants[a].name": "a",
        "tenants[a].quota.gpu": 2,
        "tenants[b].name": "b",
        "tenants[b].owners": ["x@y"],
        "pw": envdiff.SECRET,
        "ports[0].port": 80,
        "ports[1].port": 443,
    }


@pytest.fixture
def stacks(tmp_path, monkeypatch):
    """Private copies of staging (as `a`) and staging with edits and its OIDC secret (as `b`)."""
    a, b = tmp_path / "Pulumi.a.yaml", tmp_path / "Pulumi.b.yaml"
    shutil.copy(stackconfig.stack_file("staging"), a)
    text = stackconfig.stack_file("staging").read_text()
    text = text.replace("domain: ml.staging.example.com", "domain: ml.example.com")
    text += "  mlplatform:oidcClientSecret:\n    secure: v1:bm9uY2U=:Y2lwaGVy\n"
    b.write_text(text)
    monkeypatch.setattr(stackconfig, "stack_file", lambda env: tmp_path / f"Pulumi.{env}.yaml")


def test_config_diff_changes_and_secret_presence_only(stacks):
    found = envdiff.config_diff("a", "b")
    assert found["changed"] == {
        "platform.ingress.domain": {"from": "ml.staging.example.com", "to": "ml.example.com"}
    }
    assert found["added"] == {"oidcClientSecret": envdiff.SECRET}
    assert found["removed"] == {}
    assert "Y2lwaGVy" not in json.dumps(found)
    assert envdiff.config_diff("a", "a") == {"added": {}, "removed": {}, "changed": {}}


def _graph(version: str, values: dict, secret_paths: set[str], objs: list[dict]) -> Graph:
    chart = Resource(
        "urn:c",
        CHART,
        "minio",
        {"chart": "minio", "version": version, "values": values},
        "",
        [],
        secret_paths,
    )
    group = Resource("urn:g", CONFIG_GROUP, "base", {"objs": objs}, "", [])
    return Graph([chart, group])


def test_resource_diff_charts_by_key_path_masks_secrets_and_stand_ins():
    cm = {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "ns"}, "data": {"a": "1"}}
    cm2 = {**cm, "data": {"a": "2"}}
    sa = {"kind": "ServiceAccount", "metadata": {"name": "y", "namespace": "ns"}}
    a = _graph(
        "5.3.0",
        {"rootPassword": "hunter2", "replicas": 1.0, "u": "mock-password-x"},
        {"values.rootPassword"},
        [cm],
    )
    b = _graph(
        "5.4.0",
        {"rootPassword": "hunter3", "replicas": 4.0, "u": "mock-password-y"},
        {"values.rootPassword"},
        [cm2, sa],
    )
    found = envdiff.resources_diff(a, b)
    assert found["resources"] == {"added": [], "removed": []}
    assert found["objects"] == {
        "added": ["ServiceAccount/ns/y"],
        "removed": [],
        "changed": ["ConfigMap/ns/x"],
    }
    minio = found["charts"]["changed"]["minio"]
    assert minio["version"] == {"from": "5.3.0", "to": "5.4.0"}
    assert minio["values"]["changed"] == {
        "replicas": {"from": 1, "to": 4},
        "rootPassword": {"from": envdiff.SECRET, "to": envdiff.SECRET},
        "u": {"from": envdiff.SECRET, "to": envdiff.SECRET},
    }
    assert "hunter" not in json.dumps(found)


def test_cli_dev_to_prod(capsys):
    assert invoke(["diff", "--env", "dev", "--env", "prod", "-o", "json"], cli) == 0
    text = capsys.readouterr().out
    found = json.loads(text)
    assert found["config"]["added"]["tenants[nlp].name"] == "nlp"
    assert "tenants[team-a].name" in found["config"]["removed"]
    assert "mlplatform:tenancy:Tenant::nlp" in found["resources"]["added"]
    assert "ClusterQueue/tenant-nlp" in found["objects"]["added"]
    # prod has GPUs: the device plugin and its telemetry (DCGM exporter) are its only charts
    assert set(found["charts"]["added"]) == {"nvidia-device-plugin", "dcgm-exporter"}
    assert found["charts"]["changed"]["cert-manager"]["values"]["changed"]["replicaCount"] == {
        "from": 1,
        "to": 2,
    }
    assert not any(s in text for s in STAND_INS)


def test_cli_table_and_same_env(capsys):
    assert invoke(["diff", "--env", "staging", "--env", "staging"], cli) == 0
    out = capsys.readouterr().out
    assert out.startswith("diff: staging -> staging") and not any(
        line.lstrip().startswith(("+", "-", "~")) for line in out.splitlines()
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "dev"], "give --env exactly twice"),
        (["--env", "dev", "--env", "nope"], "'nope' is not an environment"),
    ],
)
def test_usage_errors_are_one_line_exit_2(capsys, argv, message):
    assert invoke(["diff", *argv], cli) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
