"""Identity: Dex (login broker) and oauth2-proxy (Istio ext-authz), from Kubeflow's kustomize apps.

The upstream Deployments are kept; what carries a secret or our settings is ours: the Dex
config (ConfigMap `dex`, key `config.yaml`, which references secrets by environment
variable only), the Secrets `dex-passwords` (bcrypt hashes), `dex-oidc-client` (client
secrets) and `oauth2-proxy` (`client-id`, `client-secret`, `cookie-secret`). The overlays in
`overlays/upstream/{dex,oauth2-proxy}` drop upstream's copies with their well-known defaults.
At the gateway, oauth2-proxy checks every request without a token, and a RequestAuthentication
trusting Dex turns the token's `email` claim into the `kubeflow-userid` header.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_random as random
import yaml

from mlplatform import manifests, netpol
from mlplatform.component import Context, PlatformComponent
from mlplatform.components.istio import NAMESPACE as GATEWAY_NAMESPACE
from mlplatform.components.istio import PLATFORM_GATEWAY
from mlplatform.config import ConfigError, PlatformConfig, StaticUser
from mlplatform.stackconfig import PROJECT

DEX_NAMESPACE = "auth"
PROXY_NAMESPACE = "oauth2-proxy"
DEX_PORT = 5556
PROXY_PORT = 4180  # oauth2-proxy's container port (Service port 80)
DEX_ISSUER = f"http://dex.{DEX_NAMESPACE}.svc.cluster.local:{DEX_PORT}/dex"
CLIENT_ID = "kubeflow-oidc-authservice"
EXT_AUTHZ_PROVIDER = "oauth2-proxy"
USERID_HEADER = "kubeflow-userid"
DEX_PODS = {"app": "dex"}
PROXY_PODS = {"app.kubernetes.io/name": "oauth2-proxy"}
UPSTREAM_SECRET_ENV = "OIDC_UPSTREAM_CLIENT_SECRET"
# Login and callback paths stay reachable without a token.
PUBLIC_PATHS = ["/dex/*", "/dex/**", "/oauth2/*"]
GATEWAY_PODS = netpol.GATEWAY["pods"]


def oidc_client_secret(config: PlatformConfig) -> pulumi.Output[str] | None:
    """The upstream OIDC client secret from secret stack config; ConfigError when unset."""
    oidc = config.identity.oidc
    if oidc is None:
        return None
    key = oidc.client_secret_key
    try:
        return pulumi.Config(PROJECT).require_secret(key)
    except pulumi.ConfigMissingError:
        raise ConfigError(
            [
                f"platform.identity.oidc.clientSecretKey: secret config key '{PROJECT}:{key}' "
                f"is not set; run: pulumi config set --secret {key} <client secret of "
                f"{oidc.client_id!r} at {oidc.issuer}>"
            ]
        ) from None


def ext_authz_provider() -> dict[str, Any]:
    """istiod meshConfig.extensionProviders entry: oauth2-proxy as Envoy HTTP ext-authz."""
    return {
        "name": EXT_AUTHZ_PROVIDER,
        "envoyExtAuthzHttp": {
            "service": f"oauth2-proxy.{PROXY_NAMESPACE}.svc.cluster.local",
            "port": 80,
            "headersToUpstreamOnAllow": [
                "authorization",
                "path",
                "x-auth-request-email",
                "x-auth-request-groups",
                "x-auth-request-user",
            ],
            "headersToDownstreamOnDeny": ["content-type", "set-cookie"],
            "includeRequestHeadersInCheck": ["authorization", "cookie"],
            "includeAdditionalHeadersInCheck": {
                "X-Auth-Request-Redirect": "https://%REQ(:authority)%%REQ(:path)%"
            },
        },
    }


def password_env(user: StaticUser) -> str:
    """Environment variable (in Secret `dex-passwords`) holding one user's bcrypt hash."""
    return "DEX_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", user.username.upper())


def password_grant(config: PlatformConfig) -> dict[str, str]:
    """Dex's OAuth2 password grant on its local password DB, only with static users and no
    upstream OIDC connector (dev): a non-browser client (the notebook-access scenario) then
    trades a static user's password for an ID token at `/dex/token`. The trade-off: whoever
    holds the client secret (Secret `dex-oidc-client`) can try passwords without the login
    page; acceptable for generated dev passwords, never where real people log in through OIDC.
    dexidp/dex v2.41.1, v2.44.0, v2.45.0: cmd/dex/config.go OAuth2.PasswordConnector enables
    grant_type=password (server/server.go), handled by server/handlers.go handlePasswordGrant
    with the client's credentials; `local` is the password DB connector (server.LocalConnector).
    """
    identity = config.identity
    return {"passwordConnector": "local"} if identity.static_users and not identity.oidc else {}


def dex_config(config: PlatformConfig) -> dict[str, Any]:
    """Dex's config.yaml: no secret in it, only the environment variables that hold them."""
    identity = config.identity
    doc: dict[str, Any] = {
        "issuer": DEX_ISSUER,
        "storage": {"type": "kubernetes", "config": {"inCluster": True}},
        "web": {"http": f"0.0.0.0:{DEX_PORT}"},
        "logger": {"level": "info", "format": "json"},
        "oauth2": {"skipApprovalScreen": True, **password_grant(config)},
        "enablePasswordDB": bool(identity.static_users),
        "staticPasswords": [
            {
                "email": u.email,
                "username": u.username,
                "userID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{u.email}")),
                "hashFromEnv": password_env(u),
            }
            for u in identity.static_users
        ],
        "staticClients": [
            {
                "idEnv": "OIDC_CLIENT_ID",
                "secretEnv": "OIDC_CLIENT_SECRET",
                "name": "mlplatform",
                "redirectURIs": ["/oauth2/callback"],
            }
        ],
    }
    if identity.oidc:
        # Dex expands $VARS in connector configs (dexidp/dex#669).
        doc["connectors"] = [
            {
                "type": "oidc",
                "id": "upstream",
                "name": identity.oidc.name,
                "config": {
                    "issuer": identity.oidc.issuer,
                    "clientID": identity.oidc.client_id,
                    "clientSecret": f"${UPSTREAM_SECRET_ENV}",
                    "redirectURI": f"https://{config.ingress.domain}/dex/callback",
                    "scopes": ["openid", "profile", "email", "groups"],
                    "getUserInfo": True,
                },
            }
        ]
    return doc


class Identity(PlatformComponent):
    """Outputs `static_passwords` (secret): email -> generated password of each static user."""

    def __init__(
        self,
        ctx: Context,
        oidc_secret: pulumi.Output[str] | None,
        depends_on: Sequence[pulumi.Resource | None] = (),
    ) -> None:
        super().__init__("identity:Identity", "identity", ctx, depends_on)
        cfg = ctx.config.identity
        child = pulumi.ResourceOptions(parent=self)

        def generated(name: str, length: int) -> random.RandomPassword:
            return random.RandomPassword(name, length=length, special=False, opts=child)

        client_secret = pulumi.Output.secret(generated("oauth2-proxy-client-secret", 32).result)
        # 32 alphanumeric bytes: a valid AES-256 key for oauth2-proxy's cookie cipher.
        cookie_secret = pulumi.Output.secret(generated("oauth2-proxy-cookie-secret", 32).result)
        passwords = {u.email: generated(f"dex-password-{u.username}", 24) for u in cfg.static_users}
        hashes = {
            password_env(u): pulumi.Output.secret(passwords[u.email].bcrypt_hash)
            for u in cfg.static_users
        }
        dex_client = {"OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": client_secret}
        if oidc_secret is not None:
            dex_client[UPSTREAM_SECRET_ENV] = pulumi.Output.secret(oidc_secret)

        base = self.objects(
            "identity-base",
            [
                manifests.namespace(DEX_NAMESPACE),
                manifests.namespace(PROXY_NAMESPACE),
                *self._network_policies(),
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": manifests.meta("dex", DEX_NAMESPACE),
                    "data": {
                        "config.yaml": yaml.safe_dump(dex_config(ctx.config), sort_keys=False)
                    },
                },
                manifests.secret("dex-passwords", DEX_NAMESPACE, hashes),
                manifests.secret("dex-oidc-client", DEX_NAMESPACE, dex_client),
                manifests.secret(
                    "oauth2-proxy",
                    PROXY_NAMESPACE,
                    {
                        "client-id": CLIENT_ID,
                        "client-secret": client_secret,
                        "cookie-secret": cookie_secret,
                    },
                ),
            ],
        )
        self.dex = self.kustomize_overlay(
            "dex", "dex", {"replicas": [{"name": "dex", "count": cfg.dex_replicas}]}, [base]
        )
        self.oauth2_proxy = self.kustomize_overlay(
            "oauth2-proxy",
            "oauth2_proxy",
            {"replicas": [{"name": "oauth2-proxy", "count": cfg.oauth2_proxy_replicas}]},
            [base],
        )
        self.gateway_auth = self.objects(
            "identity-istio", self._istio_objects(), depends_on=[self.dex, self.oauth2_proxy]
        )
        self.static_passwords = pulumi.Output.secret(
            {email: p.result for email, p in passwords.items()}
        )
        self.register_outputs({"static_passwords": self.static_passwords})

    def _network_policies(self) -> list[manifests.Obj]:
        gateway = netpol.peer(GATEWAY_NAMESPACE, GATEWAY_PODS)
        istiod = netpol.peer(netpol.ISTIOD["namespace"], netpol.ISTIOD["pods"])
        proxy = netpol.peer(PROXY_NAMESPACE, PROXY_PODS)
        dex = netpol.peer(DEX_NAMESPACE, DEX_PODS)
        objs = [
            *netpol.baseline(DEX_NAMESPACE, self.ctx.config.network.api_server_cidrs),
            netpol.allow_from("allow-from-ingress-gateway", DEX_NAMESPACE, [gateway], [DEX_PORT]),
            # oauth2-proxy redeems codes and fetches keys; istiod fetches the JWKS.
            netpol.allow_from("allow-token-clients", DEX_NAMESPACE, [proxy, istiod], [DEX_PORT]),
            *netpol.baseline(PROXY_NAMESPACE, self.ctx.config.network.api_server_cidrs),
            netpol.allow_from(
                "allow-from-ingress-gateway", PROXY_NAMESPACE, [gateway], [PROXY_PORT]
            ),
            netpol.allow_to("allow-to-dex", PROXY_NAMESPACE, [dex], [DEX_PORT]),
            netpol.allow_to(
                "allow-istiod-to-dex", GATEWAY_NAMESPACE, [dex], [DEX_PORT], netpol.ISTIOD["pods"]
            ),
        ]
        if self.ctx.config.identity.oidc:
            # The upstream identity provider is outside the cluster: any address, HTTPS only.
            objs.append(netpol.allow_to("allow-oidc-issuer", DEX_NAMESPACE, [], [443], DEX_PODS))
        return objs

    def _istio_objects(self) -> list[manifests.Obj]:
        istio = self.ctx.component("istio")
        security, networking = istio.api("security"), istio.api("networking")
        domain = self.ctx.config.ingress.domain
        selector = {"matchLabels": GATEWAY_PODS}
        gateway = f"{GATEWAY_NAMESPACE}/{PLATFORM_GATEWAY}"

        def route(name: str, namespace: str, prefix: str, port: int) -> manifests.Obj:
            return {
                "apiVersion": networking,
                "kind": "VirtualService",
                "metadata": manifests.meta(name, namespace),
                "spec": {
                    "gateways": [gateway],
                    "hosts": [domain],
                    "http": [
                        {
                            "match": [{"uri": {"prefix": prefix}}],
                            "route": [
                                {
                                    "destination": {
                                        "host": f"{name}.{namespace}.svc.cluster.local",
                                        "port": {"number": port},
                                    }
                                }
                            ],
                        }
                    ],
                },
            }

        return [
            route("dex", DEX_NAMESPACE, "/dex/", DEX_PORT),
            route("oauth2-proxy", PROXY_NAMESPACE, "/oauth2/", 80),
            {
                "apiVersion": security,
                "kind": "RequestAuthentication",
                "metadata": manifests.meta("dex-jwt", GATEWAY_NAMESPACE),
                "spec": {
                    "selector": selector,
                    "jwtRules": [
                        {
                            "issuer": DEX_ISSUER,
                            "forwardOriginalToken": True,
                            "outputClaimToHeaders": [
                                {"header": USERID_HEADER, "claim": "email"},
                                {"header": "kubeflow-groups", "claim": "groups"},
                            ],
                        }
                    ],
                },
            },
            {
                "apiVersion": security,
                "kind": "AuthorizationPolicy",
                "metadata": manifests.meta("istio-ingressgateway-oauth2-proxy", GATEWAY_NAMESPACE),
                "spec": {
                    "selector": selector,
                    "action": "CUSTOM",
                    "provider": {"name": EXT_AUTHZ_PROVIDER},
                    # Requests with a bearer token are checked by the RequestAuthentication.
                    "rules": [
                        {
                            "when": [{"key": "request.headers[authorization]", "notValues": ["*"]}],
                            "to": [{"operation": {"notPaths": PUBLIC_PATHS}}],
                        }
                    ],
                },
            },
            {
                "apiVersion": security,
                "kind": "AuthorizationPolicy",
                "metadata": manifests.meta("istio-ingressgateway-require-jwt", GATEWAY_NAMESPACE),
                "spec": {
                    "selector": selector,
                    "action": "DENY",
                    "rules": [
                        {
                            "from": [{"source": {"notRequestPrincipals": ["*"]}}],
                            "to": [{"operation": {"notPaths": PUBLIC_PATHS}}],
                        }
                    ],
                },
            },
        ]
