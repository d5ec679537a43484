"""Rung 3b: the DCGM exporter chart at every pinned version, from the upstream cache.

The GPU stack (dev with GPUs on, on each release) rendered with the chart's own templates: the
version is the chart's; every value we pass is read and no hook is relied on; the DaemonSet
runs on real GPU nodes only, mounts nothing but the pod-resources directory and passes the
policy pack; the ServiceMonitor keeps the workloads' labels; the counters are the chart's
defaults plus ours (modules/releases/metrics/dcgm-exporter-<version>.yaml). A cache without
this chart (the shared one in CI) skips with one line.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform import releases, render
from mlplatform.components import gpu_telemetry
from mlplatform.config.gpu import FAKE_GPU_LABELS, matches
from mlplatform.graph import Graph
from mlplatform.mockrun import stack_inputs
from mlplatform.policies import views
from mlplatform.policies.registry import evaluate as evaluate_policies
from mlplatform.render import ChartInstall
from tests.conftest import KUBERNETES_FOR, evaluate
from tests.upstream import CACHE, facts, needs_cache
from tests.upstream.test_charts import leaves, read_by

CHART = "dcgm-exporter"
RELEASES = releases.available()
pytestmark = [needs_cache, pytest.mark.parametrize("release", RELEASES)]


def chart_dir(release: str) -> Path:
    """The pinned chart in the cache, or a one-line skip."""
    assert CACHE is not None
    version = releases.load(release).component("dcgm_exporter").version
    if not CACHE.has_templates(CHART, version):
        pytest.skip(f"charts/{CHART}/{version} (with templates) not in {CACHE.root}")
    return CACHE.chart(CHART, version)


@cache
def gpu_graph(release: str) -> Graph:
    assert CACHE is not None
    values, secrets = stack_inputs("dev", release)
    values["platform"]["components"]["gpu"] = {"enabled": True}
    values["platform"]["upstreamCache"] = str(CACHE.root)
    return evaluate(values, "dev", secrets)


def install(release: str) -> ChartInstall:
    (found,) = [i for i in render.charts(gpu_graph(release)) if i.name == gpu_telemetry.RELEASE]
    return found


@cache
def rendered(release: str) -> tuple[dict[str, Any], ...]:
    return tuple(render.helm_template(install(release), KUBERNETES_FOR[release]))


def one(release: str, kind: str) -> dict[str, Any]:
    (obj,) = [o for o in rendered(release) if o["kind"] == kind]
    return obj


def test_pinned_version_is_the_charts_own(release):
    root = chart_dir(release)
    meta = yaml.safe_load((root / "Chart.yaml").read_text())
    pin = releases.load(release).component("dcgm_exporter")
    assert meta["name"] == CHART and str(meta["version"]) == pin.version == install(release).version
    # Every pin declares `>= 1.19.0-0`: the release's Kubernetes range lies above it.
    assert meta["kubeVersion"] == ">= 1.19.0-0"
    minimum = releases.load(release).kubernetes.min
    assert tuple(int(p) for p in minimum.split(".")) >= (1, 19)


def test_every_value_we_pass_is_read_and_no_hook_is_relied_on(release):
    root = chart_dir(release)
    version = root.name
    read = read_by(CHART, version)
    unread = [
        leaf
        for leaf in leaves(install(release).values)
        if not {".".join(leaf.split(".")[:i]) for i in range(1, leaf.count(".") + 2)} & read
    ]
    assert unread == []
    assert not (root / "values.schema.json").exists()
    assert facts(CHART, version)["hooks_with_default_values"] == []
    assert not [o for o in rendered(release) if render.is_hook(o)]


def test_daemonset_only_on_real_gpu_nodes_with_pod_attribution(release):
    chart_dir(release)
    pod = one(release, "DaemonSet")["spec"]["template"]["spec"]
    assert not matches(pod["nodeSelector"], FAKE_GPU_LABELS)
    assert "affinity" not in pod
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    host_paths = [v for v in pod["volumes"] if "hostPath" in v]
    assert [v["hostPath"]["path"] for v in host_paths] == ["/var/lib/kubelet/pod-resources"]
    assert not pod.get("hostPID") and not pod.get("hostNetwork")
    (container,) = pod["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts[host_paths[0]["name"]]["readOnly"] is True
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DCGM_EXPORTER_KUBERNETES"] == "true"
    assert "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS" not in env
    assert container["securityContext"] == gpu_telemetry.SECURITY_CONTEXT
    assert container["resources"] == install(release).values["resources"]
    labels = one(release, "DaemonSet")["spec"]["template"]["metadata"]["labels"]
    assert gpu_telemetry.POD_LABELS.items() <= labels.items()
    assert {"name": "metrics", "containerPort": gpu_telemetry.PORT} in container["ports"]


def test_service_monitor_scrapes_with_the_workloads_labels(release):
    chart_dir(release)
    (endpoint,) = one(release, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["interval"] == "30s"
    assert {"action": "labeldrop", "regex": "namespace|pod|container"} in endpoint["relabelings"]
    service = one(release, "Service")
    assert gpu_telemetry.POD_LABELS.items() <= service["spec"]["selector"].items()
    assert [p["port"] for p in service["spec"]["ports"]] == [gpu_telemetry.PORT]


def _csv_names(text: str) -> list[tuple[str, str]]:
    rows = [line.split(",") for line in text.splitlines() if line.strip().startswith("DCGM_")]
    return [(r[0].strip(), r[1].strip()) for r in rows]


def test_counters_are_the_charts_defaults_plus_ours(release):
    root = chart_dir(release)
    defaults = [
        o
        for o in render.helm_template(
            ChartInstall("probe", str(root), root.name, "default", {}, "probe", None)  # type: ignore[arg-type]
        )
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "exporter-metrics-config-map"
    ]
    text = defaults[0]["data"]["metrics"]
    metrics = [name for name, kind in _csv_names(text) if kind != "label"]
    ours = gpu_telemetry.metrics(root.name)
    assert list(ours) == [*metrics, *gpu_telemetry.ADDED_FIELDS]
    # The added fields are ones this exporter names (its own list, commented out by default).
    for field in gpu_telemetry.ADDED_FIELDS:
        assert f"# {field}," in text
    deployed = one(release, "ConfigMap")["data"]["metrics"]
    assert [name for name, _ in _csv_names(deployed)] == list(ours)


def test_rendered_exporter_passes_the_policy_pack(release):
    chart_dir(release)
    graph = gpu_graph(release)
    children = views.from_rendered(render.render(graph, CACHE, KUBERNETES_FOR[release]))
    assert any(v.ref == "DaemonSet/nvidia-device-plugin/dcgm-exporter" for v in children)
    blocking = [
        f"{f.policy.name} {f.resource}: {f.violation.message}"
        for f in evaluate_policies([*views.from_graph(graph), *children])
        if f.level == "mandatory" and f.waiver is None and gpu_telemetry.RELEASE in f.resource
    ]
    assert blocking == []
