"""Build notebooks/02_contractual_churn.ipynb (outputs stripped).

Run from anywhere: ``python notebooks/build_02_contractual_churn.py``. Edit the cells
here, not in the notebook, and rebuild; tests/test_notebooks.py executes the result.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", """# Subscriptions: churn, retention and contractual CLV

Cohort survival tables (Fader & Hardie 2007) → shifted-beta-geometric (sBG) fit → projected survival against what actually happened → discounted expected residual lifetime (DERL, Fader & Hardie 2010) → per-account data observed as a snapshot (IBM's Telco accounts: one renewal decision per account) → one churn model per contract type, with model checks in words → contract type as a covariate (MAP and MCMC) → contractual CLV over 1-5 years and the whole remaining life, with both intervals → the same from the command line."""),
    ("code", """import os
FAST = os.environ.get("CLVMODELS_FAST") == "1"   # the test suite runs notebooks with fast settings
MCMC = dict(chains=2, draws=300, tune=300) if FAST else dict(chains=4, draws=1000, tune=1000)
N_SAMPLES = 200 if FAST else 1000                 # simulated futures per distinct account row
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import clvmodels as clv
from clvmodels import plots
from clvmodels.datasets import load_telco
from clvmodels.models.churn.sbg import sbg_discounted_residual_lifetime"""),
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
    ("md", """## 4. Per-account data observed as a snapshot: IBM's Telco accounts

7,043 monthly accounts: `tenure` (months), `Churn`, `MonthlyCharges` and the `Contract` type. The file lists the accounts **active at the start of one month**, and `Churn` says whether each cancelled **in that month**: every account that cancelled earlier is missing. So each account was observed for one renewal decision, at its own tenure (`entry = tenure - 1` decisions survived before observation began). `load_telco` adds `churned` and `entry`; every churn model, life table and check conditions on it."""),
    ("code", """telco = load_telco()
telco[['tenure', 'entry', 'Churn', 'churned', 'MonthlyCharges', 'Contract']].head()"""),
    ("md", """What ignoring the window does: treated as full histories (entry dropped), the early cancellations vanish and churn at tenure 1 looks like ~3%; conditioned on the snapshot, the model matches the 62% of tenure-1 accounts that actually cancelled in the month."""),
    ("code", """naive = clv.ShiftedBetaGeoModel(random_state=0).fit(telco.drop(columns='entry'))
snapshot = clv.ShiftedBetaGeoModel(random_state=0).fit(telco)
tenure1 = telco[telco['tenure'] == 1]
pd.Series({'observed share of tenure-1 accounts that cancelled': tenure1['churned'].mean(),
           'model, entry ignored': 1 - float(naive.retention_rate(1)),
           'model, conditioned on the snapshot': 1 - float(snapshot.retention_rate(1))}).round(3)"""),
    ("md", """### One churn model per contract type

With one decision per account, how churn differs between accounts shows only in how the churn rate changes with tenure. Month-to-month churn falls with tenure (the likely cancellers leave first: heterogeneity); one-year and two-year churn hardly changes, so for them the sBG's heterogeneity has no finite maximum-likelihood value — the fit says so in words and uses the geometric model (the same chance for every account), its limit."""),
    ("code", """by_contract = clv.SegmentedChurnModel(segment_col='Contract', time_unit='month', random_state=0).fit(telco)
for segment, words in by_contract.boundaries_.items():
    print(f'{segment}: {words}', end='\\n\\n')
by_contract.summary()[['estimate', 'lower', 'upper']].round(4)"""),
    ("md", """Model checks: the observed share of renewal decisions that ended in a cancellation, by tenure band and contract, with its 90% interval, against the model's expected share for the same accounts and decisions; flags in words."""),
    ("code", """from clvmodels.evaluation.churn_checks import churn_by_tenure_band, describe_flags, survival_check
bands = churn_by_tenure_band(by_contract, telco, by='Contract')
for sentence in describe_flags(bands, survival_check(by_contract, telco, by='Contract')):
    print(sentence, end='\\n\\n')
bands[['decisions', 'observed_churn_rate', 'observed_churn_rate_lower', 'observed_churn_rate_upper',
       'model_churn_rate', 'flag']].round(3)"""),
    ("code", """actual = clv.retention_table(telco, by='Contract')   # life tables with delayed entry
fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
for ax, name in zip(axes, by_contract.segments_):
    projected = by_contract.survival(np.arange(97), name)
    plots.plot_survival(np.r_[1.0, actual.loc[name, 'survival']], projected,
                        time_unit='month', label=f'{name} still active', ax=ax)"""),
    ("code", """# how long accounts stay: averages within the 72 observed months and medians, actual and model
clv.lifetime_summary(telco, by='Contract', model=by_contract).round(1)"""),
    ("md", """### Contract as a covariate: one model

Text columns become 0/1 columns first; month-to-month is the reference. By maximum likelihood the covariate sBG has no finite answer here, for the reason above; the error says which level and what to do:"""),
    ("code", """dummies = pd.get_dummies(telco['Contract'], drop_first=True, dtype=float)
accounts = telco.join(dummies)
accounts.attrs['time_unit'] = 'month'
try:
    clv.ShiftedBetaGeoCovariateModel(covariates=list(dummies.columns), time_unit='month').fit(accounts)
except clv.FitError as error:
    print(error)"""),
    ("md", """With `method='map'` (or MCMC) the coefficient priors keep them finite: a multiplier above 1 on `beta` (or below 1 on `alpha`) means less churn."""),
    ("code", """cov_map = clv.ShiftedBetaGeoCovariateModel(covariates=list(dummies.columns), time_unit='month',
                                           random_state=0).fit(accounts, method='map')
cov_map.coefficients().round(3)"""),
    ("code", """cov_mcmc = clv.ShiftedBetaGeoCovariateModel(covariates=list(dummies.columns), time_unit='month',
                                            random_state=1, **MCMC).fit(accounts, method='mcmc')
cov_mcmc.summary().round(3)"""),
    ("md", """## 5. Contractual CLV with both intervals

Each active account is valued just before its next renewal: 60% of its monthly charge for every future renewal within the horizon, discounted at 10% a year. `expected_clv_lower/upper` is the credible interval of the expected value (parameter uncertainty); `clv_predictive_lower/upper` is the predictive interval of what the account will actually bring. The per-contract models value each account by its own contract's model."""),
    ("code", """settings = dict(revenue_col='MonthlyCharges', discount_rate=0.10, margin=0.6, n_samples=N_SAMPLES, random_state=0)
value = clv.contractual_lifetime_value(by_contract, telco, **settings)             # whole remaining life
value_3y = clv.contractual_lifetime_value(by_contract, telco, horizon='3 years', **settings)
value.sort_values('expected_clv', ascending=False).head()"""),
    ("code", """active = ~telco['churned']
pd.DataFrame({'accounts': active.groupby(telco['Contract']).sum(),
              'value, next 3 years ($)': value_3y['expected_clv'][active].groupby(telco['Contract']).sum(),
              'value, whole life ($)': value['expected_clv'][active].groupby(telco['Contract']).sum(),
              'months active in first 5 years (new account)': [by_contract.restricted_mean_lifetime(60, k) for k in by_contract.segments_],
              'median lifetime, months': [by_contract.median_lifetime(k) for k in by_contract.segments_]}).round(1)"""),
    ("code", """fig, axes = plt.subplots(1, 2, figsize=(13, 5))
plots.plot_clv_distribution(value[active], ax=axes[0])
plots.plot_top_customers(value[active], n=15, ax=axes[1]);"""),
    ("md", """## 6. The same from the command line

`clvmodels fit --kind contractual` saves a job directory (the churn models and the column names); `--observed-periods 1` says the table is a snapshot (one decision per account; `--entry-col` names a column of decisions survived before observation began instead), `--segment-col Contract` fits one model per contract type. `clvmodels score` writes one row per account (chunked, atomic, deterministic for a seed; `--horizon '3 years'` for a finite horizon) and `clvmodels report` writes the self-contained HTML report."""),
    ("code", """import pathlib, subprocess, sys, tempfile
work = pathlib.Path(tempfile.mkdtemp())
telco.reset_index().drop(columns=['churned', 'entry']).to_csv(work / 'accounts.csv', index=False)   # the file's columns

def run(*args):
    out = subprocess.run([sys.executable, '-m', 'clvmodels', *args], capture_output=True, text=True)
    print(out.stdout or out.stderr)
    return out.returncode

run('fit', '--kind', 'contractual', str(work / 'accounts.csv'), '--account-col', 'customerID', '--churned-col', 'Churn',
    '--period', 'month', '--observed-periods', '1', '--segment-col', 'Contract', '--revenue-col', 'MonthlyCharges',
    '--out', str(work / 'churn'))
run('score', str(work / 'churn'), str(work / 'accounts.csv'), '--out', str(work / 'clv.parquet'), '--margin', '0.6',
    '--horizon', '3 years', '--seed', '1')
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
