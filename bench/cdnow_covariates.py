"""CDNOW with the first purchase as a covariate (issue 13): fits with and without it,
the likelihood-ratio tests and the holdout comparison; prints what README.md shows.

Run: .venv/bin/python bench/cdnow_covariates.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels import (
    BetaGeoCovariateModel,
    BetaGeoModel,
    GammaGammaCovariateModel,
    GammaGammaModel,
    ParetoNBDCovariateModel,
    ParetoNBDModel,
    calibration_holdout_summary,
    compare_models,
    customer_lifetime_value,
)
from clvmodels.datasets import load_cdnow_transactions


def first_purchase_table(tx: pd.DataFrame) -> pd.DataFrame:
    """Per customer, what her first purchase day brought: dollars and CDs (known at
    acquisition, so usable for every customer and for new ones)."""
    first_day = tx.groupby("customer_id")["date"].transform("min")
    first = tx[tx["date"] == first_day].groupby("customer_id")[["amount", "quantity"]].sum()
    return pd.DataFrame({"customer_id": first.index,
                         "log_first_amount": np.log1p(first["amount"].to_numpy()),
                         "first_cds": first["quantity"].to_numpy(float)})


def main() -> None:
    pd.set_option("display.width", 120)
    tx = load_cdnow_transactions()
    summary = calibration_holdout_summary(
        tx, calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="week",
        covariates=first_purchase_table(tx), covariate_cols=["log_first_amount"])
    print(f"{len(summary):,} customers; log_first_amount: mean "
          f"{summary['log_first_amount'].mean():.2f}, sd {summary['log_first_amount'].std():.2f}")

    bg = BetaGeoModel(random_state=0).fit(summary)
    bgc = BetaGeoCovariateModel(covariates=["log_first_amount"], random_state=0).fit(summary)
    pn = ParetoNBDModel(random_state=0).fit(summary)
    pnc = ParetoNBDCovariateModel(covariates=["log_first_amount"], random_state=0).fit(summary)
    gg = GammaGammaModel(random_state=0).fit(summary)
    ggc = GammaGammaCovariateModel(covariates=["log_first_amount"], random_state=0).fit(summary)

    cols = ["side", "estimate", "se", "lower", "upper", "multiplier", "per_unit", "p_value"]
    for name, m in (("BG/NBD", bgc), ("Pareto/NBD", pnc), ("Gamma-Gamma", ggc)):
        print(f"\n{name} with log(1 + first purchase $): coefficients "
              "(estimate per sd; per_unit per unit of log dollars)")
        print(m.coefficients()[cols].round(3).to_string())
        print("likelihood-ratio tests:")
        print(m.likelihood_ratio_tests(summary).round(4).to_string())

    print("\nHoldout (39 weeks), purchase models with and without the covariate:")
    table = compare_models([bg, bgc, pn, pnc], summary, n_samples=2000, random_state=0)
    keep = ["log_likelihood", "aic", "mae", "rmse", "expected_total", "actual_total",
            "aggregate_error"]
    print(table[[c for c in keep if c in table.columns]].round(3).to_string())

    clv0 = customer_lifetime_value(bg, gg, summary, horizon="52 weeks", discount_rate=0.1,
                                   random_state=0)
    clv1 = customer_lifetime_value(bgc, ggc, summary, horizon="52 weeks", discount_rate=0.1,
                                   random_state=0)
    actual = summary["holdout_frequency"] * summary["holdout_monetary_value"].fillna(0.0)
    print("\n52-week CLV (10% a year) against the 39 holdout weeks' actual spend:")
    for name, clv in (("without covariates", clv0), ("with first purchase", clv1)):
        rank = np.corrcoef(clv["expected_clv"].rank(), actual.rank())[0, 1]
        print(f"  {name}: total ${clv['expected_clv'].sum():,.0f}, rank correlation with "
              f"actual holdout spend {rank:.3f}")


if __name__ == "__main__":
    main()
