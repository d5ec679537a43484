"""Alert routing as Kubernetes objects: the platform's Alertmanager configuration and each
tenant's AlertmanagerConfig, from the typed config (mlplatform.config.alerting).

The platform's configuration is a Secret we create (`alertmanager.yaml`, credentials inline,
the whole value a Pulumi secret), named by the Alertmanager's `configSecret`; the chart's own
Secret, which would carry `alertmanager.config` values in plaintext, is off
(`useExistingSecret`). Read in prometheus-community/helm-charts, tags
kube-prometheus-stack-{70.4.2,79.12.0,82.4.0}, charts/kube-prometheus-stack/templates/
alertmanager/secret.yaml (rendered only without useExistingSecret) and alertmanager.yaml
(configSecret, alertmanagerConfigSelector, alertmanagerConfigNamespaceSelector,
alertmanagerConfigMatcherStrategy copied to the Alertmanager spec); the Alertmanager CRD
(charts/crds/crds/crd-alertmanagers.yaml, operator 0.81.0/0.86.2/0.89.0): the configuration
is read from the key `alertmanager.yaml`, the matcher strategy defaults to `OnNamespace`.
The operator parses that file strictly (prometheus-operator v0.81.0/v0.89.0,
pkg/alertmanager/amcfg.go alertmanagerConfigFromBytes: yaml.UnmarshalStrict into
pkg/alertmanager/types.go, which has every key we write; the root route needs a receiver and
may carry no matchers or `continue`).

A tenant's AlertmanagerConfig lives in its namespace, its credentials in the Secret
`alert-receivers` beside it. The Alertmanager selects those objects by label in namespaces
carrying the tenant label, with strategy `OnNamespace`: the operator adds `namespace="<ns>"`
to the tenant's top route and `continue: true`, prefixes its receivers `<ns>/<name>/`, and
puts its route before the platform's (prometheus-operator v0.81.0/v0.86.2/v0.89.0,
pkg/alertmanager/amcfg.go: namespaceEnforcer.processRoute, continueToNextRoute,
makeNamespacedString, ConfigBuilder.AddAlertmanagerConfigs). So a tenant's routes only ever
see alerts of its own namespace, and the platform's routes still see every alert. That
`namespace` label is the origin's: Prometheus enforces it on every rule and monitor outside
the platform's namespaces (components/monitoring.py namespace_enforcement).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pulumi
import yaml
from pulumi.runtime.config import get_config

from mlplatform import netpol
from mlplatform.config import ConfigError, PlatformConfig
from mlplatform.config.alerting import (
    NULL_RECEIVER,
    TENANT_HTTPS_PORT,
    TENANT_SMTP_PORTS,
    Alerting,
    Receiver,
    Route,
    internal_host_problem,
    smarthost_port,
    url_port,
)
from mlplatform.manifests import Obj, meta
from mlplatform.stackconfig import PROJECT
from mlplatform.tenancy.objects import TENANT_LABEL
from mlplatform.tenancy.spec import TenantSpec

CONFIG_SECRET = "alertmanager-platform"
CONFIG_KEY = "alertmanager.yaml"  # the key the operator reads from configSecret
TENANT_SECRET = "alert-receivers"
TENANT_CONFIG = "tenant-alerts"
# On every AlertmanagerConfig we create; the Alertmanager selects only these.
SELECTOR_LABELS = {"mlplatform.io/alerting": "tenant"}
MATCHER_STRATEGY = "OnNamespace"
ALERTMANAGER_PODS = {"app.kubernetes.io/name": "alertmanager"}  # operator makeSelectorLabels
# Everything but private, shared (CGNAT), loopback and link-local (cloud metadata) addresses.
NOT_PUBLIC = [
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
]
# The chart's default inhibitions (kube-prometheus-stack 70.4.2/79.12.0/82.4.0 values.yaml
# `alertmanager.config.inhibit_rules`): a critical alert silences the same alert's warning and
# info, a warning its info, InfoInhibitor the info alerts of its namespace.
INHIBIT_RULES: list[dict[str, Any]] = [
    {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity=~"warning|info"'],
        "equal": ["namespace", "alertname"],
    },
    {
        "source_matchers": ['severity="warning"'],
        "target_matchers": ['severity="info"'],
        "equal": ["namespace", "alertname"],
    },
    {
        "source_matchers": ['alertname="InfoInhibitor"'],
        "target_matchers": ['severity="info"'],
        "equal": ["namespace"],
    },
]
# Always firing by design (the alerting pipeline's heartbeat; InfoInhibitor exists only to
# inhibit): routed to the silent receiver first.
SILENCED_ALERTS = ("Watchdog", "InfoInhibitor")

Lookup = Callable[[str], str | None]


def runtime_secret(key: str) -> str | None:
    """A secret stack config value as the running program sees it (decrypted)."""
    return get_config(f"{PROJECT}:{key}")


# --- secrets: read and checked before any resource --------------------------------------


def read_secrets(
    alerting: Alerting, root: str, env: str, tenant: bool = False, lookup: Lookup = runtime_secret
) -> dict[str, str]:
    """Secret config key -> value for every key `alerting` names; ConfigError, one line per
    unset or unusable key, naming the field and the command that sets it."""
    values: dict[str, str] = {}
    problems = []
    for path, key in alerting.secret_keys().items():
        where = f"{root}.{path}"
        value = lookup(key)
        if not value:
            problems.append(
                f"{where}: secret config key '{PROJECT}:{key}' is not set; run: "
                f'printf %s "$VALUE" | mlplatform secret set --env {env} {key}'
            )
            continue
        if path.endswith("slack.webhookUrlKey"):
            why = _webhook_url_problem(value.strip(), tenant)
            if why:
                problems.append(f"{where}: the value of '{PROJECT}:{key}' {why}; set it again")
                continue
        values[key] = value.strip()
    if problems:
        raise ConfigError(problems)
    return values


def _webhook_url_problem(value: str, tenant: bool) -> str | None:
    url = urlsplit(value)
    if url.scheme != "https" or not url.hostname:
        return "is not an https URL (the URL itself is not shown: it is a credential)"
    if tenant:
        if internal_host_problem(url.hostname):
            return "points at a non-public host"
        if url_port(value) != TENANT_HTTPS_PORT:
            return f"uses port {url_port(value)}; tenant webhooks use {TENANT_HTTPS_PORT}"
    return None


def platform_secrets(config: PlatformConfig, lookup: Lookup = runtime_secret) -> dict[str, str]:
    return read_secrets(config.alerting, "platform.alerting", config.environment, lookup=lookup)


def tenant_secrets(
    spec: TenantSpec, config: PlatformConfig, lookup: Lookup = runtime_secret
) -> dict[str, str]:
    if spec.alerting is None:
        return {}
    root = f"tenants[{spec.name}].alerting"
    return read_secrets(spec.alerting, root, config.environment, tenant=True, lookup=lookup)


def preflight(config: PlatformConfig, tenants: Sequence[TenantSpec] = ()) -> None:
    """Every receiver secret of the platform and `tenants` is set and usable, else
    ConfigError listing them all (call before registering anything)."""
    problems = []
    checks: list[Callable[[], object]] = [lambda: platform_secrets(config)]
    checks += [lambda t=t: tenant_secrets(t, config) for t in tenants]
    for check in checks:
        try:
            check()
        except ConfigError as err:
            problems.extend(err.problems)
    if problems:
        raise ConfigError(problems)


# --- the platform's Alertmanager configuration -------------------------------------------


def matcher(name: str, values: Sequence[str]) -> str:
    """An Alertmanager matcher string: `name="v"` or `name=~"a|b"` (values are literal)."""
    if len(values) == 1:
        return f"{name}={json.dumps(values[0])}"
    return f"{name}=~{json.dumps('|'.join(_regex_literal(v) for v in values))}"


def _regex_literal(value: str) -> str:
    return "".join(f"\\{c}" if c in r".^$*+?()[]{}|\\" else c for c in value)


def route_matchers(route: Route) -> list[tuple[str, list[str]]]:
    """(label, any of values) pairs of one route, all of which must match."""
    pairs = [(name, [value]) for name, value in sorted(route.labels.items())]
    if route.severity:
        pairs.append(("severity", list(route.severity)))
    if route.component:
        pairs.append(("component", list(route.component)))
    return pairs


def receiver_config(receiver: Receiver, secrets: Mapping[str, str]) -> dict[str, Any]:
    """One Alertmanager `receivers` entry, credentials inline (the whole file is secret)."""
    out: dict[str, Any] = {"name": receiver.name}
    resolved = receiver.send_resolved
    if receiver.email:
        e = receiver.email
        email: dict[str, Any] = {
            "to": ", ".join(e.to),
            "from": e.from_,
            "smarthost": e.smarthost,
            "require_tls": e.require_tls,
            "send_resolved": resolved,
        }
        if e.auth_username and e.auth_password_key:
            email["auth_username"] = e.auth_username
            email["auth_password"] = secrets[e.auth_password_key]
        out["email_configs"] = [email]
    if receiver.slack:
        slack: dict[str, Any] = {
            "api_url": secrets[receiver.slack.webhook_url_key],
            "send_resolved": resolved,
        }
        if receiver.slack.channel:
            slack["channel"] = receiver.slack.channel
        out["slack_configs"] = [slack]
    if receiver.webhook:
        hook: dict[str, Any] = {"url": receiver.webhook.url, "send_resolved": resolved}
        if receiver.webhook.bearer_token_key:
            token = secrets[receiver.webhook.bearer_token_key]
            hook["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
        out["webhook_configs"] = [hook]
    return out


def alertmanager_config(alerting: Alerting, secrets: Mapping[str, str]) -> dict[str, Any]:
    """The platform's alertmanager.yaml as a dict."""
    root = alerting.route
    silenced = [
        {"receiver": NULL_RECEIVER, "matchers": [matcher("alertname", [a])]}
        for a in SILENCED_ALERTS
    ]
    routes = [
        {
            "receiver": r.receiver,
            "matchers": [matcher(n, v) for n, v in route_matchers(r)],
            **({"continue": True} if r.continue_ else {}),
        }
        for r in root.routes
    ]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": alerting.default_receiver,
            "group_by": list(root.group_by),
            "group_wait": root.group_wait,
            "group_interval": root.group_interval,
            "repeat_interval": root.repeat_interval,
            "routes": [*silenced, *routes],
        },
        "receivers": [
            {"name": NULL_RECEIVER},
            *(receiver_config(r, secrets) for r in alerting.receivers),
        ],
        "inhibit_rules": INHIBIT_RULES,
    }


def to_yaml(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def config_secret(namespace: str, alerting: Alerting, secrets: Mapping[str, str]) -> Obj:
    """The Secret the Alertmanager's configSecret names; its one value is a Pulumi secret."""
    text = to_yaml(alertmanager_config(alerting, secrets))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(CONFIG_SECRET, namespace),
        "type": "Opaque",
        "stringData": {CONFIG_KEY: pulumi.Output.secret(text)},
    }


def alertmanager_values() -> dict[str, Any]:
    """kube-prometheus-stack `alertmanager.alertmanagerSpec` values: our Secret as the
    configuration, tenant AlertmanagerConfigs selected, each bound to its namespace."""
    return {
        "useExistingSecret": True,
        "configSecret": CONFIG_SECRET,
        "alertmanagerConfigSelector": {"matchLabels": SELECTOR_LABELS},
        "alertmanagerConfigNamespaceSelector": {
            "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
        },
        "alertmanagerConfigMatcherStrategy": {"type": MATCHER_STRATEGY},
    }


def egress_policy(namespace: str, alerting: Alerting) -> Obj:
    """Alertmanager pods reach receivers: the tenant ports (https 443, SMTP 25/465/587) and the
    platform receivers' ports on public addresses; a platform receiver on an internal host
    (e.g. an SMTP relay) also on internal addresses, on its port only."""
    public = {TENANT_HTTPS_PORT, *TENANT_SMTP_PORTS}
    internal: set[int] = set()
    for r in alerting.receivers:
        targets = []
        if r.email:
            targets.append(
                (r.email.smarthost.rpartition(":")[0], smarthost_port(r.email.smarthost))
            )
        if r.webhook:
            url = r.webhook.url
            targets.append((urlsplit(url).hostname or "", url_port(url)))
        for host, port in targets:
            (internal if internal_host_problem(host) else public).add(port)
    rules: list[dict[str, Any]] = [
        {
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": NOT_PUBLIC}}],
            "ports": [{"protocol": "TCP", "port": p} for p in sorted(public)],
        }
    ]
    if internal:
        rules.append(
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, netpol.any_namespace()],
                "ports": [{"protocol": "TCP", "port": p} for p in sorted(internal)],
            }
        )
    return netpol.policy(
        "allow-alertmanager-receivers", namespace, pods=ALERTMANAGER_PODS, egress=rules
    )


# --- a tenant's AlertmanagerConfig --------------------------------------------------------


def _secret_ref(key: str) -> dict[str, str]:
    return {"name": TENANT_SECRET, "key": key}


def _crd_receiver(receiver: Receiver) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver.name}
    resolved = receiver.send_resolved
    if receiver.email:
        e = receiver.email
        email: dict[str, Any] = {
            "to": ", ".join(e.to),
            "from": e.from_,
            "smarthost": e.smarthost,
            "requireTLS": e.require_tls,
            "sendResolved": resolved,
        }
        if e.auth_username and e.auth_password_key:
            email["authUsername"] = e.auth_username
            email["authPassword"] = _secret_ref(e.auth_password_key)
        out["emailConfigs"] = [email]
    if receiver.slack:
        slack: dict[str, Any] = {
            "apiURL": _secret_ref(receiver.slack.webhook_url_key),
            "sendResolved": resolved,
        }
        if receiver.slack.channel:
            slack["channel"] = receiver.slack.channel
        out["slackConfigs"] = [slack]
    if receiver.webhook:
        hook: dict[str, Any] = {"url": receiver.webhook.url, "sendResolved": resolved}
        if receiver.webhook.bearer_token_key:
            hook["httpConfig"] = {
                "authorization": {
                    "type": "Bearer",
                    "credentials": _secret_ref(receiver.webhook.bearer_token_key),
                }
            }
        out["webhookConfigs"] = [hook]
    return out


def crd_matcher(name: str, values: Sequence[str]) -> dict[str, str]:
    if len(values) == 1:
        return {"name": name, "value": values[0], "matchType": "="}
    return {"name": name, "value": "|".join(map(_regex_literal, values)), "matchType": "=~"}


def tenant_config(spec: TenantSpec, config: PlatformConfig) -> list[Obj]:
    """The tenant's AlertmanagerConfig (no secret in it), or nothing without receivers."""
    alerting = spec.alerting
    if alerting is None:
        return []
    root = alerting.route
    routes = [
        {
            "receiver": r.receiver,
            "matchers": [crd_matcher(n, v) for n, v in route_matchers(r)],
            **({"continue": True} if r.continue_ else {}),
        }
        for r in root.routes
    ]
    route: dict[str, Any] = {
        "receiver": alerting.default_receiver,
        "groupBy": list(root.group_by),
        "groupWait": root.group_wait,
        "groupInterval": root.group_interval,
        "repeatInterval": root.repeat_interval,
    }
    if routes:
        route["routes"] = routes
    return [
        {
            "apiVersion": config.catalogue.component("monitoring").api("alerting"),
            "kind": "AlertmanagerConfig",
            "metadata": meta(TENANT_CONFIG, spec.namespace, **SELECTOR_LABELS),
            "spec": {"route": route, "receivers": [_crd_receiver(r) for r in alerting.receivers]},
        }
    ]


def tenant_secret(spec: TenantSpec, secrets: Mapping[str, str]) -> list[Obj]:
    """The Secret holding the tenant's receiver credentials (values: Pulumi secrets)."""
    if spec.alerting is None or not secrets:
        return []
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(TENANT_SECRET, spec.namespace),
            "type": "Opaque",
            "stringData": {k: pulumi.Output.secret(v) for k, v in sorted(secrets.items())},
        }
    ]
