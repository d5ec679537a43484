"""Monitoring, MinIO and cert-manager under mocks: nothing left to Helm hooks, small footprint.

Pulumi's helm.v4.Chart never applies hooks: cert-manager (installed first) issues the
monitoring operator's webhook certificate, our own Job creates MinIO's platform buckets, and
every container these charts run is sized through chart values taken from config.
"""

import subprocess
from decimal import Decimal
from typing import Any

import pulumi_kubernetes  # noqa: F401  (imported before mocks run, like the program does)

from mlplatform import minio_users
from mlplatform.components import certmanager, minio, monitoring
from mlplatform.graph import CHART, CONFIG_GROUP, KUSTOMIZE
from mlplatform.quantity import parse_quantity
from tests.conftest import stack_config


def values(g, chart: str) -> dict[str, Any]:
    return g.named(chart, CHART).inputs["values"]


def at(tree: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        tree = tree[part]
    return tree


def test_cert_manager_comes_before_monitoring(program, env_release):
    g = program(*env_release)
    kps, cm = g.named(monitoring.RELEASE, CHART), g.named(certmanager.RELEASE, CHART)
    assert g.depends_on(kps, cm), "the operator's Certificate needs cert-manager's CRDs"
    assert not g.depends_on(cm, kps), "cert-manager must not wait for monitoring (a cycle)"
    assert not g.depends_on(g.named("cluster-issuers", CONFIG_GROUP), kps)
    operator = values(g, monitoring.RELEASE)["prometheusOperator"]
    assert operator["admissionWebhooks"] == {"certManager": {"enabled": True}}  # chart's own CA
    assert "tls" not in operator  # on (the default), from the Secret cert-manager writes


def test_cert_managers_service_monitor_follows_monitorings_crds(program, env_release):
    g = program(*env_release)
    prometheus = values(g, certmanager.RELEASE)["prometheus"]
    assert prometheus == {"enabled": True, "servicemonitor": {"enabled": False}}
    monitors = g.named("platform-monitors", CONFIG_GROUP)
    assert g.depends_on(monitors, g.named(monitoring.RELEASE, CHART))
    sm = g.object("ServiceMonitor", certmanager.RELEASE, certmanager.NAMESPACE)
    names = sm["spec"]["selector"]["matchExpressions"][0]["values"]
    assert set(names) == {"cert-manager", "cainjector", "webhook"}
    assert sm["spec"]["endpoints"][0]["targetPort"] == "http-metrics"


def test_without_cert_manager_the_operator_needs_no_certificate(program):
    def no_cert_manager(cfg):
        cfg["platform"]["components"]["certManager"] = {"enabled": False}
        cfg["platform"]["ingress"]["tls"] = {"issuer": "existing", "existingClusterIssuer": "ca"}
        for needs_certificates in ("katib", "notebooks"):  # their webhooks' certificates
            cfg["platform"]["components"][needs_certificates] = {"enabled": False}

    g = program("dev", edit=no_cert_manager)
    operator = values(g, monitoring.RELEASE)["prometheusOperator"]
    assert operator["admissionWebhooks"] == {"enabled": False}
    assert operator["tls"] == {"enabled": False}
    assert not g.has("platform-monitors")


def test_startupapicheck_and_grafana_tests_are_off(program, env_release):
    g = program(*env_release)
    assert values(g, certmanager.RELEASE)["startupapicheck"] == {"enabled": False}
    assert values(g, monitoring.RELEASE)["grafana"]["testFramework"] == {"enabled": False}


# Where each container's resources go, and the config they come from (None: a constant).
KPS_RESOURCES = {
    "prometheus.prometheusSpec.resources": "resources",
    "alertmanager.alertmanagerSpec.resources": "alertmanagerResources",
    "prometheusOperator.resources": "operatorResources",
    "prometheusOperator.prometheusConfigReloader.resources": None,
    "kube-state-metrics.resources": "kubeStateMetricsResources",
    "prometheus-node-exporter.resources": "nodeExporterResources",
    "grafana.resources": "grafanaResources",
    "grafana.sidecar.resources": None,
}


def bounded(resources: dict[str, Any]) -> bool:
    return all(
        resources.get(k, {}).get(r) for k in ("requests", "limits") for r in ("cpu", "memory")
    )


def test_every_container_is_sized_through_chart_values(program, env_release):
    env, release = env_release
    g = program(env, release)
    cfg = stack_config(env, release)["platform"]["components"]
    kps = values(g, monitoring.RELEASE)
    for path, key in KPS_RESOURCES.items():
        assert bounded(at(kps, path)), path
        if key and key in cfg.get("monitoring", {}):
            assert at(kps, path) == cfg["monitoring"][key], path
    assert bounded(values(g, "minio")["resources"])
    cm = values(g, certmanager.RELEASE)
    for part in (cm, cm["webhook"], cm["cainjector"]):
        assert bounded(part["resources"])


def requests(resources: dict[str, Any], times: float = 1) -> tuple[Decimal, Decimal]:
    req = resources["requests"]
    n = int(times)  # replicas come back from the mocks as floats
    return parse_quantity(req["cpu"]) * n, parse_quantity(req["memory"]) * n


def test_dev_share_is_well_under_half_the_budget(program):
    g = program("dev")
    kps, cm = values(g, monitoring.RELEASE), values(g, certmanager.RELEASE)
    prometheus = kps["prometheus"]["prometheusSpec"]
    alertmanager = kps["alertmanager"]["alertmanagerSpec"]
    reloader = kps["prometheusOperator"]["prometheusConfigReloader"]["resources"]
    parts = [
        requests(prometheus["resources"], prometheus["replicas"]),
        requests(alertmanager["resources"], alertmanager["replicas"]),
        requests(reloader, prometheus["replicas"] + alertmanager["replicas"]),
        requests(kps["prometheusOperator"]["resources"]),
        requests(kps["kube-state-metrics"]["resources"]),
        requests(kps["prometheus-node-exporter"]["resources"]),  # one kind node
        requests(values(g, "minio")["resources"]),
        *(
            requests(p["resources"], cm["replicaCount"])
            for p in (cm, cm["webhook"], cm["cainjector"])
        ),
    ]
    grafana = kps["grafana"]
    assert grafana["enabled"] is True  # on in every environment, small in dev
    parts += [
        requests(grafana["resources"]),
        requests(grafana["sidecar"]["resources"], 2),  # dashboards and datasources sidecars
    ]
    cpu, memory = (sum(p[i] for p in parts) for i in (0, 1))
    assert cpu <= Decimal("0.5") and memory <= 1 * 2**30, (cpu, memory)  # of 4 CPU / 8 GiB


def test_platform_buckets_come_from_our_job_not_the_charts_hook(program, env_release):
    env, release = env_release
    g = program(env, release)
    chart = values(g, "minio")
    # The chart's post-job hook is the only reader of these; its default user too.
    assert not any(chart.get(k) for k in ("buckets", "policies", "svcaccts", "customCommands"))
    assert chart["users"] == []
    job = g.object("Job", minio.BUCKETS_JOB, minio.NAMESPACE)
    container = job["spec"]["template"]["spec"]["containers"][0]
    env_vars = {e["name"]: e.get("value") for e in container["env"]}
    assert env_vars["BUCKETS"].split() == list(minio.PLATFORM_BUCKETS)
    assert container["command"][-1] == minio_users.BUCKETS_SCRIPT
    buckets = g.named("minio-buckets", CONFIG_GROUP)
    assert g.depends_on(buckets, g.named("minio", CHART)), "the server must be up first"
    if g.has("kfp"):
        assert g.depends_on(g.named("kfp", KUSTOMIZE), buckets)


def test_buckets_job_uses_the_catalogue_mc_image(program, env_release):
    from mlplatform import releases

    env, release = env_release
    job = program(env, release).object("Job", minio.BUCKETS_JOB, minio.NAMESPACE)
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == releases.load(release).component("minio").images["mc"]


def test_buckets_script_creates_each_bucket_only_when_missing(tmp_path):
    """The Job's script against a stand-in `mc` that records its arguments."""
    log = tmp_path / "calls"
    mc = tmp_path / "mc"
    mc.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    mc.chmod(0o755)
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "MINIO_ENDPOINT": minio.ENDPOINT,
        "ROOT_USER": "root",
        "ROOT_PASSWORD": "pw",
        "BUCKETS": " ".join(minio.PLATFORM_BUCKETS),
    }
    subprocess.run(["/bin/sh", "-c", minio_users.BUCKETS_SCRIPT], env=env, check=True)
    assert log.read_text().splitlines() == [
        f"alias set platform http://{minio.ENDPOINT} root pw",
        *(f"mb --ignore-existing platform/{b}" for b in minio.PLATFORM_BUCKETS),
    ]
