"""The kind cluster's API server audit log: policy file, kubeadm patch, mounts."""

from pathlib import Path

import pytest
import yaml

from mlplatform.cluster import kind
from mlplatform.cluster.lifecycle import load
from mlplatform.config import PlatformConfig


@pytest.fixture(scope="module")
def dev() -> PlatformConfig:
    return load("dev")


def with_logging(config: PlatformConfig, **changes: object) -> PlatformConfig:
    logging = config.components.logging.model_copy(update=changes)
    return config.model_copy(
        update={"components": config.components.model_copy(update={"logging": logging})}
    )


def control_plane(config: PlatformConfig) -> dict:
    nodes = kind.kind_config(config)["nodes"]
    assert nodes[0]["role"] == "control-plane"
    assert all("kubeadmConfigPatches" not in n and "extraMounts" not in n for n in nodes[1:])
    return nodes[0]


def test_dev_audits_its_api_server(dev):
    node = control_plane(dev)
    (patch,) = node["kubeadmConfigPatches"]
    cluster = yaml.safe_load(patch)
    # Unversioned, map-form extraArgs: kind converts them for kubeadm v1beta4 (Kubernetes
    # 1.36 here) and merges them into v1beta3 below (kind v0.32.0 pkg/internal/patch).
    assert cluster["kind"] == "ClusterConfiguration" and "apiVersion" not in cluster
    args = cluster["apiServer"]["extraArgs"]
    policy_in_node = f"{kind.AUDIT_POLICY_DIR}/audit-policy.yaml"
    assert args == {
        "audit-policy-file": policy_in_node,
        "audit-log-path": kind.AUDIT_LOG,
        "audit-log-maxsize": "100",
        "audit-log-maxbackup": "2",
    }
    volumes = {v["name"]: v for v in cluster["apiServer"]["extraVolumes"]}
    # The API server (a static pod) sees the node's policy directory read-only and writes its
    # log into the node's /var/log, which the Alloy DaemonSet mounts.
    assert volumes["audit-policies"]["hostPath"] == kind.AUDIT_POLICY_DIR
    assert volumes["audit-policies"]["readOnly"] is True
    assert volumes["audit-logs"]["hostPath"] == volumes["audit-logs"]["mountPath"]
    assert kind.AUDIT_LOG.startswith(volumes["audit-logs"]["mountPath"] + "/")
    assert volumes["audit-logs"]["readOnly"] is False
    assert kind.AUDIT_LOG_DIR.startswith("/var/log/")
    (mount,) = node["extraMounts"]
    # kind mounts the packaged policy file from the host into the node.
    assert mount == {
        "hostPath": str(kind.AUDIT_POLICY.resolve()),
        "containerPath": policy_in_node,
        "readOnly": True,
    }
    assert Path(mount["hostPath"]).is_absolute() and Path(mount["hostPath"]).is_file()
    assert node["extraPortMappings"]  # the gateway's ports stay


@pytest.mark.parametrize(("enabled", "audit"), [(True, False), (False, True)])
def test_no_audit_unless_logging_and_audit_are_on(dev, enabled, audit):
    node = control_plane(with_logging(dev, enabled=enabled, audit=audit))
    assert "kubeadmConfigPatches" not in node and "extraMounts" not in node


POLICY = yaml.safe_load(kind.AUDIT_POLICY.read_text())
LEVELS = ["None", "Metadata", "Request", "RequestResponse"]
RULE_KEYS = {
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
}


def first_rule(group: str, resource: str, verb: str) -> dict:
    """The rule the API server applies to a resource request (the first that matches)."""
    for rule in POLICY["rules"]:
        if "nonResourceURLs" in rule:
            continue
        if rule.get("verbs") and verb not in rule["verbs"]:
            continue
        kinds = rule.get("resources")
        if kinds is None or any(
            k.get("group", "") == group and (not k.get("resources") or resource in k["resources"])
            for k in kinds
        ):
            return rule
    raise AssertionError(f"no rule matches {group}/{resource} {verb}")


def test_policy_shape():
    assert POLICY["apiVersion"] == "audit.k8s.io/v1" and POLICY["kind"] == "Policy"
    assert set(POLICY) <= {"apiVersion", "kind", "rules", "omitStages", "omitManagedFields"}
    assert POLICY["omitStages"] == ["RequestReceived"]
    for rule in POLICY["rules"]:
        assert set(rule) <= RULE_KEYS and rule["level"] in LEVELS, rule
        assert not ("nonResourceURLs" in rule and "resources" in rule), rule
    assert POLICY["rules"][-1] == {"level": "Metadata"}, "everything else: metadata"
    assert all(r["level"] != "RequestResponse" for r in POLICY["rules"])


@pytest.mark.parametrize("verb", ["get", "list", "create", "update", "patch", "delete"])
@pytest.mark.parametrize(
    ("group", "resource"),
    [
        ("", "secrets"),
        ("", "configmaps"),
        ("", "serviceaccounts/token"),
        ("authentication.k8s.io", "tokenreviews"),
    ],
)
def test_no_body_of_anything_carrying_credentials(group, resource, verb):
    assert first_rule(group, resource, verb)["level"] == "Metadata"


def test_rbac_changes_keep_their_body_and_reads_do_not():
    assert first_rule("rbac.authorization.k8s.io", "rolebindings", "create")["level"] == "Request"
    assert first_rule("rbac.authorization.k8s.io", "rolebindings", "get")["level"] == "Metadata"
    assert first_rule("", "pods", "create")["level"] == "Metadata"
    assert first_rule("coordination.k8s.io", "leases", "update")["level"] == "None"
