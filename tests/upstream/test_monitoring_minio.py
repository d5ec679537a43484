"""Monitoring, MinIO and cert-manager rely on no Helm hook (Pulumi never applies them).

From the cache's facts, per case: the hooks the pinned charts carry by default are exactly the
ones whose work the platform does otherwise — kube-prometheus-stack's `*-admission-create`
(writes the operator's TLS Secret) and `*-admission-patch` (puts its CA into the webhook
configurations), MinIO's `*-post-job` (buckets, users, policies), cert-manager's
`startupapicheck` and Grafana's `helm test` — and our values and ordering replace each.

Where the cache also holds the charts' templates (a pulled cache), each chart is rendered with
our values, hooks included, and the applied objects are checked: every Secret, ConfigMap and
ServiceAccount they reference is made by an applied object (a chart object, a cert-manager
Certificate, or our own), never only by a hook; every webhook configuration gets its CA from
cert-manager's CA injector; every container, the operator's config-reloader included, has
requests and limits; dev's share stays well under half of the 4 CPU / 8 GiB budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from mlplatform import inventory, render
from mlplatform.components import certmanager, minio, monitoring
from mlplatform.graph import CHART, CONFIG_GROUP, KUSTOMIZE, Graph
from mlplatform.quantity import parse_quantity
from mlplatform.render import ChartInstall, is_hook
from tests.upstream import CACHE, CASE_IDS, CASES, facts, needs_cache, upstream_graph

pytestmark = [needs_cache, pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)]

Obj = dict[str, Any]
Ref = tuple[str, str, str]  # kind, namespace, name
CHARTS = {
    monitoring.RELEASE: "kube-prometheus-stack",
    "minio": "minio",
    "cert-manager": "cert-manager",
}


def install(g: Graph, release: str) -> tuple[ChartInstall, str]:
    """Our install of `release` and its pinned chart version (the cache directory)."""
    found = next(i for i in render.charts(g) if i.name == release)
    return found, found.chart.rstrip("/").split("/")[-1]


def hooks(g: Graph, release: str) -> list[dict[str, str]]:
    _, version = install(g, release)
    return facts(CHARTS[release], version)["hooks_with_default_values"]


def named(hook_list: list[dict[str, str]], kind: str, suffix: str) -> bool:
    return any(h["kind"] == kind and h["name"].endswith(suffix) for h in hook_list)


# --- from the facts: every case ----------------------------------------------------------


def value(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


# Every hook family of our charts (a part of its name) and the values that replace it.
REPLACED: dict[str, dict[str, Callable[[dict[str, Any]], bool]]] = {
    monitoring.RELEASE: {
        # -admission ServiceAccount/RBAC and the -admission-create/-patch Jobs.
        "-admission": lambda v: (
            value(v, "prometheusOperator.admissionWebhooks.certManager.enabled") is True
        ),
        "grafana-test": lambda v: value(v, "grafana.testFramework.enabled") is False,
    },
    "minio": {"-post-job": lambda v: not any(v.get(k) for k in MINIO_HOOK_VALUES)},
    "cert-manager": {"-startupapicheck": lambda v: value(v, "startupapicheck.enabled") is False},
}
# charts.min.io minio 5.4.0 templates/post-job.yaml renders when any of these is set.
MINIO_HOOK_VALUES = ("buckets", "users", "policies", "customCommands", "svcaccts")


def test_every_hook_of_the_pinned_charts_is_replaced(env, release):
    g = upstream_graph(env, release)
    problems = []
    for name, families in REPLACED.items():
        chart, version = install(g, name)
        for hook in hooks(g, name):
            family = next((part for part in families if part in hook["name"]), None)
            if family is None:
                problems.append(f"{name} {version}: unexamined hook {hook}")
            elif not families[family](chart.values):
                problems.append(f"{name} {version}: {hook['kind']} {hook['name']} not replaced")
    assert problems == [], "\n".join(problems)
    kps = hooks(g, monitoring.RELEASE)  # the upstream facts the design rests on
    assert named(kps, "Job", "-admission-create") and named(kps, "Job", "-admission-patch")
    assert named(hooks(g, "minio"), "Job", "-post-job")


def test_the_operators_certificate_is_issued_by_cert_manager_installed_first(env, release):
    g = upstream_graph(env, release)
    kps, version = install(g, monitoring.RELEASE)
    read = set(facts("kube-prometheus-stack", version)["values_read"])
    assert "prometheusOperator.admissionWebhooks.certManager.enabled" in read
    webhooks = value(kps.values, "prometheusOperator.admissionWebhooks")
    assert webhooks == {"certManager": {"enabled": True}}  # the chart's own CA Issuer
    chart, cm = g.named(monitoring.RELEASE, CHART), g.named(certmanager.RELEASE, CHART)
    assert g.depends_on(chart, cm) and not g.depends_on(cm, chart)
    assert g.depends_on(g.named("platform-monitors", CONFIG_GROUP), chart)


def test_minios_buckets_come_from_our_job_and_nothing_feeds_its_hook(env, release):
    g = upstream_graph(env, release)
    chart, _ = install(g, "minio")
    assert [k for k in MINIO_HOOK_VALUES if chart.values.get(k)] == []
    job = g.object("Job", minio.BUCKETS_JOB, minio.NAMESPACE)
    env_vars = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env_vars["BUCKETS"].split() == list(minio.PLATFORM_BUCKETS)
    buckets = g.named("minio-buckets", CONFIG_GROUP)
    assert g.depends_on(buckets, g.named("minio", CHART))
    if g.has("kfp"):
        assert g.depends_on(g.named("kfp", KUSTOMIZE), buckets)


# --- rendered: where the cache holds the templates ----------------------------------------


@cache
def rendered(env: str, release: str, name: str) -> tuple[list[Obj], list[Obj]]:
    """(applied, hooks) of our install `name`, namespaces set as Pulumi sets them."""
    assert CACHE is not None
    chart, version = install(upstream_graph(env, release), name)
    if not CACHE.has_templates(CHARTS[name], version):
        pytest.skip(f"{CHARTS[name]} {version}: no templates in {CACHE.root} (data-only cache)")
    objs = render.helm_template(chart)
    for obj in objs:
        if obj.get("kind") not in render.CLUSTER_SCOPED:
            obj.setdefault("metadata", {}).setdefault("namespace", chart.namespace)
    return [o for o in objs if not is_hook(o)], [o for o in objs if is_hook(o)]


def key(obj: Obj) -> Ref:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name"))


def pod_spec(obj: Obj) -> dict[str, Any] | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") in inventory.WORKLOADS or obj.get("kind") == "Job":
        return (spec.get("template") or {}).get("spec") or {}
    return None


def references(obj: Obj) -> Iterator[Ref]:
    """The Secrets, ConfigMaps and ServiceAccounts an object needs to exist."""
    ns = key(obj)[1]
    pod = pod_spec(obj)
    if pod is not None:
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            for source in container.get("envFrom") or []:
                for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    if field in source and not source[field].get("optional"):
                        yield kind, ns, source[field]["name"]
        yield from _walk_refs(pod, ns)
    elif obj.get("kind") != "Certificate":  # a Certificate's secretName is what it makes
        yield from _walk_refs(obj.get("spec") or {}, ns)


def _walk_refs(node: Any, ns: str) -> Iterator[Ref]:
    if isinstance(node, list):
        for item in node:
            yield from _walk_refs(item, ns)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("serviceAccountName"), str):  # pods, Prometheus, Alertmanager
        yield "ServiceAccount", ns, node["serviceAccountName"]
    if node.get("optional") is not True:
        if isinstance(node.get("secretName"), str):
            yield "Secret", ns, node["secretName"]
        for field, kind in (
            ("secret", "Secret"),
            ("secretKeyRef", "Secret"),
            ("configMap", "ConfigMap"),
            ("configMapKeyRef", "ConfigMap"),
        ):
            ref = node.get(field)
            named_ref = isinstance(ref, dict) and isinstance(ref.get("name"), str)
            if named_ref and ref.get("optional") is not True:
                yield kind, ns, ref["name"]
    for value in node.values():
        yield from _walk_refs(value, ns)


def made_by(objs: list[Obj]) -> set[Ref]:
    """What these objects make exist: themselves, Certificates' Secrets, and Secrets a Job's
    `--secret-name`/`--namespace` arguments write (kube-webhook-certgen's, in the hooks)."""
    out = {key(o) for o in objs}
    for obj in objs:
        ns = key(obj)[1]
        if obj.get("kind") == "Certificate":
            out.add(("Secret", ns, obj["spec"]["secretName"]))
        pod = pod_spec(obj)
        for container in (pod or {}).get("containers") or []:
            args = dict(a.split("=", 1) for a in container.get("args") or [] if "=" in a)
            if "--secret-name" in args:
                out.add(("Secret", args.get("--namespace", ns), args["--secret-name"]))
    return out


def ours(g: Graph) -> set[Ref]:
    return {(o.kind, o.namespace or "", o.name) for o in g.objects()}


def test_applied_objects_reference_nothing_only_a_hook_makes(env, release):
    g = upstream_graph(env, release)
    problems = []
    for name in CHARTS:
        applied, hook_objs = rendered(env, release, name)
        provided, by_hooks = made_by(applied) | ours(g), made_by(hook_objs)
        for obj in applied:
            for ref in references(obj):
                if ref in provided:
                    continue
                why = "made only by a Helm hook" if ref in by_hooks else "made by nothing applied"
                problems.append(f"{name}: {'/'.join(key(obj))} needs {'/'.join(ref)}: {why}")
    assert problems == [], "\n".join(sorted(set(problems)))


WEBHOOKS = {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
INJECT, INJECT_SECRET = "cert-manager.io/inject-ca-from", "cert-manager.io/inject-ca-from-secret"


def serving_ca_secrets(objs: list[Obj]) -> set[str]:
    """`ns/name` of the CA Secrets cert-manager's webhook makes itself (dynamic serving)."""
    out = set()
    for obj in objs:
        ns = key(obj)[1]
        for container in (pod_spec(obj) or {}).get("containers") or []:
            args = dict(a.split("=", 1) for a in container.get("args") or [] if "=" in a)
            if "--dynamic-serving-ca-secret-name" in args:
                where = args.get("--dynamic-serving-ca-secret-namespace", ns)
                where = ns if where == "$(POD_NAMESPACE)" else where
                out.add(f"{where}/{args['--dynamic-serving-ca-secret-name']}")
    return out


def test_webhook_configurations_get_their_ca_from_cert_managers_injector(env, release):
    g = upstream_graph(env, release)
    cm_applied, _ = rendered(env, release, "cert-manager")
    problems = []
    for name in CHARTS:
        applied, hook_objs = rendered(env, release, name)
        certificates = {f"{ns}/{n}" for kind, ns, n in made_by(applied) if kind == "Certificate"}
        issuers = {(kind, ns, n) for kind, ns, n in made_by(applied) | ours(g) if "Issuer" in kind}
        patched = [h for h in hook_objs if h.get("kind") == "Job" and "patch" in key(h)[2]]
        for obj in applied:
            label = f"{name}: {'/'.join(key(obj))}"
            if obj.get("kind") == "Certificate":
                ref = obj["spec"]["issuerRef"]
                kind = ref.get("kind", "Issuer")
                wanted = (kind, key(obj)[1] if kind == "Issuer" else "", ref["name"])
                if wanted not in issuers:
                    problems.append(f"{label}: issuer {wanted} is not applied")
            if obj.get("kind") not in WEBHOOKS:
                continue
            notes = (obj.get("metadata") or {}).get("annotations") or {}
            if any("caBundle" in (w.get("clientConfig") or {}) for w in obj.get("webhooks") or []):
                continue  # a CA given in the values
            if notes.get(INJECT) in certificates:
                continue
            if notes.get(INJECT_SECRET) in serving_ca_secrets(cm_applied):
                continue
            problems.append(
                f"{label}: no CA from cert-manager's injector"
                + (" (only a hook Job patches it in)" if patched else "")
            )
    assert problems == [], "\n".join(problems)


RELOADER_FLAGS = ("cpu-request", "cpu-limit", "memory-request", "memory-limit")


def reloader(applied: list[Obj]) -> dict[str, Decimal]:
    """The operator's flags sizing the config-reloader it adds to every Prometheus and
    Alertmanager pod (the chart writes 0, i.e. unbounded, without values)."""
    args: dict[str, str] = {}
    for obj in applied:
        for container in (pod_spec(obj) or {}).get("containers") or []:
            args |= dict(a.split("=", 1) for a in container.get("args") or [] if "=" in a)
    return {f: parse_quantity(args[f"--config-reloader-{f}"]) for f in RELOADER_FLAGS}


def test_every_container_is_bounded_and_dev_stays_small(env, release):
    applied = {name: rendered(env, release, name)[0] for name in CHARTS}
    inventories = inventory.inventory(applied)
    unbounded = [f"{c}: {u}" for c, inv in inventories.items() for u in inv.unbounded]
    sizes = reloader(applied[monitoring.RELEASE])
    unbounded += [f"config-reloader: --config-reloader-{f}=0" for f, v in sizes.items() if not v]
    assert unbounded == [], "\n".join(unbounded)
    if env != "dev":
        return
    total = inventory.total(inventories).requests
    pods = sum(
        int((o.get("spec") or {}).get("replicas", 1))
        for o in applied[monitoring.RELEASE]
        if o.get("kind") in inventory.OPERATOR_PODS
    )
    cpu = total["cpu"] + pods * sizes["cpu-request"]
    memory = total["memory"] + pods * sizes["memory-request"]
    assert cpu <= Decimal("0.5") and memory <= 1 * 2**30, (cpu, memory)  # of 4 CPU / 8 GiB
