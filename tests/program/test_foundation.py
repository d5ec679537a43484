"""The foundation components under mocks, for every environment x release."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)

from mlplatform.graph import CHART, CONFIG_GROUP
from tests.conftest import stack_config
from tests.schema import invalid_objects

FOUNDATION = {
    "monitoring": "mlplatform:monitoring:Monitoring",
    "cert-manager": "mlplatform:certmanager:CertManager",
    "istio": "mlplatform:istio:Istio",
    "minio": "mlplatform:minio:Minio",
}


def test_foundation_present_with_explicit_provider(program, env_release):
    env, release = env_release
    g = program(env, release)
    for name, token in FOUNDATION.items():
        assert g.named(name, token)
    charts = g.of_type(CHART)
    assert {c.name for c in charts} >= {
        "cert-manager",
        "istio-base",
        "istiod",
        "istio-ingressgateway",
        "minio",
        "kube-prometheus-stack",
    }
    provider = g.named("k8s", "pulumi:providers:kubernetes")
    for r in g.resources:
        if r.type.startswith("kubernetes:"):
            assert g.by_urn(r.parent).type.startswith("mlplatform:"), f"{r.name} is not parented"
    assert provider.inputs["context"]


def test_ordering_edges(program, env_release):
    g = program(*env_release)
    edges = [
        ("cluster-issuers", "cert-manager"),  # CRs after cert-manager's CRDs + webhook
        ("kube-prometheus-stack", "cert-manager"),  # it issues the operator's webhook cert
        ("platform-monitors", "kube-prometheus-stack"),  # cert-manager's ServiceMonitor: CRD
        ("istio-namespace", "cert-manager"),  # the gateway certificate needs an issuer
        ("istiod", "istio-base"),
        ("istio-ingressgateway", "istiod"),
        ("platform-gateway", "istio-ingressgateway"),
        ("minio", "minio-base"),  # root secret before the chart reads it
        ("platform-alert-rules", "kube-prometheus-stack"),
    ]
    for later, earlier in edges:
        assert g.depends_on(_one(g, later), _one(g, earlier)), f"{later} must wait for {earlier}"


def _one(g, name):
    """The chart or object group of that name (components share names with their charts)."""
    return next(r for r in g.resources if r.name == name and r.type.startswith("kubernetes:"))


def test_objects_are_schema_valid(program, env_release):
    env, release = env_release
    g = program(env, release)
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    assert g.objects()
    assert invalid_objects(g, version) == []


def test_dev_is_small_and_self_signed(program):
    g = program("dev")
    assert g.named("minio", CHART).inputs["values"]["mode"] == "standalone"
    assert g.named("minio", CHART).inputs["values"]["replicas"] == 1
    kinds = {(o.kind, o.name) for o in g.objects()}
    assert ("ClusterIssuer", "mlplatform-selfsigned") in kinds
    assert ("ClusterIssuer", "mlplatform") in kinds
    assert g.named("istio-ingressgateway", CHART).inputs["values"]["service"]["type"] == "NodePort"
    assert (
        g.named("cert-manager", CHART).inputs["values"]["podDisruptionBudget"]["enabled"] is False
    )


def test_prod_is_highly_available_with_a_real_issuer(program):
    g = program("prod")
    values = g.named("cert-manager", CHART).inputs["values"]
    assert values["replicaCount"] == 2 and values["podDisruptionBudget"]["enabled"] is True
    assert values["webhook"]["podDisruptionBudget"]["enabled"] is True
    minio = g.named("minio", CHART).inputs["values"]
    assert (minio["mode"], minio["replicas"], minio["podDisruptionBudget"]["enabled"]) == (
        "distributed",
        4,
        True,
    )
    assert g.named("istiod", CHART).inputs["values"]["replicaCount"] == 2
    assert g.named("istio-ingressgateway", CHART).inputs["values"]["podDisruptionBudget"]
    issuer = g.object("ClusterIssuer", "mlplatform")
    assert issuer["spec"]["acme"]["email"] == "platform-team@example.com"
    assert ("ClusterIssuer", "mlplatform-selfsigned") not in {(o.kind, o.name) for o in g.objects()}
    kps = g.named("kube-prometheus-stack", CHART).inputs["values"]["prometheus"]
    assert kps["prometheusSpec"]["replicas"] == 2 and kps["podDisruptionBudget"]["enabled"]


def test_monitoring_selects_every_monitor_and_rule(program):
    spec = (
        program("dev")
        .named("kube-prometheus-stack", CHART)
        .inputs["values"]["prometheus"]["prometheusSpec"]
    )
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False


def test_gateway_identity_matches_kubeflow_principal(program):
    values = program("dev").named("istio-ingressgateway", CHART).inputs["values"]
    assert values["serviceAccount"]["name"] == "istio-ingressgateway-service-account"
    assert values["labels"]["istio"] == "ingressgateway"


def test_chart_versions_come_from_the_catalogue(program, env_release):
    from mlplatform import releases

    env, release = env_release
    g = program(env, release)
    cat = releases.load(release)
    assert g.named("cert-manager", CHART).inputs["version"] == cat.component("cert_manager").version
    assert g.named("istiod", CHART).inputs["version"] == cat.component("istio").version


# Istio's gateway chart 1.26.1-1.26.3 rejects any values against its own schema (istio/istio
# #57354, fixed in 1.26.4); tests/upstream/test_chart_semantics.py proves it on 1.26.1's files.
GATEWAY_SCHEMA_BROKEN = {"1.26.1", "1.26.2", "1.26.3"}


def test_no_release_pins_a_gateway_chart_that_rejects_its_values():
    from mlplatform import releases

    pins = {r: releases.load(r).component("istio").version for r in releases.available()}
    assert {r: v for r, v in pins.items() if v in GATEWAY_SCHEMA_BROKEN} == {}


def test_istiod_values_are_top_level(program, env_release):
    """istiod's templates read replicaCount/autoscaleEnabled/resources at the top level."""
    env, release = env_release
    values = program(env, release).named("istiod", CHART).inputs["values"]
    assert "pilot" not in values
    assert values["autoscaleEnabled"] is False
    istio = stack_config(env, release)["platform"]["components"].get("istio", {})
    if "resources" in istio:
        assert values["resources"] == istio["resources"]


def test_generated_credentials_are_secrets(program):
    g = program("dev")

    def secret_keys(group):
        return {p.rsplit(".", 1)[-1] for p in g.named(group, CONFIG_GROUP).secret_paths}

    assert "rootPassword" in secret_keys("minio-base")
    assert "admin-password" in secret_keys("monitoring-base")
    assert "rootPassword" not in str(g.named("minio", CHART).inputs["values"])


def test_components_can_be_turned_off(program):
    def off(cfg):
        cfg["platform"]["components"]["monitoring"] = {"enabled": False}
        cfg["platform"]["components"]["minio"] = {"enabled": False}
        cfg["platform"]["components"]["pipelines"] = {"enabled": False}  # needs MinIO
        cfg["platform"]["tenantDefaults"]["storage"] = {"bucket": False}  # tenant buckets too

    g = program("dev", edit=off)
    assert not g.has("monitoring") and not g.has("minio")
    assert g.named("cert-manager", CHART).inputs["values"]["prometheus"]["enabled"] is False


def test_api_server_egress_is_pinned_where_the_cidrs_are_known(program):
    def egress(g):
        return [o.obj["spec"]["egress"][0] for o in g.objects()
                if o.kind == "NetworkPolicy" and o.name == "allow-apiserver-egress"]  # fmt: skip

    prod, dev = egress(program("prod")), egress(program("dev"))
    assert prod and all(rule["to"] == [{"ipBlock": {"cidr": "10.0.0.0/28"}}] for rule in prod)
    assert dev and all("to" not in rule for rule in dev)  # dev: kind's control plane IP varies
    namespaces = {o.name for o in program("prod").objects() if o.kind == "Namespace"}
    pinned = {o.namespace for o in program("prod").objects() if o.name == "allow-apiserver-egress"}
    assert namespaces <= pinned
