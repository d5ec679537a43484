"""Logging under mocks: Loki per environment, tenant = namespace, audit on kind, who reaches Loki.

Loki runs multi-tenant and Alloy names every entry's tenant after the namespace it comes from
(pods: the pod's namespace; Events: the involved object's); a team's logs are one tenant. Only
Alloy (push), Grafana (query) and Prometheus (scrape) reach Loki. The kind cluster writes the
API server's audit log where Alloy reads it and ships it to the platform-audit tenant.
"""

from typing import Any

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)
import pytest
import yaml

from mlplatform import minio_users, releases
from mlplatform.cluster import kind
from mlplatform.components import logging, minio, monitoring
from mlplatform.config import ConfigError
from mlplatform.graph import CHART, CONFIG_GROUP, Graph
from mlplatform.netpol import PROMETHEUS
from mlplatform.platform import load_config
from mlplatform.reachability import Endpoint, Network
from mlplatform.tenancy.objects import TENANT_LABEL
from tests.alloy_syntax import Block, Ref, all_references, parse
from tests.conftest import stack_config

CHARTS = (logging.LOKI, logging.ALLOY, logging.EVENTS)


def values(g: Graph, name: str) -> dict[str, Any]:
    return g.named(name, CHART).inputs["values"]


def alloy(g: Graph, name: str = logging.ALLOY) -> Block:
    return parse(values(g, name)["alloy"]["configMap"]["content"])


def test_present_in_every_environment_at_the_catalogues_versions(program, env_release):
    env, release = env_release
    g = program(*env_release)
    pins = releases.load(release)
    for name, component in zip(CHARTS, ("loki", "alloy", "alloy"), strict=True):
        chart = g.named(name, CHART)
        assert chart.inputs["version"] == pins.component(component).version
    assert g.named(logging.LOKI, CHART).inputs["namespace"] == logging.NAMESPACE
    assert g.named(logging.ALLOY, CHART).inputs["namespace"] == logging.COLLECTOR_NAMESPACE
    levels = {
        name: g.object("Namespace", name)["metadata"]["labels"][
            "pod-security.kubernetes.io/enforce"
        ]
        for name in (logging.NAMESPACE, logging.COLLECTOR_NAMESPACE)
    }
    # Loki is restricted; only the hostPath DaemonSet's own namespace is privileged.
    assert levels == {logging.NAMESPACE: "restricted", logging.COLLECTOR_NAMESPACE: "privileged"}
    cfg = load_config(stack_config(env, release)).platform.components.logging
    loki = values(g, logging.LOKI)
    structured = loki["loki"]["structuredConfig"]
    assert structured["limits_config"]["retention_period"] == cfg.retention
    assert structured["compactor"]["retention_enabled"] is True
    assert loki["singleBinary"]["persistence"]["size"] == str(cfg.storage)


def test_off_means_nothing(program):
    def off(cfg):
        cfg["platform"]["components"]["logging"] = {"enabled": False}

    g = program("dev", edit=off)
    assert not any(g.has(name) for name in (*CHARTS, "logging-base", "logging-monitors"))
    assert not [o for o in g.objects() if o.namespace in (logging.NAMESPACE, "log-collector")]


def test_installed_after_monitoring_and_minio(program, env_release):
    g = program(*env_release)
    kps, store = g.named(monitoring.RELEASE, CHART), g.named("minio", CHART)
    for name in CHARTS:
        chart = g.named(name, CHART)
        assert g.depends_on(chart, kps) and g.depends_on(chart, store)
        assert g.depends_on(chart, g.named("logging-base", CONFIG_GROUP))
    for name in (logging.ALLOY, logging.EVENTS):  # no push before Loki exists
        assert g.depends_on(g.named(name, CHART), g.named(logging.LOKI, CHART))
    monitors = g.named("logging-monitors", CONFIG_GROUP)
    assert all(g.depends_on(monitors, g.named(name, CHART)) for name in CHARTS)
    assert not g.depends_on(kps, g.named(logging.LOKI, CHART))


def test_loki_is_multi_tenant_single_binary_without_hooks_caches_or_gateway(program, env_release):
    v = values(program(*env_release), logging.LOKI)
    assert v["deploymentMode"] == "SingleBinary" and v["loki"]["auth_enabled"] is True
    assert v["singleBinary"]["replicas"] == 1
    assert [v[t]["replicas"] for t in ("read", "write", "backend")] == [0, 0, 0]
    off = ("gateway", "chunksCache", "resultsCache", "lokiCanary", "test", "minio")
    assert {k: v[k]["enabled"] for k in off} == dict.fromkeys(off, False)
    assert v["sidecar"]["rules"]["enabled"] is False
    assert v["monitoring"]["selfMonitoring"]["grafanaAgent"]["installOperator"] is False
    assert v["loki"]["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def _tenant_rules(config: Block, process: str) -> list[dict[str, Any]]:
    return [b.attrs for b in config.block("loki.process", process).all("stage.tenant")]


def test_tenant_is_the_namespace(program, env_release):
    g = program(*env_release)
    pods = alloy(g)
    relabel = pods.block("discovery.relabel", "pods")
    to_namespace = [r.attrs for r in relabel.all("rule") if r.attrs["target_label"] == "namespace"]
    # Only the pod's own namespace sets the label the tenant is read from (no pod label can).
    assert to_namespace == [
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"}
    ]
    assert _tenant_rules(pods, "pods") == [{"label": "namespace"}]
    events = alloy(g, logging.EVENTS)
    assert events.block("loki.source.kubernetes_events", "events").attrs["log_format"] == "json"
    assert _tenant_rules(events, "events") == [{"label": "namespace"}]
    for config in (pods, events):
        write = config.block("loki.write", "loki")
        assert write.attrs["tenant_id"] == logging.CLUSTER_TENANT  # no namespace: cluster
        assert write.block("endpoint").attrs["url"] == f"{logging.LOKI_URL}/loki/api/v1/push"
        names = {f"{b.name}.{b.label}" for b in config.blocks}
        dangling = [r for r in all_references(config) if ".".join(r.split(".")[:-1]) not in names]
        assert dangling == [], "references to components the config does not define"
    # Pods are read from this node only, and every process stage forwards to the one write.
    selector = pods.block("discovery.kubernetes", "pods").block("selectors").attrs["field"]
    assert "spec.nodeName=" in repr(selector) and "HOSTNAME" in repr(selector)
    for process in pods.all("loki.process") + events.all("loki.process"):
        assert process.attrs["forward_to"] == [Ref("loki.write.loki.receiver")]


def test_audit_is_written_on_kind_and_shipped_to_the_platform_tenant(program):
    dev = load_config(stack_config("dev")).platform
    assert dev.components.logging.audit
    g = program("dev")
    pods = alloy(g)
    match = pods.block("local.file_match", "audit").attrs["path_targets"]
    assert match == [{"__path__": f"{kind.AUDIT_LOG_DIR}/*.log", "job": "audit"}]
    assert _tenant_rules(pods, "audit") == [{"value": logging.AUDIT_TENANT}]
    # The API server writes there (kind config), on the node path Alloy's hostPath mounts.
    args = yaml.safe_load(kind.kind_config(dev)["nodes"][0]["kubeadmConfigPatches"][0])
    assert args["apiServer"]["extraArgs"]["audit-log-path"].startswith(kind.AUDIT_LOG_DIR + "/")
    assert (
        kind.AUDIT_LOG_DIR.startswith("/var/log/")
        and values(g, logging.ALLOY)["alloy"]["mounts"]["varlog"]
    )
    # The collector runs on control-plane nodes too (kind taints them NoSchedule).
    tolerations = values(g, logging.ALLOY)["controller"]["tolerations"]
    assert {"operator": "Exists", "effect": "NoSchedule"} in tolerations


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_no_audit_pipeline_where_audit_is_off(program, env):
    assert not load_config(stack_config(env)).platform.components.logging.audit
    pods = alloy(program(env))
    assert [b for b in pods.blocks if b.label == "audit"] == []


def _loki() -> Endpoint:
    return Endpoint(logging.NAMESPACE, dict(logging.LOKI_PODS))


def test_only_alloy_grafana_and_prometheus_reach_loki(program, env_release):
    net = Network(program(*env_release))
    collector = {"app.kubernetes.io/name": "alloy", "app.kubernetes.io/instance": logging.ALLOY}
    events = {**collector, "app.kubernetes.io/instance": logging.EVENTS}
    allowed = {
        "alloy": Endpoint(logging.COLLECTOR_NAMESPACE, collector),
        "alloy-events": Endpoint(logging.COLLECTOR_NAMESPACE, events),
        "grafana": Endpoint(monitoring.NAMESPACE, {"app.kubernetes.io/name": "grafana"}),
        "prometheus": Endpoint(PROMETHEUS["namespace"], PROMETHEUS["pods"]),
    }
    for who, source in allowed.items():
        assert net.can_reach(source, _loki(), logging.LOKI_PORT), who
    denied = {
        "a tenant pod": Endpoint("team-a", {"app": "x"}),
        "a tenant pod named like Alloy": Endpoint("team-a", collector),
        "kubeflow": Endpoint("kubeflow", {"app": "ml-pipeline"}),
        "alertmanager": Endpoint(monitoring.NAMESPACE, {"app.kubernetes.io/name": "alertmanager"}),
        "minio": Endpoint(minio.NAMESPACE, {"app": "minio"}),
    }
    for who, source in denied.items():
        assert not net.can_reach(source, _loki(), logging.LOKI_PORT), who
    # Alloy sends nowhere else in the cluster (e.g. not to a tenant's pods).
    assert not net.can_reach(allowed["alloy"], Endpoint("team-a", {"app": "x"}), 8080)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_loki_on_minio_uses_its_own_user_and_bucket(program, env):
    g = program(env)
    job = g.object("Job", "loki-bucket", minio.NAMESPACE)
    env_vars = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env_vars["BUCKET"] == logging.BUCKET and env_vars["POLICY"] == logging.MINIO_USER
    net = Network(g)
    assert net.can_reach(_loki(), Endpoint(minio.NAMESPACE, {"app": "minio"}), minio.PORT)
    v = values(g, logging.LOKI)
    assert v["loki"]["storage"]["type"] == "s3"
    assert v["loki"]["storage"]["s3"] == {
        "endpoint": minio.ENDPOINT,
        "s3ForcePathStyle": True,
        "insecure": True,
    }  # no keys: Loki reads them from its env, out of the Secret
    assert v["singleBinary"]["extraEnvFrom"] == [
        {"secretRef": {"name": logging.OBJECT_STORE_SECRET}}
    ]
    assert v["loki"]["schemaConfig"]["configs"][0]["object_store"] == "s3"


def test_dev_keeps_loki_on_its_volume(program):
    g = program("dev")
    v = values(g, logging.LOKI)
    assert v["loki"]["storage"] == {"type": "filesystem"}
    assert "extraEnvFrom" not in v["singleBinary"]
    assert not [o for o in g.objects() if o.name in ("loki-bucket", logging.USER_KEYS)]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_object_store_keys_are_secrets(program, env):
    g = program(env)
    base = g.named("logging-base", CONFIG_GROUP)
    found = {}
    for i, obj in enumerate(base.inputs["objs"]):
        if obj.get("kind") == "Secret":
            found[obj["metadata"]["name"]] = {
                key: f"objs[{i}].stringData.{key}" for key in obj["stringData"]
            }
    assert set(found) == {logging.OBJECT_STORE_SECRET, logging.USER_KEYS}
    keys = {minio_users.ACCESS_KEY, minio_users.SECRET_KEY}
    for secret, paths in found.items():
        assert set(paths) == keys, secret
        for path in paths.values():
            covered = any(path == p or path.startswith(p + ".") for p in base.secret_paths)
            assert covered, f"{secret}: {path} is not a Pulumi secret"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_admins_datasource_covers_every_platform_namespace(program, env):
    g = program(env)
    cm = g.object("ConfigMap", logging.DATASOURCES, monitoring.NAMESPACE)
    assert cm["metadata"]["labels"]["grafana_datasource"] == "1"  # kps sidecar default label
    sources = {d["uid"]: d for d in yaml.safe_load(cm["data"]["loki.yaml"])["datasources"]}
    assert set(sources) == {"loki-platform"}  # audit off here
    platform = sources["loki-platform"]
    assert platform["url"] == logging.LOKI_URL and platform["jsonData"] == {
        "httpHeaderName1": "X-Scope-OrgID"
    }
    tenants = set(platform["secureJsonData"]["httpHeaderValue1"].split("|"))
    namespaces = {o.name for o in g.objects() if o.kind == "Namespace"}
    teams = {
        n for n in namespaces if TENANT_LABEL in g.object("Namespace", n)["metadata"]["labels"]
    }
    assert teams, "the environment's tenants are part of this run"
    assert namespaces - teams - tenants == set(), "platform namespaces admins cannot query"
    assert teams & tenants == set(), "team tenants belong to the team (tenant stacks)"
    assert logging.CLUSTER_TENANT in tenants and logging.AUDIT_TENANT not in tenants


def test_audit_datasource_when_audit_and_grafana_are_on(program):
    def grafana(on):
        def edit(cfg):
            cfg["platform"]["components"]["monitoring"]["grafana"] = on

        return edit

    g = program("dev", edit=grafana(True))
    cm = g.object("ConfigMap", logging.DATASOURCES, monitoring.NAMESPACE)
    sources = {d["uid"]: d for d in yaml.safe_load(cm["data"]["loki.yaml"])["datasources"]}
    assert sources["loki-audit"]["secureJsonData"] == {"httpHeaderValue1": logging.AUDIT_TENANT}
    without = program("dev", edit=grafana(False))
    assert not [o for o in without.objects() if o.name == logging.DATASOURCES]


def test_minio_store_needs_minio():
    cfg = stack_config("staging")
    cfg["platform"]["components"]["minio"] = {"enabled": False}
    cfg["platform"]["components"]["pipelines"] = {"enabled": False}
    cfg["platform"]["components"].pop("conformance", None)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert (
        "platform.components.logging.store: store minio needs components.minio.enabled; "
        "enable MinIO or set store: filesystem"
    ) in err.value.problems
