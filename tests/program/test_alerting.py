"""Alert routing under mocks: our configuration Secret (a Pulumi secret) feeds the chart's
Alertmanager, a tenant's AlertmanagerConfig and credentials ride in its one ConfigGroup, and a
missing credential stops the program before any resource."""

from __future__ import annotations

import copy

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import yaml

from mlplatform import alerting
from mlplatform.components import monitoring
from mlplatform.config import ConfigError
from mlplatform.graph import CHART, CONFIG_GROUP
from mlplatform.mockrun import STAND_IN_CONFIG_SECRET, run_stack_program
from mlplatform.stackconfig import PROJECT
from mlplatform.tenancy.stacks import platform_reference, tenant_stack_name
from tests.conftest import assert_rejected, secrets_for, stack_config

TENANT = "mlplatform:tenancy:Tenant"


def test_alertmanager_reads_our_secret_and_selects_tenant_configs(program, env_release):
    g = program(*env_release)
    spec = g.named(monitoring.RELEASE, CHART).inputs["values"]["alertmanager"]["alertmanagerSpec"]
    assert spec["useExistingSecret"] is True  # the chart renders no Secret of its own
    assert spec["configSecret"] == alerting.CONFIG_SECRET
    assert spec["alertmanagerConfigMatcherStrategy"] == {"type": "OnNamespace"}
    assert spec["alertmanagerConfigSelector"] == {"matchLabels": alerting.SELECTOR_LABELS}
    assert spec["alertmanagerConfigNamespaceSelector"] == {
        "matchExpressions": [{"key": "mlplatform.io/tenant", "operator": "Exists"}]
    }
    base = g.named("monitoring-base", CONFIG_GROUP)
    secret = g.object("Secret", alerting.CONFIG_SECRET, monitoring.NAMESPACE)
    config = yaml.safe_load(secret["stringData"][alerting.CONFIG_KEY])
    assert config["route"]["routes"][0] == {
        "receiver": "null",
        "matchers": ['alertname="Watchdog"'],
    }
    # Before the chart: the Alertmanager's first configuration is ours.
    assert g.depends_on(g.named(monitoring.RELEASE, CHART), base)


def test_the_whole_configuration_is_a_pulumi_secret(program):
    g = program("staging")
    objs = {o.ref: o for o in g.objects()}
    secret = objs[f"Secret/{monitoring.NAMESPACE}/{alerting.CONFIG_SECRET}"]
    assert f"stringData.{alerting.CONFIG_KEY}" in secret.secret_paths()
    text = secret.obj["stringData"][alerting.CONFIG_KEY]
    assert STAND_IN_CONFIG_SECRET in text  # the Slack URL, inline
    chart = g.named(monitoring.RELEASE, CHART).inputs
    assert STAND_IN_CONFIG_SECRET not in str(chart)
    config = yaml.safe_load(text)
    assert config["route"]["receiver"] == "platform-slack"
    assert [r["name"] for r in config["receivers"]] == ["null", "platform-slack"]


def test_a_tenants_receivers_ride_in_its_one_config_group(program):
    g = program("staging")
    group = g.named("tenant-team-a", CONFIG_GROUP)
    team_a = g.named("team-a", TENANT)
    # The budget holds: alerting adds objects to the tenant's one group, no resource.
    assert [r for r in g.children(team_a) if r.type == CONFIG_GROUP] == [group]
    assert not [r for r in g.descendants(team_a) if "alert" in r.name]
    cr = g.object("AlertmanagerConfig", alerting.TENANT_CONFIG, "team-a")
    assert cr["metadata"]["labels"]["mlplatform.io/alerting"] == "tenant"
    assert cr["spec"]["route"]["receiver"] == "team-slack"
    slack = cr["spec"]["receivers"][0]["slackConfigs"][0]
    assert slack["apiURL"] == {"name": alerting.TENANT_SECRET, "key": "team-a_slackWebhookUrl"}
    assert STAND_IN_CONFIG_SECRET not in group.inputs["yaml"]
    index = next(
        i for i, o in enumerate(group.inputs["objs"]) if o["metadata"]["name"] == "alert-receivers"
    )
    assert {p for p in group.secret_paths if p.startswith(f"objs[{index}]")} == {
        f"objs[{index}].stringData.team-a_slackWebhookUrl",
        f"objs[{index}].stringData.team-a_smtpPassword",
    }
    # team-b declares no receivers: no AlertmanagerConfig, no Secret
    assert not [o for o in g.objects() if o.namespace == "team-b" and "alert" in o.name]


def test_alertmanager_egress_opens_receiver_ports_to_public_addresses_only(program):
    g = program("prod")
    policy = g.object("NetworkPolicy", "allow-alertmanager-receivers", monitoring.NAMESPACE)
    assert policy["spec"]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "alertmanager"}
    }
    (rule,) = policy["spec"]["egress"]  # prod's receivers are all public hosts
    assert rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": alerting.NOT_PUBLIC}}]
    assert sorted(p["port"] for p in rule["ports"]) == [25, 443, 465, 587]


def test_a_platform_receiver_on_an_internal_host_gets_its_port_only(program):
    def relay(cfg):
        cfg["platform"]["alerting"] = {
            "receivers": [
                {
                    "name": "relay",
                    "email": {
                        "to": ["ops@example.com"],
                        "from": "am@example.com",
                        "smarthost": "smtp-relay.mail.svc.cluster.local:2525",
                    },
                }
            ]
        }

    g = program("dev", edit=relay)
    policy = g.object("NetworkPolicy", "allow-alertmanager-receivers", monitoring.NAMESPACE)
    public, internal = policy["spec"]["egress"]
    assert [p["port"] for p in internal["ports"]] == [2525]
    assert 2525 not in [p["port"] for p in public["ports"]]


def test_a_missing_platform_credential_fails_before_any_resource():
    config = stack_config("staging")
    secrets = {k: v for k, v in secrets_for("staging").items() if k != "slackWebhookUrl"}
    err = assert_rejected(
        config,
        "platform.alerting.receivers[0].slack.webhookUrlKey: secret config key "
        f"'{PROJECT}:slackWebhookUrl' is not set; run: printf %s \"$VALUE\" | mlplatform secret "
        "set --env staging slackWebhookUrl",
        env="staging",
        secrets=secrets,
    )
    assert len(err.problems) == 1


def test_a_missing_tenant_credential_fails_its_stack_before_any_resource():
    config = copy.deepcopy(stack_config("staging"))
    secrets = {k: v for k, v in secrets_for("staging").items() if k != "team-a_smtpPassword"}
    outputs = {
        "kubeconfig": None,
        "context": "c",
        "release": config["platform"]["release"],
        "components": [],
        "tenantsReady": True,
    }
    refs = {platform_reference(PROJECT, "staging"): outputs}
    try:
        run_stack_program(config, tenant_stack_name("staging", "team-a"), secrets, refs)
    except ConfigError as err:
        assert err.problems == [
            "tenants[team-a].alerting.receivers[1].email.authPasswordKey: secret config key "
            f"'{PROJECT}:team-a_smtpPassword' is not set; run: printf %s \"$VALUE\" | "
            "mlplatform secret set --env staging team-a_smtpPassword"
        ]
        assert err.graph.resources == []  # type: ignore[attr-defined]
    else:
        raise AssertionError("the tenant stack ran without its receiver's password")
