"""Every chart we install, checked against that chart version's own files in the cache.

For every environment x release: the version we request is the chart's own version string;
every values leaf we pass is read by the chart's templates (facts.json `values_read`, which
prefixes subchart paths with the subchart name); our values merged over the chart's defaults
validate against its `values.schema.json` (and each subchart's); and every Helm hook the
chart carries is one the platform does not need, with the reason and the replacement checked.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from mlplatform import render
from mlplatform.render import ChartInstall
from tests.upstream import CACHE, CASE_IDS, CASES, facts, needs_cache, upstream_graph

pytestmark = [needs_cache, pytest.mark.parametrize(("env", "release"), CASES, ids=CASE_IDS)]


def installs(env: str, release: str, cached: bool = True) -> list[ChartInstall]:
    """The case's charts (only those in the cache unless `cached` is False: a missing one is
    reported by test_requested_version_is_the_charts_own)."""
    found = render.charts(upstream_graph(env, release))
    assert found, "the stack installs no chart"
    assert CACHE is not None
    return [i for i in found if not cached or CACHE.has_chart(*chart_of(i))]


def chart_of(install: ChartInstall) -> tuple[str, str]:
    """(chart, version) of a chart the program resolved from the cache."""
    assert CACHE is not None and install.chart.startswith(str(CACHE.root)), (
        f"{install.name}: {install.chart} was not resolved from the upstream cache"
    )
    chart, version = install.chart.removeprefix(str(CACHE.root / "charts") + "/").split("/")
    return chart, version


def leaves(values: Any, path: str = "") -> Iterator[str]:
    """Dotted paths of every leaf (lists and empty maps are leaves; no values, no leaf)."""
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from leaves(value, f"{path}.{key}" if path else str(key))
    elif path:
        yield path


# Values a chart's templates read other than as `.Values.<path>`, which is all facts.json's
# `values_read` sees; each with where (tests/upstream/test_istio_cni.py checks the templates).
INDIRECT_READS: dict[str, dict[str, str]] = {
    "istiod": {
        "cni": 'templates/istiod-injector-configmap.yaml `pick .Values "cni" "env"`: the '
        "injection template's .Values.pilot.cni",
    },
}


def read_by(chart: str, version: str) -> set[str]:
    """Values the chart reads: its templates' (facts), those read indirectly and Helm's own
    dependency conditions."""
    assert CACHE is not None
    meta = yaml.safe_load((CACHE.chart(chart, version) / "Chart.yaml").read_text())
    conditions = {
        c.strip()
        for dep in meta.get("dependencies") or []
        for c in str(dep.get("condition") or "").split(",")
        if c.strip()
    }
    return (
        set(facts(chart, version)["values_read"]) | conditions | set(INDIRECT_READS.get(chart, {}))
    )


def merged(defaults: Any, ours: Any) -> Any:
    """Helm's coalescing: maps merge key by key, anything else is replaced; null deletes."""
    if isinstance(defaults, dict) and isinstance(ours, dict):
        out = copy.deepcopy(defaults)
        for key, value in ours.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merged(out.get(key), value)
        return out
    return copy.deepcopy(ours)


def test_requested_version_is_the_charts_own(env, release):
    missing = []
    for install in installs(env, release, cached=False):
        chart, version = chart_of(install)
        assert CACHE is not None
        if not CACHE.has_chart(chart, version):
            missing.append(f"charts/{chart}/{version}")
            continue
        own = yaml.safe_load((CACHE.chart(chart, version) / "Chart.yaml").read_text())["version"]
        assert install.version == own == version, f"{install.name}: requested {install.version}"
    if missing:  # the other checks here skip these charts too
        pytest.skip(f"{', '.join(missing)} not in {CACHE.root}: run `mlplatform upstream pull`")


def test_every_value_we_pass_is_read_by_the_chart(env, release):
    unread = []
    for install in installs(env, release):
        read = read_by(*chart_of(install))
        for leaf in leaves(install.values):
            parts = leaf.split(".")
            prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
            # `global.*` reaches every subchart, which read it as `<sub>.global.*`.
            globally = parts[0] == "global" and any(
                r.endswith("." + ".".join(parts[: i + 1])) or r == ".".join(parts[: i + 1])
                for r in read
                for i in range(len(parts))
            )
            if not (prefixes & read or globally):
                unread.append(f"{install.name} ({chart_of(install)[1]}): {leaf}")
    assert unread == [], "values the chart's templates never read (they do nothing):\n" + "\n".join(
        unread
    )


def test_values_validate_against_the_charts_schemas(env, release):
    assert CACHE is not None
    problems = []
    for install in installs(env, release):
        root = CACHE.chart(*chart_of(install))
        values = merged(yaml.safe_load((root / "values.yaml").read_text()) or {}, install.values)
        schemas = [(root / "values.schema.json", values, install.name)]
        for sub in sorted((root / "charts").glob("*/values.schema.json")):
            name = sub.parent.name
            sub_values = merged(
                yaml.safe_load((sub.parent / "values.yaml").read_text()) or {},
                {**(values.get(name) or {}), "global": values.get("global") or {}},
            )
            schemas.append((sub, sub_values, f"{install.name}/{name}"))
        for path, doc, label in schemas:
            if not path.is_file():
                continue
            schema = json.loads(path.read_text())
            validator = jsonschema.validators.validator_for(schema)(schema)
            problems += [
                f"{label}: {'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in validator.iter_errors(doc)
            ]
    assert problems == [], "\n".join(problems)


# Every Helm hook of a chart we install: why the platform does not need it (Pulumi's
# helm.v4.Chart never applies hooks), and a check that its effect is provided otherwise.
Check = Callable[[dict[str, Any]], bool]


def _get(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


HOOKS: dict[tuple[str, str], tuple[str, Check]] = {
    ("cert-manager", "startupapicheck"): (
        "a post-install check that the API answers; Pulumi awaits the Deployments itself",
        lambda values: True,
    ),
    ("kube-prometheus-stack", "grafana-test"): (
        "`helm test` only",
        lambda values: True,
    ),
    ("kube-prometheus-stack", "admission"): (
        "the Jobs that write and patch the operator's webhook certificate: cert-manager issues "
        "it instead, or the admission webhooks and the operator's TLS are off",
        lambda v: (
            _get(v, "prometheusOperator.admissionWebhooks.certManager.enabled") is True
            or (
                _get(v, "prometheusOperator.admissionWebhooks.enabled") is False
                and _get(v, "prometheusOperator.tls.enabled") is False
            )
        ),
    ),
    ("minio", "post-job"): (
        "creates the chart's buckets, users, policies and service accounts: the platform's own "
        "Job creates its buckets, so none may be left to the hook",
        lambda v: (
            not any(v.get(k) for k in ("buckets", "users", "policies", "svcaccts"))
            and not _get(v, "customCommands")
        ),
    ),
}


def test_no_platform_function_depends_on_a_hook(env, release):
    unexplained = []
    for install in installs(env, release):
        chart, version = chart_of(install)
        for hook in facts(chart, version)["hooks_with_default_values"]:
            entry = next(
                (v for (c, part), v in HOOKS.items() if c == chart and part in hook["name"]), None
            )
            if entry is None:
                unexplained.append(f"{chart} {version}: {hook['kind']} {hook['name']} (no reason)")
            elif not entry[1](install.values):
                unexplained.append(
                    f"{chart} {version}: {hook['kind']} {hook['name']}: {entry[0]} — not provided"
                )
    assert unexplained == [], "\n".join(sorted(set(unexplained)))
