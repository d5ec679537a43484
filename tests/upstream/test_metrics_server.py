"""Rung 3b: the metrics-server chart at every pinned version, from the upstream cache.

Every environment at its release (and dev on every release) rendered with the chart's own
templates: the version and image are the chart's; every value we pass is read, no schema to
satisfy and no hook relied on; the APIService reaches the container's secure port (verified
through cert-manager where the chart can); kubelet TLS is skipped in dev only; prod is HA; the
pods carry the labels our NetworkPolicies select; the policy pack passes. A cache without this
chart (the shared one in CI) skips with one line.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform import releases, render
from mlplatform.components import metrics_server as ms
from mlplatform.graph import Graph
from mlplatform.mockrun import stack_inputs
from mlplatform.policies import views
from mlplatform.policies.registry import evaluate as evaluate_policies
from mlplatform.render import ChartInstall
from tests.conftest import KUBERNETES_FOR, evaluate
from tests.upstream import CACHE, CASE_IDS, CASES, facts, needs_cache, upstream_graph
from tests.upstream.test_charts import leaves, read_by

CHART = "metrics-server"
MIRROR = "mirror.corp:5000/ml"
pytestmark = [needs_cache, pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)]


def chart_dir(release: str) -> Path:
    """The pinned chart in the cache, or a one-line skip."""
    assert CACHE is not None
    version = releases.load(release).component("metrics_server").version
    if not CACHE.has_templates(CHART, version):
        pytest.skip(f"charts/{CHART}/{version} (with templates) not in {CACHE.root}")
    return CACHE.chart(CHART, version)


@cache
def graph(env: str, release: str) -> Graph:
    return upstream_graph(env, release)


def install(env: str, release: str) -> ChartInstall:
    (found,) = [i for i in render.charts(graph(env, release)) if i.name == ms.RELEASE]
    return found


@cache
def rendered(env: str, release: str) -> tuple[dict[str, Any], ...]:
    return tuple(render.helm_template(install(env, release), KUBERNETES_FOR[release]))


def of_kind(env: str, release: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in rendered(env, release) if o["kind"] == kind]


def one(env: str, release: str, kind: str) -> dict[str, Any]:
    (obj,) = of_kind(env, release, kind)
    return obj


def test_pinned_version_and_image_are_the_charts_own(env, release):
    root = chart_dir(release)
    meta = yaml.safe_load((root / "Chart.yaml").read_text())
    pin = releases.load(release).component("metrics_server")
    assert meta["name"] == CHART and str(meta["version"]) == pin.version
    assert install(env, release).version == pin.version
    assert "kubeVersion" not in meta  # no range declared: the README's matrix is the pin's note
    image = f"registry.k8s.io/metrics-server/metrics-server:v{meta['appVersion']}"
    assert facts(CHART, pin.version)["images_with_default_values"] == [image]
    (container,) = one(env, release, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image
    assert f"metrics-server:v{meta['appVersion']}" in (pin.notes or "")
    # What the component module says are the chart's defaults, at this pin.
    defaults = yaml.safe_load((root / "values.yaml").read_text())
    assert defaults["securityContext"] == ms.SECURITY_CONTEXT
    assert defaults["priorityClassName"] == ms.PRIORITY_CLASS
    assert defaults["containerPort"] == ms.PORT
    assert defaults["apiService"]["insecureSkipTLSVerify"] is True
    assert ("tls" in defaults) is (ms.verified_api_service(pin.version, cert_manager=True))


def test_every_value_we_pass_is_read_and_no_hook_is_relied_on(env, release):
    root = chart_dir(release)
    read = read_by(CHART, root.name)
    unread = [
        leaf
        for leaf in leaves(install(env, release).values)
        if not {".".join(leaf.split(".")[:i]) for i in range(1, leaf.count(".") + 2)} & read
    ]
    assert unread == []
    assert not (root / "values.schema.json").exists()
    assert facts(CHART, root.name)["hooks_with_default_values"] == []
    assert not [o for o in rendered(env, release) if render.is_hook(o)]


def test_api_service_reaches_the_secure_port(env, release):
    chart_dir(release)
    api = one(env, release, "APIService")
    assert api["metadata"]["name"] == ms.API_SERVICE
    ref = api["spec"]["service"]
    service = one(env, release, "Service")
    assert (ref["name"], ref["namespace"]) == (service["metadata"]["name"], ms.NAMESPACE)
    (port,) = service["spec"]["ports"]
    assert ref["port"] == port["port"] and port["targetPort"] == "https"
    pod = one(env, release, "Deployment")["spec"]["template"]
    assert ms.POD_LABELS.items() <= service["spec"]["selector"].items()
    assert ms.POD_LABELS.items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert {"name": "https", "protocol": "TCP", "containerPort": ms.PORT} in container["ports"]
    assert f"--secure-port={ms.PORT}" in container["args"]


def test_api_service_verified_through_cert_manager_where_the_chart_can(env, release):
    root = chart_dir(release)
    api = one(env, release, "APIService")
    verified = ms.verified_api_service(root.name, cert_manager=True)
    assert api["spec"]["insecureSkipTLSVerify"] is not verified
    annotations = api["metadata"].get("annotations") or {}
    certificates = of_kind(env, release, "Certificate")
    if not verified:
        assert certificates == [] and "cert-manager.io/inject-ca-from" not in annotations
        return
    (certificate,) = certificates
    name = certificate["metadata"]["name"]
    assert annotations["cert-manager.io/inject-ca-from"] == f"{ms.NAMESPACE}/{name}"
    service = one(env, release, "Service")["metadata"]["name"]
    assert f"{service}.{ms.NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    (container,) = one(env, release, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "--tls-cert-file=/tmp/tls-certs/tls.crt" in container["args"]
    issuer = certificate["spec"]["issuerRef"]
    assert [i["metadata"]["name"] for i in of_kind(env, release, "Issuer")] == [issuer["name"]]
    # cert-manager's CA injector may patch APIServices (its chart's ClusterRole at this pin).
    (cert_manager,) = [i for i in render.charts(graph(env, release)) if i.name == "cert-manager"]
    if not Path(cert_manager.chart, "templates").is_dir():
        pytest.skip(f"cert-manager {cert_manager.version} (with templates) not in {CACHE}")
    roles = [
        o
        for o in render.helm_template(cert_manager, KUBERNETES_FOR[release])
        if o["kind"] == "ClusterRole" and o["metadata"]["name"].endswith("cainjector")
    ]
    assert any(
        "apiservices" in rule.get("resources", []) and "patch" in rule.get("verbs", [])
        for role in roles
        for rule in role["rules"]
    )


def test_kubelet_tls_skipped_in_dev_only(env, release):
    chart_dir(release)
    deployment = one(env, release, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert (ms.KUBELET_INSECURE_TLS in container["args"]) is (env == "dev")
    assert "--kubelet-use-node-status-port" in container["args"]  # the kubelet port, 10250
    assert container["securityContext"] == ms.SECURITY_CONTEXT
    assert container["resources"] == install(env, release).values["resources"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == ms.PRIORITY_CLASS


def test_ha_in_prod(env, release):
    chart_dir(release)
    deployment = one(env, release, "Deployment")
    pdbs = of_kind(env, release, "PodDisruptionBudget")
    if env != "prod":
        assert deployment["spec"]["replicas"] == 1 and pdbs == []
        return
    assert deployment["spec"]["replicas"] == 2
    (pdb,) = pdbs
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= ms.POD_LABELS.items()
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == (
        "kubernetes.io/hostname"
    )


def test_scraped_by_prometheus(env, release):
    chart_dir(release)
    (endpoint,) = one(env, release, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["port"] == "https" and endpoint["path"] == "/metrics"
    (container,) = one(env, release, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "--authorization-always-allow-paths=/metrics" in container["args"]


def test_rendered_metrics_server_passes_the_policy_pack(env, release):
    chart_dir(release)
    g = graph(env, release)
    children = views.from_rendered(render.render(g, CACHE, KUBERNETES_FOR[release]))
    assert any(v.ref == f"Deployment/{ms.NAMESPACE}/{ms.RELEASE}" for v in children)
    blocking = [
        f"{f.policy.name} {f.resource}: {f.violation.message}"
        for f in evaluate_policies([*views.from_graph(g), *children])
        if f.level == "mandatory"
        and f.waiver is None
        and (ms.NAMESPACE in f.resource or ms.API_SERVICE in f.resource)
    ]
    assert blocking == []


def test_with_a_mirror_the_image_is_pulled_from_it(env, release):
    root = chart_dir(release)
    assert CACHE is not None
    values, secrets = stack_inputs(env, release)
    values["platform"]["upstreamCache"] = str(CACHE.root)
    values["platform"]["mirror"] = {"registry": MIRROR}
    g = evaluate(values, env, secrets)
    (found,) = [i for i in render.charts(g) if i.name == ms.RELEASE]
    (deployment,) = [
        render.transformed(g, o, found.resource)
        for o in render.helm_template(found, KUBERNETES_FOR[release])
        if o["kind"] == "Deployment"
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    app = yaml.safe_load((root / "Chart.yaml").read_text())["appVersion"]
    assert container["image"] == f"{MIRROR}/metrics-server/metrics-server:v{app}"
