"""Rung 3: the Alertmanager configuration we generate passes `amtool check-config`, and
`amtool config routes test` proves the routing, tenants' AlertmanagerConfigs merged in.

The configuration is taken from the program's graph under mocks (secret stand-ins for the
credentials). The Alertmanager sees the platform file plus every selected AlertmanagerConfig,
merged by the prometheus-operator; `operator_merge` does what the operator does (v0.81.0,
v0.86.2, v0.89.0 alike, pkg/alertmanager/amcfg.go): ConfigBuilder.AddAlertmanagerConfigs puts
each config's route before the platform's routes; convertRoute/makeNamespacedString prefix
receiver names `<namespace>/<name>/`; with matcher strategy OnNamespace, namespaceEnforcer
appends `namespace="<its namespace>"` to that top route and continueToNextRoute sets
`continue: true`; strategy None adds no matcher. Which configs are selected follows the
Alertmanager's alertmanagerConfigSelector/NamespaceSelector as the chart values set them.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform import alerting
from mlplatform.components import monitoring
from mlplatform.graph import CHART, Graph
from mlplatform.stackconfig import ROOT

pytestmark = pytest.mark.static
TOOLS = ROOT / ".tools" / "bin"
AMTOOL = shutil.which("amtool", path=f"{TOOLS}:{shutil.os.environ.get('PATH', '')}")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool not found: run scripts/install-tools.sh (make test does)"
)
_RECEIVER_KINDS = {
    "emailConfigs": "email_configs",
    "slackConfigs": "slack_configs",
    "webhookConfigs": "webhook_configs",
}
_FIELDS = {
    "authUsername": "auth_username",
    "authPassword": "auth_password",
    "requireTLS": "require_tls",
    "sendResolved": "send_resolved",
    "apiURL": "api_url",
    "httpConfig": "http_config",
}


def platform_config(g: Graph) -> dict[str, Any]:
    secret = g.object("Secret", alerting.CONFIG_SECRET, monitoring.NAMESPACE)
    return yaml.safe_load(secret["stringData"][alerting.CONFIG_KEY])


def alertmanager_spec(g: Graph) -> dict[str, Any]:
    values = g.named(monitoring.RELEASE, CHART).inputs["values"]
    return values["alertmanager"]["alertmanagerSpec"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        if e["operator"] == "Exists" and e["key"] not in labels:
            return False
        if e["operator"] == "In" and labels.get(e["key"]) not in e["values"]:
            return False
    return True


def _resolve(value: Any, secrets: dict[str, str]) -> Any:
    """A receiver field, SecretKeySelectors replaced by their values, keys as Alertmanager's."""
    if isinstance(value, dict) and set(value) == {"name", "key"}:
        return secrets[value["key"]]
    if isinstance(value, dict):
        return {_FIELDS.get(k, k): _resolve(v, secrets) for k, v in value.items()}
    return value


def _route(route: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": prefix + route["receiver"]}
    for ours, theirs in (
        ("groupBy", "group_by"),
        ("groupWait", "group_wait"),
        ("groupInterval", "group_interval"),
        ("repeatInterval", "repeat_interval"),
        ("continue", "continue"),
    ):
        if ours in route:
            out[theirs] = route[ours]
    if route.get("matchers"):
        out["matchers"] = [
            f'{m["name"]}{m["matchType"]}"{_escape(m["value"])}"' for m in route["matchers"]
        ]
    if route.get("routes"):
        out["routes"] = [_route(r, prefix) for r in route["routes"]]
    return out


def _escape(value: str) -> str:  # the operator's openMetricsEscape
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def tenant_configs(g: Graph) -> list[dict[str, Any]]:
    return [copy.deepcopy(o.obj) for o in g.objects() if o.kind == "AlertmanagerConfig"]


def operator_merge(g: Graph, crs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The configuration the operator hands the Alertmanager: ours plus every selected
    AlertmanagerConfig (`crs`, default: the graph's; see the module docstring)."""
    config = copy.deepcopy(platform_config(g))
    spec = alertmanager_spec(g)
    strategy = spec.get("alertmanagerConfigMatcherStrategy", {}).get("type", "OnNamespace")
    objs = g.objects()
    namespaces = {
        o.name: o.obj["metadata"].get("labels", {}) for o in objs if o.kind == "Namespace"
    }
    sub_routes = []
    for cr in sorted(tenant_configs(g) if crs is None else crs, key=_key):
        namespace, name = cr["metadata"]["namespace"], cr["metadata"]["name"]
        if not _selects(spec.get("alertmanagerConfigSelector") or {}, cr["metadata"]["labels"]):
            continue
        # The chart renders an unset namespace selector as null: the Alertmanager's own only.
        selector = spec.get("alertmanagerConfigNamespaceSelector")
        if selector is None and namespace != monitoring.NAMESPACE:
            continue
        if selector is not None and not _selects(selector, namespaces[namespace]):
            continue
        prefix = f"{namespace}/{name}/"
        secrets: dict[str, str] = {}
        for o in objs:
            if o.kind == "Secret" and o.namespace == namespace:
                secrets.update(o.obj.get("stringData", {}))
        route = _route(cr["spec"]["route"], prefix)
        if strategy == "OnNamespace":
            route["matchers"] = [*route.get("matchers", []), f'namespace="{namespace}"']
        route["continue"] = True
        sub_routes.append(route)
        for receiver in cr["spec"]["receivers"]:
            converted: dict[str, Any] = {"name": prefix + receiver["name"]}
            for kind, key in _RECEIVER_KINDS.items():
                if kind in receiver:
                    converted[key] = [_resolve(c, secrets) for c in receiver[kind]]
            config["receivers"].append(converted)
    config["route"]["routes"] = [*sub_routes, *config["route"]["routes"]]
    return config


def _key(cr: dict[str, Any]) -> str:
    return f"{cr['metadata']['namespace']}/{cr['metadata']['name']}"


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, check=False)


def check(config: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    return path


def receivers(path: Path, **labels: str) -> list[str]:
    args = [f"{k}={v}" for k, v in labels.items()]
    result = amtool("config", "routes", "test", f"--config.file={path}", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().split(",")


@needs_amtool
@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_platform_configuration_passes_amtool(program, env, tmp_path):
    path = check(platform_config(program(env)), tmp_path / "alertmanager.yaml")
    assert receivers(path, alertname="Watchdog", namespace="monitoring") == ["null"]
    assert receivers(path, alertname="InfoInhibitor", namespace="team-a") == ["null"]


@needs_amtool
def test_prod_routes_critical_alerts_to_the_pager_and_the_rest_by_mail(program, tmp_path):
    path = check(operator_merge(program("prod")), tmp_path / "alertmanager.yaml")
    crash = {"alertname": "PlatformPodCrashLooping", "namespace": "kueue-system"}
    assert receivers(path, **crash, severity="critical") == ["oncall"]
    assert receivers(path, **crash, severity="warning") == ["platform-mail"]


@needs_amtool
def test_a_tenants_routes_see_its_own_namespace_only(program, tmp_path):
    g = program("staging")
    path = check(operator_merge(g), tmp_path / "merged.yaml")
    team_a = "team-a/tenant-alerts/"
    # team-a's alerts go to team-a's receivers only: its route matches first (the operator
    # makes it `continue`), and the platform's child routes see them too, should one match.
    warning = {"alertname": "KubePodCrashLooping", "namespace": "team-a", "severity": "warning"}
    assert receivers(path, **warning) == [f"{team_a}team-slack"]
    critical = {**warning, "severity": "critical"}
    assert receivers(path, **critical) == [f"{team_a}team-mail"]
    # Anything else never reaches team-a's receivers.
    for labels in (
        {"namespace": "team-b", "severity": "critical"},
        {"namespace": "monitoring", "severity": "critical"},
        {"severity": "critical"},  # no namespace label at all
    ):
        assert receivers(path, alertname="X", **labels) == ["platform-slack"], labels


@needs_amtool
def test_even_a_route_naming_another_namespace_stays_in_its_own(program, tmp_path):
    """A tenant's config that tried to route team-b's alerts (our validation refuses it; the
    operator's OnNamespace enforcement is the guarantee) still only sees team-a's."""
    g = program("staging")
    (cr,) = tenant_configs(g)
    cr["spec"]["route"]["matchers"] = [{"name": "namespace", "value": "team-b", "matchType": "="}]
    cr["spec"]["route"].pop("routes")
    path = check(operator_merge(g, [cr]), tmp_path / "merged.yaml")
    assert receivers(path, alertname="X", namespace="team-b", severity="warning") == [
        "platform-slack"
    ]
