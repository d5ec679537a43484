"""Gateway API under mocks: the pinned CRDs before istiod, the internal inference Gateway
after it, tenant-only routes and traffic, and tenants may route but not own Gateways."""

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)

from mlplatform import releases
from mlplatform.components import gateway_api
from mlplatform.components.rbac import TENANT_ROLES
from mlplatform.graph import CHART, CONFIG_GROUP
from mlplatform.netpol import NS_NAME_LABEL
from mlplatform.reachability import Endpoint, Network
from mlplatform.tenancy.objects import TENANT_LABEL
from tests.program.test_rbac import _granted, _roles
from tests.schema import problems

GROUP = "gateway.networking.k8s.io"


def test_crds_from_the_catalogue_before_istiod(program, env_release):
    env, release = env_release
    g = program(env, release)
    crds = g.named("gateway-api-crds", CONFIG_GROUP)
    pinned = releases.load(release).component("gateway_api")
    assert crds.inputs["files"] == pinned.source.manifest.urls
    assert all(u.endswith(f"/{pinned.version}/standard-install.yaml") for u in crds.inputs["files"])
    assert g.depends_on(g.named("istiod", CHART), crds)
    gateway = g.named("inference-gateway", CONFIG_GROUP)
    assert g.depends_on(gateway, g.named("istiod", CHART))
    assert g.depends_on(gateway, crds)


def test_inference_gateway_is_internal_and_takes_tenant_routes_only(program):
    g = program("dev")
    gw = g.object("Gateway", gateway_api.GATEWAY, gateway_api.NAMESPACE)
    assert gw["apiVersion"] == f"{GROUP}/v1"
    assert gw["spec"]["gatewayClassName"] == "istio"
    (listener,) = gw["spec"]["listeners"]
    assert (listener["protocol"], listener["port"]) == ("HTTP", 80)
    routes = listener["allowedRoutes"]
    assert routes["kinds"] == [{"group": GROUP, "kind": "HTTPRoute"}]
    assert routes["namespaces"] == {
        "from": "Selector",
        "selector": {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]},
    }
    ref = gw["spec"]["infrastructure"]["parametersRef"]
    params = g.object("ConfigMap", ref["name"], gateway_api.NAMESPACE)
    assert ref["kind"] == "ConfigMap" and ref["group"] == ""
    assert params["data"]["service"] == "spec:\n  type: ClusterIP\n"
    assert "networking.istio.io/service-type" not in gw["metadata"].get("annotations", {})
    assert problems(params, "1.33") == []


def _network(g):
    net = Network(g)
    net.namespaces["scn-z"] = {TENANT_LABEL: "scn-z", NS_NAME_LABEL: "scn-z"}
    return net


def test_tenant_pods_and_only_they_reach_the_inference_gateway(program):
    net = _network(program("dev"))
    gw = Endpoint(gateway_api.NAMESPACE, gateway_api.POD_LABELS)
    tenant, platform = Endpoint("scn-z", {"app": "x"}), Endpoint("kubeflow", {"app": "x"})
    assert net.can_reach(tenant, gw, gateway_api.PORT)
    assert not net.can_reach(tenant, gw, 15021)
    assert not net.can_reach(platform, gw, gateway_api.PORT)
    assert net.can_reach(gw, tenant, 8080)
    assert not net.can_reach(gw, platform, 8080)
    # A real tenant (sidecars, tenant-access) stays closed to it both ways until the tenant
    # model binds route hostnames to source namespaces at the Gateway.
    team = Endpoint("team-a", {"app": "x"})
    assert not net.can_reach(team, gw, gateway_api.PORT)
    assert not net.can_reach(gw, team, 8080)
    # The platform ingress gateway's own reach is unchanged by the new policies.
    assert not net.can_reach(tenant, Endpoint(gateway_api.NAMESPACE, {"app": "istiod"}), 80)


def test_only_tenant_pods_reach_the_inference_gateway(program):
    g = program("dev")
    np = [o.obj for o in g.objects() if o.kind == "NetworkPolicy"]
    mine = {p["metadata"]["name"]: p for p in np if p["metadata"]["namespace"] == "istio-system"}
    ingress = mine["allow-inference-gateway-ingress"]["spec"]
    assert ingress["podSelector"] == {"matchLabels": gateway_api.POD_LABELS}
    (rule,) = ingress["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": gateway_api.PORT}]
    assert rule["from"] == [gateway_api.TENANT_PODS]
    egress = mine["allow-inference-gateway-egress"]["spec"]
    assert egress["egress"][0]["to"] == [gateway_api.TENANT_PODS]
    assert all(problems(p, "1.33") == [] for p in mine.values())


def test_tenants_edit_httproutes_but_not_gateways(program):
    roles = _roles(program("dev"))
    view, edit = _granted(roles, "view"), _granted(roles, "edit")
    admin = _granted(roles, "admin")
    assert (GROUP, "httproutes", "get") in view
    assert (GROUP, "httproutes", "create") in edit - view
    for tier in (view, edit, admin):
        assert not {(g, r, v) for g, r, v in tier if g == GROUP and not r.startswith("httproutes")}
    assert TENANT_ROLES["edit"] in roles
