"""Bad stack config is rejected with a precise message before any resource is registered."""

import pytest

from mlplatform.config import ConfigError
from mlplatform.mockrun import run
from tests.conftest import ENVIRONMENTS, assert_rejected, stack_config


def _set(path: str, value):
    def edit(cfg):
        *parents, leaf = path.split(".")
        node = cfg
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        if value is _DELETE:
            del node[leaf]
        else:
            node[leaf] = value

    return edit


_DELETE = object()

BAD = {
    "wrong type for replicas": (
        _set("platform.components.minio.replicas", "three"),
        "platform.components.minio.replicas: Input should be a valid integer",
    ),
    "negative replicas": (
        _set("platform.components.istio.pilotReplicas", -1),
        "platform.components.istio.pilotReplicas: Input should be greater than or equal to 1 (got -1)",
    ),
    "unknown top-level key": (
        _set("platform.colour", "blue"),
        "platform.colour: unknown key; allowed keys here: alerting, cluster,",
    ),
    "typo in component key": (
        _set("platform.components.minoi", {}),
        "platform.components.minoi: unknown key",
    ),
    "typo inside a component": (
        _set("platform.components.minio.storageSize", "1Gi"),
        "platform.components.minio.storageSize: unknown key; allowed keys here: enabled, mode,",
    ),
    "unknown release": (
        _set("platform.release", "2.0"),
        "platform.release: '2.0' is not in the catalogue; choose one of",
    ),
    "kubernetes outside release range": (
        _set("platform.kubernetesVersion", "1.29"),
        "kubernetesVersion 1.29 is outside release 1.11's supported range 1.33-1.34",
    ),
    "kubernetes version not minor form": (
        _set("platform.kubernetesVersion", "v1.33.1"),
        "platform.kubernetesVersion: String should match",
    ),
    "missing environment": (
        _set("platform.environment", _DELETE),
        "platform.environment: required but missing",
    ),
    "missing ingress": (
        _set("platform.ingress", _DELETE),
        "platform.ingress: required but missing",
    ),
    "environment not a DNS label": (
        _set("platform.environment", "Dev_1"),
        "platform.environment: 'Dev_1' is not a DNS-1123 label",
    ),
    "domain not a DNS name": (
        _set("platform.ingress.domain", "ML.Example.com"),
        "platform.ingress.domain: 'ML.Example.com'",
    ),
    "negative storage": (
        _set("platform.components.minio.storage", "-5Gi"),
        "'-5Gi' is not a Kubernetes quantity",
    ),
    "zero storage": (
        _set("platform.components.minio.storage", "0"),
        "'0' must be greater than zero",
    ),
    "bad cpu quantity": (
        _set("platform.components.istio.resources", {"requests": {"cpu": "lots"}}),
        "platform.components.istio.resources.requests.cpu: 'lots' is not a Kubernetes",
    ),
    "standalone minio with replicas": (
        _set("platform.components.minio.replicas", 3),
        "platform.components.minio.replicas: standalone mode runs exactly 1 replica (got 3)",
    ),
    "distributed minio too small": (
        _set("platform.components.minio.mode", "distributed"),
        "distributed mode needs at least 4 replicas",
    ),
    "minio mode unknown": (
        _set("platform.components.minio.mode", "cluster"),
        "platform.components.minio.mode: Input should be 'standalone' or 'distributed'",
    ),
    "mirror without registry": (
        _set("platform.mirror", {"charts": "oci://mirror.local/charts"}),
        "platform.mirror.registry: required but missing",
    ),
    "mirror registry with scheme": (
        _set("platform.mirror", {"registry": "https://mirror.local"}),
        "platform.mirror.registry: 'https://mirror.local' is not a registry host[:port][/path]",
    ),
    "mirror charts bad scheme": (
        _set("platform.mirror", {"registry": "mirror.local:5000", "charts": "ftp://x"}),
        "platform.mirror.charts: 'ftp://x' must be a https or oci URL",
    ),
    "acme without email": (
        _set("platform.ingress.tls", {"issuer": "acme"}),
        "issuer 'acme' needs an acme block",
    ),
    "existing issuer without name": (
        _set("platform.ingress.tls", {"issuer": "existing"}),
        "needs existingClusterIssuer",
    ),
    "tls issuer unknown": (
        _set("platform.ingress.tls.issuer", "vault"),
        "platform.ingress.tls.issuer: Input should be 'selfSigned', 'acme' or 'existing'",
    ),
    "nobody can log in": (
        _set("platform.identity", {}),
        "set staticUsers (dev) or an oidc connector (prod)",
    ),
    "static user email invalid": (
        _set("platform.identity.staticUsers", [{"email": "alice", "username": "alice"}]),
        "platform.identity.staticUsers.0.email: 'alice' is not an email address",
    ),
    "duplicate static user": (
        _set(
            "platform.identity.staticUsers",
            [{"email": "a@x.io", "username": "a"}, {"email": "a@x.io", "username": "b"}],
        ),
        "platform.identity.staticUsers.1.email: staticUsers repeat 'a@x.io' (also staticUsers.0)",
    ),
    "oidc issuer not https": (
        _set("platform.identity.oidc", {"issuer": "http://sso", "clientId": "x"}),
        "platform.identity.oidc.issuer: 'http://sso' must be a https URL",
    ),
    "retention not a duration": (
        _set("platform.components.monitoring.retention", "two days"),
        "platform.components.monitoring.retention: 'two days' is not a duration",
    ),
    "ha with single replicas": (
        _set("platform.highAvailability", True),
        "platform.components.istio.pilotReplicas: highAvailability needs at least 2 replicas (got 1",
    ),
    "platform not an object": (
        lambda cfg: cfg.update(platform=["x"]),
        "platform: must be an object",
    ),
    "api server cidr invalid": (
        _set("platform.network", {"apiServerCidrs": ["10.0.0.300/32"]}),
        "platform.network.apiServerCidrs.0: '10.0.0.300/32' is not a CIDR such as 10.0.0.10/32",
    ),
    "toggle not a bool": (
        _set("platform.components.monitoring.enabled", "sometimes"),
        "platform.components.monitoring.enabled: Input should be a valid boolean",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_config_is_rejected_before_any_resource(case):
    edit, expected = BAD[case]
    cfg = stack_config("dev")
    edit(cfg)
    assert_rejected(cfg, expected)


def test_every_problem_is_reported_at_once():
    cfg = stack_config("dev")
    cfg["platform"]["components"]["minio"]["replicas"] = 0
    cfg["platform"]["ingress"]["domain"] = "Bad Domain"
    cfg["platform"]["oops"] = 1
    with pytest.raises(ConfigError) as err:
        run(cfg, stack="dev")
    assert len(err.value.problems) == 3


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_committed_stacks_are_valid(env):
    from mlplatform.platform import load_config

    assert load_config(stack_config(env)).platform.environment == env
