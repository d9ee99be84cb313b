"""The main job on the bundled CDNOW data (``make demo`` / ``python -m clvmodels.demo``).

1. Validate the model: fit BG/NBD on 1997-01-01..1997-09-30, score weeks 40-78.
2. Fit BG/NBD and Gamma-Gamma on everything up to 1998-06-30 and predict each
   customer's CLV over the next 12 months (10% annual discount rate, 30% margin)
   with a 90% credible interval (expected value) and a 90% predictive interval
   (realized value); write ``out/cdnow_clv.parquet``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from . import (
    BetaGeoModel,
    GammaGammaModel,
    calibration_holdout_summary,
    customer_lifetime_value,
    evaluate_holdout,
    rfm_summary,
)
from .datasets import load_cdnow_transactions


def write_parquet_atomically(frame: pd.DataFrame, path: Path) -> None:
    """Write to a temporary file beside ``path`` and rename it into place
    (:func:`clvmodels.io.atomic_path`: a crash leaves the previous file or the complete
    new one, and the file gets the usual permissions, not the temporary file's 0600)."""
    from .io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clvmodels.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="out/cdnow_clv.parquet", help="output Parquet path")
    parser.add_argument("--seed", type=int, default=2026, help="random seed")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    pd.set_option("display.width", 120)

    tx = load_cdnow_transactions()
    print(f"CDNOW: {len(tx):,} transactions, {tx.customer_id.nunique():,} customers, "
          f"{tx.date.min():%Y-%m-%d} .. {tx.date.max():%Y-%m-%d}\n")

    cal = calibration_holdout_summary(tx, calibration_end="1997-09-30",
                                      observation_end="1998-06-30", time_unit="week")
    bg_cal = BetaGeoModel(random_state=args.seed).fit(cal)
    print("BG/NBD on the calibration period (weeks 1-39); lower/upper: 90% interval:")
    print(bg_cal.summary(level=0.90).round(4).to_string(), "\n")
    score = evaluate_holdout(bg_cal, cal, random_state=args.seed)
    m = score.metrics
    print(f"Holdout weeks 40-78: actual {m.actual_total:,.0f} repeat purchases, expected "
          f"{m.expected_total:,.0f} ({m.aggregate_error:+.1%}); per customer MAE "
          f"{m.mae:.3f}, RMSE {m.rmse:.3f}; 90% predictive interval coverage "
          f"{m.coverage:.1%} (randomized PIT), {m.coverage_conventional:.1%} (lower <= y <= upper)\n")

    summary = rfm_summary(tx, observation_end="1998-06-30", time_unit="week")
    bg = BetaGeoModel(random_state=args.seed).fit(summary)
    gg = GammaGammaModel(random_state=args.seed).fit(summary)
    print("Fitted on all 78 weeks; lower/upper: 90% interval:")
    print(pd.concat([bg.summary(level=0.90), gg.summary(level=0.90)]).round(4).to_string(), "\n")
    clv = customer_lifetime_value(bg, gg, summary, horizon="12 months", discount_rate=0.10,
                                  margin=0.30, level=0.90, random_state=args.seed)
    table = summary.join(clv)
    table.attrs = {**summary.attrs, **clv.attrs}
    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        out = out.with_name(out.name + ".parquet")  # the file says what it is
    write_parquet_atomically(table, out)

    # short headers keep the table under 100 characters; the Parquet file has the full names
    cols = {"frequency": "x", "recency": "t_x", "T": "T", "monetary_value": "spend",
            "probability_alive": "P(alive)", "expected_purchases": "E[buys]",
            "expected_clv": "CLV", "expected_clv_lower": "cred lo", "expected_clv_upper": "cred hi",
            "clv_predictive_lower": "pred lo", "clv_predictive_upper": "pred hi"}
    print("Top 10 customers by expected 12-month CLV ($, 10% discount rate, 30% margin; x: repeat "
          "purchases, t_x and T in weeks, spend: mean repeat spend; cred/pred: 90% credible and "
          "predictive interval):")
    top = table.sort_values("expected_clv", ascending=False)[list(cols)].head(10)
    print(top.rename(columns=cols).round(2).to_string())
    print(f"\nTotal expected 12-month CLV: ${table.expected_clv.sum():,.0f} over "
          f"{len(table):,} customers")
    print(f"Wrote {out} ({len(table):,} rows) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
