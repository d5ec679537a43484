"""Loki and Alloy rendered by their pinned charts with our values (rung 3b).

The shared cache does not carry these charts yet: every case skips with one line until
`mlplatform upstream pull` (or a full dev cache, MLPLATFORM_UPSTREAM_CACHE) holds
charts/loki/<version> and charts/alloy/<version> with their templates. With them, per
environment x release: the pinned version is the chart's own; our values render no Helm hook
at all (Pulumi never applies them, so nothing can wait on one); the canary, gateway, caches,
test pod and subcharts are gone; every container is bounded; the pods carry the labels our
NetworkPolicies select and the Services the ports our ServiceMonitors and Alloy use; Loki's
generated config is multi-tenant with our retention and store; Alloy reads only /var/log from
the host and runs under our ClusterRoles, not the chart's; Pod Security holds in the
namespaces they run in.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import pytest
import yaml

from mlplatform import inventory, render
from mlplatform.components import logging, monitoring
from mlplatform.platform import load_config
from mlplatform.quantity import parse_quantity
from mlplatform.render import ChartInstall, is_hook
from tests.conftest import stack_config
from tests.pod_security import problems as pod_security_problems
from tests.upstream import CACHE, CASE_IDS, CASES, needs_cache, upstream_graph

pytestmark = [needs_cache, pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)]

Obj = dict[str, Any]
CHART_OF = {logging.LOKI: "loki", logging.ALLOY: "alloy", logging.EVENTS: "alloy"}


def install(env: str, release: str, name: str) -> ChartInstall:
    found = next(i for i in render.charts(upstream_graph(env, release)) if i.name == name)
    assert CACHE is not None and found.chart.startswith(str(CACHE.root / "charts")), found.chart
    return found


@cache
def rendered(env: str, release: str, name: str) -> tuple[Obj, ...]:
    """Every object `helm template` makes of our install, hooks included (namespaced)."""
    assert CACHE is not None
    chart = install(env, release, name)
    version = chart.chart.rstrip("/").split("/")[-1]
    if not CACHE.has_templates(CHART_OF[name], version):
        pytest.skip(
            f"{CHART_OF[name]} {version}: not in {CACHE.root} (run mlplatform upstream pull)"
        )
    objs = render.helm_template(chart)
    for obj in objs:
        if obj.get("kind") not in render.CLUSTER_SCOPED:
            obj.setdefault("metadata", {}).setdefault("namespace", chart.namespace)
    return tuple(objs)


def of_kind(objs: tuple[Obj, ...], kind: str) -> list[Obj]:
    return [o for o in objs if o.get("kind") == kind]


def one(objs: tuple[Obj, ...], kind: str, name: str) -> Obj:
    (found,) = [o for o in of_kind(objs, kind) if o["metadata"]["name"] == name]
    return found


def test_the_pinned_version_is_the_charts_own(env, release):
    assert CACHE is not None
    for name, chart in CHART_OF.items():
        rendered(env, release, name)  # skips without the chart
        version = install(env, release, name).version
        meta = yaml.safe_load((CACHE.chart(chart, version) / "Chart.yaml").read_text())
        assert meta["version"] == version, name


def test_no_hook_and_nothing_extra(env, release):
    workloads = {}
    for name in CHART_OF:
        objs = rendered(env, release, name)
        assert [f"{o['kind']}/{o['metadata']['name']}" for o in objs if is_hook(o)] == [], name
        workloads[name] = sorted(
            f"{o['kind']}/{o['metadata']['name']}"
            for o in objs
            if o["kind"] in inventory.WORKLOADS | {"Job", "CronJob", "Pod"}
        )
    # No canary, gateway, memcached, test pod, MinIO or operators: one pod set per install.
    assert workloads == {
        logging.LOKI: ["StatefulSet/loki"],
        logging.ALLOY: ["DaemonSet/alloy"],
        logging.EVENTS: ["Deployment/alloy-events"],
    }
    loki = one(rendered(env, release, logging.LOKI), "StatefulSet", "loki")
    assert loki["spec"]["replicas"] == 1


def test_every_container_is_bounded(env, release):
    objs = {name: list(rendered(env, release, name)) for name in CHART_OF}
    inventories = inventory.inventory(objs)
    unbounded = [f"{c}: {u}" for c, inv in inventories.items() for u in inv.unbounded]
    assert unbounded == [], "\n".join(unbounded)
    if env == "dev":  # Loki, one Alloy pod per node (three kind nodes) and the events pod
        requests = {r: Decimal(0) for r in ("cpu", "memory")}
        for name, inv in inventories.items():
            nodes = 3 if name == logging.ALLOY else 1
            for r in requests:
                requests[r] += nodes * inv.footprint.requests.get(r, Decimal(0))
        assert requests["cpu"] <= Decimal("0.25") and requests["memory"] <= 768 * 2**20, requests


def _pod_template(obj: Obj) -> Obj:
    return obj["spec"]["template"]


def test_pods_and_services_match_our_policies_and_monitors(env, release):
    loki_objs = rendered(env, release, logging.LOKI)
    loki = _pod_template(one(loki_objs, "StatefulSet", "loki"))
    assert logging.LOKI_PODS.items() <= loki["metadata"]["labels"].items()
    service = one(loki_objs, "Service", logging.LOKI)
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    assert ports["http-metrics"] == logging.LOKI_PORT  # LOKI_URL and the ServiceMonitor
    expected = f"http://{service['metadata']['name']}.{logging.NAMESPACE}.svc.cluster.local:3100"
    assert expected == logging.LOKI_URL
    headless = one(loki_objs, "Service", "loki-headless")
    assert headless["metadata"]["labels"]["prometheus.io/service-monitor"] == "false"
    for name, kind in ((logging.ALLOY, "DaemonSet"), (logging.EVENTS, "Deployment")):
        objs = rendered(env, release, name)
        pod = _pod_template(one(objs, kind, name))
        labels = pod["metadata"]["labels"]
        assert logging.ALLOY_PODS.items() <= labels.items()
        assert labels["app.kubernetes.io/instance"] == name  # the ServiceMonitor's selector
        svc = one(objs, "Service", name)
        assert svc["metadata"]["labels"]["app.kubernetes.io/instance"] == name
        svc_ports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
        assert svc_ports["http-metrics"] == logging.ALLOY_PORT


def _loki_config(env: str, release: str) -> Obj:
    cm = one(rendered(env, release, logging.LOKI), "ConfigMap", "loki")
    return yaml.safe_load(cm["data"]["config.yaml"])


def test_lokis_config_is_multi_tenant_with_our_retention_and_store(env, release):
    cfg = load_config(stack_config(env, release)).platform.components.logging
    config = _loki_config(env, release)
    assert config["auth_enabled"] is True
    assert config["common"]["replication_factor"] == 1  # one single binary
    assert config["limits_config"]["retention_period"] == cfg.retention
    assert config["compactor"]["retention_enabled"] is True
    assert config["querier"]["multi_tenant_queries_enabled"] is True
    store = "s3" if cfg.store == "minio" else "filesystem"
    assert config["compactor"]["delete_request_store"] == store
    assert [c["object_store"] for c in config["schema_config"]["configs"]] == [store]
    common = config["common"]["storage"]
    assert list(common) == [store]
    if store == "s3":
        assert common["s3"]["bucketnames"] == logging.BUCKET
        assert not {"access_key_id", "secret_access_key"} & set(common["s3"])  # from env
        pod = _pod_template(one(rendered(env, release, logging.LOKI), "StatefulSet", "loki"))
        (container,) = pod["spec"]["containers"]
        assert {"secretRef": {"name": logging.OBJECT_STORE_SECRET}} in container["envFrom"]


def test_alloy_reads_only_var_log_and_no_secret(env, release):
    objs = rendered(env, release, logging.ALLOY)
    pod = _pod_template(one(objs, "DaemonSet", logging.ALLOY))["spec"]
    host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert host == {"varlog": "/var/log"}
    alloy = next(c for c in pod["containers"] if c["name"] == "alloy")
    mount = next(m for m in alloy["volumeMounts"] if m["name"] == "varlog")
    assert mount["readOnly"] is True
    config = one(objs, "ConfigMap", logging.ALLOY)["data"]["config.alloy"]
    ours = install(env, release, logging.ALLOY).values["alloy"]["configMap"]["content"]
    assert config.strip() == ours.strip()
    # The chart's ClusterRole (Secrets and ConfigMaps cluster-wide) is off; ours is bound to
    # the ServiceAccount the chart makes and its pods run as.
    bindings = {b["subjects"][0]["name"]: b for b in logging.collector_roles()[1::2]}
    for name, kind in ((logging.ALLOY, "DaemonSet"), (logging.EVENTS, "Deployment")):
        objs = rendered(env, release, name)
        assert not of_kind(objs, "ClusterRole") and not of_kind(objs, "ClusterRoleBinding")
        account = one(objs, "ServiceAccount", name)["metadata"]["name"]
        assert _pod_template(one(objs, kind, name))["spec"]["serviceAccountName"] == account
        assert bindings[account]["subjects"][0]["namespace"] == logging.COLLECTOR_NAMESPACE


def test_pod_security_holds_where_they_run(env, release):
    levels = {logging.NAMESPACE: "restricted", logging.COLLECTOR_NAMESPACE: "privileged"}
    found = {}
    for name in CHART_OF:
        for obj in rendered(env, release, name):
            if obj["kind"] in inventory.WORKLOADS:
                ns = obj["metadata"]["namespace"]
                found[obj["metadata"]["name"]] = pod_security_problems(
                    _pod_template(obj), levels[ns]
                )
    assert found == {"loki": [], "alloy": [], "alloy-events": []}
    # The events collector needs no privilege: it would pass restricted as well.
    events = one(rendered(env, release, logging.EVENTS), "Deployment", logging.EVENTS)
    assert pod_security_problems(_pod_template(events), "restricted") == []
    # Only the hostPath keeps the collector out of baseline.
    collector = one(rendered(env, release, logging.ALLOY), "DaemonSet", logging.ALLOY)
    assert pod_security_problems(_pod_template(collector), "baseline") == [
        "volume varlog: hostPath"
    ]


def test_storage_is_the_configured_size(env, release):
    cfg = load_config(stack_config(env, release)).platform.components.logging
    sts = one(rendered(env, release, logging.LOKI), "StatefulSet", "loki")
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    size = claim["spec"]["resources"]["requests"]["storage"]
    assert parse_quantity(size) == parse_quantity(str(cfg.storage))


def test_grafana_picks_up_our_datasources_and_is_the_pod_loki_admits(env, release):
    """kube-prometheus-stack's Grafana: its datasource sidecar watches ConfigMaps labelled as
    ours in its own namespace, and its pods carry the labels Loki's NetworkPolicy admits."""
    assert CACHE is not None
    kps = install(env, release, monitoring.RELEASE)
    version = kps.chart.rstrip("/").split("/")[-1]
    values = yaml.safe_load(
        (CACHE.chart("kube-prometheus-stack", version) / "values.yaml").read_text()
    )
    sidecar = values["grafana"]["sidecar"]["datasources"]
    assert sidecar["enabled"] is True
    assert {sidecar["label"]: sidecar["labelValue"]} == logging.DATASOURCE_LABEL
    assert not sidecar.get("searchNamespace")  # the release's namespace: monitoring
    assert kps.namespace == monitoring.NAMESPACE
    if not CACHE.has_templates("kube-prometheus-stack", version):
        pytest.skip(f"kube-prometheus-stack {version}: no templates in {CACHE.root}")
    (grafana,) = [
        o
        for o in render.helm_template(kps)
        if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-grafana")
    ]
    labels = grafana["spec"]["template"]["metadata"]["labels"]
    assert logging.GRAFANA_PODS.items() <= labels.items()
