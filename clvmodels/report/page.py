"""The page skeleton shared by the reports: styles, the image check, embedded charts,
tables, money formats and the atomic write of the page and its per-row table."""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path
from ..timeunits import convert_duration

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1050px;margin:2em auto;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
td.words,th.words{text-align:left;min-width:24em}td.words{font-size:.95em}
.note{color:#555;font-size:.92em}.flag{color:#b00020;font-weight:600}
.boundary{background:#fff8e1;padding:.6em .8em;border-left:3px solid #e0a000}
.grid{display:flex;flex-wrap:wrap;gap:1em}.grid img{width:calc(50% - .5em);min-width:340px}
img{max-width:100%}.kpi{display:inline-block;margin:.3em 1.5em .3em 0}
.kpi b{display:block;font-size:1.4em}
.prov td{text-align:left}ul.summary li{margin:.45em 0}
"""

_CHECK_JS = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-ok', ok ? 'true' : 'false');
  document.body.setAttribute('data-images', String(imgs.length));
});
"""


def _png(fig) -> str:
    """The figure as an embedded image: SVG (vector, crisp at any zoom); charts whose
    SVG would be heavy (many points or an image) as a PNG at 2x resolution."""
    heavy = any(ax.images or sum(len(c.get_offsets()) for c in ax.collections
                                 if hasattr(c, "get_offsets")) > 2000 for ax in fig.axes)
    buf = io.BytesIO()
    if heavy:
        fig.savefig(buf, format="png", dpi=200, bbox_inches="tight")
        kind = "png"
    else:
        fig.savefig(buf, format="svg", bbox_inches="tight")
        kind = "svg+xml"
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="chart" src="data:image/{kind};base64,{data}">'


def _figure(draw, **kwargs) -> str:
    """Draw on a figure of its own (matplotlib's object interface: no pyplot, so the
    session's backend and open figures, e.g. a notebook's inline plots, are untouched)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=kwargs.pop("figsize", (7, 4.2)))
    draw(fig.subplots())
    return _png(fig)


def _whole_dollars(v: float) -> str:
    """Money to the dollar: for simulated bounds, whose cents are noise."""
    return "n/a" if not np.isfinite(v) else f"${v:,.0f}"


def _money(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"${v:,.0f}" if abs(v) >= 100 else f"${v:,.2f}"


def _table(frame: pd.DataFrame, fmt=None, words=()) -> str:
    """An HTML table; ``fmt`` maps columns to formatters, ``words`` names the columns
    of sentences (left-aligned and wrapped, not numbers)."""
    fmt = fmt or {}
    head = "".join(f"<th{' class=words' if c in words else ''}>{html.escape(str(c))}</th>"
                   for c in [frame.index.name or ""] + list(frame.columns))
    rows = []
    for idx, row in frame.iterrows():
        cells = [f"<td>{html.escape(str(idx))}</td>"]
        for col, v in row.items():
            text = fmt[col](v) if col in fmt else (f"{v:,.4g}" if isinstance(v, float) else str(v))
            cls = " class='words'" if col in words else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _ratio(v: float) -> str:
    return "n/a" if np.isnan(v) else "no cost" if np.isinf(v) else f"{v:.1f} : 1"


def _kpis(pairs) -> str:
    return "".join(f"<span class='kpi'>{html.escape(k)}<b>{html.escape(v)}</b></span>"
                   for k, v in pairs)


def _ltv_cac_flag(ratio: pd.Series) -> str:
    """The LTV:CAC verdict under a segment table: segments below 3 : 1 flagged."""
    low = ratio.index[ratio < 3].tolist()
    if low:
        return (f"<p class='flag'>Below 3 : 1 (acquisition may not pay back): "
                f"{html.escape(', '.join(map(str, low)))}.</p>")
    return ("<p>Every segment returns at least 3 dollars of value per dollar of acquisition "
            "cost.</p>")


def _write_report(out, title: str, parts: list[str], export_frame: pd.DataFrame,
                  extras: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write the page, the per-account table beside it (``<out>.clv.csv``) and any
    ``extras`` (suffix -> table, e.g. ``".winback.csv"``) atomically."""
    body = "\n".join(parts)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>{_CSS}</style><script>{_CHECK_JS}</script>"
            f"</head><body>{body}</body></html>")
    target = Path(out)
    for suffix, frame in {".clv.csv": export_frame, **(extras or {})}.items():
        with atomic_path(target.with_suffix(suffix)) as tmp:
            frame.to_csv(tmp)
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


def _sig_money(v: float) -> str:
    """Money to three significant digits: for estimates whose later digits are noise."""
    return "n/a" if not np.isfinite(v) else _money(float(f"{v:.3g}"))


def _headline_money(v: float) -> str:
    """A headline amount: three significant digits, millions in words."""
    if np.isfinite(v) and abs(float(f"{v:.3g}")) >= 1e6:
        digits = max(0, 2 - len(f"{abs(v) / 1e6:.0f}") + 1)
        return f"${v / 1e6:,.{digits}f} million"
    return _sig_money(v)


def _money_range(lo: float, hi: float) -> str:
    """A money range, both bounds to three significant digits."""
    return f"{_sig_money(lo)} to {_sig_money(hi)}"


def group_totals_table(totals: pd.DataFrame, pct: str) -> pd.DataFrame:
    """The page's table of :func:`~clvmodels.value.portfolio.portfolio_value` totals by
    group (segment or covariate level): customers, expected value, both ranges and the
    average per customer."""
    return pd.DataFrame({
        "customers": totals["customers"],
        "expected value ($)": totals["expected_total"],
        f"{pct} credible range ($)": [_money_range(a, b) for a, b in zip(
            totals["expected_total_lower"], totals["expected_total_upper"])],
        f"{pct} predictive range ($)": [_money_range(a, b) for a, b in zip(
            totals["predictive_total_lower"], totals["predictive_total_upper"])],
        "average per customer ($)": totals["expected_value_per_customer"]},
        index=totals.index)


def _money_note(margin: float, discount_rate: float) -> str:
    """What the money on a page is, in words."""
    what = ("revenue (spend before costs: no margin applied; give your gross margin, "
            "e.g. --margin 0.3, for profit)" if margin == 1.0
            else f"profit (spend × {margin:.0%} margin)")
    return f"{what}, discounted at {discount_rate:.0%} a year, in dollars"


def _provenance(rows: dict) -> str:
    """Where the numbers come from: one row per item, in the order given."""
    frame = pd.DataFrame({"": [str(v) for v in rows.values()]},
                         index=pd.Index(list(rows), name="provenance"))
    return ("<h2>Provenance</h2><p class='note'>What this page was computed from, so it can "
            "be reproduced.</p>" + _table(frame).replace("<table>", "<table class='prov'>", 1))


def _generated() -> str:
    from datetime import datetime, timezone

    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _version() -> str:
    from .. import __version__

    return __version__


def _years_to_unit(years: float, unit: str) -> float:
    return convert_duration(years, "year", unit)


def _parameter_table(model, summary: pd.DataFrame, columns=("estimate", "lower", "upper"),
                     more_words: dict | None = None) -> str:
    """A model's parameter table, each row with what the parameter means in words
    (the model's own ``describe_parameters``, and ``more_words`` for other rows, e.g. a
    covariate model's coefficients; a model without words shows the bare table)."""
    table = summary[list(columns)].copy()
    words = model.describe_parameters() if hasattr(model, "describe_parameters") else {}
    words = {**words, **(more_words or {})}
    if words:
        table["what it means (fitted values filled in)"] = [words.get(k, "") for k in
                                                           table.index]
    if isinstance(table.index, pd.MultiIndex):
        table.index = pd.Index([" · ".join(map(str, i)) for i in table.index], name="parameter")
    return _table(table.rename_axis("parameter"),
                  words=("what it means (fitted values filled in)",))
