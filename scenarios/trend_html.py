"""The trend report as one self-contained HTML file: matplotlib figures inlined as SVG, no
script, stylesheet, font or image fetched from anywhere. Needs the `reports` extra."""

from __future__ import annotations

import html
import io
import re
from fnmatch import fnmatch
from types import ModuleType
from typing import TYPE_CHECKING

from mlplatform.scenarios.trend import LABELS, Run, Series, Verdict, regressed, series

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL = "pip install 'mlplatform[reports]'"
# Figures, in order: (title, metric patterns drawn on it, one line per scenario and metric).
FIGURES = (
    ("Pass rate per scenario", ("pass_rate",)),
    ("Kueue admission latency (s)", ("admission_latency_s",)),
    ("Serving latency p95 / p99 (ms)", ("p95_ms", "p99_ms")),
    ("Serving throughput (RPS)", ("rps",)),
    ("Durations (s): scenarios, and pipeline and training runs", ("duration_s", "*_duration_s")),
)
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;
text-align:right}td:first-child,td:nth-child(2),th{text-align:left}.bad{color:#b00020;
font-weight:600}.ok{color:#1b5e20}figure{margin:1.5em 0}svg{max-width:100%;height:auto}"""


class MissingExtra(ImportError):
    """matplotlib is not installed."""


def _pyplot() -> ModuleType:
    try:
        import matplotlib
    except ImportError as err:
        raise MissingExtra(f"the trend report needs matplotlib: {INSTALL}") from err
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "mlplatform-trend"  # stable element ids
    matplotlib.rcParams["svg.fonttype"] = "path"  # glyphs as paths: no font needed
    from matplotlib import pyplot

    return pyplot


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    # no metadata block: it names matplotlib's site and Dublin Core vocabularies by URL
    metadata = dict.fromkeys(("Creator", "Date", "Format", "Type"))
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata=metadata)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE


def figure(title: str, lines: list[Series], runs: list[Run]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    x = list(range(len(runs)))
    for s in lines:
        points = [(i, v) for i, v in zip(x, s.values, strict=True) if v is not None]
        label = s.scenario if len({t.metric for t in lines}) == 1 else f"{s.scenario} {s.metric}"
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.set_title(title)
    ax.set_xticks(x, [r.id[:19] for r in runs], rotation=30, ha="right", fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    try:
        return _svg(fig)
    finally:
        plt.close(fig)


def render(runs: list[Run], v: Verdict) -> str:
    all_series = series(runs)
    verdict = (
        f'<p class="bad">{len(v.regressions)} regression(s) in the latest run</p>'
        if v.regressions
        else f'<p class="ok">no regression{f" ({html.escape(v.note)})" if v.note else ""}</p>'
    )
    rows = "".join(
        f'<tr class="{"bad" if regressed(f) else ""}"><td>{html.escape(f.scenario)}</td>'
        f"<td>{html.escape(LABELS.get(f.metric, f.metric))}</td><td>{f.latest:g}</td>"
        f"<td>{f.median:g}</td><td>{f.change:+.1%}</td><td>{f.better} is better</td></tr>"
        for f in v.compared
    )
    table = (
        "<table><tr><th>scenario</th><th>metric</th><th>latest</th><th>median</th>"
        f"<th>change</th><th>direction</th></tr>{rows}</table>"
        if rows
        else ""
    )
    figures = []
    for title, metrics in FIGURES:
        lines = [s for s in all_series if any(fnmatch(s.metric, m) for m in metrics)]
        if lines:
            figures.append(f"<figure>{figure(title, lines, runs)}</figure>")
    run_rows = "".join(
        f"<tr><td>{html.escape(r.id)}</td><td>{html.escape(r.report.release)}</td>"
        f"<td>{html.escape(r.report.started_at)}</td>"
        f"<td>{'passed' if r.report.passed else 'FAILED'}</td></tr>"
        for r in runs
    )
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance trends</title>
<style>{_STYLE}</style></head><body>
<h1>Conformance trends: {len(runs)} runs</h1>
<p>Latest run against the median of up to {v.window} runs before it; margin {v.margin:.0%}.</p>
{verdict}
{"".join(f'<p class="bad">{html.escape(str(f))}</p>' for f in v.regressions)}
{table}
{"".join(figures)}
<h2>Runs</h2><table><tr><th>run</th><th>release</th><th>started</th><th>result</th></tr>
{run_rows}</table>
</body></html>
"""
    return re.sub(r"\n{3,}", "\n\n", doc)
