"""Alert routing against the real upstream at every pin: a tenant's AlertmanagerConfig (every
receiver kind we build) validates against the pinned operator's CRD; the Alertmanager
settings we pass are values the pinned kube-prometheus-stack reads and fields its Alertmanager
CRD has (strategy `OnNamespace` among its enum); rendered (where the cache has templates), the
chart makes no configuration Secret of its own and points the Alertmanager at ours.

prometheus-operator runs at the kube-prometheus-stack pin's appVersion (70.4.2: v0.81.0,
79.12.0: v0.86.2, 82.4.0: v0.89.0); the CRDs are the chart's `charts/crds/crds/`.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlplatform import alerting, releases, render
from mlplatform.components import monitoring
from mlplatform.config import parse_platform
from mlplatform.tenancy.spec import parse_tenants
from tests.crd_schema import Catalogue
from tests.upstream import CACHE, facts, needs_cache, upstream_graph
from tests.upstream.test_chart_semantics import install_of, templated

RELEASES = releases.available()
CATALOGUE = Catalogue(CACHE.root) if CACHE else None
ALERTING = {
    "receivers": [
        {
            "name": "mail",
            "email": {
                "to": ["oncall@example.com", "lead@example.com"],
                "from": "alerts@example.com",
                "smarthost": "smtp.example.com:587",
                "authUsername": "alerts",
                "authPasswordKey": "team-a_smtpPassword",
            },
        },
        {"name": "chat", "slack": {"webhookUrlKey": "team-a_slackUrl", "channel": "#team-a"}},
        {
            "name": "hook",
            "sendResolved": False,
            "webhook": {"url": "https://hooks.example.com/a", "bearerTokenKey": "team-a_token"},
        },
    ],
    "route": {
        "receiver": "chat",
        "groupBy": ["alertname"],
        "routes": [
            {"receiver": "mail", "severity": ["critical"], "continue": True},
            {"receiver": "hook", "severity": ["warning", "info"], "component": ["train"]},
            {"receiver": "hook", "labels": {"team": "a.b"}},
        ],
    },
}


def kps_version(release: str) -> str:
    return releases.load(release).component("monitoring").version


def tenant_config(release: str) -> dict[str, Any]:
    platform = upstream_config(release)
    entry = {"name": "team-a", "owners": ["a@example.com"], "alerting": ALERTING}
    (spec,) = parse_tenants([entry], platform)
    (cr,) = alerting.tenant_config(spec, platform)
    return cr


def upstream_config(release: str) -> Any:
    from tests.conftest import stack_config

    raw = stack_config("dev", release)["platform"]
    return parse_platform(raw)


def catalogue() -> Catalogue:
    assert CATALOGUE is not None
    return CATALOGUE


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_tenant_alertmanager_config_validates_against_the_pinned_crd(release: str) -> None:
    cr = tenant_config(release)
    assert catalogue().problems(cr, release) == []
    crd = catalogue().crd(release, "monitoring.coreos.com", "AlertmanagerConfig")
    assert crd.source.endswith(("crd-alertmanagerconfigs.yaml", ".json")), crd.source


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_a_wrong_receiver_field_would_be_caught(release: str) -> None:
    """The check is real: a field the CRD lacks (Alertmanager's own spelling) is refused."""
    cr = tenant_config(release)
    cr["spec"]["receivers"][1]["slackConfigs"][0]["api_url"] = {"name": "x", "key": "y"}
    assert any("api_url" in p for p in catalogue().problems(cr, release))


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_alertmanager_settings_are_read_by_the_pinned_chart(release: str) -> None:
    read = set(facts(monitoring.RELEASE, kps_version(release))["values_read"])
    for key in alerting.alertmanager_values():
        assert f"alertmanager.alertmanagerSpec.{key}" in read, key


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_the_pinned_alertmanager_crd_has_our_fields(release: str) -> None:
    values = alerting.alertmanager_values()
    spec = {k: v for k, v in values.items() if k != "useExistingSecret"}  # a chart value only
    am = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Alertmanager",
        "metadata": {"name": "kps-alertmanager", "namespace": monitoring.NAMESPACE},
        "spec": spec,
    }
    assert catalogue().problems(am, release) == []
    bad = {**am, "spec": {**spec, "alertmanagerConfigMatcherStrategy": {"type": "Nowhere"}}}
    assert catalogue().problems(bad, release), "the strategy enum is checked"


@needs_cache
@pytest.mark.parametrize("release", RELEASES)
def test_rendered_chart_points_the_alertmanager_at_our_secret(release: str) -> None:
    graph = upstream_graph("staging", release)
    install = templated(install_of(graph, monitoring.RELEASE))
    objs = render.helm_template(install)
    secrets = [o["metadata"]["name"] for o in objs if o["kind"] == "Secret"]
    assert not [s for s in secrets if s.startswith("alertmanager-")], secrets
    (am,) = [o for o in objs if o["kind"] == "Alertmanager"]
    spec = am["spec"]
    assert spec["configSecret"] == alerting.CONFIG_SECRET
    assert spec["alertmanagerConfigMatcherStrategy"] == {"type": alerting.MATCHER_STRATEGY}
    assert spec["alertmanagerConfigSelector"] == {"matchLabels": alerting.SELECTOR_LABELS}
    assert spec["alertmanagerConfigNamespaceSelector"]["matchExpressions"][0]["key"] == (
        "mlplatform.io/tenant"
    )
    # The Alertmanager pods carry the label our egress policy selects (operator selector labels).
    assert alerting.ALERTMANAGER_PODS == {"app.kubernetes.io/name": "alertmanager"}
