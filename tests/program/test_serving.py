"""Serving (KServe, Knative in knative mode) under mocks; ModelMesh is refused."""

import typing

import pulumi
import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from mlplatform import releases
from mlplatform.components import serving
from mlplatform.config.serving import MODELMESH_REMOVED, RUNTIMES, RuntimeName, Serving
from mlplatform.graph import CHART, CONFIG_GROUP
from tests.conftest import RELEASES, assert_rejected, stack_config
from tests.program.test_gpu import everything_on
from tests.schema import problems

TOKEN = "mlplatform:serving:Serving"
MINE = {"kserve-base", "kserve-monitors", "knative-serving-config"}


def _serving(**settings):
    def edit(cfg):
        cfg["platform"]["components"].setdefault("serving", {}).update(settings)

    return edit


def _one(g, name):
    return next(r for r in g.resources if r.name == name and r.type.startswith("kubernetes:"))


def _mode_values(g):
    return g.named("kserve", CHART).inputs["values"]["kserve"]["controller"]


def test_kserve_charts_from_the_catalogue(program, env_release):
    env, release = env_release
    g = program(env, release)
    kserve = releases.load(release).component("kserve")
    assert g.named("serving", TOKEN)
    crd, controller = g.named("kserve-crd", CHART), g.named("kserve", CHART)
    assert crd.inputs["chart"] == f"{kserve.source.helm.repo}/{kserve.source.helm.crds_chart}"
    assert controller.inputs["chart"] == f"{kserve.source.helm.repo}/{kserve.source.helm.chart}"
    assert controller.inputs["version"] == kserve.version  # the OCI tag keeps its `v`
    assert controller.inputs["namespace"] == "kserve"
    assert g.depends_on(controller, crd)


@pytest.mark.parametrize(
    ("release", "mode", "expected"),
    [
        ("1.10", "standard", "RawDeployment"),
        ("1.11", "standard", "RawDeployment"),
        ("1.10", "knative", "Serverless"),
        ("1.11", "knative", "Serverless"),
        ("26.03", "standard", "Standard"),
        ("26.03", "knative", "Knative"),
    ],
)
def test_mode_name_follows_the_release(program, release, mode, expected):
    g = program("staging", release, edit=_serving(mode=mode))
    assert _mode_values(g)["deploymentMode"] == expected


def test_staging_runs_knative_named_knative_on_26_03(program):
    g = program("staging")
    assert stack_config("staging")["platform"]["release"] == "26.03"
    assert _mode_values(g)["deploymentMode"] == "Knative"


def test_knative_only_in_knative_mode(program):
    standard, knative = program("dev"), program("staging")
    assert not standard.has("knative-serving") and not standard.has("knative-serving-config")
    manifests = knative.named("knative-serving", CONFIG_GROUP)
    urls = releases.load("26.03").component("knative_serving").source.manifest.urls
    assert manifests.inputs["files"] == urls
    assert any("net-istio" in u for u in urls)
    controller = knative.named("kserve", CHART)
    assert knative.depends_on(controller, manifests)
    assert knative.depends_on(controller, knative.named("knative-serving-config", CONFIG_GROUP))
    assert knative.depends_on(manifests, knative.named("istiod", CHART))


def test_knative_routes_through_the_platform_gateway(program):
    g = program("staging")
    domain = stack_config("staging")["platform"]["ingress"]["domain"]
    assert g.object("ConfigMap", "config-domain", "knative-serving")["data"] == {domain: ""}
    istio_cfg = g.object("ConfigMap", "config-istio", "knative-serving")
    service = "istio-ingressgateway.istio-system.svc.cluster.local"
    assert istio_cfg["data"] == {"gateway.istio-system.mlplatform-gateway": service}
    assert istio_cfg["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"


def test_kserve_uses_the_platform_gateway_and_domain(program, env_release):
    env, release = env_release
    gateway = _mode_values(program(env, release))["gateway"]
    assert gateway["ingressGateway"] == {
        "className": "istio",
        "gateway": "istio-system/mlplatform-gateway",
    }
    assert gateway["domain"] == stack_config(env)["platform"]["ingress"]["domain"]
    assert gateway["urlScheme"] == "https"


def _runtime_values(g):
    return _controller_values(g).get("servingruntime")


def _controller_values(g):
    return g.named("kserve", CHART).inputs["values"]["kserve"]


@pytest.mark.parametrize(
    ("version", "switches"),
    [("v0.15.0", False), ("v0.15.2", False), ("v0.16.0", True), ("v0.18.1", True)],
)
def test_only_charts_from_0_16_switch_runtimes_by_values(version, switches):
    assert serving.chart_switches_runtimes(version) is switches


def test_runtimes_switched_by_chart_values_on_0_16(program):
    # staging: 26.03, KServe v0.16.0.
    runtimes = _runtime_values(program("staging"))
    chosen = stack_config("staging")["platform"]["components"]["serving"]["runtimes"]
    assert set(runtimes) == {r.chart_key for r in RUNTIMES.values()}
    assert "huggingfaceserver_multinode" not in runtimes  # 0.16 switches it by huggingfaceserver
    assert {k for k, v in runtimes.items() if not v["disabled"]} == {
        RUNTIMES[n].chart_key for n in chosen
    }


def _switched(transforms, api):
    """Which of the chart's ClusterServingRuntimes stay enabled after `transforms`."""
    enabled = set()
    for name in (n for runtime in RUNTIMES.values() for n in runtime.objects):
        obj = {"apiVersion": api, "kind": "ClusterServingRuntime", "metadata": {"name": name}}
        token = f"kubernetes:{api}:ClusterServingRuntime"
        for transform in transforms:
            result = transform(
                pulumi.ResourceTransformArgs(True, token, name, obj, pulumi.ResourceOptions())
            )
            obj = result.props if result else obj
        if not obj.get("spec", {}).get("disabled"):
            enabled.add(name)
    return enabled


@pytest.mark.parametrize("release", ["1.10", "1.11"])
def test_runtimes_switched_by_a_transform_on_0_15(program, release):
    """0.15 charts have no `disabled` keys: none are passed; Serving's transform (which reaches
    the chart's objects) sets spec.disabled on the runtimes dev does not choose."""
    g = program("dev", release)
    assert _runtime_values(g) is None
    transforms = g.named("serving", TOKEN).transforms
    api = releases.load(release).component("kserve").api("runtimes")
    assert _switched(transforms, api) == {"kserve-sklearnserver", "kserve-xgbserver"}
    # Anything else the chart renders passes untouched.
    other = pulumi.ResourceTransformArgs(
        True, "kubernetes:apps/v1:Deployment", "kserve-sklearnserver", {}, pulumi.ResourceOptions()
    )
    assert [t(other) for t in transforms] == [None]


def test_no_transform_where_the_chart_switches(program):
    assert program("staging").named("serving", TOKEN).transforms == []


def test_runtime_transform_only_where_the_chart_has_no_switches():
    uses_transform = {
        r: bool(serving.runtime_transforms(releases.load(r).component("kserve"), ["sklearn"]))
        for r in RELEASES
    }
    assert uses_transform == {"1.10": True, "1.11": True, "26.03": False}


def test_every_runtime_name_has_its_chart_runtimes():
    assert set(RUNTIMES) == set(typing.get_args(RuntimeName))


def test_default_runtimes_include_sklearn():
    assert Serving().runtimes[0] == "sklearn" and len(Serving().runtimes) >= 3


def test_controller_and_proxy_resources_from_config(program, env_release):
    env, release = env_release
    controller = _controller_values(program(env, release))["controller"]
    cfg = Serving.model_validate(
        stack_config(env, release)["platform"]["components"].get("serving", {})
    )
    assert controller["resources"] == cfg.controller_resources.as_k8s()
    assert controller["rbacProxy"]["resources"] == cfg.rbac_proxy_resources.as_k8s()
    for resources in (controller["resources"], controller["rbacProxy"]["resources"]):
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def test_ordering_edges(program, env_release):
    g = program(*env_release)
    controller = g.named("kserve", CHART)
    for earlier in (
        "cert-manager",
        "istiod",
        "istio-ingressgateway",
        "platform-gateway",
        "kserve-base",
    ):
        assert g.depends_on(controller, _one(g, earlier)), f"kserve must wait for {earlier}"
    monitors = g.named("kserve-monitors", CONFIG_GROUP)
    assert g.depends_on(monitors, g.named("kube-prometheus-stack", CHART))


def test_namespace_is_restricted_and_isolated(program):
    g = program("dev")
    ns = g.object("Namespace", "kserve")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {
        o.name: o.obj["spec"]
        for o in g.objects()
        if o.kind == "NetworkPolicy" and o.namespace == "kserve"
    }
    assert set(policies) == {
        "default-deny",
        "allow-dns",
        "allow-apiserver-egress",
        "allow-webhooks-from-apiserver",
        "allow-prometheus-scrape",
    }
    assert policies["allow-webhooks-from-apiserver"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 9443}
    ]
    assert policies["allow-prometheus-scrape"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 8443}
    ]


def test_controller_metrics_are_scraped(program):
    g = program("dev")
    monitor = g.object("ServiceMonitor", "kserve-controller-manager", "kserve")
    assert monitor["apiVersion"] == releases.load("1.11").component("monitoring").api("monitoring")
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "control-plane": "kserve-controller-manager"
    }
    assert monitor["spec"]["endpoints"][0]["port"] == "https"

    def no_monitoring(cfg):
        cfg["platform"]["components"]["monitoring"] = {"enabled": False}

    assert not program("dev", edit=no_monitoring).has("kserve-monitors")


def test_objects_are_schema_valid(program, env_release):
    env, release = env_release
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    g = program(env, release, edit=everything_on)
    mine = [o for o in g.objects() if o.owner.name in MINE]
    assert {o.owner.name for o in mine} >= {"kserve-base", "kserve-monitors"}
    assert [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []


def test_serving_can_be_turned_off(program):
    g = program("dev", edit=_serving(enabled=False))
    assert not g.has("serving") and not g.has("kserve") and not g.has("kserve-crd")


BAD = {
    "old mode name": (
        _serving(mode="Serverless"),
        "platform.components.serving.mode: 'Serverless' is not a deployment mode of release 1.11; "
        "choose one of: standard (KServe RawDeployment), knative (KServe Serverless)",
    ),
    "unknown mode on 26.03": (
        lambda cfg: (
            cfg["platform"].update(release="26.03", kubernetesVersion="1.34"),
            _serving(mode="raw")(cfg),
        ),
        "platform.components.serving.mode: 'raw' is not a deployment mode of release 26.03; "
        "choose one of: standard (KServe Standard), knative (KServe Knative)",
    ),
    "knative without istio": (
        lambda cfg: (
            _serving(mode="knative")(cfg),
            cfg["platform"]["components"].update(istio={"enabled": False}),
        ),
        "platform.components.serving.mode: knative mode needs components.istio (net-istio)",
    ),
    "unknown runtime": (
        _serving(runtimes=["sklearn", "onnx"]),
        "platform.components.serving.runtimes.1: Input should be 'sklearn', 'xgboost'",
    ),
    "repeated runtime": (
        _serving(runtimes=["sklearn", "sklearn"]),
        "platform.components.serving.runtimes.1: 'sklearn' is already runtimes.0",
    ),
    "modelmesh, removed": (
        _serving(modelmesh={"enabled": False}),
        f"platform.components.serving: {MODELMESH_REMOVED}",
    ),
    "typo in serving": (
        _serving(deploymentMode="standard"),
        "platform.components.serving.deploymentMode: unknown key; allowed keys here: "
        "controllerResources, enabled, mode, rbacProxyResources, runtimes",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_serving_config_is_rejected_before_any_resource(case):
    edit, expected = BAD[case]
    cfg = stack_config("dev")
    edit(cfg)
    assert_rejected(cfg, expected)
