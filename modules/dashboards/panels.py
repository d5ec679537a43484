"""Panel and query builders shared by the dashboards (grafana-foundation-sdk, Grafana 11.6 schema).

Every query goes to kube-prometheus-stack's default Prometheus datasource, uid `prometheus`
(values.yaml `grafana.sidecar.datasources.uid`, kube-prometheus-stack 70.4.2, 79.12.0, 82.4.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from string import ascii_uppercase

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.builders import prometheus as promq
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prom_model

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="prometheus")
TAG = "mlplatform"
# A query is (PromQL, legend); the legend may be empty.
Query = tuple[str, str]
Panel = cogbuilder.Builder[model.Panel]


def new(title: str, uid: str, description: str) -> builder.Dashboard:
    """A dashboard with the platform's defaults: read-only, UTC, last 6 hours, 1 minute refresh."""
    return (
        builder.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .readonly()
        .timezone("utc")
        .time("now-6h", "now")
        .refresh("1m")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
    )


def variable(
    name: str, label: str, query: str, *, multi: bool = True, regex: str = ""
) -> builder.QueryVariable:
    """A Prometheus query variable (`label_values(...)`), refreshed with the time range."""
    var = (
        builder.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )
    if multi:
        var = var.all_value(".*")
    return var.regex(regex) if regex else var


def _targets(queries: Sequence[Query], *, instant: bool, table_format: bool = False) -> list:
    out = []
    for expr, legend in queries:
        q = promq.Dataquery().expr(expr).datasource(DATASOURCE)
        q = q.instant() if instant else q.range()
        if legend:
            q = q.legend_format(legend)
        if table_format:
            q = q.format(prom_model.PromQueryFormat.TABLE)
        out.append(q)
    return out


def graph(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    *,
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
) -> timeseries.Panel:
    """A time series panel, one series per legend."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_targets(queries, instant=False))
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .legend(
            common_builder.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if stacked:
        panel = panel.stacking(common_builder.StackingConfig().mode(common.StackingMode.NORMAL))
    return panel


def single(
    title: str,
    description: str,
    expr: str,
    unit: str,
    *,
    width: int = 6,
    height: int = 4,
    warn: float | None = None,
    bad: float | None = None,
) -> stat.Panel:
    """A single current value; green below `warn`, orange from `warn`, red from `bad`."""
    steps = [model.Threshold(value=None, color="green")]
    steps += [model.Threshold(value=v, color=c) for v, c in ((warn, "orange"), (bad, "red")) if v]
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_targets([(expr, "")], instant=True))
        .unit(unit)
        .span(width)
        .height(height)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .thresholds(builder.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
    )


def listing(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    *,
    width: int = 12,
    height: int = 8,
) -> table.Panel:
    """A table of the queries' current values, one row per series (labels as columns)."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_targets(queries, instant=True, table_format=True))
        .unit(unit)
        .span(width)
        .height(height)
        .align(common.FieldTextAlignment.AUTO)
        .inspect(False)
        .show_header(True)
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
    )


def bars(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    *,
    width: int = 12,
    height: int = 8,
    maximum: float | None = None,
) -> bargauge.Panel:
    """Horizontal bars of the queries' current values (e.g. quota used / hard)."""
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_targets(queries, instant=True))
        .unit(unit)
        .span(width)
        .height(height)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .min(0)
    )
    return panel.max(maximum) if maximum is not None else panel


def row(title: str, *, repeat: str = "") -> builder.Row:
    panel = builder.Row(title)
    return panel.repeat(repeat) if repeat else panel


def finish(dash: builder.Dashboard) -> model.Dashboard:
    """Build the dashboard and number its panels (1..n) and each panel's queries (A, B, ...)."""
    built = dash.build()
    ids = iter(range(1, 1000))
    for panel in built.panels or []:
        panel.id_val = next(ids)
        for child in getattr(panel, "panels", None) or []:
            child.id_val = next(ids)
        for i, target in enumerate(getattr(panel, "targets", None) or []):
            target.ref_id = ascii_uppercase[i]
    return built
