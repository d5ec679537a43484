"""GPU: the NVIDIA device plugin chart, time-slicing, MIG strategy and node selection."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import releases
from mlplatform.graph import CHART, CONFIG_GROUP
from tests.conftest import assert_rejected, stack_config
from tests.schema import problems

TOKEN = "mlplatform:gpu:GpuDevicePlugin"


def _gpu(**settings):
    def edit(cfg):
        cfg["platform"]["components"].setdefault("gpu", {}).update(settings)

    return edit


def everything_on(cfg):
    """GPU plugin on: one graph shared with test_serving."""
    cfg["platform"]["components"].setdefault("gpu", {}).update(enabled=True)


def _plugin_config(g):
    values = g.named("nvidia-device-plugin", CHART).inputs["values"]
    assert values["config"]["default"] in values["config"]["map"]
    return yaml.safe_load(values["config"]["map"][values["config"]["default"]])


def test_off_in_dev_and_staging_on_in_prod():
    assert stack_config("dev")["platform"]["components"]["gpu"]["enabled"] is False
    assert "gpu" not in stack_config("staging")["platform"]["components"]
    prod = stack_config("prod")["platform"]["components"]["gpu"]
    assert prod["enabled"] is True and prod["timeSlicing"]["replicas"] > 1


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_absent_when_disabled(program, env):
    g = program(env)
    assert not g.has("gpu") and not g.has("nvidia-device-plugin") and not g.has("gpu-base")


def test_chart_from_the_catalogue(program, env_release):
    env, release = env_release
    g = program(env, release, edit=everything_on)
    plugin = releases.load(release).component("nvidia_device_plugin")
    assert g.named("gpu", TOKEN)
    chart = g.named("nvidia-device-plugin", CHART)
    assert chart.inputs["chart"] == plugin.source.helm.chart
    assert chart.inputs["repositoryOpts"]["repo"] == plugin.source.helm.repo
    assert chart.inputs["version"] == plugin.version
    assert chart.inputs["namespace"] == "nvidia-device-plugin"
    assert g.depends_on(chart, g.named("gpu-base", CONFIG_GROUP))


def test_time_slicing_and_mig_strategy(program):
    g = program("dev", edit=_gpu(enabled=True, timeSlicing={"replicas": 4}, migStrategy="mixed"))
    assert _plugin_config(g) == {
        "version": "v1",
        "flags": {"migStrategy": "mixed"},
        "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}},
    }


def test_one_replica_means_no_sharing(program):
    config = _plugin_config(program("dev", edit=_gpu(enabled=True)))
    assert config == {"version": "v1", "flags": {"migStrategy": "none"}}


def test_nodes_selected_by_label_and_tolerated(program):
    selector = {"nvidia.com/gpu.present": "true", "pool": "a100"}
    g = program("dev", edit=_gpu(enabled=True, nodeSelector=selector))
    values = g.named("nvidia-device-plugin", CHART).inputs["values"]
    assert values["nodeSelector"] == selector
    (term,) = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [
        {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]},
        {"key": "pool", "operator": "In", "values": ["a100"]},
    ]
    assert values["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_namespace_privileged_with_network_policies(program):
    g = program("dev", edit=_gpu(enabled=True))
    ns = g.object("Namespace", "nvidia-device-plugin")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    policies = {
        o.name
        for o in g.objects()
        if o.kind == "NetworkPolicy" and o.namespace == ns["metadata"]["name"]
    }
    # The last: the DCGM exporter's scrape access (gpu_telemetry.py), on with GPUs by default.
    assert policies == {
        "default-deny",
        "allow-dns",
        "allow-apiserver-egress",
        "allow-prometheus-scrape-dcgm-exporter",
    }


def test_alert_rules_when_monitoring(program):
    g = program("dev", edit=_gpu(enabled=True))
    rule = g.object("PrometheusRule", "nvidia-device-plugin", "nvidia-device-plugin")
    alerts = {r["alert"]: r["expr"] for r in rule["spec"]["groups"][0]["rules"]}
    assert 'namespace="nvidia-device-plugin"' in alerts["NvidiaDevicePluginUnavailable"]
    assert g.depends_on(
        g.named("gpu-alerts", CONFIG_GROUP), g.named("kube-prometheus-stack", CHART)
    )

    def no_monitoring(cfg):
        _gpu(enabled=True)(cfg)
        cfg["platform"]["components"]["monitoring"] = {"enabled": False}

    assert not program("dev", edit=no_monitoring).has("gpu-alerts")


def test_objects_are_schema_valid(program, env_release):
    env, release = env_release
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    g = program(env, release, edit=everything_on)
    mine = [o for o in g.objects() if o.owner.name in {"gpu-base", "gpu-alerts"}]
    assert len(mine) == 5
    assert [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []


BAD = {
    "zero time-slicing replicas": (
        _gpu(enabled=True, timeSlicing={"replicas": 0}),
        "platform.components.gpu.timeSlicing.replicas: Input should be greater than or equal to 1 "
        "(got 0)",
    ),
    "bogus mig strategy": (
        _gpu(migStrategy="bogus"),
        "platform.components.gpu.migStrategy: Input should be 'none', 'single' or 'mixed' "
        "(got 'bogus')",
    ),
    "empty node selector": (
        _gpu(enabled=True, nodeSelector={}),
        "platform.components.gpu.nodeSelector: nodeSelector is empty: the device plugin would run on every node",
    ),
    "toleration Equal without value": (
        _gpu(tolerations=[{"key": "gpu", "operator": "Equal"}]),
        "platform.components.gpu.tolerations.0.value: operator Equal needs a value",
    ),
    "typo in gpu": (
        _gpu(timeslicing={"replicas": 2}),
        "platform.components.gpu.timeslicing: unknown key; allowed keys here: enabled, mig",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_gpu_config_is_rejected_before_any_resource(case):
    edit, expected = BAD[case]
    cfg = stack_config("dev")
    edit(cfg)
    assert_rejected(cfg, expected)
