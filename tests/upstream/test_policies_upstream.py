"""The policy pack over what upstream renders: kustomize builds always, charts where the cache
holds their templates (a pulled cache; else those tests skip with one line).

The engine (`pulumi preview --policy-pack`) judges every chart and kustomize child; so does
`mlplatform policy check` where it can render them. Pinned here: every case passes every
mandatory rule with its upstream children; the facts the rules' upstream exceptions rest on
(Istio's injector placeholder on the gateway, the NVIDIA chart's MPS control daemon) hold at
every pin; the device plugin's containers are bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform import releases, render
from mlplatform.cli import main
from mlplatform.cli.policy import stack_config
from mlplatform.components import gpu
from mlplatform.config import parse_platform
from mlplatform.graph import Graph
from mlplatform.mockrun import stack_inputs
from mlplatform.policies import views
from mlplatform.policies.core import View
from mlplatform.policies.pods import containers, injector_placeholder
from mlplatform.policies.registry import evaluate
from mlplatform.policies.security import GPU_DEVICE_PLUGIN, GPU_MPS_CONTROL_DAEMON
from mlplatform.render import ChartInstall, Rendered
from tests.conftest import evaluate as run_program
from tests.upstream import CACHE, CASE_IDS, CASES, facts, needs_cache, upstream_graph

pytestmark = needs_cache
cases = pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)
Obj = dict[str, Any]
RELEASES = releases.available()
MIRROR = "mirror.corp:5000/ml"


def kube_version(env: str, release: str) -> str:
    return str(stack_inputs(env, release)[0]["platform"]["kubernetesVersion"])


def mandatory(seen: Sequence[View], config: dict[str, Any]) -> list[str]:
    return [
        f"{f.policy.name} {f.resource}: {f.violation.message}"
        for f in evaluate(seen, config)
        if f.level == "mandatory" and f.waiver is None
    ]


def judged(graph: Graph, env: str, release: str, values: dict[str, Any]) -> list[str]:
    """Mandatory violations over our objects and every child the cache lets us render."""
    rendered = render.render(graph, CACHE, kube_version(env, release))
    children = views.from_rendered(rendered)
    built = sum(len(render.kustomize(k.directory)) for k in render.kustomizations(graph))
    assert built > 0 and len(children) >= built, "the kustomize children were not judged"
    return mandatory([*views.from_graph(graph), *children], stack_config(values))


@cases
def test_every_case_passes_the_pack_with_its_upstream_children(env, release):
    values = stack_inputs(env, release)[0]
    assert judged(upstream_graph(env, release), env, release, values) == []


def mirrored_graph(release: str) -> tuple[Graph, dict[str, Any]]:
    assert CACHE is not None
    values, secrets = stack_inputs("dev", release)
    values["platform"]["upstreamCache"] = str(CACHE.root)
    values["platform"]["mirror"] = {"registry": MIRROR}
    return run_program(values, "dev", secrets), values


@pytest.mark.parametrize("release", RELEASES)
def test_with_a_mirror_every_upstream_child_pulls_from_it(release):
    graph, values = mirrored_graph(release)
    assert judged(graph, "dev", release, values) == []


def test_policy_check_judges_the_children_and_lists_what_it_could_not_render(capsys):
    assert CACHE is not None
    release = stack_inputs("prod")[0]["platform"]["release"]
    graph = upstream_graph("prod", release)
    rendered = render.render(graph, CACHE, kube_version("prod", release))
    missing, children = rendered.missing, views.from_rendered(rendered)
    assert main(["policy", "check", "--env", "prod", "--cache", str(CACHE.root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"policy check: env prod, release {release} (offline: our own objects and the "
        f"upstream children rendered from {CACHE.root})\n"
        f"judged: {len(graph.objects())} objects of ours, {len(children)} upstream children\n"
    )
    assert len(children) > 0
    assert all(f"\n  {line}\n" in out for line in missing)
    assert ("not rendered, so not checked here" in out) == bool(missing)
    assert out.rstrip().endswith("waived") and "\n0 mandatory, " in out


# -- Istio's gateway: `image: auto` on a pod the injector templates ---------------------------


def install_of(graph: Graph, name: str) -> ChartInstall:
    (found,) = [i for i in render.charts(graph) if i.name == name]
    return found


def templated(install: ChartInstall) -> ChartInstall:
    assert CACHE is not None
    chart, version = install.chart.rstrip("/").split("/")[-2:]
    if not CACHE.has_templates(chart, version):
        pytest.skip(f"charts/{chart}/{version} has no templates in {CACHE.root} (data only)")
    return install


@cases
def test_the_gateway_pods_ask_for_the_gateway_injection_template(env, release):
    """The chart's default pod annotations, which our values keep (gateway values.yaml)."""
    install = install_of(upstream_graph(env, release), "istio-ingressgateway")
    assert "podAnnotations" not in install.values
    defaults = yaml.safe_load((Path(install.chart) / "values.yaml").read_text())
    annotations = defaults["_internal_defaults_do_not_set"]["podAnnotations"]
    assert annotations["inject.istio.io/templates"] == "gateway"
    chart, version = install.chart.rstrip("/").split("/")[-2:]
    assert "podAnnotations" in facts(chart, version)["values_read"]


@cases
def test_the_gateway_proxy_image_is_the_injectors_placeholder(env, release):
    install = templated(install_of(upstream_graph(env, release), "istio-ingressgateway"))
    (deployment,) = [
        View("", "gw", o)
        for o in render.helm_template(install, kube_version(env, release))
        if o["kind"] == "Deployment"
    ]
    proxies = [c for c in containers(deployment) if c.spec.get("image") == "auto"]
    assert [c.name for c in proxies] == ["istio-proxy"]
    assert injector_placeholder(proxies[0])


# -- the NVIDIA device plugin at every pin ------------------------------------------------------


def plugin_install(release: str) -> tuple[Graph, ChartInstall]:
    """prod (the environment with GPUs) on `release`, and its device plugin chart."""
    graph = upstream_graph("prod", release)
    return graph, install_of(graph, gpu.RELEASE)


def plugin_children(release: str) -> list[View]:
    """The chart's objects with our values, after the transforms the engine runs on them."""
    graph, install = plugin_install(release)
    objs = render.helm_template(templated(install), kube_version("prod", release))
    kept = [o for o in objs if not render.is_hook(o)]
    return views.from_rendered(render.applied(graph, Rendered(upstream={install.component: kept})))


def daemonsets(children: Sequence[View]) -> dict[str, View]:
    return {v.ref: v for v in children if v.kind == "DaemonSet"}


PINS = {r: releases.load(r).component("nvidia_device_plugin").version for r in RELEASES}
pins = pytest.mark.parametrize("release", RELEASES, ids=[f"{r}:{v}" for r, v in PINS.items()])


def leaves(values: Any, path: str = "") -> list[str]:
    if isinstance(values, dict) and values:
        return [x for k, v in values.items() for x in leaves(v, f"{path}.{k}" if path else k)]
    return [path]


@pins
def test_device_plugin_values_are_read_at_every_pin(release):
    """Every value we pass (the MPS host PID switch only where the chart has it) is read."""
    _, install = plugin_install(release)
    read = set(facts("nvidia-device-plugin", PINS[release])["values_read"])
    unread = [
        leaf
        for leaf in leaves(install.values)
        if not {".".join(leaf.split(".")[:i]) for i in range(1, leaf.count(".") + 2)} & read
    ]
    assert unread == []
    assert ("mps.enableHostPID" in read) == ("mps.enableHostPID" in leaves(install.values))


@pins
def test_gpu_sharing_never_uses_mps(release):
    """The premise of the MPS daemon's allow-list entry: nothing asks for MPS sharing."""
    _, install = plugin_install(release)
    config = install.values["config"]
    for doc in config["map"].values():
        assert "mps" not in (yaml.safe_load(doc).get("sharing") or {})
    assert parse_platform(stack_inputs("prod", release)[0]["platform"]).components.gpu.enabled


@pins
def test_device_plugin_children_pass_the_pack_at_every_pin(release):
    children = plugin_children(release)
    assert mandatory(children, {}) == []
    found = daemonsets(children)
    # The allow-list entries name exactly the chart's two DaemonSets.
    assert set(found) == {GPU_DEVICE_PLUGIN, GPU_MPS_CONTROL_DAEMON}
    mps = found[GPU_MPS_CONTROL_DAEMON].spec["template"]["spec"]
    assert mps["nodeSelector"]["nvidia.com/mps.capable"] == "true"
    assert not mps.get("hostPID")


@pins
def test_every_device_plugin_container_is_bounded(release):
    """The chart's `resources` value reaches the plugin and MPS containers; the component's
    transform bounds the config-manager containers no value reaches."""
    prod = parse_platform(stack_inputs("prod", release)[0]["platform"]).components.gpu
    found = [
        (ds.object_name, c.name, c.resources)
        for ds in daemonsets(plugin_children(release)).values()
        for c in containers(ds)
    ]
    assert len(found) >= 6
    assert [r for *_, r in found] == [prod.resources.as_k8s()] * len(found), found
