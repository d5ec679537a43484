"""Inventory arithmetic: replicas, DaemonSets once, Jobs listed not summed, unbounded named."""

from decimal import Decimal

from mlplatform.inventory import inventory, report


def _deploy(kind: str, name: str, resources: dict, replicas: int | None = None, **spec) -> dict:
    pod = {"containers": [{"name": "c", "image": f"reg.io/{name}:1", "resources": resources}]}
    body = {"template": {"spec": pod}, **spec}
    if replicas is not None:
        body["replicas"] = replicas
    if kind == "Job":
        body = {"template": {"spec": pod}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": body}


BOUNDED = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


def test_replicas_multiply_daemonsets_count_once_jobs_do_not_count():
    inv = inventory(
        {
            "a": [
                _deploy("Deployment", "web", BOUNDED, replicas=3),
                _deploy("DaemonSet", "agent", BOUNDED),
                _deploy("Job", "once", BOUNDED),
            ]
        }
    )["a"]
    assert inv.footprint.requests == {"cpu": Decimal("0.4"), "memory": Decimal(4 * 64 * 2**20)}
    assert inv.footprint.limits["cpu"] == Decimal(4)
    assert inv.jobs == ["Job/once"]
    assert inv.images == {"reg.io/web:1", "reg.io/agent:1", "reg.io/once:1"}
    assert inv.unbounded == []


def test_missing_requests_default_to_limits_and_are_named():
    inv = inventory({"a": [_deploy("Deployment", "x", {"limits": {"cpu": "2", "memory": "1Gi"}})]})
    assert inv["a"].footprint.requests["cpu"] == Decimal(2)
    assert inv["a"].unbounded == ["Deployment/x c: no requests.cpu, requests.memory"]


def test_prometheus_resources_count_their_replicas():
    prom = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": "p"},
        "spec": {
            "replicas": 2,
            "image": "quay.io/prometheus/prometheus:v3",
            **{"resources": BOUNDED},
        },
    }
    summary = report(inventory({"monitoring": [prom]}))
    assert summary["total"]["cpuRequests"] == "0.2"
    assert summary["total"]["memoryRequests"] == "128Mi"
    assert summary["images"] == ["quay.io/prometheus/prometheus:v3"]
