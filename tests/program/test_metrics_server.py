"""metrics-server: the resource metrics API HPAs read, on by default, in its own namespace."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest

from mlplatform import releases
from mlplatform.components import metrics_server as ms
from mlplatform.config.metrics_server import MetricsServer
from mlplatform.graph import CHART, CONFIG_GROUP
from mlplatform.platform import load_config
from mlplatform.reachability import Endpoint, Network
from tests.conftest import assert_rejected, stack_config
from tests.schema import problems

TOKEN = "mlplatform:metrics_server:MetricsServer"
POD = Endpoint(ms.NAMESPACE, ms.POD_LABELS)
PROMETHEUS = Endpoint("monitoring", {"app.kubernetes.io/name": "prometheus"})
NODE = Endpoint(ip="172.18.0.2")  # a kind node's address, where its kubelet listens


def _edit(**settings):
    def edit(cfg):
        cfg["platform"]["components"].setdefault("metricsServer", {}).update(settings)

    return edit


def _values(g):
    return g.named(ms.RELEASE, CHART).inputs["values"]


def test_chart_from_the_catalogue_after_cert_manager_and_monitoring(program, env_release):
    env, release = env_release
    g = program(env, release)
    pin = releases.load(release).component("metrics_server")
    assert g.named("metrics-server", TOKEN)
    chart = g.named(ms.RELEASE, CHART)
    assert chart.inputs["chart"] == pin.source.helm.chart == "metrics-server"
    assert chart.inputs["repositoryOpts"]["repo"] == pin.source.helm.repo
    assert chart.inputs["version"] == pin.version
    assert chart.inputs["namespace"] == ms.NAMESPACE
    assert g.depends_on(chart, g.named("metrics-server-base", CONFIG_GROUP))
    assert g.depends_on(chart, g.named("kube-prometheus-stack", CHART))
    assert g.depends_on(chart, g.named("cert-manager", CHART))


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_absent_when_disabled(program, env):
    g = program(env, edit=_edit(enabled=False))
    assert not g.has("metrics-server") and not g.has(ms.RELEASE)
    assert not g.has("metrics-server-base")


def test_kubelet_tls_unverified_only_in_dev(program):
    for env in ("dev", "staging", "prod"):
        args = _values(program(env))["args"]
        assert (ms.KUBELET_INSECURE_TLS in args) is (env == "dev"), env
        warnings = load_config(stack_config(env)).warnings
        assert not [w for w in warnings if "metricsServer" in w], env


def test_insecure_kubelet_tls_outside_dev_is_warned_about():
    config = stack_config("staging")
    config["platform"]["components"]["metricsServer"] = {"kubeletInsecureTls": True}
    (warning,) = load_config(config).warnings
    assert warning.startswith("platform.components.metricsServer.kubeletInsecureTls: ")
    assert "'staging'" in warning and "\n" not in warning


def test_values_per_environment(program):
    dev, staging, prod = (_values(program(env)) for env in ("dev", "staging", "prod"))
    assert dev["replicas"] == staging["replicas"] == 1
    assert dev["resources"] == {
        "requests": {"cpu": "20m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    assert staging["resources"] == MetricsServer().resources.as_k8s()
    for values in (dev, staging):
        assert values["podDisruptionBudget"]["enabled"] is False and values["affinity"] == {}
    # prod: highAvailability, two replicas on distinct nodes, one always available.
    assert prod["replicas"] == 2
    assert prod["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    (term,) = prod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term == {
        "labelSelector": {"matchLabels": ms.POD_LABELS},
        "topologyKey": "kubernetes.io/hostname",
    }
    for values in (dev, staging, prod):
        assert values["securityContext"] == ms.SECURITY_CONTEXT
        assert values["priorityClassName"] == "system-cluster-critical"
        assert values["metrics"] == values["serviceMonitor"] == {"enabled": True}


def test_ha_needs_two_replicas():
    config = stack_config("prod")
    config["platform"]["components"]["metricsServer"] = {"replicas": 1}
    with pytest.raises(ValueError, match=r"components\.metricsServer\.replicas: highAvail"):
        load_config(config)


def test_api_service_verified_where_the_chart_and_cert_manager_allow(program, env_release):
    env, release = env_release
    version = releases.load(release).component("metrics_server").version
    api = _values(program(env, release))["apiService"]
    verified = tuple(int(p) for p in version.split(".")) >= (3, 13, 0)
    assert api == {"create": True, "insecureSkipTLSVerify": not verified}
    values = _values(program(env, release))
    assert ("tls" in values) is verified
    if verified:
        assert values["tls"] == {"type": "cert-manager"}


def test_without_cert_manager_the_api_service_skips_verification():
    # Every stack runs cert-manager (identity, notebooks, Katib need it): the values alone.
    values = ms.values(MetricsServer(), "3.13.0", monitored=True, cert_manager=False)
    assert "tls" not in values
    assert values["apiService"] == {"create": True, "insecureSkipTLSVerify": True}


def test_api_service_kept_when_monitoring_is_off(program):
    g = program("dev", edit=lambda c: c["platform"]["components"].update(
        monitoring={"enabled": False}))  # fmt: skip
    values = _values(g)
    assert values["apiService"]["create"] is True
    assert values["metrics"] == values["serviceMonitor"] == {"enabled": False}
    assert not g.has("kube-prometheus-stack")


def test_network_paths(program):
    for env in ("dev", "prod"):
        net = Network(program(env))
        assert net.can_reach(POD, NODE, ms.KUBELET_PORT), env  # scrapes the kubelets
        assert not net.can_reach(POD, NODE, 22), env
        assert net.can_reach(Endpoint(ip="10.0.0.5"), POD, ms.PORT), env  # the API server
        assert net.can_reach(PROMETHEUS, POD, ms.PORT), env
        assert not net.can_reach(PROMETHEUS, POD, 8080), env
        assert not net.can_reach(POD, Endpoint("kubeflow", {"app": "ml-pipeline"}), 8888), env
    # Any source may knock on the secure port (the API server is no pod; everything but /metrics
    # is authorised by the API server's delegated checks), but a tenant's own egress stops it.
    assert not Network(program("dev")).can_reach(Endpoint("team-a", {"app": "x"}), POD, ms.PORT)


def test_restricted_namespace_and_schema_valid_objects(program, env_release):
    env, release = env_release
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    g = program(env, release)
    ns = g.object("Namespace", ms.NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    mine = [o for o in g.objects() if o.owner.name == "metrics-server-base"]
    assert {o.name for o in mine if o.kind == "NetworkPolicy"} >= {
        "default-deny",
        "allow-dns",
        "allow-apiserver-egress",
        "allow-kubelet-egress",
        "allow-apiserver-aggregation",
    }
    assert [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []


def test_a_tenant_cannot_take_its_namespace():
    config = stack_config("dev")
    config["tenants"] = [{**config["tenants"][0], "name": ms.NAMESPACE}]
    assert_rejected(config, f"tenants[0].name: {ms.NAMESPACE!r} is a platform namespace")
