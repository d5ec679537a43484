"""Alert routing config: every mistake is one line naming the field and the fix; tenant
receivers can never read another's secrets or reach internal hosts."""

from __future__ import annotations

import io
import shutil
import sys
from typing import Any

import pytest

from mlplatform import alerting
from mlplatform.config import ConfigError, parse_platform
from mlplatform.config.alerting import Alerting
from mlplatform.stackconfig import secret_keys
from mlplatform.tenancy.spec import parse_tenants
from tests.conftest import stack_config

SLACK = {"name": "team-slack", "slack": {"webhookUrlKey": "slackUrl"}}
MAIL = {"to": ["a@example.com"], "from": "b@example.com"}


def platform_problems(alerting_raw: dict[str, Any]) -> list[str]:
    raw = stack_config("dev")["platform"]
    raw["alerting"] = alerting_raw
    with pytest.raises(ConfigError) as err:
        parse_platform(raw)
    return err.value.problems


def tenant_problems(alerting_raw: dict[str, Any], name: str = "team-a") -> list[str]:
    entry = {"name": name, "owners": ["a@example.com"], "alerting": alerting_raw}
    with pytest.raises(ConfigError) as err:
        parse_tenants([entry], None)
    return err.value.problems


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"receivers": [SLACK], "route": {"receiver": "pager"}},
            "platform.alerting.route.receiver: receiver 'pager' is not defined; define it in "
            "receivers (team-slack)",
            id="default route names an undefined receiver",
        ),
        pytest.param(
            {"receivers": [SLACK], "route": {"routes": [{"receiver": "x", "severity": ["info"]}]}},
            "platform.alerting.route.routes.0.receiver: receiver 'x' is not defined",
            id="child route names an undefined receiver",
        ),
        pytest.param(
            {"receivers": [{"name": "hook", "webhook": {"url": "http://hooks.example.com/a"}}]},
            "platform.alerting.receivers.0.webhook.url: 'http://hooks.example.com/a' must be a "
            "https URL",
            id="webhook over plain http",
        ),
        pytest.param(
            {"receivers": [SLACK, SLACK]},
            "platform.alerting.receivers.1.name: receiver 'team-slack' is already receivers[0]",
            id="receiver twice",
        ),
        pytest.param(
            {"receivers": [{"name": "nobody"}]},
            "platform.alerting.receivers.0.name: receiver 'nobody' needs email, slack or webhook",
            id="receiver without a target",
        ),
        pytest.param(
            {"receivers": [{"name": "null", "webhook": {"url": "https://h.example.com"}}]},
            "platform.alerting.receivers.0.name: 'null' is the platform's silent receiver",
            id="the null receiver is ours",
        ),
        pytest.param(
            {
                "receivers": [
                    {
                        "name": "mail",
                        "email": {
                            "to": ["a@example.com"],
                            "from": "am@example.com",
                            "smarthost": "smtp.example.com:587",
                            "authUsername": "am",
                        },
                    }
                ]
            },
            "platform.alerting.receivers.0.email.authPasswordKey: SMTP authentication needs "
            "authUsername and authPasswordKey",
            id="smtp user without password key",
        ),
        pytest.param(
            {"receivers": [{"name": "m", "email": {**MAIL, "smarthost": "smtp.example.com"}}]},
            "platform.alerting.receivers.0.email.smarthost: 'smtp.example.com' is not host:port",
            id="smarthost without port",
        ),
        pytest.param(
            {"receivers": [SLACK], "route": {"routes": [{"receiver": "team-slack"}]}},
            "platform.alerting.route.routes.0.receiver: a route needs severity, component or "
            "labels",
            id="route matching everything",
        ),
        pytest.param(
            {"route": {"groupWait": "soon"}},
            "platform.alerting.route.groupWait: 'soon' is not a duration such as 30s",
            id="bad duration",
        ),
    ],
)
def test_platform_alerting_mistakes_are_one_line_each(raw: dict[str, Any], expected: str) -> None:
    problems = platform_problems(raw)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_defaults_are_sane() -> None:
    a = Alerting()
    assert a.default_receiver == "null"
    assert (a.route.group_wait, a.route.group_interval, a.route.repeat_interval) == (
        "30s",
        "5m",
        "4h",
    )
    assert Alerting.model_validate({"receivers": [SLACK]}).default_receiver == "team-slack"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"receivers": [{"name": "s", "slack": {"webhookUrlKey": "oidcClientSecret"}}]},
            "tenants[0].alerting.receivers[0].slack.webhookUrlKey: 'oidcClientSecret' is not a "
            "key of this tenant; tenant secret keys start with 'team-a_'",
            id="the platform's secret",
        ),
        pytest.param(
            {"receivers": [{"name": "s", "slack": {"webhookUrlKey": "team-b_slackUrl"}}]},
            "tenants[0].alerting.receivers[0].slack.webhookUrlKey: 'team-b_slackUrl' is not a key "
            "of this tenant",
            id="another tenant's secret",
        ),
        pytest.param(
            {"receivers": [{"name": "w", "webhook": {"url": "https://grafana.monitoring.svc/x"}}]},
            "tenants[0].alerting.receivers[0].webhook.url: 'grafana.monitoring.svc' is a "
            "cluster- or node-internal name",
            id="webhook into the cluster",
        ),
        pytest.param(
            {"receivers": [{"name": "w", "webhook": {"url": "https://169.254.169.254/latest"}}]},
            "tenants[0].alerting.receivers[0].webhook.url: 169.254.169.254 is not a public address",
            id="webhook to cloud metadata",
        ),
        pytest.param(
            {"receivers": [{"name": "w", "webhook": {"url": "https://hooks.example.com:6443/"}}]},
            "tenants[0].alerting.receivers[0].webhook.url: port 6443: tenant webhooks use https "
            "on port 443",
            id="webhook on another port",
        ),
        pytest.param(
            {
                "receivers": [{"name": "s", "slack": {"webhookUrlKey": "team-a_slack"}}],
                "route": {
                    "routes": [{"receiver": "s", "labels": {"namespace": "team-b"}}],
                },
            },
            "tenants[0].alerting.route.routes[0].labels.namespace: a tenant's routes only ever "
            "see its own namespace's alerts",
            id="route on another namespace",
        ),
        pytest.param(
            {"receivers": []},
            "tenants[0].alerting.receivers: a tenant's alerting needs at least one receiver",
            id="no receiver",
        ),
    ],
)
def test_tenant_receivers_cannot_weaken_isolation(raw: dict[str, Any], expected: str) -> None:
    problems = tenant_problems(raw)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_tenant_prefix_is_not_a_name_prefix() -> None:
    """Tenant `team` cannot claim `team-a_...`: the separator `_` never occurs in a name."""
    raw = {"receivers": [{"name": "s", "slack": {"webhookUrlKey": "team-a_slackUrl"}}]}
    assert "is not a key of this tenant" in tenant_problems(raw, name="team")[0]
    entry = {"name": "team-a", "owners": ["a@example.com"], "alerting": raw}
    assert parse_tenants([entry], None)[0].alerting


def test_secret_set_and_mocks_know_every_receiver_key() -> None:
    values = stack_config("staging")
    keys = secret_keys(values)
    assert {"slackWebhookUrl", "team-a_slackWebhookUrl", "team-a_smtpPassword"} <= keys
    assert "oidcClientSecret" in keys
    assert {"smtpPassword", "oncallToken"} <= secret_keys(stack_config("prod"))


def _lookup(values: dict[str, str]) -> alerting.Lookup:
    return values.get


def test_unset_or_bad_secrets_name_the_field_and_the_command() -> None:
    config = parse_platform(stack_config("staging")["platform"])
    with pytest.raises(ConfigError) as err:
        alerting.platform_secrets(config, _lookup({}))
    assert err.value.problems == [
        "platform.alerting.receivers[0].slack.webhookUrlKey: secret config key "
        "'mlplatform:slackWebhookUrl' is not set; run: printf %s \"$VALUE\" | mlplatform secret "
        "set --env staging slackWebhookUrl"
    ]
    with pytest.raises(ConfigError) as err:
        alerting.platform_secrets(config, _lookup({"slackWebhookUrl": "http://hooks/x"}))
    assert err.value.problems == [
        "platform.alerting.receivers[0].slack.webhookUrlKey: the value of "
        "'mlplatform:slackWebhookUrl' is not an https URL (the URL itself is not shown: it is a "
        "credential); set it again"
    ]
    assert "http://hooks/x" not in str(err.value)


def test_a_tenants_slack_url_must_be_public() -> None:
    config = parse_platform(stack_config("staging")["platform"])
    (spec,) = parse_tenants([t for t in stack_config("staging")["tenants"][:1]], config)
    secrets = {"team-a_smtpPassword": "pw", "team-a_slackWebhookUrl": "https://10.0.0.5/hook"}
    with pytest.raises(ConfigError) as err:
        alerting.tenant_secrets(spec, config, _lookup(secrets))
    assert err.value.problems == [
        "tenants[team-a].alerting.receivers[0].slack.webhookUrlKey: the value of "
        "'mlplatform:team-a_slackWebhookUrl' points at a non-public host; set it again"
    ]


def test_matchers_are_literal() -> None:
    assert alerting.matcher("severity", ["critical"]) == 'severity="critical"'
    assert alerting.matcher("severity", ["critical", "warning"]) == 'severity=~"critical|warning"'
    assert alerting.matcher("component", ["a.b", 'q"x']) == 'component=~"a\\\\.b|q\\"x"'


@pytest.fixture
def staging_file(tmp_path, monkeypatch):
    """A scratch copy of the staging stack file that `mlplatform secret set` edits."""
    from mlplatform import stackconfig
    from mlplatform.cluster import stack as stacks

    path = tmp_path / "Pulumi.staging.yaml"
    shutil.copy(stackconfig.stack_file("staging"), path)
    monkeypatch.setattr(stackconfig, "stack_file", lambda env: path)
    layout = stacks.Layout(root=tmp_path)
    monkeypatch.setattr(stacks, "Layout", lambda: layout)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "pass phrase")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    return path


def test_secret_set_takes_a_tenant_receiver_key(staging_file, monkeypatch, capsys):
    from mlplatform import secrets, stackconfig
    from mlplatform.cli import secret as cli
    from tests.unit.cli_only import invoke

    url = "https://hooks.slack.com/services/T0/B0/x"
    monkeypatch.setattr(sys, "stdin", io.StringIO(url))
    assert invoke(["secret", "set", "--env", "staging", "team-a_slackWebhookUrl"], cli) == 0
    assert url not in staging_file.read_text()
    assert secrets.read_secret(staging_file, "team-a_slackWebhookUrl", "pass phrase") == url
    assert "team-a_slackWebhookUrl" in stackconfig.read_stack_file("staging")[1]
    monkeypatch.setattr(sys, "stdin", io.StringIO("x"))
    assert invoke(["secret", "set", "--env", "staging", "team-b_slackWebhookUrl"], cli) == 2
    assert "this stack reads no secret mlplatform:team-b_slackWebhookUrl" in capsys.readouterr().err


def test_receivers_without_monitoring_are_refused() -> None:
    raw = stack_config("staging")["platform"]
    raw["components"]["monitoring"] = {"enabled": False}
    with pytest.raises(ConfigError) as err:
        parse_platform(raw)
    assert err.value.problems == [
        "platform.alerting.receivers: receivers need the Alertmanager: set "
        "components.monitoring.enabled: true or remove them"
    ]
    (tenant,) = [t for t in stack_config("staging")["tenants"] if t["name"] == "team-a"]
    raw = stack_config("dev")["platform"]
    raw["components"]["monitoring"] = {"enabled": False}
    with pytest.raises(ConfigError) as err:
        parse_tenants([tenant], parse_platform(raw))
    assert err.value.problems == [
        "tenants[0].alerting: needs components.monitoring.enabled (Alertmanager)"
    ]
