"""GPU telemetry: the DCGM exporter chart, only with GPUs, only on real GPU nodes, scraped."""

import os
import subprocess
from pathlib import Path

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from mlplatform import releases
from mlplatform.components import gpu, gpu_telemetry
from mlplatform.config.gpu import FAKE_GPU_LABELS, NVIDIA_PCI_LABEL, matches
from mlplatform.graph import CHART, CONFIG_GROUP
from mlplatform.stackconfig import ROOT
from tests.conftest import assert_rejected, stack_config
from tests.schema import problems

TOKEN = "mlplatform:gpu_telemetry:GpuTelemetry"
FAKE_GPU = ROOT / "scripts" / "fake-gpu.sh"


def _gpu(**settings):
    def edit(cfg):
        cfg["platform"]["components"].setdefault("gpu", {}).update(settings)

    return edit


gpus_on = _gpu(enabled=True)


def _values(g):
    return g.named(gpu_telemetry.RELEASE, CHART).inputs["values"]


def test_on_exactly_where_gpus_are_on():
    for env in ("dev", "staging", "prod"):
        components = stack_config(env)["platform"]["components"]
        on = (components.get("gpu") or {}).get("enabled", False)
        assert on is (env == "prod")


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_absent_without_gpus(program, env):
    g = program(env)
    assert not g.has("gpu-telemetry") and not g.has(gpu_telemetry.RELEASE)


def test_absent_when_telemetry_is_off(program):
    g = program("dev", edit=_gpu(enabled=True, telemetry={"enabled": False}))
    assert g.has("gpu") and not g.has("gpu-telemetry") and not g.has(gpu_telemetry.RELEASE)


def test_chart_from_the_catalogue_after_monitoring_and_the_device_plugin(program, env_release):
    env, release = env_release
    g = program(env, release, edit=gpus_on)
    pin = releases.load(release).component("dcgm_exporter")
    assert g.named("gpu-telemetry", TOKEN)
    chart = g.named(gpu_telemetry.RELEASE, CHART)
    assert chart.inputs["chart"] == pin.source.helm.chart == "dcgm-exporter"
    assert chart.inputs["repositoryOpts"]["repo"] == pin.source.helm.repo
    assert chart.inputs["version"] == pin.version
    assert chart.inputs["namespace"] == gpu.NAMESPACE
    assert g.depends_on(chart, g.named("kube-prometheus-stack", CHART))
    assert g.depends_on(chart, g.named("nvidia-device-plugin", CHART))
    assert g.depends_on(chart, g.named("gpu-telemetry-access", CONFIG_GROUP))


def test_service_monitor_keeps_the_workloads_namespace_and_pod(program):
    values = _values(program("dev", edit=_gpu(enabled=True, telemetry={"scrapeInterval": "1m"})))
    monitor = values["serviceMonitor"]
    assert monitor["enabled"] is True and monitor["interval"] == "1m"
    # The target's own namespace/pod/container labels would win over the exporter's.
    (drop,) = monitor["relabelings"]
    assert drop["action"] == "labeldrop"
    for label in ("namespace", "pod", "container"):
        assert drop["regex"].split("|").count(label) == 1


def test_no_service_monitor_without_monitoring(program):
    def edit(cfg):
        gpus_on(cfg)
        cfg["platform"]["components"]["monitoring"] = {"enabled": False}

    g = program("dev", edit=edit)
    assert _values(g)["serviceMonitor"]["enabled"] is False


def test_counters_are_the_pinned_exporters_plus_ours(program, env_release):
    env, release = env_release
    version = releases.load(release).component("dcgm_exporter").version
    csv = _values(program(env, release, edit=gpus_on))["customMetrics"]
    rows = [[c.strip() for c in line.split(",")] for line in csv.splitlines()]
    assert [r[0] for r in rows] == list(gpu_telemetry.metrics(version))
    assert set(gpu_telemetry.ADDED_FIELDS) <= {r[0] for r in rows}
    assert {r[1] for r in rows} <= {"gauge", "counter"}
    assert dict((r[0], r[1]) for r in rows)["DCGM_FI_DEV_THERMAL_VIOLATION"] == "counter"


def test_sized_and_tolerating_the_gpu_taints(program):
    resources = {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"memory": "256Mi"}}
    values = _values(program("dev", edit=_gpu(enabled=True, telemetry={"resources": resources})))
    assert values["resources"] == resources
    assert values["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    security = values["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["SYS_ADMIN"]}


def test_runs_on_real_gpu_nodes_the_device_plugin_serves(program):
    g = program("prod")
    selector = _values(g)["nodeSelector"]
    plugin = g.named("nvidia-device-plugin", CHART).inputs["values"]["nodeSelector"]
    assert selector == {**plugin, NVIDIA_PCI_LABEL: "true"}


def _fake_kubectl(tmp_path: Path, real: bool = False) -> dict[str, str]:
    """A kubectl stand-in recording its calls, with one worker node."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {tmp_path}/calls\n'
        'case "$*" in\n'
        '  "config current-context") echo kind-dev ;;\n'
        '  *"get nodes -l"*) echo kind-worker ;;\n'
        f'  *"get node kind-worker -o jsonpath"*) echo "{"true" if real else ""}" ;;\n'
        "esac\n"
    )
    kubectl.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def _labels_set(calls: str) -> dict[str, str]:
    labels = {}
    for line in calls.splitlines():
        words = line.split()
        if "label" in words and "node" in words:
            for word in words[words.index("node") + 2 :]:
                if "=" in word and not word.startswith("-"):
                    key, value = word.split("=", 1)
                    labels[key] = value
    return labels


def test_fake_gpu_nodes_never_match_the_exporters_selector(program, tmp_path):
    env = _fake_kubectl(tmp_path)
    subprocess.run(["bash", str(FAKE_GPU), "--gpus", "2"], check=True, env=env, timeout=30)
    faked = _labels_set((tmp_path / "calls").read_text())
    assert faked == FAKE_GPU_LABELS
    g = program("dev", edit=gpus_on)
    # GPU flavors and the device plugin select these nodes; the exporter must not.
    assert matches(g.named("nvidia-device-plugin", CHART).inputs["values"]["nodeSelector"], faked)
    values = _values(g)
    assert not matches(values["nodeSelector"], faked)
    assert "affinity" not in values


def test_fake_gpu_refuses_nodes_with_real_gpus(tmp_path):
    env = _fake_kubectl(tmp_path, real=True)
    done = subprocess.run(
        ["bash", str(FAKE_GPU)], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1 and "real NVIDIA GPUs" in done.stderr
    assert "label node" not in (tmp_path / "calls").read_text()


@pytest.mark.parametrize(
    ("telemetry", "path"),
    [
        ({"nodeSelector": {"nvidia.com/gpu.present": "true"}}, "gpu.telemetry.nodeSelector"),
        ({"scrapeInterval": "5s"}, "gpu.telemetry.scrapeInterval"),
        ({"scrapeInterval": "soon"}, "gpu.telemetry.scrapeInterval"),
    ],
)
def test_bad_telemetry_config_is_refused(telemetry, path):
    config = stack_config("dev")
    _gpu(enabled=True, telemetry=telemetry)(config)
    assert_rejected(config, f"platform.components.{path}")


def test_only_prometheus_reaches_the_exporter(program):
    g = program("prod")
    name = f"allow-prometheus-scrape-{gpu_telemetry.RELEASE}"
    policy = g.object("NetworkPolicy", name, gpu.NAMESPACE)
    assert policy["spec"]["podSelector"]["matchLabels"] == gpu_telemetry.POD_LABELS
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": gpu_telemetry.PORT}]
    (peer,) = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}


def test_in_the_device_plugins_privileged_namespace(program):
    g = program("prod")
    ns = g.object("Namespace", gpu.NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_our_objects_are_schema_valid(program, env_release):
    env, release = env_release
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    g = program(env, release, edit=gpus_on)
    mine = [o for o in g.objects() if o.owner.name == "gpu-telemetry-access"]
    assert [o.kind for o in mine] == ["NetworkPolicy"]
    assert [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []
