"""notebook-access: in a team's namespace a notebook starts, and through the platform gateway
only the team answers: the owner's token gets Jupyter's status (200), a token of someone
outside the team is refused (403, the tenant's AuthorizationPolicy on `kubeflow-userid`),
no token is not let through (oauth2-proxy's login redirect or a denial); inside the cluster a
pod of another team cannot connect to the notebook's Service at all.

It runs in a platform tenant: the first (by name) whose owner and some non-member are static
users with a password given (`Target.users`). Tokens are Dex ID tokens from its password grant
(identity.password_grant: dev only); the gateway's RequestAuthentication accepts them as it
accepts oauth2-proxy's (same issuer, same audience: Dex's client kubeflow-oidc-authservice).
Without notebooks, the password grant, such users or a second team (the probe), the steps are
not applicable and say which.
"""

from __future__ import annotations

import base64
import json

import yaml

from mlplatform.components import identity
from mlplatform.components.notebooks import TENANT_LABEL_KEY
from mlplatform.manifests import Obj
from mlplatform.scenarios.http import Response
from mlplatform.scenarios.library import NotApplicable, Plan, Scenario, Step, Target
from mlplatform.scenarios.manifests import notebooks as nbm
from mlplatform.scenarios.manifests.pods import Size
from mlplatform.scenarios.session import Session, StepFailed, condition
from mlplatform.scenarios.waits import JOB, LONG
from mlplatform.tenancy.objects import LOCAL_QUEUE, MEMBER_ROLE, MEMBER_USER

NAME = "notebook-access"
PLACEHOLDER, OTHER = "team", "other-team"  # offline builds; the run picks real tenants
SIZE = Size(cpu="250m", memory="512Mi")  # an idle JupyterLab; counted by the tenant's quota
CRD = "notebooks.kubeflow.org"
OWNER_ROLE = "admin"  # tenancy.objects.access: owners are the tenant's admins
SCOPES = "openid email profile"  # `email` puts the claim the gateway maps to kubeflow-userid


def notebook_name(t: Target) -> str:
    return f"conformance-{t.run_id}"


def notebook_image(t: Target) -> str:
    """The spawner's default image (notebooks.spawner_config: the first `jupyter-` one)."""
    images = t.release.component("jupyter_web_app").images
    return next(v for k, v in images.items() if k.startswith("jupyter-"))


def objects(t: Target, ns: str, other: str, creator: str) -> dict[str, Obj]:
    """The notebook in `ns` and the probe in `other` (another team's namespace)."""
    image = notebook_image(t)
    name = notebook_name(t)
    host = f"{name}.{ns}.svc.cluster.local"
    return {
        "notebook": nbm.notebook(t.release, name, ns, image, SIZE, creator),
        "probe": nbm.connect_probe(f"{NAME}-probe", other, LOCAL_QUEUE, t.images.scenario, host),
    }


def members(s: Session, ns: str) -> dict[str, str]:
    """email -> role, from the RoleBindings annotated the way kfam reads memberships."""
    out = {}
    for rb in s.cluster.list("rbac.authorization.k8s.io/v1", "RoleBinding", ns):
        notes = rb["metadata"].get("annotations") or {}
        if MEMBER_USER in notes:
            out[notes[MEMBER_USER]] = notes.get(MEMBER_ROLE, "")
    return out


def _decoded(secret: Obj | None, key: str) -> str | None:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value).decode() if value else None


def _state(s: Session) -> dict:
    if "no_tenant" in s.state:
        raise NotApplicable(s.state["no_tenant"])
    return s.state


def build(t: Target) -> Plan:
    gateway = t.endpoints.gateway_url.rstrip("/")

    def get(s: Session, url: str, token: str | None) -> Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return t.http.request("GET", url, headers=headers, ca_pem=s.state["ca"])

    def token(s: Session, email: str) -> str:
        """A Dex ID token for a static user, by the password grant through the gateway."""
        r = t.http.request("POST", f"{gateway}/dex/token", ca_pem=s.state["ca"], form={
            "grant_type": "password", "username": email, "password": t.users[email],
            "scope": SCOPES, "client_id": identity.CLIENT_ID, "client_secret": s.state["client"],
        })  # fmt: skip
        if r.status != 200:
            raise StepFailed(f"Dex refused a token for {email}: {r.status} {r.body[:200]}")
        return str(json.loads(r.body)["id_token"])

    def team(s: Session) -> None:
        def none(reason: str) -> None:
            s.state["no_tenant"] = reason
            raise NotApplicable(reason)

        if not s.cluster.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD):
            none("notebooks are not installed (components.notebooks.enabled)")
        dex = s.cluster.get("v1", "ConfigMap", "dex", identity.DEX_NAMESPACE) or {}
        config = yaml.safe_load((dex.get("data") or {}).get("config.yaml") or "{}")
        if not (config.get("oauth2") or {}).get("passwordConnector"):
            none("Dex allows no password grant: only static users without OIDC (dev) have it")
        if not t.users:
            none(
                "no static users' passwords given to the runner (tests/e2e passes the stack's "
                "staticUserPasswords, as `mlplatform status --show-passwords` prints them)"
            )
        tenants = sorted(
            n["metadata"]["name"] for n in s.cluster.list("v1", "Namespace")
            if TENANT_LABEL_KEY in (n["metadata"].get("labels") or {})
        )  # fmt: skip
        for ns in tenants:
            people = members(s, ns)
            owners = sorted(e for e, r in people.items() if r == OWNER_ROLE and e in t.users)
            outsiders = sorted(e for e in t.users if e not in people)
            if owners and outsiders:
                break
        else:
            none(f"no tenant among {tenants or 'none'} has a static user as owner and another "
                 "static user outside it")  # fmt: skip
        others = [n for n in tenants if n != ns
                  and s.cluster.get(s.kueue_api, "LocalQueue", LOCAL_QUEUE, n)]  # fmt: skip
        secret = s.cluster.get("v1", "Secret", "dex-oidc-client", identity.DEX_NAMESPACE)
        tls_ns, tls_name = t.endpoints.gateway_tls
        s.state.update({
            "namespace": ns, "owner": owners[0], "outsider": outsiders[0],
            "other": others[0] if others else None,
            "objects": objects(t, ns, others[0] if others else OTHER, owners[0]),
            "client": _decoded(secret, "OIDC_CLIENT_SECRET") or "",
            # The platform CA when the gateway's certificate carries it (dev's self-signed
            # chain); else the system's trust store (ACME). Never unverified.
            "ca": _decoded(s.cluster.get("v1", "Secret", tls_name, tls_ns), "ca.crt"),
        })  # fmt: skip

    def starts(s: Session) -> None:
        st = _state(s)
        nb = st["objects"]["notebook"]
        s.create(nb)
        ns, name = st["namespace"], nb["metadata"]["name"]

        def ready() -> bool:
            pods = s.cluster.list("v1", "Pod", ns, {nbm.POD_LABEL: name})
            return any(condition(p, "Ready") for p in pods)

        s.waiter.until(ready, JOB, f"notebook {ns}/{name}'s pod Ready",
                       lambda: str((s.live(nb) or {}).get("status", {})))  # fmt: skip

    def owner(s: Session) -> None:
        st = _state(s)
        url = gateway + nbm.path(st["namespace"], notebook_name(t))
        bearer = token(s, st["owner"])
        last: list[Response] = []

        def ok() -> bool:
            last[:] = [get(s, url, bearer)]
            return last[0].status == 200

        def seen() -> str:
            return f"{last[0].status} {last[0].body[:200]}" if last else "-"

        s.waiter.until(ok, LONG, f"{st['owner']} gets 200 from {url}", seen)

    def outsider(s: Session) -> None:
        st = _state(s)
        r = get(s, gateway + nbm.path(st["namespace"], notebook_name(t)), token(s, st["outsider"]))
        if r.status != 403:
            raise StepFailed(f"{st['outsider']} (not in {st['namespace']}) got {r.status}, not 403")

    def anonymous(s: Session) -> None:
        st = _state(s)
        r = get(s, gateway + nbm.path(st["namespace"], notebook_name(t)), None)
        if 200 <= r.status < 300:
            raise StepFailed(f"a request without a token got {r.status}")
        s.metrics["notebook_anonymous_status"] = float(r.status)

    def fenced(s: Session) -> None:
        st = _state(s)
        if st["other"] is None:
            raise NotApplicable(f"no other tenant with a LocalQueue `{LOCAL_QUEUE}` to probe from")
        probe = st["objects"]["probe"]
        s.create(probe)
        s.finished(probe)

    steps = [
        Step("a team with notebook users", "a tenant namespace runs notebooks; its owner and "
             "someone outside it are static users", team),
        Step("notebook starts", "a restricted Notebook as the spawner writes it gets a Ready "
             "pod", starts),
        Step("owner reaches it", "the owner's token gets 200 from the notebook through the "
             "gateway", owner),
        Step("non-member refused", "a token of someone outside the team gets 403", outsider),
        Step("no token refused", "a request without a token is not answered by the notebook",
             anonymous),
        Step("other teams cannot connect", "a pod in another team's namespace cannot connect "
             "to the notebook's Service", fenced),
    ]  # fmt: skip
    return Plan([], [], list(objects(t, PLACEHOLDER, OTHER, "owner@example.com").values()), steps,
                ["notebook_controller"])  # fmt: skip


SCENARIO = Scenario(
    NAME,
    "A team's notebook answers its owner through the gateway, and no one outside the team.",
    ("notebook_controller", "jupyter_web_app"),
    build,
)
