"""Input that can never hurt the platform: every stack-config and tenant problem is refused
(or, where legal but doubtful, warned about) in one pass, at its exact field path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from mlplatform import stackconfig
from mlplatform.config import ConfigError
from mlplatform.platform import Stack, load_config
from mlplatform.policies.config_check import pack_config_problems, waiver_problems
from mlplatform.policies.waivers import Waiver
from mlplatform.tenancy.objects import tenant_namespace
from mlplatform.tenancy.spec import reserved_label_problem
from tests.conftest import stack_config


def tenant(**extra: Any) -> dict[str, Any]:
    return {"name": "team-x", "owners": ["xavier@example.com"], **extra}


def with_tenant(entry: dict[str, Any], env: str = "dev") -> dict[str, Any]:
    cfg = stack_config(env)
    cfg["tenants"].append(entry)
    return cfg


def problems(cfg: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    return err.value.problems


def refused(cfg: dict[str, Any], expected: str) -> None:
    found = problems(cfg)
    assert any(p.startswith(expected) for p in found), found


def accepted(cfg: dict[str, Any]) -> Stack:
    return load_config(cfg)


# --- unknown keys ----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["tenant", "platfrom"])
def test_unknown_top_level_key_is_refused_naming_the_known_ones(key):
    cfg = stack_config("dev")
    cfg[key] = {"anything": 1}
    refused(cfg, f"mlplatform:{key}: unknown stack config key; known keys: mlplatform:platform, ")


def test_the_oidc_secret_key_the_config_names_is_known():
    cfg = stack_config("prod")
    cfg["oidcClientSecret"] = "s3cret"
    accepted(cfg)
    cfg["platform"]["identity"]["oidc"]["clientSecretKey"] = "ssoSecret"
    refused(cfg, "mlplatform:oidcClientSecret: unknown stack config key; known keys: ")


def _write_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(stackconfig, "STACKS_DIR", tmp_path)
    (tmp_path / "Pulumi.t.yaml").write_text(text)


def test_read_stack_file_refuses_unknown_keys(tmp_path, monkeypatch):
    _write_stack(tmp_path, monkeypatch, "config:\n  mlplatform:tenant: []\n  k8s:x: 1\n")
    with pytest.raises(ValueError, match=r"mlplatform:tenant: unknown stack config key"):
        stackconfig.read_stack_file("t")
    _write_stack(tmp_path, monkeypatch, "config:\n  mlplatform:tenants: []\n  k8s:x: 1\n")
    assert stackconfig.read_stack_file("t") == ({"tenants": []}, set())


def test_repeated_yaml_key_is_refused_not_last_one_wins(tmp_path, monkeypatch):
    text = (
        "config:\n  mlplatform:tenants:\n    - name: a\n      kueue:\n        quota:\n"
        "          cpu: {cpu: '1'}\n          cpu: {cpu: '9'}\n"
    )
    _write_stack(tmp_path, monkeypatch, text)
    with pytest.raises(ValueError, match=r"key 'cpu' appears twice in one mapping \(lines 6 and 7"):
        stackconfig.read_stack_file("t")
    _write_stack(tmp_path, monkeypatch, text.replace("cpu: {cpu: '9'}", "gpu: {cpu: '9'}"))
    assert stackconfig.read_stack_file("t")[0]["tenants"][0]["kueue"]["quota"]["gpu"]


# --- cross-field rules ------------------------------------------------------------------


def test_requests_above_limits_are_refused_at_the_request():
    cfg = stack_config("dev")
    minio = cfg["platform"]["components"].setdefault("minio", {})
    minio["resources"] = {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1"}}
    refused(cfg, "platform.components.minio.resources.requests.cpu: request 2 exceeds the limit 1")
    minio["resources"]["limits"]["cpu"] = "2"
    accepted(cfg)


def test_tenant_container_defaults_requests_within_limits():
    defaults = {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}
    refused(
        with_tenant(tenant(containerDefaults=defaults)),
        "tenants[2].containerDefaults.requests.memory: request 2Gi exceeds the limit 1Gi",
    )
    defaults["limits"]["memory"] = "2Gi"
    accepted(with_tenant(tenant(containerDefaults=defaults)))


def quota_warnings(cfg: dict[str, Any]) -> tuple[str, ...]:
    return tuple(w for w in accepted(cfg).warnings if ".quota." in w)


def test_kueue_quota_above_the_namespace_quota_is_a_warning():
    # The committed stacks give every tenant room for its whole Kueue quota.
    for env in ("dev", "staging", "prod"):
        assert quota_warnings(stack_config(env)) == (), env
    entry = tenant(quota={"cpu": "8"}, kueue={"quota": {"cpu": {"cpu": "12"}}})
    assert quota_warnings(with_tenant(entry)) == (
        "tenants[2].quota.cpu: the namespace quota 8 is below the Kueue nominal cpu quota 12 "
        "(summed over flavors: cpu: 12); raise quota.cpu or lower kueue.quota, or admitted "
        "workloads will not fit in the namespace",
    )
    entry["kueue"]["quota"]["cpu"]["cpu"] = "8"
    assert quota_warnings(with_tenant(entry)) == ()


def test_bucket_quota_without_a_bucket_is_refused():
    refused(
        with_tenant(tenant(storage={"bucket": False, "quota": "5Gi"})),
        "tenants[2].storage.quota: a bucket quota (5Gi) with bucket: false",
    )
    # Turning the bucket off drops the template's quota instead of contradicting it.
    stack = accepted(with_tenant(tenant(storage={"bucket": False})))
    assert stack.tenants[-1].storage.quota is None


def test_duplicate_tenant_name_is_reported_even_when_the_entry_is_invalid():
    found = problems(with_tenant(tenant(name="team-a", owners=["nobody"])))
    assert any(p.startswith("tenants[2].name: 'team-a' is already tenants[0]") for p in found)
    assert any(p.startswith("tenants[2].owners[0]: 'nobody' is not an email") for p in found)


def test_duplicate_flavor_is_refused_at_the_second():
    cfg = stack_config("dev")
    flavors = cfg["platform"]["components"]["kueue"]["flavors"]
    flavors.append(dict(flavors[0]))
    refused(cfg, f"platform.components.kueue.flavors.{len(flavors) - 1}.name: ")


# --- isolation --------------------------------------------------------------------------

RESERVED = [
    "pod-security.kubernetes.io/enforce",
    "pod-security.kubernetes.io/warn",
    "istio-injection",
    "istio.io/rev",
    "app.kubernetes.io/managed-by",
    "mlplatform.io/tenant",
    "mlplatform.io/object-store-client",
    "pipelines.kubeflow.org/enabled",
    "serving.kubeflow.org/inferenceservice",
    "kubernetes.io/metadata.name",
    "node.k8s.io/anything",
]


@pytest.mark.parametrize("key", RESERVED)
def test_tenant_labels_cannot_set_platform_namespace_labels(key):
    refused(with_tenant(tenant(labels={key: "privileged"})), f"tenants[2].labels.{key}: ")
    cfg = stack_config("dev")
    cfg["platform"]["tenantDefaults"]["labels"] = {key: "x"}
    refused(cfg, f"platform.tenantDefaults.labels.{key}: ")


def test_own_labels_are_fine():
    labels = {"example.com/team": "vision", "cost-center": "cc-1"}
    assert accepted(with_tenant(tenant(labels=labels))).tenants[-1].labels == labels


def test_every_label_the_platform_sets_on_a_tenant_namespace_is_reserved():
    stack = accepted(stack_config("prod"))
    for spec in stack.tenants:
        labels = tenant_namespace(spec, stack.platform)["metadata"]["labels"]
        platform_set = set(labels) - set(spec.labels)
        assert platform_set and all(reserved_label_problem(k) for k in platform_set)


def test_pod_security_never_below_the_floor():
    refused(
        with_tenant(tenant(podSecurity="privileged")),
        "tenants[2].podSecurity: 'privileged' is below the platform floor 'baseline'",
    )
    cfg = stack_config("dev")
    cfg["platform"]["tenantDefaults"]["podSecurity"] = "privileged"
    refused(cfg, "platform.tenantDefaults.podSecurity: 'privileged' is below the platform floor")
    assert accepted(with_tenant(tenant(podSecurity="baseline"))).tenants[-1].pod_security == (
        "baseline"
    )


# --- API-server bounds, URLs, emails ----------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"cost": "v" * 64}, "tenants[2].labels.cost: "),
        ({"k" * 64: "v"}, f"tenants[2].labels.{'k' * 64}: "),
        ({f"{'a' * 254}/k": "v"}, "tenants[2].labels."),
        ({"bad..prefix/k": "v"}, "tenants[2].labels.bad..prefix/k: 'bad..prefix/k' is not a"),
        ({"cost": "-x"}, "tenants[2].labels.cost: '-x' is not a label value"),
    ],
)
def test_label_keys_and_values_have_the_api_server_bounds(labels, expected):
    refused(with_tenant(tenant(labels=labels)), expected)


def test_label_bounds_compliant_at_the_limit():
    labels = {f"{'a' * 63}.{'b' * 63}/{'k' * 63}": "v" * 63, "empty": ""}
    accepted(with_tenant(tenant(labels=labels)))


def test_display_name_is_bounded_and_single_line():
    refused(with_tenant(tenant(displayName="x" * 257)), "tenants[2].displayName: ")
    refused(with_tenant(tenant(displayName="a\nb")), "tenants[2].displayName: ")
    accepted(with_tenant(tenant(displayName="Team X (vision) ✓" + "x" * 200)))


def test_domain_labels_are_at_most_63():
    cfg = stack_config("dev")
    cfg["platform"]["ingress"]["domain"] = f"{'a' * 64}.example.com"
    refused(cfg, "platform.ingress.domain: ")
    cfg["platform"]["ingress"]["domain"] = f"{'a' * 63}.example.com"
    accepted(cfg)


@pytest.mark.parametrize(
    ("path", "bad", "good"),
    [
        ("ingress.tls.acme.server", "http://acme.internal/dir", "https://acme.internal/dir"),
        ("identity.oidc.issuer", "http://sso.example.com", "https://sso.example.com"),
        ("mirror.charts", "http://mirror.corp/charts", "oci://mirror.corp/charts"),
        ("mirror.files", "http://mirror.corp/files", "https://mirror.corp/files"),
        ("mirror.files", "https://u:p@mirror.corp/files", "https://mirror.corp/files"),
    ],
)
def test_urls_carrying_credentials_or_code_are_https(path, bad, good):
    cfg = stack_config("prod")
    cfg["platform"]["mirror"] = {"registry": "mirror.corp:5000"}
    *parents, leaf = path.split(".")
    node = cfg["platform"]
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = bad
    refused(cfg, f"platform.{path}: '{bad}' ")
    node[leaf] = good
    accepted(cfg)


@pytest.mark.parametrize("email", ["alice@localhost", "alice@ml.local", "a@b", "al ice@x.io"])
def test_emails_are_validated_by_email_validator(email):
    refused(with_tenant(tenant(owners=[email])), f"tenants[2].owners[0]: {email!r} is not an email")


def test_valid_email_is_accepted():
    accepted(with_tenant(tenant(owners=["x.y+ml@sub.example.org"])))


# --- one pass, exact paths --------------------------------------------------------------


def test_platform_and_tenant_problems_are_reported_together_at_exact_paths():
    cfg = with_tenant(tenant(quota={"gpu": -1}, labels={"istio-injection": "disabled"}))
    cfg["platform"]["components"]["minio"]["replicas"] = 3
    cfg["platform"]["colour"] = "blue"
    cfg["tenant"] = []
    found = problems(cfg)
    for expected in (
        "mlplatform:tenant: unknown stack config key",
        "platform.components.minio.replicas: standalone mode runs exactly 1 replica (got 3)",
        "platform.colour: unknown key",
        "tenants[2].quota.gpu: Input should be greater than or equal to 0 (got -1)",
        "tenants[2].labels.istio-injection: ",
    ):
        assert any(p.startswith(expected) for p in found), (expected, found)
    assert len(found) == 5, found


def test_high_availability_names_every_single_replica_field():
    cfg = stack_config("dev")
    cfg["platform"]["highAvailability"] = True
    found = problems(cfg)
    assert "platform.components.istio.pilotReplicas" in {p.split(":")[0] for p in found}
    assert "platform.identity.dexReplicas" in {p.split(":")[0] for p in found}


# --- policy config and waivers ----------------------------------------------------------


def _waiver(policy: str) -> Waiver:
    return Waiver(
        policy=policy,
        resource="DaemonSet/monitoring/*",
        reason="reads node logs until upstream ships a log API",
        reviewer="sec@example.com",
        expires=dt.date(2099, 1, 1),
    )


def test_policy_config_naming_an_unknown_policy_is_an_error():
    found = pack_config_problems({"no-host-pth": "advisory"}, waivers=[])
    assert found[0].startswith("no-host-pth: unknown policy 'no-host-pth'; did you mean")
    assert pack_config_problems({"no-host-path": "advisory"}, waivers=[]) == []


def test_policy_config_levels_and_settings_are_checked():
    config = {"no-host-path": {"enforcementLevel": "loud", "alowed": []}}
    assert pack_config_problems(config, waivers=[]) == [
        "no-host-path.enforcementLevel: 'loud' is not a level; use one of mandatory, "
        "advisory, disabled",
        "no-host-path.alowed: unknown setting; settings of no-host-path: allowed",
    ]


def test_waiver_naming_an_unknown_policy_is_an_error():
    assert waiver_problems([_waiver("no-host-path"), _waiver("no-hostpath")]) == [
        "waivers[1].policy: unknown policy 'no-hostpath'; did you mean 'no-host-path'? known: "
        + ", ".join(sorted(p for p in _known_policies()))
    ]
    assert pack_config_problems({}, waivers=[_waiver("no-host-path")]) == []


def _known_policies() -> list[str]:
    from mlplatform.policies.registry import POLICIES

    return [p.name for p in POLICIES]


@pytest.mark.parametrize("env", stackconfig.environments())
def test_committed_stacks_validate(env):
    values, _ = stackconfig.read_stack_file(env)
    assert load_config(values).platform.environment == env
