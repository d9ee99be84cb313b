"""Build notebooks/02_contractual_churn.ipynb (outputs stripped).

Run from anywhere: ``python notebooks/build_02_contractual_churn.py``. Edit the cells
here, not in the notebook, and rebuild; tests/test_notebooks.py executes the result.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", """# Subscriptions: churn, retention and contractual CLV

Cohort survival tables (Fader & Hardie 2007) → shifted-beta-geometric (sBG) fit → projected survival against what actually happened → discounted expected residual lifetime (DERL, Fader & Hardie 2010) → per-account data (IBM's Telco accounts) with contract type as a segment and as a covariate (MAP and MCMC) → contractual CLV with both intervals → plots, and the same from the command line."""),
    ("code", """import os
FAST = os.environ.get("CLVMODELS_FAST") == "1"   # the test suite runs notebooks with fast settings
MCMC = dict(chains=2, draws=300, tune=300) if FAST else dict(chains=4, draws=1000, tune=1000)
N_SAMPLES = 200 if FAST else 1000                 # simulated futures per distinct account row
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import clvmodels as clv
from clvmodels import plots
from clvmodels.datasets import load_telco
from clvmodels.models.sbg import sbg_discounted_residual_lifetime"""),
    ("md", """## 1. Two cohorts: years 1-7 to fit, years 8-12 to check

Customers still active at the start of each year, out of 1,000 acquired in year 0 (Fader & Hardie 2007). `accounts_from_survival` turns a table into weighted rows: the customers who left in year *t* (tenure *t*, churned) and the survivors (tenure 7, active)."""),
    ("code", """ACTIVE = {
    'regular':  [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173],
    'high end': [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394],
}
cohorts = {name: clv.accounts_from_survival(counts[:8], time_unit='year') for name, counts in ACTIVE.items()}
cohort_models = {name: clv.ShiftedBetaGeoModel(random_state=0).fit(rows) for name, rows in cohorts.items()}
pd.DataFrame({name: [*m.params_.round(4), round(m.log_likelihood_, 2)] for name, m in cohort_models.items()},
             index=['alpha', 'beta', 'log-likelihood'])   # published: 0.7041, 1.1820, -1680.27 and 0.6681, 3.8061, -1611.16"""),
    ("md", """## 2. Projected survival against the actual years 8-12

The model was fitted on years 1-7 only; the dotted line marks the end of those data."""),
    ("code", """fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
for ax, (name, model) in zip(axes, cohort_models.items()):
    projected = 1000 * model.survival(np.arange(13))
    plots.plot_survival(ACTIVE[name], projected, calibration_periods=7, time_unit='year',
                        label=f'{name} customers still active', ax=ax)
pd.DataFrame({name: np.round(1000 * m.survival(np.arange(8, 13)), 1) for name, m in cohort_models.items()},
             index=pd.Index(range(8, 13), name='year'))   # projected; actual year 12: 173 and 394"""),
    ("code", """pd.concat({name: clv.expected_retention(m, 12).loc['all', ['retention_rate', 'retention_rate_lower', 'retention_rate_upper']]
           for name, m in cohort_models.items()}, axis=1).round(3)   # retention rises with tenure"""),
    ("md", """## 3. Discounted expected residual lifetime (DERL)

For a customer who has renewed *n - 1* times, the expected number of further payments, each discounted (the next one not). Fader & Hardie (2010), *d* = 10% per period, *n* = 1..5: 3.31, 3.45, 3.59, 3.72, 3.84 and 7.67, 9.46, 9.85, 10.06, 10.19."""),
    ("code", """n = np.arange(1, 6)
pd.DataFrame({'alpha=3.80, beta=15.20': sbg_discounted_residual_lifetime(3.80, 15.20, n - 1, 0.10),
              'alpha=0.067, beta=0.267': sbg_discounted_residual_lifetime(0.067, 0.267, n - 1, 0.10)},
             index=pd.Index(n, name='n')).round(2)"""),
    ("code", """# the regular cohort's survivors after 0..7 renewals, valued at 10% a year (years are the period here)
survivors = pd.DataFrame({'tenure': np.arange(8)})
cohort_models['regular'].discounted_expected_residual_lifetime(survivors, discount_rate=0.10).round(2).tolist()"""),
    ("md", """## 4. Per-account data: IBM's Telco accounts

7,043 monthly accounts: `tenure` (months), `Churn` (cancelled last month), `MonthlyCharges` and the `Contract` type. `load_telco` adds `churned` (bool) and the time unit."""),
    ("code", """telco = load_telco()
telco[['tenure', 'Churn', 'churned', 'MonthlyCharges', 'Contract']].head()"""),
    ("code", """clv.lifetime_summary(telco, by='Contract').round(1)   # life table: months, actual"""),
    ("md", """### Contract as a segment: one cohort model per contract type"""),
    ("code", """by_contract = clv.fit_by_segment(telco, 'Contract', method='map', time_unit='month', random_state=0)
pd.DataFrame({k: m.params_ for k, m in by_contract.items()}).round(3)"""),
    ("md", """### Contract as a covariate: one model, MAP then MCMC

Text columns become 0/1 columns first; month-to-month is the reference. A multiplier above 1 on `beta` (or below 1 on `alpha`) means less churn."""),
    ("code", """dummies = pd.get_dummies(telco['Contract'], drop_first=True, dtype=float)
accounts = telco.join(dummies)
accounts.attrs['time_unit'] = 'month'
cov_map = clv.ShiftedBetaGeoCovariateModel(covariates=list(dummies.columns), time_unit='month',
                                           random_state=0).fit(accounts, method='map')
cov_map.coefficients().round(3)"""),
    ("code", """cov_mcmc = clv.ShiftedBetaGeoCovariateModel(covariates=list(dummies.columns), time_unit='month',
                                            random_state=1, **MCMC).fit(accounts, method='mcmc')
cov_mcmc.summary().round(3)"""),
    ("md", """Projected survival per contract type (MCMC fit) against the life table:"""),
    ("code", """segments = pd.DataFrame({'One year': [0.0, 1.0, 0.0], 'Two year': [0.0, 0.0, 1.0]},
                        index=['Month-to-month', 'One year', 'Two year'])
projected = clv.expected_retention(cov_mcmc, 96, segments=segments)
actual = clv.retention_table(telco, by='Contract')
fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
for ax, name in zip(axes, segments.index):
    plots.plot_survival(np.r_[1.0, actual.loc[name, 'survival']], np.r_[1.0, projected.loc[name, 'survival']],
                        calibration_periods=72, time_unit='month', label=f'{name} still active', ax=ax)"""),
    ("md", """## 5. Contractual CLV with both intervals

Each active account is valued just before its next renewal: 60% of its monthly charge for every future renewal, discounted at 10% a year, with no cut-off date. `expected_clv_lower/upper` is the credible interval of the expected value (parameter uncertainty); `clv_predictive_lower/upper` is the predictive interval of what the account will actually bring."""),
    ("code", """value = clv.contractual_lifetime_value(cov_mcmc, accounts, revenue_col='MonthlyCharges', discount_rate=0.10,
                                      margin=0.6, n_samples=N_SAMPLES, random_state=0)
value.sort_values('expected_clv', ascending=False).head()"""),
    ("code", """active = ~telco['churned']
value[active].groupby(telco['Contract']).agg(accounts=('expected_clv', 'size'), derl_months=('discounted_expected_residual_lifetime', 'mean'),
                                             expected_clv=('expected_clv', 'mean')).round(1)"""),
    ("code", """fig, axes = plt.subplots(1, 2, figsize=(13, 5))
plots.plot_clv_distribution(value[active], ax=axes[0])
plots.plot_top_customers(value[active], n=15, ax=axes[1]);"""),
    ("md", """## 6. The same from the command line

`clvmodels fit --kind contractual` saves a job directory (the churn model and the column names), `clvmodels score` writes one row per account (chunked, atomic, deterministic for a seed) and `clvmodels report` writes the self-contained HTML report."""),
    ("code", """import pathlib, subprocess, sys, tempfile
work = pathlib.Path(tempfile.mkdtemp())
telco.reset_index().drop(columns='churned').to_csv(work / 'accounts.csv', index=False)

def run(*args):
    out = subprocess.run([sys.executable, '-m', 'clvmodels', *args], capture_output=True, text=True)
    print(out.stdout or out.stderr)
    return out.returncode

run('fit', '--kind', 'contractual', str(work / 'accounts.csv'), '--account-col', 'customerID', '--churned-col', 'Churn',
    '--period', 'month', '--covariates', 'Contract', '--method', 'map', '--revenue-col', 'MonthlyCharges', '--out', str(work / 'churn'))
run('score', str(work / 'churn'), str(work / 'accounts.csv'), '--out', str(work / 'clv.parquet'), '--margin', '0.6', '--seed', '1')
pd.read_parquet(work / 'clv.parquet').head()"""),
    ("code", """run('report', str(work / 'churn'), str(work / 'accounts.csv'), '--out', str(work / 'churn.html'),
    '--segment-col', 'Contract', '--acquisition-cost', '250', '--margin', '0.6')"""),
    ("md", """A table that does not say clearly whether an account cancelled gets a one-paragraph error naming the column, and exit code 1:"""),
    ("code", """run('fit', '--kind', 'contractual', str(work / 'accounts.csv'), '--account-col', 'customerID', '--churned-col', 'gender',
    '--period', 'month', '--out', str(work / 'wrong'))"""),
]


def build() -> Path:
    nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                             for kind, src in CELLS])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    for i, cell in enumerate(nb.cells):  # stable ids: rebuilding changes no line
        cell["id"] = f"cell-{i:02d}"
    path = Path(__file__).with_name("02_contractual_churn.ipynb")
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    print(build())
