"""Rung 3: the dashboards and the platform's alert rules, checked for real.

For every environment on every release: each dashboard survives a round trip through the SDK's
typed models; every PromQL expression (panel queries, variable selectors, the overlays'
PrometheusRules) parses with `promtool check rules`; and every metric it names is one the
release's pinned exporters ship (`mlplatform.metrics.known`) or one of our recording rules.
The PrometheusRules other components register in the graph are checked the same way under
mocks (tests/program/test_dashboards.py).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prom_model

from mlplatform import dashboards, metrics, releases
from mlplatform.config import PlatformConfig
from mlplatform.dashboards import panels, tenants
from mlplatform.platform import load_config
from mlplatform.stackconfig import environments
from mlplatform.tenancy.spec import TenantSpec
from tests.conftest import stack_config
from tests.static.test_alert_rules import build, tool
from tests.upstream import CACHE, needs_cache

pytestmark = pytest.mark.static
register_default_plugins()  # panel options and queries decode into their typed models
CASES = [(e, r) for e in environments() for r in releases.available()]
IDS = [f"{e}-{r}" for e, r in CASES]
# Grafana's interval variables, as promtool sees them.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*[A-Za-z_]\w*\)$", re.S)


@cache
def config(env: str, release: str) -> PlatformConfig:
    return load_config(stack_config(env, release)).platform


def promql(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def dashboard_exprs(board: dashboards.Provisioned) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel query and every query variable's selector."""
    d = board.dashboard
    for var in d.templating.list_val or []:
        query = var.query if isinstance(var.query, str) else ""
        if m := LABEL_VALUES.match(query):
            yield f"{d.uid} variable {var.name}", m["selector"]
    for panel in d.panels or []:
        for target in getattr(panel, "targets", None) or []:
            yield f"{d.uid} panel {panel.title!r} {target.ref_id}", target.expr


def rule_groups(env: str) -> list[dict]:
    return [g for o in build(env) if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]


def rule_exprs(groups: list[dict]) -> Iterator[tuple[str, str]]:
    for group in groups:
        for rule in group["rules"]:
            yield f"rule {rule.get('alert') or rule.get('record')}", rule["expr"]


def recorded(groups: list[dict]) -> set[str]:
    return {r["record"] for g in groups for r in g["rules"] if "record" in r}


def promtool_check(exprs: list[tuple[str, str]], directory: Path) -> subprocess.CompletedProcess:
    """`promtool check rules` over the expressions, each as a recording rule named by index."""
    rules = [{"record": f"check:expr_{i}", "expr": promql(e)} for i, (_, e) in enumerate(exprs)]
    path = directory / "exprs.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}))
    return subprocess.run(
        [tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True
    )


def unknown(exprs: list[tuple[str, str]], release: str, records: set[str]) -> list[str]:
    """'where: metric' for every metric name neither shipped by the release nor recorded."""
    allowed = metrics.all_known(release) | records
    return [
        f"{where}: {name}"
        for where, expr in exprs
        for name in sorted(metrics.metric_names(promql(expr)))
        if name not in allowed
    ]


def all_exprs(env: str, release: str) -> list[tuple[str, str]]:
    boards = dashboards.dashboards(config(env, release))
    return [x for b in boards for x in dashboard_exprs(b)] + list(rule_exprs(rule_groups(env)))


# --- the SDK's model ------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "release"), CASES, ids=IDS)
def test_dashboards_round_trip_through_the_sdk_models(env, release):
    boards = dashboards.dashboards(config(env, release))
    assert len({b.uid for b in boards}) == len(boards)
    for board in boards:
        data = dashboards.to_json(board.dashboard)
        back = model.Dashboard.from_json(data)
        assert dashboards.to_json(back) == data, f"{board.uid} does not survive the SDK model"
        ids = []
        for panel in back.panels or []:
            ids.append(panel.id_val)
            if isinstance(panel, model.RowPanel):
                continue
            # Options and queries decode into the panel plugin's and Prometheus' typed models.
            assert type(panel.options).__module__.endswith(f".models.{panel.type_val}"), (
                board.uid,
                panel.title,
                type(panel.options),
            )
            refs = [t.ref_id for t in panel.targets]
            assert panel.targets and len(set(refs)) == len(refs), (board.uid, panel.title)
            for target in panel.targets:
                assert isinstance(target, prom_model.Dataquery), (board.uid, panel.title)
                assert target.datasource.uid == panels.DATASOURCE.uid
        assert len(set(ids)) == len(ids) and None not in ids, f"{board.uid}: panel ids {ids}"


def test_the_sdk_model_rejects_what_it_does_not_know():
    """The round trip above is a real check: a key Grafana's schema lacks does not survive."""
    board = dashboards.dashboards(config("dev", releases.available()[-1]))[0]
    data = dashboards.to_json(board.dashboard)
    data["panels"][1]["targets"][0]["exprr"] = data["panels"][1]["targets"][0].pop("expr")
    assert dashboards.to_json(model.Dashboard.from_json(data)) != data


# --- PromQL --------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "release"), CASES, ids=IDS)
def test_every_expression_parses_with_promtool(env, release, tmp_path):
    exprs = all_exprs(env, release)
    assert len(exprs) > 50
    result = promtool_check(exprs, tmp_path)
    named = [f"check:expr_{i} is {where}" for i, (where, _) in enumerate(exprs)]
    failing = [n for n in named if f'"{n.split()[0]}"' in result.stdout + result.stderr]
    assert result.returncode == 0, "\n".join([result.stdout + result.stderr, *failing])


@pytest.mark.parametrize(("env", "release"), CASES, ids=IDS)
def test_every_metric_is_shipped_by_a_pinned_exporter_or_recorded(env, release):
    assert unknown(all_exprs(env, release), release, recorded(rule_groups(env))) == []


def test_the_checks_catch_a_misspelled_metric_and_broken_promql(tmp_path):
    release = releases.available()[-1]
    assert unknown([("x", "sum(kube_pod_infoo)")], release, set()) == ["x: kube_pod_infoo"]
    assert unknown([("x", "sum(rate(up[5m]))")], release, set()) == []
    broken = promtool_check([("x", 'sum(up{job="a"}'), ("y", "up")], tmp_path)
    assert broken.returncode != 0


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (ns) (rate(a_total{x=~"b|c"}[5m]))', {"a_total"}),
        ("x * on (namespace, pod) group_left (owner) y", {"x", "y"}),
        ("count(up == 0) or vector(0)", {"up"}),
        ("sum(sum_over_time((a * on (p) group_left () (b == 1))[1h:1m])) / 60", {"a", "b"}),
        ("rec:ratio:rate5m > bool 0.05 unless z offset 5m", {"rec:ratio:rate5m", "z"}),
        ('histogram_quantile(0.9, sum by (le) (rate(h_bucket{a="f(x) b"}[1m])))', {"h_bucket"}),
        ("1e3 * m", {"m"}),
    ],
)
def test_metric_names_are_read_from_promql(expr, names):
    assert metrics.metric_names(expr) == names


def test_selecting_by_name_cannot_be_checked():
    with pytest.raises(ValueError, match="__name__"):
        metrics.metric_names('{__name__=~"kube_.*"}')


# --- the metric catalogue --------------------------------------------------------------------


def test_every_catalogue_file_applies_to_a_release():
    pinned = {
        (name, c.version)
        for r in releases.available()
        for name, c in releases.load(r).components.items()
    }
    for path, cat in metrics.files():
        assert (cat.component, cat.version) in pinned, f"{path.name}: no release pins it"
        assert path.name == f"{cat.exporter}-{cat.version}.yaml", path.name


@pytest.mark.parametrize("release", releases.available())
def test_each_release_knows_the_exporters_the_dashboards_read(release):
    known = metrics.known(release)
    expected = {"kube-state-metrics", "prometheus", "kueue", "cert-manager", "istio", "minio"}
    expected |= {"alertmanager", "prometheus-operator", "node-exporter"}
    assert expected <= set(known), sorted(expected - set(known))
    assert "training-operator" in known and "kserve-model-server" in known


def test_the_tenant_row_names_the_tenants_cluster_queue():
    spec = TenantSpec.model_validate({"name": "team-x", "owners": ["a@example.com"]})
    pattern = tenants.CLUSTER_QUEUE.replace("$namespace", spec.namespace)
    assert pattern == spec.cluster_queue


# --- provisioning, against the pinned charts ----------------------------------------------------


def test_config_maps_carry_the_sidecar_label_and_a_folder():
    maps = dashboards.config_maps(config("prod", releases.available()[-1]))
    folders = {m["metadata"]["annotations"][dashboards.FOLDER_ANNOTATION] for m in maps}
    assert len(folders) == len(maps)  # one folder per area
    for cm in maps:
        assert cm["metadata"]["namespace"] == "monitoring"
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (key,) = cm["data"]
        assert key.endswith(".json") and len(cm["data"][key]) < 1024 * 1024


KPS = ("70.4.2", "79.12.0", "82.4.0")


@needs_cache
@pytest.mark.parametrize("version", KPS)
def test_the_sidecar_and_datasource_settings_are_the_charts(version):
    chart = CACHE.chart("kube-prometheus-stack", version)
    grafana = yaml.safe_load((chart / "values.yaml").read_text())["grafana"]
    sidecar = grafana["sidecar"]
    assert {sidecar["dashboards"]["label"]: sidecar["dashboards"]["labelValue"]} == (
        dashboards.SIDECAR_LABEL
    )
    assert sidecar["datasources"]["defaultDatasourceEnabled"] is True
    assert sidecar["datasources"]["uid"] == panels.DATASOURCE.uid
    sub = yaml.safe_load((chart / "charts" / "grafana" / "values.yaml").read_text())
    assert "folderAnnotation" in sub["sidecar"]["dashboards"]
    assert "foldersFromFilesStructure" in sub["sidecar"]["dashboards"]["provider"]


@needs_cache
@pytest.mark.parametrize("version", KPS)
def test_catalogue_versions_are_what_the_chart_ships(version):
    """kube-state-metrics and Prometheus names were read at the versions this chart runs."""
    chart = CACHE.chart("kube-prometheus-stack", version)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    ksm = yaml.safe_load((chart / "charts" / "kube-state-metrics" / "Chart.yaml").read_text())
    values = yaml.safe_load((chart / "values.yaml").read_text())
    cats = {c.exporter: c for _, c in metrics.files() if c.version == version}
    assert cats["kube-state-metrics"].source.tag == f"v{ksm['appVersion']}"
    assert cats["prometheus"].source.tag == values["prometheus"]["prometheusSpec"]["image"]["tag"]
    alertmanager = values["alertmanager"]["alertmanagerSpec"]["image"]["tag"]
    assert cats["alertmanager"].source.tag == alertmanager
    assert cats["prometheus-operator"].source.tag == meta["appVersion"]
    # The node-exporter subchart is packaged only in a full (pulled) cache.
    node = chart / "charts" / "prometheus-node-exporter" / "Chart.yaml"
    if node.is_file():
        app = yaml.safe_load(node.read_text())["appVersion"]
        assert cats["node-exporter"].source.tag == f"v{app}"
