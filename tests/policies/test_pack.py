"""policies/__main__.py builds the CrossGuard pack from the registry (server not started)."""

import runpy
from pathlib import Path

import pytest

from mlplatform.policies.core import View
from mlplatform.policies.registry import POLICIES
from tests.policies.test_rules import SC, workload

pulumi_policy = pytest.importorskip("pulumi_policy")
MAIN = Path(__file__).parents[2] / "policies" / "__main__.py"


@pytest.fixture
def pack(monkeypatch):
    """What the pack would serve: name, policies, default level (the last run's)."""
    built = {}

    def fake_pack(name, policies, enforcement_level=None, initial_config=None):
        built.update(name=name, policies=policies, level=enforcement_level)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", fake_pack)
    runpy.run_path(str(MAIN), run_name="__main__")
    return built


def _args(view, config=None):
    return pulumi_policy.ResourceValidationArgs(
        view.type,
        view.props,
        f"urn:pulumi:dev::mlplatform::{view.type}::{view.name}",
        view.name,
        None,
        None,
        config,
    )


def _stack_args(views):
    return pulumi_policy.StackValidationArgs(
        [
            pulumi_policy.PolicyResource(
                v.type, v.props, f"urn:{v.name}", v.name, None, None, None, [], {}
            )
            for v in views
        ]
    )


def test_every_policy_is_adapted_with_its_level_and_config_schema(pack):
    built = pack
    assert built["name"] == "mlplatform-guardrails"
    served = {p.name: p for p in built["policies"]}
    expected = {p.name for p in POLICIES if not p.needs_secret_marks} | {"waived-violations"}
    assert set(served) == expected
    for p in POLICIES:
        if p.name in served:
            kind = (
                pulumi_policy.ResourceValidationPolicy
                if p.check
                else pulumi_policy.StackValidationPolicy
            )
            assert isinstance(served[p.name], kind)
            assert served[p.name].enforcement_level.value == p.level
    schema = served["no-host-path"].config_schema.properties["allowed"]
    assert schema["default"] == [
        "DaemonSet/nvidia-device-plugin/nvidia-device-plugin",
        "DaemonSet/nvidia-device-plugin/nvidia-device-plugin-mps-control-daemon",
        "DaemonSet/nvidia-device-plugin/dcgm-exporter",
        "DaemonSet/monitoring/*node-exporter*",
        "DaemonSet/log-collector/alloy",
        "DaemonSet/istio-cni/istio-cni-node",
    ]


def test_resource_policies_report_engine_resources(pack):
    served = {p.name: p for p in pack["policies"]}
    reported = []
    bad = workload(securityContext={**SC, "privileged": True})
    served["no-privileged-containers"].validate(_args(bad), lambda m, urn=None: reported.append(m))
    assert reported == ["container 'app' runs privileged"]
    served["no-privileged-containers"].validate(
        _args(View("kubernetes:yaml/v2:ConfigGroup", "g", {"objs": [bad.props]})),
        lambda m, urn=None: reported.append(m),
    )
    assert len(reported) == 1  # ConfigGroup children arrive on their own


def test_stack_policies_and_waived_violations(pack, waiver_file, monkeypatch):
    served = {p.name: p for p in pack["policies"]}
    ns = View(
        "kubernetes:core/v1:Namespace",
        "scratch",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}},
    )
    reported = []
    served["namespace-network-policy"].validate(
        _stack_args([ns]), lambda m, urn=None: reported.append((m, urn))
    )
    assert reported == [("namespace scratch has no NetworkPolicy", "urn:scratch")]

    waiver_file.write_text(
        "waivers:\n  - {policy: namespace-network-policy, resource: Namespace/scratch, "
        "reason: scratch space for a demo, reviewer: sec@example.com, expires: 2999-01-01}\n"
    )
    runpy.run_path(str(MAIN), run_name="__main__")  # waivers are read when the pack starts
    served = {p.name: p for p in pack["policies"]}
    reported.clear()
    served["namespace-network-policy"].validate(
        _stack_args([ns]), lambda m, urn=None: reported.append(m)
    )
    served["waived-violations"].validate(_stack_args([ns]), lambda m, urn=None: reported.append(m))
    assert reported == [
        "namespace-network-policy: namespace scratch has no NetworkPolicy — waived: scratch "
        "space for a demo (reviewed by sec@example.com, expires 2999-01-01)"
    ]
