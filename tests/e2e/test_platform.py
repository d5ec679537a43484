"""The live platform: healthy, Pod Security enforced for tenants, every scenario green."""

from __future__ import annotations

import time

import pytest

from tests.e2e.gate import ENV, KEEP, MISSING, OUT, REASON

pytestmark = pytest.mark.e2e
if MISSING:
    pytest.skip(REASON, allow_module_level=True)

AVAILABLE_TIMEOUT_S = 300
POLL_S = 5
CRASHLOOP = "CrashLoopBackOff"
PRIVILEGED_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "psa-probe"},
    "spec": {
        "containers": [
            {"name": "probe", "image": "busybox", "securityContext": {"privileged": True}}
        ]
    },
}


def _platform_namespaces(core) -> list[str]:
    from mlplatform.manifests import MANAGED_BY

    ((key, value),) = MANAGED_BY.items()
    return sorted(
        n.metadata.name for n in core.list_namespace(label_selector=f"{key}={value}").items
    )


def _unavailable(apps, namespaces: list[str]) -> list[str]:
    bad = []
    for ns in namespaces:
        for d in apps.list_namespaced_deployment(ns).items:
            want = d.spec.replicas if d.spec.replicas is not None else 1
            if (d.status.available_replicas or 0) < want:
                bad.append(f"{ns}/{d.metadata.name} {d.status.available_replicas or 0}/{want}")
    return bad


def test_platform_deployments_available(platform, api):
    from kubernetes import client

    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    namespaces = _platform_namespaces(core)
    assert namespaces, "no namespace labelled as managed by mlplatform: did pulumi up deploy?"
    deadline = time.monotonic() + AVAILABLE_TIMEOUT_S
    while (bad := _unavailable(apps, namespaces)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    assert not bad, f"Deployments not available after {AVAILABLE_TIMEOUT_S}s: {bad}"


def test_no_pod_in_crashloop(platform, api):
    from kubernetes import client

    looping = [
        f"{p.metadata.namespace}/{p.metadata.name}:{s.name}"
        for p in client.CoreV1Api(api).list_pod_for_all_namespaces().items
        for s in (p.status.container_statuses or []) + (p.status.init_container_statuses or [])
        if s.state and s.state.waiting and s.state.waiting.reason == CRASHLOOP
    ]
    assert not looping, f"pods in {CRASHLOOP}: {looping}"


def test_tenant_namespaces_enforce_restricted(platform, api):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from mlplatform.cluster.lifecycle import load_stack

    tenants = load_stack(ENV).tenants
    if not tenants:
        pytest.skip(f"stack {ENV} defines no tenants")
    core = client.CoreV1Api(api)
    for tenant in tenants:
        ns = core.read_namespace(tenant.namespace)
        assert ns.metadata.labels.get("pod-security.kubernetes.io/enforce") == "restricted"
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_pod(tenant.namespace, PRIVILEGED_POD, dry_run="All")
        assert refused.value.status == 403 and "PodSecurity" in refused.value.body


def test_scenarios(platform, kubeconfig, scenario_image, static_users, gateway_url):
    from kubernetes import config as kube_config

    from mlplatform.scenarios.library import Endpoints
    from mlplatform.scenarios.runner import run

    _, active = kube_config.list_kube_config_contexts(config_file=kubeconfig)
    assert active["name"] == platform.context, (
        f"the runner uses the current context of {kubeconfig} ({active['name']}); "
        f"switch it to {platform.context}"
    )
    out_dir = OUT / "scenarios"
    report = run(
        kubeconfig=kubeconfig,
        release=platform.config.release,
        scenarios=None,
        out_dir=out_dir,
        keep_on_failure=KEEP,
        image=scenario_image,
        endpoints=Endpoints(gateway_url=gateway_url),
        users=static_users,
    )
    assert report.passed, f"scenarios failed; report in {out_dir}"
