"""Serving (KServe, Knative in knative mode) under mocks; ModelMesh is refused."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from modules import releases
from modules.config.serving import MODELMESH_REMOVED, RUNTIME_CHART_KEYS
from modules.graph import CHART, CONFIG_GROUP
from tests.conftest import assert_rejected, stack_config
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


def test_runtimes_switched_by_config(program):
    runtimes = program("dev").named("kserve", CHART).inputs["values"]["kserve"]["servingruntime"]
    enabled = {key for key, v in runtimes.items() if not v["disabled"]}
    assert enabled == {"sklearnserver", "xgbserver"}
    assert set(runtimes) == {k for keys in RUNTIME_CHART_KEYS.values() for k in keys}
    staging = program("staging").named("kserve", CHART).inputs["values"]["kserve"]["servingruntime"]
    assert not staging["huggingfaceserver"]["disabled"]
    assert not staging["huggingfaceserver_multinode"]["disabled"]


def test_default_runtimes_include_sklearn():
    from modules.config.serving import Serving

    assert Serving().runtimes[0] == "sklearn" and len(Serving().runtimes) >= 3


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
        "platform.components.serving: runtimes repeat a name: ['sklearn', 'sklearn']",
    ),
    "modelmesh, removed": (
        _serving(modelmesh={"enabled": False}),
        f"platform.components.serving: {MODELMESH_REMOVED}",
    ),
    "typo in serving": (
        _serving(deploymentMode="standard"),
        "platform.components.serving.deploymentMode: unknown key; allowed keys here: enabled, "
        "mode, runtimes",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_serving_config_is_rejected_before_any_resource(case):
    edit, expected = BAD[case]
    cfg = stack_config("dev")
    edit(cfg)
    assert_rejected(cfg, expected)
