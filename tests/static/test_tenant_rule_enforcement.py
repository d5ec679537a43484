"""Rung 3: a tenant's PrometheusRule cannot send alerts to another team's receivers.

team-b (no receivers of its own) writes an alerting rule labelled `namespace: team-a`, and one
whose expression selects team-a's series: without enforcement both alerts carry
`namespace="team-a"` and the merged Alertmanager configuration sends them to team-a's
receivers. `operator_enforce` applies what the prometheus-operator does to a selected
PrometheusRule, from the Prometheus values the program gives the chart (v0.81.0, v0.86.2,
v0.89.0 alike, pkg/namespacelabeler/labeler.go EnforceNamespaceLabel: unless excluded, every
rule's labels get `<enforcedNamespaceLabel>: <the rule's namespace>`; its expression rewrite
only narrows what fires further and is not mirrored); promtool evaluates the result (rule
labels override the series' labels) and amtool routes the alerts it fires.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform.components import monitoring
from mlplatform.graph import CHART, Graph
from tests.static.test_alert_rules import build, tool
from tests.static.test_alertmanager_config import check, needs_amtool, operator_merge, receivers

pytestmark = pytest.mark.static
ATTACKER, VICTIM = "team-b", "team-a"
VICTIM_RECEIVERS = f"{VICTIM}/tenant-alerts/"


def prometheus_spec(g: Graph) -> dict[str, Any]:
    return g.named(monitoring.RELEASE, CHART).inputs["values"]["prometheus"]["prometheusSpec"]


def excluded(spec: dict[str, Any], namespace: str, name: str) -> bool:
    """labeler.go IsExcluded for a PrometheusRule."""
    return any(
        ref["resource"] == "prometheusrules"
        and ref["namespace"] == namespace
        and ref.get("name", "") in ("", name)
        for ref in spec.get("excludedFromEnforcement") or []
    )


def operator_enforce(rule: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    label = spec.get("enforcedNamespaceLabel")
    namespace, name = rule["metadata"]["namespace"], rule["metadata"]["name"]
    if not label or excluded(spec, namespace, name):
        return rule
    out = copy.deepcopy(rule)
    for group in out["spec"]["groups"]:
        for r in group["rules"]:
            r["labels"] = {**(r.get("labels") or {}), label: namespace}
    return out


def spoofed(attacker: str, victim: str) -> dict[str, Any]:
    """`attacker`'s PrometheusRule claiming `victim`'s namespace: by label, and by selecting
    the victim's series (whose `namespace` an alert otherwise keeps)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": f"page-{victim}", "namespace": attacker},
        "spec": {
            "groups": [
                {
                    "name": "spoof",
                    "rules": [
                        {
                            "alert": "SpoofedLabel",
                            "expr": "vector(1)",
                            "labels": {"namespace": victim, "severity": "critical"},
                        },
                        {
                            "alert": "SpoofedSeries",
                            "expr": f'kube_pod_info{{namespace="{victim}"}} > 0',
                            "labels": {"severity": "warning"},
                        },
                    ],
                }
            ]
        },
    }


def fired(
    rule: dict[str, Any], victim: str, tmp_path: Path, namespace: str
) -> list[dict[str, str]]:
    """The label sets of the alerts `rule` fires on one series of `victim`'s, each checked by
    `promtool test rules` to be: the series' labels (where the expression selects it), the
    rule's labels, and `namespace=<namespace>`."""
    series_labels = {"namespace": victim, "pod": "p"}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    alerts = []
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            selected = series_labels if "kube_pod_info" in r["expr"] else {}
            labels = {**selected, **(r.get("labels") or {}), "namespace": namespace}
            alerts.append({"alertname": r["alert"], **labels})
    series = "kube_pod_info{" + ", ".join(f'{k}="{v}"' for k, v in series_labels.items()) + "}"
    case = {
        "interval": "1m",
        "input_series": [{"series": series, "values": "1x5"}],
        "alert_rule_test": [
            {
                "eval_time": "2m",
                "alertname": a["alertname"],
                "exp_alerts": [{"exp_labels": {k: v for k, v in a.items() if k != "alertname"}}],
            }
            for a in alerts
        ],
    }
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [case]}
    (tmp_path / "rules.test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [tool("promtool"), "test", "rules", "rules.test.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return alerts


@needs_amtool
def test_a_tenant_rule_cannot_route_alerts_to_another_teams_receivers(program, tmp_path):
    g = program("staging")
    path = check(operator_merge(g), tmp_path / "merged.yaml")
    # Without enforcement the spoof works: both alerts fire for team-a and reach its mail/Slack.
    rule = spoofed(ATTACKER, VICTIM)
    for alert in fired(rule, VICTIM, tmp_path, VICTIM):
        assert all(r.startswith(VICTIM_RECEIVERS) for r in receivers(path, **alert)), alert
    # With the program's values, both alerts carry team-b's namespace: the platform's
    # receiver only (team-b has none of its own), never team-a's.
    enforced = operator_enforce(rule, prometheus_spec(g))
    for alert in fired(enforced, VICTIM, tmp_path, ATTACKER):
        assert receivers(path, **alert) == ["platform-slack"], alert


@needs_amtool
@pytest.mark.parametrize("claimed", ["team-b", "monitoring"])
def test_a_tenants_rules_reach_its_own_receivers_whatever_namespace_they_claim(
    program, tmp_path, claimed
):
    """team-a's rules claiming team-b's or the platform's namespace route as team-a's alerts:
    to team-a's receivers only (its critical route to its mail, the rest to its Slack)."""
    g = program("staging")
    path = check(operator_merge(g), tmp_path / "merged.yaml")
    enforced = operator_enforce(spoofed(VICTIM, claimed), prometheus_spec(g))
    alerts = {a["alertname"]: a for a in fired(enforced, claimed, tmp_path, VICTIM)}
    assert receivers(path, **alerts["SpoofedLabel"]) == [f"{VICTIM_RECEIVERS}team-mail"]
    assert receivers(path, **alerts["SpoofedSeries"]) == [f"{VICTIM_RECEIVERS}team-slack"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_platforms_rules_are_not_enforced(program, env):
    """Our rules (overlays/monitoring, in `monitoring`) and every rule the program registers
    keep the namespaces of the series they alert on (e.g. a tenant's crash-looping pod)."""
    g = program(env)
    spec = prometheus_spec(g)
    rules = [o for o in build(env) if o["kind"] == "PrometheusRule"]
    rules += [o.obj for o in g.objects() if o.kind == "PrometheusRule"]
    assert rules
    for rule in rules:
        assert operator_enforce(rule, spec) == rule, rule["metadata"]
