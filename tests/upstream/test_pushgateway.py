"""The conformance Pushgateway (prometheus-community/helm-charts prometheus-pushgateway, pinned
as catalogue component `pushgateway`) against the real chart at the pinned version.

From the cache's facts: no Helm hook, the default image. Rendered with our values where the
cache holds the templates: the pod carries the labels our NetworkPolicies select, the Service
is the URL the runner pushes to, the ServiceMonitor keeps the pushed labels (honorLabels) and
lives beside it, the pod passes restricted Pod Security with requests and limits, and nothing
mounts a ServiceAccount token. The shared cache lacks this chart (it was pinned after the cache
was pulled): every check skips with one line there.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from mlplatform import releases, render
from mlplatform.components import conformance as cf
from mlplatform.graph import Graph
from mlplatform.manifests import selects
from mlplatform.render import ChartInstall
from tests import pod_security
from tests.conftest import evaluate
from tests.upstream import CACHE, facts, needs_cache
from tests.upstream import upstream_graph as _upstream_graph

CHART = "prometheus-pushgateway"
# staging enables conformance; dev on every release with it switched on.
CASES = [("staging", "26.03"), *(("dev", r) for r in releases.available())]
pytestmark = [needs_cache, pytest.mark.parametrize(("env", "release"), CASES,
                                                   ids=[f"{e}@{r}" for e, r in CASES])]  # fmt: skip
Obj = dict[str, Any]


def graph(env: str, release: str) -> Graph:
    if env == "staging":
        return _upstream_graph(env, release)
    from mlplatform.mockrun import stack_inputs

    assert CACHE is not None
    values, secrets = stack_inputs(env, release)
    values["platform"]["upstreamCache"] = str(CACHE.root)
    values["platform"]["components"]["conformance"] = {"enabled": True}
    return evaluate(values, env, secrets)


def install(env: str, release: str) -> ChartInstall:
    found = next(i for i in render.charts(graph(env, release)) if i.name == cf.PUSHGATEWAY)
    assert CACHE is not None
    version = releases.load(release).component("pushgateway").version
    if not CACHE.has_chart(CHART, version):
        pytest.skip(f"charts/{CHART}/{version} not in {CACHE.root}: run `mlplatform upstream pull`")
    return found


@cache
def rendered(env: str, release: str) -> list[Obj]:
    chart = install(env, release)
    assert CACHE is not None
    version = releases.load(release).component("pushgateway").version
    if not CACHE.has_templates(CHART, version):
        pytest.skip(f"charts/{CHART}/{version} has no templates in {CACHE.root} (data only)")
    objs = render.helm_template(chart)
    for obj in objs:
        if obj.get("kind") not in render.CLUSTER_SCOPED:
            obj.setdefault("metadata", {}).setdefault("namespace", chart.namespace)
    return objs


def one(objs: list[Obj], kind: str) -> Obj:
    (found,) = [o for o in objs if o["kind"] == kind]
    return found


def test_no_hooks_and_the_pinned_image(env, release):
    install(env, release)
    version = releases.load(release).component("pushgateway").version
    f = facts(CHART, version)
    assert f["default_render"] == "ok"
    assert f["hooks_with_default_values"] == []  # Pulumi would never apply them
    assert f["images_with_default_values"] == ["quay.io/prometheus/pushgateway:v1.11.3"]
    assert {"serviceMonitor.honorLabels", "containerSecurityContext",
            "automountServiceAccountToken"} <= set(f["values_read"])  # fmt: skip


def test_pod_is_what_the_network_policies_select(env, release):
    objs = rendered(env, release)
    deployment = one(objs, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects({"matchLabels": cf.PUSHGATEWAY_LABELS}, labels)
    assert {o["metadata"]["namespace"] for o in objs if o["kind"] not in render.CLUSTER_SCOPED} == {
        cf.NAMESPACE
    }


def test_service_is_the_push_url_and_the_monitor_keeps_pushed_labels(env, release):
    objs = rendered(env, release)
    service = one(objs, "Service")
    assert f"http://{service['metadata']['name']}.{cf.NAMESPACE}.svc.cluster.local:" in (
        cf.PUSHGATEWAY_URL
    )
    assert [p["port"] for p in service["spec"]["ports"]] == [cf.PUSHGATEWAY_PORT]
    monitor = one(objs, "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == cf.NAMESPACE
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (
        endpoint["honorLabels"] is True and endpoint["port"] == service["spec"]["ports"][0]["name"]
    )
    assert selects(monitor["spec"]["selector"], service["metadata"]["labels"])


def test_pod_is_restricted_sized_and_tokenless(env, release):
    deployment = one(rendered(env, release), "Deployment")
    template = deployment["spec"]["template"]
    assert pod_security.problems(template, "restricted") == []
    assert template["spec"]["automountServiceAccountToken"] is False
    for container in template["spec"]["containers"]:
        resources = container["resources"]
        assert resources["requests"] and resources["limits"], container["name"]
