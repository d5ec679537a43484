"""KServe, Trainer, Istio and Kueue do what we mean with the values we pass, at every pin.

Facts come from the cache's chart files (facts.json `values_read`, values.yaml, the values
schema, CRDs); where a test renders a chart it needs the chart's templates (a pulled cache),
else it skips with one line. A pinned chart missing from the cache skips the same way, naming
it: `mlplatform upstream pull` fills it.

- KServe: the runtimes config chooses are the ClusterServingRuntimes left enabled, through
  the chart's `disabled` keys where the chart has them (0.16) and through Serving's transform
  where it has none (0.15).
- Trainer: chart 2.1.0 ships no runtimes, so the catalogue's `trainer_runtimes` app brings
  `torch-distributed` and the rest, valid for the pinned Trainer's CRD.
- Kueue <-> Trainer: the TrainJob field the pinned Kueue writes on admission is one the pinned
  Trainer's CRD keeps.
- Istio: the gateway chart 1.26.1 rejects any values against its own schema (so no release may
  pin it), and every pinned gateway chart accepts ours.
- Footprint: every container of these charts runs with exactly the resources config gives.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlplatform import releases, render
from mlplatform.components import serving, training
from mlplatform.config import Components, parse_platform
from mlplatform.config.serving import RUNTIMES
from mlplatform.graph import Graph
from mlplatform.mockrun import stack_inputs
from mlplatform.render import ChartInstall
from tests.crd_schema import Catalogue
from tests.upstream import CACHE, CASE_IDS, CASES, facts, needs_cache, upstream_graph

pytestmark = needs_cache
Obj = dict[str, Any]
cases = pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)
RELEASES = releases.available()
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")

TRAINJOB = "trainer.kubeflow.org/trainjob"


# -- the cache -------------------------------------------------------------------------------


def chart_dir(chart: str, version: str) -> Path:
    """A pinned chart's cached directory, or a one-line skip naming it."""
    assert CACHE is not None
    if not CACHE.has_chart(chart, version):
        pytest.skip(
            f"charts/{chart}/{version} is not in {CACHE.root}: run `mlplatform upstream pull`"
        )
    return CACHE.chart(chart, version)


def templated(install: ChartInstall) -> ChartInstall:
    """`install` if its chart can be rendered here, else a one-line skip."""
    assert CACHE is not None
    chart, version = Path(install.chart).parts[-2:]
    if not CACHE.has_templates(chart, version):
        pytest.skip(
            f"charts/{chart}/{version} has no templates in {CACHE.root} (data only): "
            "`mlplatform upstream pull` fetches them"
        )
    return install


def install_of(graph: Graph, name: str) -> ChartInstall:
    (found,) = [i for i in render.charts(graph) if i.name == name]
    return found


def values_read(chart: str, version: str) -> set[str]:
    chart_dir(chart, version)
    return set(facts(chart, version)["values_read"])


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.lstrip("v").split("."))


# -- what Pulumi would apply -------------------------------------------------------------------


def applied(graph: Graph, install: ChartInstall) -> list[Obj]:
    """The chart rendered with our values, hooks dropped, every transform that reaches it run."""
    return [
        render.transformed(graph, obj, install.resource)
        for obj in render.helm_template(install)
        if not render.is_hook(obj)
    ]


def components(env: str, release: str) -> Components:
    """The case's parsed component config (defaults filled in)."""
    return parse_platform(stack_inputs(env, release)[0]["platform"]).components


# -- KServe runtimes -------------------------------------------------------------------------


@pytest.mark.parametrize("release", RELEASES)
def test_kserve_chart_switches_runtimes_exactly_where_we_pass_switches(release):
    version = releases.load(release).component("kserve").version
    read = values_read("kserve", version)
    switches = {f"kserve.servingruntime.{r.chart_key}.disabled" for r in RUNTIMES.values()}
    if serving.chart_switches_runtimes(version):
        assert switches <= read, sorted(switches - read)
    else:
        assert switches & read == set(), "this chart has runtime switches: pass them instead"
    # The multinode runtime has no switch of its own in any pinned chart.
    assert "kserve.servingruntime.huggingfaceserver_multinode.disabled" not in read


@cases
def test_enabled_cluster_serving_runtimes_are_the_chosen_ones(env, release):
    graph = upstream_graph(env, release)
    objs = applied(graph, templated(install_of(graph, "kserve")))
    runtimes = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterServingRuntime"}
    # Our names for the chart's runtimes are the ones it renders, no more, no fewer.
    assert set(runtimes) == {n for r in RUNTIMES.values() for n in r.objects}
    chosen = components(env, release).serving.runtimes
    enabled = {n for n, o in runtimes.items() if not o["spec"].get("disabled")}
    assert enabled == {n for name in chosen for n in RUNTIMES[name].objects}


# -- Trainer runtimes and Kueue compatibility ------------------------------------------------


@pytest.mark.parametrize("release", [r for r in RELEASES if releases.load(r).has("trainer")])
def test_trainer_runtimes_come_from_one_source(release):
    """Chart 2.1.0 reads no `runtimes.*` (2.2.0's runtimes.defaultEnabled would render them):
    the catalogue's runtimes app must bring them, and nothing may pass `runtimes` values."""
    rel = releases.load(release)
    read = values_read("kubeflow-trainer", rel.component("trainer").version)
    chart_has_runtimes = any(v.startswith("runtimes.") for v in read)
    assert not chart_has_runtimes, "the chart renders runtimes: pass runtimes values instead"
    assert rel.has("trainer_runtimes")


@pytest.mark.parametrize("release", [r for r in RELEASES if releases.load(r).has("trainer")])
def test_trainer_runtimes_app_brings_the_default_runtime_valid_for_the_pinned_trainer(release):
    graph = upstream_graph("dev", release)
    (build,) = [b for b in render.kustomizations(graph) if b.name == "trainer-runtimes"]
    objs = render.kustomize(build.directory)
    runtimes = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterTrainingRuntime"}
    assert training.DEFAULT_RUNTIME in runtimes
    assert {o["kind"] for o in objs} == {"ClusterTrainingRuntime"}
    assert CACHE is not None
    problems = [
        f"{name}: {p}"
        for name, o in runtimes.items()
        for p in Catalogue(CACHE.root).problems(o, release)
    ]
    assert problems == []
    # Kubeflow's own runtime images are the pinned Trainer's.
    tag = "v" + releases.load(release).component("trainer").version
    images = {c["image"] for c in _containers(objs)}
    kubeflow = {i for i in images if i.startswith("ghcr.io/kubeflow/trainer/")}
    assert kubeflow and {i.rsplit(":", 1)[1] for i in kubeflow} == {tag}


def _containers(objs: list[Obj]) -> list[Obj]:
    """Every container in `objs`, however deeply nested (runtimes nest JobSet templates)."""
    found: list[Obj] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    found.extend(c for c in value if isinstance(c, dict) and "image" in c)
                walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(objs)
    return found


def kueue_trainjob_field(kueue_version: str) -> str:
    """The TrainJob field Kueue writes on admission: the catalogue's constraints.yaml states
    it per Kueue version, with its upstream source."""
    return releases.trainjob_field(kueue_version)


def test_kueue_trainjob_field_table():
    assert kueue_trainjob_field("0.14.4") == "podSpecOverrides"
    assert kueue_trainjob_field("0.14.8") == "podTemplateOverrides"
    assert kueue_trainjob_field("0.16.1") == "podTemplateOverrides"
    assert kueue_trainjob_field("0.17.3") == "runtimePatches"


@pytest.mark.parametrize(
    "release",
    [r for r in RELEASES if TRAINJOB in releases.load(r).component("kueue").integrations],
)
def test_kueue_writes_a_trainjob_field_the_pinned_trainer_keeps(release):
    rel = releases.load(release)
    assert CACHE is not None
    crd = Catalogue(CACHE.root).crd(release, "trainer.kubeflow.org", "TrainJob")
    (version,) = [v for v, (served, _) in crd.versions.items() if served]
    fields = set(crd.versions[version][1]["properties"]["spec"]["properties"])
    field = kueue_trainjob_field(rel.component("kueue").version)
    assert field in fields, (
        f"Kueue {rel.component('kueue').version} writes spec.{field}; Trainer "
        f"{rel.component('trainer').version}'s TrainJob has {sorted(fields)} (the server prunes it)"
    )


# -- Istio gateway schema --------------------------------------------------------------------


def gateway_problems(version: str, values: Obj) -> list[str]:
    root = chart_dir("gateway", version)
    merged = _merged(yaml.safe_load((root / "values.yaml").read_text()) or {}, values)
    schema = json.loads((root / "values.schema.json").read_text())
    schema.pop("$schema", None)  # "http://json-schema.org/schema#": the latest draft
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [e.message for e in validator.iter_errors(merged)]


def _merged(defaults: Any, ours: Any) -> Any:
    if isinstance(defaults, dict) and isinstance(ours, dict):
        out = copy.deepcopy(defaults)
        for key, value in ours.items():
            out[key] = _merged(out.get(key), value)
        return out
    return copy.deepcopy(ours)


def test_gateway_chart_1_26_1_rejects_any_values():
    """istio/istio#57354: the root `additionalProperties: false` beside a `$ref` rejects its own
    `_internal_defaults_do_not_set` (and every key), so helm refuses the chart whatever we pass."""
    assert "_internal_defaults_do_not_set" in facts("gateway", "1.26.1")["default_render"]
    for values in ({}, {"replicaCount": 1}, {"service": {"type": "NodePort"}}):
        problems = gateway_problems("1.26.1", values)
        assert any("_internal_defaults_do_not_set" in p for p in problems), problems


@cases
def test_pinned_gateway_chart_accepts_our_values(env, release):
    graph = upstream_graph(env, release)
    version = releases.load(release).component("istio").version
    assert gateway_problems(version, install_of(graph, "istio-ingressgateway").values) == []


# -- footprint: the resources config gives are the ones every container runs with ------------


def expected_resources(env: str, release: str) -> dict[tuple[str, str, str], Obj]:
    """(release name, workload, container) -> requests/limits config gives it."""
    config = components(env, release)
    istio = config.istio.resources.as_k8s()
    found = {
        ("istiod", "istiod", "discovery"): istio,
        ("istio-ingressgateway", "istio-ingressgateway", "istio-proxy"): istio,
        ("kueue", "kueue-controller-manager", "manager"): config.kueue.resources.as_k8s(),
        ("kserve", "kserve-controller-manager", "manager"): (
            config.serving.controller_resources.as_k8s()
        ),
        ("kserve", "kserve-controller-manager", "kube-rbac-proxy"): (
            config.serving.rbac_proxy_resources.as_k8s()
        ),
    }
    if releases.load(release).has("trainer"):
        found |= {
            ("kubeflow-trainer", "kubeflow-trainer-controller-manager", "manager"): (
                config.training.trainer_resources.as_k8s()
            ),
            ("kubeflow-trainer", "jobset-controller", "controller"): (
                config.training.jobset_resources.as_k8s()
            ),
        }
    return found


@cases
def test_every_container_runs_with_the_resources_config_gives(env, release):
    graph = upstream_graph(env, release)
    expected = expected_resources(env, release)
    seen = {}
    for name in sorted({n for n, _, _ in expected}):
        for obj in applied(graph, templated(install_of(graph, name))):
            if obj["kind"] in WORKLOADS:
                for c in obj["spec"]["template"]["spec"]["containers"]:
                    seen[(name, obj["metadata"]["name"], c["name"])] = _strings(c.get("resources"))
    assert seen == expected


def _strings(resources: Obj | None) -> Obj | None:
    """Quantities as strings (YAML reads `cpu: 1` as a number)."""
    if resources is None:
        return None
    return {kind: {k: str(v) for k, v in amounts.items()} for kind, amounts in resources.items()}
