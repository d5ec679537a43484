"""Malformed tenants are rejected with precise messages before any resource is registered."""

import pytest

from mlplatform.config import ConfigError
from mlplatform.mockrun import run
from mlplatform.tenancy.spec import merge, platform_namespaces
from tests.conftest import assert_rejected, stack_config


def ok(**extra):
    return {"name": "team-x", "owners": ["xavier@example.com"], **extra}


def q(flavor, **resources):
    return {"quota": {flavor: resources}}


BAD = {
    "uppercase name": (ok(name="Team-X"), "tenants[2].name: 'Team-X' is not a DNS-1123 label"),
    "underscore name": (ok(name="team_x"), "tenants[2].name: 'team_x' is not a DNS-1123 label"),
    "name too long": (ok(name="a" * 41), f"tenants[2].name: '{'a' * 41}' is longer than 40"),
    "kube- prefix": (ok(name="kube-team"), "starts with 'kube-', which Kubernetes reserves"),
    "duplicate name": (ok(name="team-a"), "tenants[2].name: 'team-a' is already tenants[0]"),
    "platform namespace": (
        ok(name="kubeflow"),
        "tenants[2].name: 'kubeflow' is a platform namespace",
    ),
    "minio namespace": (ok(name="minio"), "tenants[2].name: 'minio' is a platform namespace"),
    "missing owners": (
        {"name": "team-x"},
        "tenants[2].owners: required but missing",
    ),
    "empty owners": (ok(owners=[]), "tenants[2].owners: List should have at least 1 item"),
    "owner without email": (
        ok(owners=["xavier"]),
        "tenants[2].owners[0]: 'xavier' is not an email address",
    ),
    "member without email": (
        ok(members=[{"role": "edit"}]),
        "tenants[2].members[0].email: required but missing",
    ),
    "unknown role": (
        ok(members=[{"email": "m@example.com", "role": "owner"}]),
        "tenants[2].members[0].role: Input should be 'admin', 'edit' or 'view' (got 'owner')",
    ),
    "person twice": (
        ok(members=[{"email": "xavier@example.com"}]),
        "tenants[2].members[0].email: 'xavier@example.com' is already listed at owners[0]",
    ),
    "negative cpu quota": (
        ok(quota={"cpu": "-2"}),
        "tenants[2].quota.cpu: '-2' is not a Kubernetes",
    ),
    "non-numeric memory": (
        ok(quota={"memory": "lots"}),
        "tenants[2].quota.memory: 'lots' is not a Kubernetes quantity",
    ),
    "negative pods": (
        ok(quota={"pods": -1}),
        "tenants[2].quota.pods: Input should be greater than or equal to 0 (got -1)",
    ),
    "non-numeric gpu": (
        ok(quota={"gpu": "two"}),
        "tenants[2].quota.gpu: Input should be a valid integer",
    ),
    "unknown flavor": (
        ok(kueue=q("tpu", cpu="1")),
        "tenants[2].kueue.quota.tpu: unknown flavor; components.kueue.flavors: cpu, gpu",
    ),
    "gpu on a cpu flavor": (
        ok(kueue=q("cpu", **{"nvidia.com/gpu": "1"})),
        "tenants[2].kueue.quota.cpu.nvidia.com/gpu: flavor 'cpu' is not a gpu flavor",
    ),
    "negative queue quota": (
        ok(kueue=q("gpu", **{"nvidia.com/gpu": "-1"})),
        "tenants[2].kueue.quota.gpu.nvidia.com/gpu: '-1' is not a Kubernetes quantity",
    ),
    "unknown queue resource": (
        ok(kueue=q("cpu", cores="2")),
        "tenants[2].kueue.quota.cpu.cores: 'cores' is not a queue resource",
    ),
    "borrowing limit without cohort": (
        ok(kueue={"borrowingLimit": {"cpu": {"cpu": "1"}}}),
        "tenants[2].kueue.borrowingLimit: needs a cohort",
    ),
    "lending above nominal": (
        ok(kueue={"cohort": "research", "lendingLimit": {"cpu": {"cpu": "9"}}}),
        "tenants[2].kueue.lendingLimit.cpu.cpu: 9 exceeds the nominal quota 4",
    ),
    "limit without nominal": (
        ok(kueue={"cohort": "research", "borrowingLimit": {"gpu": {"cpu": "1"}}}),
        "tenants[2].kueue.borrowingLimit.gpu.cpu: no nominal quota for it in kueue.quota.gpu",
    ),
    "unknown cohort": (
        ok(kueue={"cohort": "physics"}),
        "tenants[2].kueue.cohort: unknown cohort 'physics'; components.kueue.cohorts: research",
    ),
    "unknown priority": (
        ok(kueue={"allowedPriorities": ["urgent", "default"]}),
        "tenants[2].kueue.allowedPriorities: unknown priority class 'urgent'",
    ),
    "default priority not allowed": (
        ok(kueue={"defaultPriority": "high", "allowedPriorities": ["low"]}),
        "tenants[2].kueue.allowedPriorities: must include the default priority 'high'",
    ),
    "unknown key": (ok(colour="blue"), "tenants[2].colour: unknown key"),
    "typo in quota": (ok(quota={"cpus": "2"}), "tenants[2].quota.cpus: unknown key"),
    "bad pod security": (
        ok(podSecurity="open"),
        "tenants[2].podSecurity: Input should be 'privileged', 'baseline' or 'restricted'",
    ),
    "bad egress cidr": (
        ok(network={"egress": [{"cidr": "10.0.0.300/8", "ports": [443]}]}),
        "tenants[2].network.egress[0].cidr: '10.0.0.300/8' is not a CIDR",
    ),
    "egress with cidr and host": (
        ok(network={"egress": [{"cidr": "10.0.0.0/8", "host": "x.io", "ports": [443]}]}),
        "tenants[2].network.egress[0].cidr: set exactly one of cidr or host",
    ),
    "egress port out of range": (
        ok(network={"egress": [{"host": "x.io", "ports": [70000]}]}),
        "tenants[2].network.egress[0].ports[0]: Input should be less than or equal to 65535",
    ),
    "bad label": (ok(labels={"cost center": "x"}), "'cost center' is not a label key"),
    "bucket quota zero": (ok(storage={"quota": "0"}), "tenants[2].storage.quota: '0' must be"),
    "tenant not an object": ("team-x", "tenants[2]: must be an object (got str)"),
}


def _with(entry):
    cfg = stack_config("dev")
    cfg["tenants"].append(entry)
    return cfg


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_tenant_is_rejected_before_any_resource(case):
    entry, expected = BAD[case]
    assert_rejected(_with(entry), expected)


def test_gpu_quota_needs_a_gpu_flavor():
    cfg = stack_config("staging")
    cfg["tenants"].append(ok(quota={"gpu": 2}))
    with pytest.raises(ConfigError) as err:
        run(cfg, stack="staging")
    assert "tenants[2].quota.gpu: 2 GPUs but the platform has no gpu flavor" in str(err.value)


def test_tenants_must_be_a_list():
    cfg = stack_config("dev")
    cfg["tenants"] = {"name": "team-x"}
    with pytest.raises(ConfigError, match="tenants: must be a list of tenants"):
        run(cfg, stack="dev")


def test_every_tenant_problem_is_reported_at_once():
    cfg = stack_config("dev")
    cfg["tenants"] += [ok(name="Bad"), ok(name="kubeflow", kueue={"cohort": "nope"})]
    with pytest.raises(ConfigError) as err:
        run(cfg, stack="dev")
    assert len(err.value.problems) == 3


def test_bad_template_is_a_platform_error():
    cfg = stack_config("dev")
    cfg["platform"]["tenantDefaults"]["quota"]["cpu"] = "-1"
    with pytest.raises(ConfigError, match=r"platform.tenantDefaults.quota.cpu: '-1' is not"):
        run(cfg, stack="dev")


def test_template_merges_key_by_key_and_lists_replace():
    template = {"quota": {"cpu": "8", "memory": "32Gi"}, "kueue": {"allowedPriorities": ["low"]}}
    entry = {"quota": {"cpu": "2"}, "kueue": {"allowedPriorities": ["default"]}}
    assert merge(template, entry) == {
        "quota": {"cpu": "2", "memory": "32Gi"},
        "kueue": {"allowedPriorities": ["default"]},
    }


def test_platform_namespaces_come_from_the_components():
    reserved = platform_namespaces()
    assert {"kube-system", "istio-system", "minio", "kubeflow", "kueue-system"} <= set(reserved)
