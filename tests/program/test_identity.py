"""Identity (Dex + oauth2-proxy + the gateway's auth wiring) under mocks."""

from pathlib import Path

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import releases
from mlplatform.components.identity import CLIENT_ID, DEX_ISSUER, EXT_AUTHZ_PROVIDER, USERID_HEADER
from mlplatform.graph import CHART, KUSTOMIZE
from mlplatform.mockrun import run
from mlplatform.overlays import UPSTREAM_OVERLAYS
from tests.conftest import assert_rejected, secrets_for, stack_config
from tests.schema import problems

TOKEN = "mlplatform:identity:Identity"
MINE = {"identity-base", "identity-istio"}


def _one(g, name):
    return next(r for r in g.resources if r.name == name and r.type.startswith("kubernetes:"))


def _dex_config(g):
    return yaml.safe_load(g.object("ConfigMap", "dex", "auth")["data"]["config.yaml"])


def _kustomization(directory):
    return yaml.safe_load((Path(directory) / "kustomization.yaml").read_text())


def test_dex_and_oauth2_proxy_from_the_catalogue(program, env_release):
    env, release = env_release
    g = program(env, release)
    assert g.named("identity", TOKEN)
    cat = releases.load(release)
    for name, entry in (("dex", "dex"), ("oauth2-proxy", "oauth2_proxy")):
        source = cat.component(entry).source.kustomize
        directory = Path(g.named(name, KUSTOMIZE).inputs["directory"])
        k = _kustomization(directory)
        assert k["resources"] == [f"{source.url}?ref={source.ref}"]
        assert [(directory / c).resolve() for c in k["components"]] == [UPSTREAM_OVERLAYS / name]
    version = stack_config(env, release)["platform"]["kubernetesVersion"]
    mine = [o for o in g.objects() if o.owner.name in MINE]
    assert [f"{o.ref}: {p}" for o in mine for p in problems(o.obj, version)] == []
    assert {o.kind for o in mine} >= {
        "Namespace",
        "NetworkPolicy",
        "ConfigMap",
        "Secret",
        "VirtualService",
        "RequestAuthentication",
        "AuthorizationPolicy",
    }


def test_istio_comes_first(program, env_release):
    g = program(*env_release)
    for name in ("dex", "oauth2-proxy", "identity-istio"):
        assert g.depends_on(_one(g, name), _one(g, "istio-ingressgateway"))
        assert g.depends_on(_one(g, name), _one(g, "istiod"))
    # The config and secrets exist before the Deployments that read them.
    assert g.depends_on(_one(g, "dex"), _one(g, "identity-base"))
    assert g.depends_on(_one(g, "oauth2-proxy"), _one(g, "identity-base"))


def test_istiod_knows_oauth2_proxy_as_ext_authz(program):
    mesh = program("dev").named("istiod", CHART).inputs["values"]["meshConfig"]
    (provider,) = mesh["extensionProviders"]
    assert provider["name"] == EXT_AUTHZ_PROVIDER
    authz = provider["envoyExtAuthzHttp"]
    assert authz["service"] == "oauth2-proxy.oauth2-proxy.svc.cluster.local"
    assert "authorization" in authz["headersToUpstreamOnAllow"]
    assert "cookie" in authz["includeRequestHeadersInCheck"]


def test_gateway_maps_email_to_kubeflow_userid(program):
    g = program("dev")
    ra = g.object("RequestAuthentication", "dex-jwt", "istio-system")
    (rule,) = ra["spec"]["jwtRules"]
    assert rule["issuer"] == DEX_ISSUER == _dex_config(g)["issuer"]
    assert {"header": USERID_HEADER, "claim": "email"} in rule["outputClaimToHeaders"]
    assert ra["spec"]["selector"]["matchLabels"] == {"istio": "ingressgateway"}
    custom = g.object("AuthorizationPolicy", "istio-ingressgateway-oauth2-proxy", "istio-system")
    assert (custom["spec"]["action"], custom["spec"]["provider"]["name"]) == (
        "CUSTOM",
        EXT_AUTHZ_PROVIDER,
    )
    deny = g.object("AuthorizationPolicy", "istio-ingressgateway-require-jwt", "istio-system")
    assert deny["spec"]["rules"][0]["from"] == [{"source": {"notRequestPrincipals": ["*"]}}]
    for policy in (custom, deny):
        assert "/dex/*" in policy["spec"]["rules"][0]["to"][0]["operation"]["notPaths"]
    api = releases.load("1.11").component("istio").api("security")
    assert ra["apiVersion"] == custom["apiVersion"] == api
    dex_route = g.object("VirtualService", "dex", "auth")["spec"]
    assert dex_route["gateways"] == ["istio-system/mlplatform-gateway"]
    assert dex_route["hosts"] == ["mlplatform.localtest.me"]


def test_dev_static_users_get_generated_passwords(program):
    g = program("dev")
    users = {u["email"]: u for u in _dex_config(g)["staticPasswords"]}
    assert set(users) == {"alice@example.com", "bob@example.com"}
    assert users["alice@example.com"]["hashFromEnv"] == "DEX_PASSWORD_ALICE"
    assert len({u["userID"] for u in users.values()}) == 2
    hashes = g.object("Secret", "dex-passwords", "auth")["stringData"]
    assert hashes["DEX_PASSWORD_ALICE"] == "$2a$10$mockdex-password-alice"  # bcrypt_hash output
    passwords = {r.name for r in g.of_type("random:index/randomPassword:RandomPassword")}
    assert {"dex-password-alice", "dex-password-bob"} <= passwords
    assert "connectors" not in _dex_config(g)


def test_password_grant_only_where_static_users_log_in(program):
    """dev's static users may trade a password for a token (notebook-access scenario);
    staging and prod, where people log in through OIDC, never allow the password grant."""
    assert _dex_config(program("dev"))["oauth2"]["passwordConnector"] == "local"
    for env in ("staging", "prod"):
        assert "passwordConnector" not in _dex_config(program(env))["oauth2"], env


def test_prod_uses_the_upstream_oidc_connector(program):
    g = program("prod")
    config = _dex_config(g)
    (connector,) = config["connectors"]
    assert connector["type"] == "oidc"
    assert connector["config"]["issuer"] == "https://login.example.com"
    assert connector["config"]["clientID"] == "mlplatform"
    assert connector["config"]["clientSecret"] == "$OIDC_UPSTREAM_CLIENT_SECRET"
    assert connector["config"]["redirectURI"] == "https://ml.example.com/dex/callback"
    assert config["staticPasswords"] == [] and config["enablePasswordDB"] is False
    client = g.object("Secret", "dex-oidc-client", "auth")["stringData"]
    assert client["OIDC_UPSTREAM_CLIENT_SECRET"] == "mock-secret"
    egress = g.object("NetworkPolicy", "allow-oidc-issuer", "auth")["spec"]
    assert egress["egress"] == [{"to": [], "ports": [{"protocol": "TCP", "port": 443}]}]
    k = _kustomization(g.named("dex", KUSTOMIZE).inputs["directory"])
    assert k["replicas"] == [{"name": "dex", "count": 2}]
    with pytest.raises(KeyError):
        program("dev").object("NetworkPolicy", "allow-oidc-issuer", "auth")


def test_oauth2_proxy_and_dex_share_the_client(program):
    g = program("dev")
    proxy = g.object("Secret", "oauth2-proxy", "oauth2-proxy")["stringData"]
    dex = g.object("Secret", "dex-oidc-client", "auth")["stringData"]
    assert proxy["client-id"] == dex["OIDC_CLIENT_ID"] == CLIENT_ID
    assert proxy["client-secret"] == dex["OIDC_CLIENT_SECRET"]
    assert len(proxy["cookie-secret"]) >= 16 and proxy["cookie-secret"] != proxy["client-secret"]


def test_namespaces_are_restricted_and_isolated(program):
    g = program("prod")
    for ns in ("auth", "oauth2-proxy"):
        labels = g.object("Namespace", ns)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert g.object("NetworkPolicy", "default-deny", ns)
        gateway = g.object("NetworkPolicy", "allow-from-ingress-gateway", ns)["spec"]
        assert gateway["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "istio-system"
        }
    to_dex = g.object("NetworkPolicy", "allow-to-dex", "oauth2-proxy")["spec"]["egress"][0]
    assert to_dex["ports"] == [{"protocol": "TCP", "port": 5556}]
    clients = g.object("NetworkPolicy", "allow-token-clients", "auth")["spec"]["ingress"][0]
    assert {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in clients["from"]
    } == {"oauth2-proxy", "istio-system"}
    assert g.object("NetworkPolicy", "allow-istiod-to-dex", "istio-system")


def test_no_secret_outside_pulumi_secrets(program, env_release):
    env, release = env_release
    g = program(env, release)
    secret_values = set()
    for o in g.objects():
        if o.owner.name in MINE and o.kind == "Secret":
            paths = o.secret_paths()
            for key, value in o.obj["stringData"].items():
                if key not in ("client-id", "OIDC_CLIENT_ID"):
                    assert f"stringData.{key}" in paths, f"{o.ref} {key} is not a Pulumi secret"
                    secret_values.add(value)
    assert secret_values
    dumped = [str(o.obj) for o in g.objects() if o.owner.name in MINE and o.kind != "Secret"]
    for name in ("dex", "oauth2-proxy"):
        directory = Path(g.named(name, KUSTOMIZE).inputs["directory"])
        dumped.append((directory / "kustomization.yaml").read_text())
    for value in secret_values:
        assert not any(value in text for text in dumped)


def _set(path, value):
    def edit(cfg):
        *parents, leaf = path.split(".")
        node = cfg
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        node[leaf] = value

    return edit


BAD = {
    "static user without email": (
        "dev",
        _set("platform.identity.staticUsers", [{"username": "carol"}]),
        "platform.identity.staticUsers.0.email: required but missing",
    ),
    "static user name not a DNS label": (
        "dev",
        _set("platform.identity.staticUsers", [{"email": "c@x.io", "username": "Carol"}]),
        "platform.identity.staticUsers.0.username: 'Carol' is not a DNS-1123 label",
    ),
    "oidc without clientId": (
        "prod",
        _set("platform.identity.oidc", {"issuer": "https://login.example.com"}),
        "platform.identity.oidc.clientId: required but missing",
    ),
    "dex replicas zero": (
        "dev",
        _set("platform.identity.dexReplicas", 0),
        "platform.identity.dexReplicas: Input should be greater than or equal to 1 (got 0)",
    ),
    "identity without istio": (
        "dev",
        _set("platform.components.istio", {"enabled": False}),
        "platform.components.istio.enabled: identity (Dex, oauth2-proxy) needs Istio",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_identity_config_is_rejected_before_any_resource(case):
    env, edit, expected = BAD[case]
    cfg = stack_config(env)
    edit(cfg)
    assert_rejected(cfg, expected, env, secrets={"oidcClientSecret": "x"})


def test_missing_oidc_secret_says_which_command_to_run():
    expected = (
        "platform.identity.oidc.clientSecretKey: secret config key 'mlplatform:oidcClientSecret' "
        "is not set; run: pulumi config set --secret oidcClientSecret <client secret of "
        "'mlplatform' at https://login.example.com>"
    )
    assert_rejected(stack_config("prod"), expected, "prod", {})


def test_custom_secret_key_is_read():
    cfg = stack_config("staging")
    cfg["platform"]["identity"]["oidc"]["clientSecretKey"] = "ssoSecret"
    secrets = {**secrets_for("staging"), "ssoSecret": "from-custom-key"}
    del secrets["oidcClientSecret"]  # the receivers' keys stay
    g = run(cfg, stack="staging", secrets=secrets)
    client = g.object("Secret", "dex-oidc-client", "auth")["stringData"]
    assert client["OIDC_UPSTREAM_CLIENT_SECRET"] == "from-custom-key"
