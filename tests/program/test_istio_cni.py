"""Istio CNI under mocks: present with Istio, before istiod and everything injected, its values
per environment, its privileged namespace fenced by NetworkPolicies, istiod told to use it."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from mlplatform import releases
from mlplatform.components import istio_cni
from mlplatform.graph import CHART, CONFIG_GROUP
from tests.conftest import assert_rejected, stack_config

TOKEN = "mlplatform:istio:IstioCni"
envs = pytest.mark.parametrize("env", ["dev", "staging", "prod"])


def _cni(**settings):
    def edit(cfg):
        istio = cfg["platform"]["components"].setdefault("istio", {})
        istio.setdefault("cni", {}).update(settings)

    return edit


def test_chart_from_the_catalogue_at_istios_version(program, env_release):
    """Istio is always on (identity needs its gateway), so the agent is in every stack."""
    env, release = env_release
    g = program(env, release)
    catalogue = releases.load(release)
    cni = catalogue.component("istio_cni")
    assert cni.version == catalogue.component("istio").version
    assert g.named("istio-cni", TOKEN)
    chart = g.named(istio_cni.RELEASE, CHART)
    assert chart.inputs["chart"] == cni.source.helm.chart == "cni"
    assert chart.inputs["repositoryOpts"]["repo"] == catalogue.component("istio").source.helm.repo
    assert chart.inputs["version"] == cni.version
    assert chart.inputs["namespace"] == istio_cni.NAMESPACE


@envs
def test_order_cni_then_istiod_then_everything_injected(program, env):
    g = program(env)
    cni = g.named(istio_cni.RELEASE, CHART)
    istiod = g.named("istiod", CHART)
    assert g.depends_on(istiod, cni)
    assert not g.depends_on(cni, istiod)
    assert g.depends_on(cni, g.named("istio-cni-namespace", CONFIG_GROUP))
    assert g.depends_on(g.named("istio-ingressgateway", CHART), istiod)
    # Components running injected pods wait for the Istio component: all of it, istiod too.
    mesh = g.named("istio", "mlplatform:istio:Istio")
    assert istiod in g.descendants(mesh)
    injected = ["pipelines", "serving", "identity", "katib", "model-registry"]
    waiting = [r for r in g.resources if r.name in injected and r.type.startswith("mlplatform:")]
    assert waiting
    for component in waiting:  # the component's options reach its Kubernetes children
        children = [c for c in g.children(component) if c.type.startswith("kubernetes:")]
        assert children and all(g.depends_on(c, mesh) for c in children), component.name


@envs
def test_istiod_injects_for_cni_with_a_seccomp_profile(program, env):
    values = program(env).named("istiod", CHART).inputs["values"]
    assert values["cni"] == {"enabled": True}
    assert values["global"]["proxy"]["seccompProfile"] == {"type": "RuntimeDefault"}


@envs
def test_values_per_environment(program, env):
    values = program(env).named(istio_cni.RELEASE, CHART).inputs["values"]
    cfg = stack_config(env)["platform"]["components"]["istio"].get("cni", {})
    assert values["chained"] is True
    assert values["ambient"] == {"enabled": False}
    assert values["cniBinDir"] == cfg.get("binDir", "/opt/cni/bin")
    assert values["cniConfDir"] == cfg.get("confDir", "/etc/cni/net.d")
    assert values["repair"]["repairPods"] is True
    resources = values["resources"]
    assert resources["requests"] and resources["limits"]


def test_node_paths_and_resources_from_config(program):
    g = program(
        "staging",
        edit=_cni(
            binDir="/home/kubernetes/bin",
            resources={"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        ),
    )
    values = g.named(istio_cni.RELEASE, CHART).inputs["values"]
    assert values["cniBinDir"] == "/home/kubernetes/bin"
    assert values["cniConfDir"] == "/etc/cni/net.d"
    assert values["resources"]["requests"] == {"cpu": "50m", "memory": "64Mi"}


def test_relative_node_path_is_rejected():
    cfg = stack_config("dev")
    cfg["platform"]["components"]["istio"]["cni"] = {"confDir": "etc/cni/net.d"}
    assert_rejected(cfg, "platform.components.istio.cni.confDir")


@envs
def test_privileged_namespace_fenced(program, env):
    g = program(env)
    ns = g.object("Namespace", istio_cni.NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    policies = [
        o.obj
        for o in g.objects()
        if o.kind == "NetworkPolicy" and o.namespace == istio_cni.NAMESPACE
    ]
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert any(set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in deny)
    # Nothing may reach the agent; it reaches DNS and the API server only.
    assert [p["metadata"]["name"] for p in policies if p["spec"].get("ingress")] == []
    egress_ports = {
        port.get("port")
        for p in policies
        for rule in p["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }
    assert egress_ports and egress_ports <= {53, 443, 6443}
