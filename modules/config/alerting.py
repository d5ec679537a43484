"""Alert routing: receivers and routes of the platform (`platform.alerting`) and of a tenant.

Credentials never live in stack config values: a receiver names the secret stack config key
that holds them (`mlplatform secret set --env E KEY`). A tenant's keys start with
`<tenant name>_`, so a tenant entry can never send the platform's or another tenant's secret
to its own receiver; its URLs are public https on port 443 and its SMTP ports the standard
submission ports (the Alertmanager's egress NetworkPolicy opens exactly those to public
addresses: see modules/alerting.py).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from mlplatform.config.base import (
    DnsLabel,
    Duration,
    Email,
    HttpsUrl,
    Model,
    problem,
    raise_all,
)
from mlplatform.stackconfig import RECEIVER_SECRET_FIELDS

NULL_RECEIVER = "null"  # receives Watchdog and InfoInhibitor: notifies no one
SEVERITIES = ("critical", "warning", "info")
# Where a tenant's receivers may send: https on 443; SMTP (25), SMTPS (465), submission (587).
TENANT_HTTPS_PORT = 443
TENANT_SMTP_PORTS = (25, 465, 587)
# Host names that resolve inside the cluster or the node: never a tenant's destination.
_INTERNAL_SUFFIXES = (".svc", ".cluster.local", ".local", ".internal", "localhost")
_SECRET_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")  # as `mlplatform secret set` accepts
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_SMARTHOST = re.compile(r"^(?P<host>[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")


def _secret_key(value: str) -> str:
    if not _SECRET_KEY.match(value):
        raise ValueError(
            f"{value!r} is not a config key (letters, digits, '_', '.', '-'; starts with a letter)"
        )
    return value


def _label_name(value: str) -> str:
    if value != "..." and not _LABEL_NAME.match(value):
        raise ValueError(f"{value!r} is not a label name such as alertname or namespace")
    return value


def _smarthost(value: str) -> str:
    found = _SMARTHOST.match(value)
    if not found or not 1 <= int(found["port"]) <= 65535:
        raise ValueError(f"{value!r} is not host:port such as smtp.example.com:587")
    return value


SecretKey = Annotated[str, AfterValidator(_secret_key)]
LabelName = Annotated[str, AfterValidator(_label_name)]
Smarthost = Annotated[str, AfterValidator(_smarthost)]
ReceiverName = DnsLabel
Severity = Literal["critical", "warning", "info"]


def smarthost_port(smarthost: str) -> int:
    return int(smarthost.rpartition(":")[2])


def url_port(url: str) -> int:
    return urlsplit(url).port or 443


def internal_host_problem(host: str) -> str | None:
    """Why `host` is not a public destination (cluster/node-internal name or address)."""
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if "." not in host or host.endswith(_INTERNAL_SUFFIXES):
            return f"{host!r} is a cluster- or node-internal name; use a public host name"
        return None
    if not address.is_global:
        return f"{host} is not a public address; use a public host name"
    return None


class EmailReceiver(Model):
    to: list[Email] = Field(min_length=1)
    from_: Email = Field(alias="from")
    smarthost: Smarthost
    auth_username: str | None = Field(None, min_length=1, max_length=255)
    auth_password_key: SecretKey | None = Field(
        None, description="secret stack config key holding the SMTP password"
    )
    require_tls: bool = True

    @model_validator(mode="after")
    def _auth_pair(self) -> EmailReceiver:
        if (self.auth_username is None) != (self.auth_password_key is None):
            missing = "authPasswordKey" if self.auth_password_key is None else "authUsername"
            raise problem(missing, "SMTP authentication needs authUsername and authPasswordKey")
        return self


class SlackReceiver(Model):
    webhook_url_key: SecretKey = Field(
        description="secret stack config key holding the incoming-webhook URL (a credential)"
    )
    channel: str | None = Field(None, pattern=r"^[#@]?[A-Za-z0-9._-]{1,80}$")


class WebhookReceiver(Model):
    url: HttpsUrl
    bearer_token_key: SecretKey | None = Field(
        None, description="secret stack config key holding the bearer token"
    )


class Receiver(Model):
    name: ReceiverName
    email: EmailReceiver | None = None
    slack: SlackReceiver | None = None
    webhook: WebhookReceiver | None = None
    send_resolved: bool = True

    @model_validator(mode="after")
    def _some_target(self) -> Receiver:
        if self.name == NULL_RECEIVER:
            raise problem("name", f"{NULL_RECEIVER!r} is the platform's silent receiver; rename")
        if not (self.email or self.slack or self.webhook):
            raise problem("name", f"receiver {self.name!r} needs email, slack or webhook")
        return self

    def secret_keys(self) -> dict[str, str]:
        """Field path (e.g. `slack.webhookUrlKey`) -> the secret config key it names."""
        out = {}
        for kind, field in RECEIVER_SECRET_FIELDS.items():
            target = getattr(self, kind)
            key = getattr(target, _snake(field), None) if target else None
            if key:
                out[f"{kind}.{field}"] = key
        return out


def _snake(camel: str) -> str:
    return re.sub(r"[A-Z]", lambda m: f"_{m[0].lower()}", camel)


class Route(Model):
    """A child route: alerts matching every given matcher go to `receiver`."""

    receiver: ReceiverName
    severity: list[Severity] = Field([], description="any of these `severity` labels")
    component: list[Annotated[str, Field(min_length=1, max_length=63)]] = Field(
        [], description="any of these `component` labels"
    )
    labels: dict[LabelName, str] = Field({}, description="exact label values, all of them")
    continue_: bool = Field(False, alias="continue")

    @model_validator(mode="after")
    def _matches_something(self) -> Route:
        if not (self.severity or self.component or self.labels):
            raise problem(
                "receiver", "a route needs severity, component or labels (else use the default)"
            )
        clash = {"severity", "component"} & set(self.labels)
        if clash:
            name = sorted(clash)[0]
            raise problem(("labels", name), f"use the route's own `{name}` list, not labels")
        return self


class RootRoute(Model):
    receiver: ReceiverName | None = Field(None, description="default: the first receiver")
    group_by: list[LabelName] = ["alertname", "namespace"]
    group_wait: Duration = "30s"
    group_interval: Duration = "5m"
    repeat_interval: Duration = "4h"
    routes: list[Route] = []


class Alerting(Model):
    """Receivers and the routing tree. Without receivers every alert goes to `null`."""

    receivers: list[Receiver] = []
    route: RootRoute = RootRoute()

    @model_validator(mode="after")
    def _routes_name_receivers(self) -> Alerting:
        found: list[tuple[tuple[str | int, ...], str]] = []
        names: dict[str, int] = {}
        for i, r in enumerate(self.receivers):
            if r.name in names:
                found.append(
                    (
                        ("receivers", i, "name"),
                        f"receiver {r.name!r} is already receivers[{names[r.name]}]; rename one",
                    )
                )
            names.setdefault(r.name, i)
        defined = ", ".join(names) or "none"
        wanted = [(("route", "receiver"), self.route.receiver)] + [
            (("route", "routes", i, "receiver"), r.receiver)
            for i, r in enumerate(self.route.routes)
        ]
        for path, name in wanted:
            if name is not None and name not in names:
                found.append(
                    (path, f"receiver {name!r} is not defined; define it in receivers ({defined})")
                )
        raise_all(found)
        return self

    @property
    def default_receiver(self) -> str:
        if self.route.receiver:
            return self.route.receiver
        return self.receivers[0].name if self.receivers else NULL_RECEIVER

    def secret_keys(self) -> dict[str, str]:
        """`receivers[i].<kind>.<field>` -> secret config key, for every key named."""
        return {
            f"receivers[{i}].{path}": key
            for i, r in enumerate(self.receivers)
            for path, key in r.secret_keys().items()
        }


def tenant_problems(alerting: Alerting, tenant: str) -> list[tuple[tuple[str | int, ...], str]]:
    """What a tenant's receivers may not do: read others' secrets, reach internal hosts."""
    prefix = f"{tenant}_"
    found: list[tuple[tuple[str | int, ...], str]] = []
    if not alerting.receivers:
        found.append((("receivers",), "a tenant's alerting needs at least one receiver"))
    for i, r in enumerate(alerting.receivers):
        for path, key in r.secret_keys().items():
            if not key.startswith(prefix) or len(key) == len(prefix):
                found.append(
                    (
                        ("receivers", i, *path.split(".")),
                        f"{key!r} is not a key of this tenant; tenant secret keys start with "
                        f"{prefix!r} (e.g. {prefix}{path.rpartition('.')[2].removesuffix('Key')}) "
                        "so that no tenant can read another's or the platform's secrets",
                    )
                )
        if r.webhook:
            url = urlsplit(r.webhook.url)
            why = internal_host_problem(url.hostname or "")
            if why:
                found.append((("receivers", i, "webhook", "url"), why))
            elif url_port(r.webhook.url) != TENANT_HTTPS_PORT:
                found.append(
                    (
                        ("receivers", i, "webhook", "url"),
                        f"port {url_port(r.webhook.url)}: tenant webhooks use https on port "
                        f"{TENANT_HTTPS_PORT} (the only port the Alertmanager may reach for them)",
                    )
                )
        if r.email:
            host = r.email.smarthost.rpartition(":")[0]
            why = internal_host_problem(host)
            if why:
                found.append((("receivers", i, "email", "smarthost"), why))
            elif smarthost_port(r.email.smarthost) not in TENANT_SMTP_PORTS:
                found.append(
                    (
                        ("receivers", i, "email", "smarthost"),
                        f"port {smarthost_port(r.email.smarthost)}: tenant mail goes to one of "
                        f"ports {', '.join(map(str, TENANT_SMTP_PORTS))}",
                    )
                )
    for i, route in enumerate(alerting.route.routes):
        if "namespace" in route.labels:
            found.append(
                (
                    ("route", "routes", i, "labels", "namespace"),
                    "a tenant's routes only ever see its own namespace's alerts; remove it",
                )
            )
    return found
