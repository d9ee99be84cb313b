"""Build notebooks/02_contractual_churn.ipynb from the cells below (without outputs).

Edit the cells here, not in the notebook, then rebuild and execute it:

    python notebooks/build_02_contractual_churn.py    # writes the cells, outputs cleared
    python notebooks/execute.py notebooks/02_contractual_churn.ipynb   # stores the outputs

tests/test_notebooks.py checks that the stored notebook's code is the code here, that
it was executed, and runs it again with fast settings. A cell tagged "deterministic"
prints only what the fast settings do not change: the test compares its printed text
with the fresh run's.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", """# Subscriptions: churn, retention and contractual CLV

Cohort survival tables (Fader & Hardie 2007) → shifted-beta-geometric (sBG) fit → projected survival against what actually happened → discounted expected residual lifetime (DERL, Fader & Hardie 2010) → per-account data observed as a snapshot (IBM's Telco accounts: one renewal decision per account) → one churn model per contract type, with model checks in words → contract type as a covariate (MAP and MCMC) → contractual CLV over 3 years and the whole remaining life, with both intervals → the same from the command line.

The sentences under each result are printed by the code from this run's numbers; the notes after them say how to read the result and what to do with it."""),
    ("code", """%matplotlib inline
import os
FAST = os.environ.get("CLVMODELS_FAST") == "1"   # the test suite runs notebooks with fast settings
MCMC = dict(chains=2, draws=300, tune=300) if FAST else dict(chains=4, draws=1000, tune=1000)
N_SAMPLES = 200 if FAST else 1000                 # simulated futures per distinct account row
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import clvmodels as clv
from clvmodels import plots
from clvmodels.datasets import load_telco
from clvmodels.models.churn.sbg import sbg_discounted_residual_lifetime

def usd(x):
    \"\"\"Money for a sentence: whole dollars to 3 significant digits from $100, cents below.\"\"\"
    return f'${float(f"{x:.3g}"):,.0f}' if abs(x) >= 100 else f'${x:,.2f}'

def pct(x):
    \"\"\"A share for a sentence: whole percent, 'under 1%' for a small share that is not 0.\"\"\"
    return 'under 1%' if 0 < x < 0.005 else f'{x:.0%}'"""),
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
    ("code", """fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout='constrained')
for ax, (name, model) in zip(axes, cohort_models.items()):
    projected = 1000 * model.survival(np.arange(13))
    plots.plot_survival(ACTIVE[name], projected, calibration_periods=7, time_unit='year',
                        label=f'{name} customers still active', ax=ax)
    print(f"{name.capitalize()}: {1000 - ACTIVE[name][1]} of 1,000 new customers left in the first year. Fitted on years 1-7 only, "
          f"the model projects {projected[12]:.0f} still active in year 12; {ACTIVE[name][12]} were.")""", ["deterministic"]),
    ("md", """**What it means.** Fitted on seven years, the model follows the next five closely (the sentences above give the numbers) because it knows that customers differ: the likely cancellers leave first, and those who remain are the loyal ones, so the curve flattens. A constant churn rate taken from the first year would have written both cohorts off far too early. **What to do with it:** budget a cohort's future with its projected curve, not with its first-year churn rate."""),
    ("code", """retention = pd.concat({name: clv.expected_retention(m, 12).loc['all', ['retention_rate', 'retention_rate_lower', 'retention_rate_upper']]
                       for name, m in cohort_models.items()}, axis=1).round(3)
for name in cohort_models:
    r = retention[name, 'retention_rate']
    print(f"{name.capitalize()}: {r.iloc[0]:.0%} of the customers renew after year 1; by year 12, {r.iloc[-1]:.0%} of those still there renew.")
retention""", ["deterministic"]),
    ("md", """**What it means.** Retention rises with tenure by itself, without any loyalty programme: it is the cohort sorting itself, not customers changing. **What to do with it:** judge a retention initiative against this rising curve (the expected retention rate for that tenure), not against last year's rate, or it will get credit for what would have happened anyway."""),
    ("md", """## 3. Discounted expected residual lifetime (DERL)

For a customer who has renewed *n - 1* times, the expected number of further payments, each discounted (the next one not). Fader & Hardie (2010), *d* = 10% per period, *n* = 1..5: 3.31, 3.45, 3.59, 3.72, 3.84 and 7.67, 9.46, 9.85, 10.06, 10.19."""),
    ("code", """n = np.arange(1, 6)
pd.DataFrame({'alpha=3.80, beta=15.20': sbg_discounted_residual_lifetime(3.80, 15.20, n - 1, 0.10),
              'alpha=0.067, beta=0.267': sbg_discounted_residual_lifetime(0.067, 0.267, n - 1, 0.10)},
             index=pd.Index(n, name='n')).round(2)"""),
    ("code", """# the regular cohort's survivors after 0..7 renewals, valued at 10% a year (years are the period here)
survivors = pd.DataFrame({'tenure': np.arange(8)})
derl = cohort_models['regular'].discounted_expected_residual_lifetime(survivors, discount_rate=0.10)
print(f"A regular customer about to make a first renewal decision is worth {derl.iloc[0]:.2f} discounted future payments; "
      f"one who has already renewed 7 times, {derl.iloc[7]:.2f}: {derl.iloc[7] / derl.iloc[0]:.1f} times as much.")
derl.round(2).tolist()""", ["deterministic"]),
    ("md", """**What to do with it.** What a customer is worth depends on how long they have already stayed. Multiply the DERL by the margin per payment to get the most worth spending to keep a customer of that tenure: a long-standing customer justifies a larger retention offer than a new one paying the same price."""),
    ("md", """## 4. Per-account data observed as a snapshot: IBM's Telco accounts

7,043 monthly accounts: `tenure` (months), `Churn`, `MonthlyCharges` and the `Contract` type. The file lists the accounts **active at the start of one month**, and `Churn` says whether each cancelled **in that month**: every account that cancelled earlier is missing. So each account was observed for one renewal decision, at its own tenure (`entry = tenure - 1` decisions survived before observation began). `load_telco` adds `churned` and `entry`; every churn model, life table and check conditions on it."""),
    ("code", """telco = load_telco()
print(f"{len(telco):,} accounts; {telco['churned'].mean():.0%} of them cancelled in the observed month.")
telco[['tenure', 'entry', 'Churn', 'churned', 'MonthlyCharges', 'Contract']].head()""", ["deterministic"]),
    ("md", """What ignoring the window does: treated as full histories (entry dropped), the early cancellations vanish and first-month churn looks rare; conditioned on the snapshot, the model matches the share of tenure-1 accounts that actually cancelled in the month."""),
    ("code", """naive = clv.ShiftedBetaGeoModel(random_state=0).fit(telco.drop(columns='entry'))
snapshot = clv.ShiftedBetaGeoModel(random_state=0).fit(telco)
tenure1 = telco[telco['tenure'] == 1]
first_month = pd.Series({'observed share of tenure-1 accounts that cancelled': tenure1['churned'].mean(),
                         'model, entry ignored': 1 - float(naive.retention_rate(1)),
                         'model, conditioned on the snapshot': 1 - float(snapshot.retention_rate(1))}).round(3)
print(f"Of the accounts in their first month, {first_month.iloc[0]:.0%} cancelled. Fitted as if the file held complete histories, "
      f"the model puts first-month churn at {first_month.iloc[1]:.0%}; told that it is a snapshot, at {first_month.iloc[2]:.0%}.")
first_month""", ["deterministic"]),
    ("md", """**What to do with it.** A customer file that lists only today's customers hides everyone who already left. Fitted as if it were complete, any churn model concludes that churn is rare and overvalues every account. Tell the fit how the data were collected (`entry`, or `--observed-periods` / `--entry-col` on the command line)."""),
    ("md", """### One churn model per contract type

With one decision per account, how churn differs between accounts shows only in how the churn rate changes with tenure. Month-to-month churn falls with tenure (the likely cancellers leave first: heterogeneity); one-year and two-year churn hardly changes, so for them the sBG's heterogeneity has no finite maximum-likelihood value — the fit says so in words and uses the geometric model (the same chance for every account), its limit."""),
    ("code", """by_contract = clv.SegmentedChurnModel(segment_col='Contract', time_unit='month', random_state=0).fit(telco)
for segment, words in by_contract.boundaries_.items():
    print(f'{segment}: {words}', end='\\n\\n')
print('A new account cancels in its first month with probability '
      + ', '.join(f"{pct(1 - float(by_contract.survival(1, k)))} ({k.lower()})" for k in by_contract.segments_)
      + '; it is still active after a year with probability '
      + ', '.join(pct(float(by_contract.survival(12, k))) for k in by_contract.segments_) + '.')
by_contract.summary()[['estimate', 'lower', 'upper']].round(4)""", ["deterministic"]),
    ("md", """**What to do with it.** Contract type separates short-lived from long-lived accounts more than anything else in the file. Customers who choose a long contract were probably loyal already, so the gap overstates what converting a customer would gain; still, it bounds the value of a contract-upgrade offer, and each contract type needs its own model (and its own numbers) in any plan."""),
    ("md", """Model checks: the observed share of renewal decisions that ended in a cancellation, by tenure band and contract, with its 90% interval, against the model's expected share for the same accounts and decisions; flags in words."""),
    ("code", """from clvmodels.evaluation.churn_checks import churn_by_tenure_band, describe_flags, survival_check
bands = churn_by_tenure_band(by_contract, telco, by='Contract')
for sentence in describe_flags(bands, survival_check(by_contract, telco, by='Contract')):
    print(sentence, end='\\n\\n')
bands[['decisions', 'observed_churn_rate', 'observed_churn_rate_lower', 'observed_churn_rate_upper',
       'model_churn_rate', 'flag']].round(3)""", ["deterministic"]),
    ("md", """**What to do with it.** A flagged band is one where the model's churn rate differs from what happened by more than chance allows; the sentence says what to do about it. Values of accounts in flagged segments are less reliable, most of all over long horizons."""),
    ("code", """actual = clv.retention_table(telco, by='Contract')   # life tables with delayed entry
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), layout='constrained')
for ax, name in zip(axes, by_contract.segments_):
    projected = by_contract.survival(np.arange(97), name)
    plots.plot_survival(np.r_[1.0, actual.loc[name, 'survival']], projected,
                        time_unit='month', label=f'{name} still active', ax=ax)"""),
    ("code", """# how long accounts stay: averages within the 72 observed months and medians, actual and model
life = clv.lifetime_summary(telco, by='Contract', model=by_contract)
for name, row in life.iterrows():
    actual_months, model_months = row['restricted_mean_lifetime'], row['model_restricted_mean_lifetime']
    verdict = ('close' if abs(model_months - actual_months) <= 0.1 * actual_months else
               'the model is pessimistic, so its values for these accounts are conservative' if model_months < actual_months else
               'the model is optimistic, so its values for these accounts are too high')
    print(f"{name}: within the first {row['observed_periods']:.0f} months a new account stays {actual_months:.1f} months on average "
          f"(life table); the model says {model_months:.1f}: {verdict}.")
life.round(1)""", ["deterministic"]),
    ("md", """**How to read it.** The solid line is the share of new accounts still active after each month, from the life table (which allows for the snapshot); the dashed line is the model's curve. Where the model's line runs below the actual one, the model is pessimistic and undervalues the segment; above, it overvalues it. **What to do with it:** quote a segment's lifetime value with the verdict in the sentence above; for a segment the model misses, use the life-table figures or the duration-dependent model the checks suggest."""),
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
contracts = {'month-to-month': {}, **{c.lower(): {c: 1.0} for c in dummies.columns}}
print('One model with contract as a covariate (MAP): a new account is still active after a year with probability '
      + ', '.join(f"{pct(float(cov_map.survival(12, row)))} ({name})" for name, row in contracts.items())
      + ' (the per-contract models above: ' + ', '.join(pct(float(by_contract.survival(12, k))) for k in by_contract.segments_) + ').')
cov_map.coefficients().round(3)""", ["deterministic"]),
    ("code", """cov_mcmc = clv.ShiftedBetaGeoCovariateModel(covariates=list(dummies.columns), time_unit='month',
                                            random_state=1, **MCMC).fit(accounts, method='mcmc')
posterior = cov_mcmc.summary()
print(f"MCMC: largest r_hat {posterior['r_hat'].max():.3f} (below 1.01: the chains agree); a new account is still active after a year "
      f"with probability " + ', '.join(f"{pct(float(cov_mcmc.survival(12, row)))} ({name})" for name, row in contracts.items()) + '.')
posterior.round(3)"""),
    ("md", """**What to do with it.** The covariate model answers the same question with one model, and the priors keep the one-year and two-year coefficients finite at the cost of pulling them towards month-to-month; where it and the per-contract models disagree, trust the per-contract models, which need no prior. The covariate form pays off with several covariates at once (contract, payment method, internet service...), where one model per combination would run out of data."""),
    ("md", """## 5. Contractual CLV with both intervals

Each active account is valued just before its next renewal: the margin on its monthly charge for every future renewal within the horizon, discounted to today. `expected_clv_lower/upper` is the credible interval of the expected value (parameter uncertainty); `clv_predictive_lower/upper` is the predictive interval of what the account will actually bring. The per-contract models value each account by its own contract's model."""),
    ("code", """settings = dict(revenue_col='MonthlyCharges', discount_rate=0.10, margin=0.6, n_samples=N_SAMPLES, random_state=0)
value = clv.contractual_lifetime_value(by_contract, telco, **settings)             # whole remaining life
value_3y = clv.contractual_lifetime_value(by_contract, telco, horizon='3 years', **settings)
value.sort_values('expected_clv', ascending=False).head().round(2)"""),
    ("code", """active = ~telco['churned']
by_type = pd.DataFrame({'accounts': active.groupby(telco['Contract']).sum(),
                        'value, next 3 years ($)': value_3y['expected_clv'][active].groupby(telco['Contract']).sum(),
                        'value, whole life ($)': value['expected_clv'][active].groupby(telco['Contract']).sum(),
                        'months active in first 5 years (new account)': [by_contract.restricted_mean_lifetime(60, k) for k in by_contract.segments_],
                        'median lifetime, months': [by_contract.median_lifetime(k) for k in by_contract.segments_]})
share = by_type / by_type.sum()
print(f"The {active.sum():,} active accounts are expected to bring {usd(by_type['value, next 3 years ($)'].sum())} of profit over the next 3 years "
      f"({settings['margin']:.0%} margin, discounted at {settings['discount_rate']:.0%} a year) and {usd(by_type['value, whole life ($)'].sum())} "
      f"over their whole remaining life. Two-year contracts are {share.loc['Two year', 'accounts']:.0%} of the active accounts "
      f"and {share.loc['Two year', 'value, next 3 years ($)']:.0%} of the 3-year value; month-to-month accounts are "
      f"{share.loc['Month-to-month', 'accounts']:.0%} of the accounts and {share.loc['Month-to-month', 'value, next 3 years ($)']:.0%} of the value.")
by_type.round(1)""", ["deterministic"]),
    ("code", """fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), layout='constrained')
plots.plot_clv_distribution(value[active], ax=axes[0])
plots.plot_top_customers(value[active], n=15, ax=axes[1]);"""),
    ("md", """**What to do with it.** The value of the base sits in the long contracts: protect it at renewal time, when a two-year account decides for the next period. Month-to-month accounts are many but each is worth little over its expected life, so what is worth spending to keep one is small; the way to raise their value is to move them onto longer contracts. The predictive intervals on the right show that even for the most valuable accounts the outcome is uncertain: decide on groups, rank on expected value."""),
    ("md", """## 6. The same from the command line

`clvmodels fit --kind contractual` saves a job directory (the churn models and the column names); `--observed-periods 1` says the table is a snapshot (one decision per account; `--entry-col` names a column of decisions survived before observation began instead), `--segment-col Contract` fits one model per contract type. `clvmodels score` writes one row per account (chunked, atomic, deterministic for a seed; `--horizon '3 years'` for a finite horizon) and `clvmodels report` writes the self-contained HTML report. The commands run in a temporary folder, deleted at the end."""),
    ("code", """import pathlib, re, shutil, subprocess, sys, tempfile
work = pathlib.Path(tempfile.mkdtemp())
telco.reset_index().drop(columns=['churned', 'entry']).to_csv(work / 'accounts.csv', index=False)   # the file's columns

def run(*args):
    \"\"\"Run `clvmodels ARGS...` in the work folder and print what it says.\"\"\"
    out = subprocess.run([sys.executable, '-m', 'clvmodels', *args], capture_output=True, text=True, cwd=work)
    print(out.stdout or out.stderr)
    return out.returncode

run('fit', '--kind', 'contractual', 'accounts.csv', '--account-col', 'customerID', '--churned-col', 'Churn',
    '--period', 'month', '--observed-periods', '1', '--segment-col', 'Contract', '--revenue-col', 'MonthlyCharges',
    '--out', 'churn')
run('score', 'churn', 'accounts.csv', '--out', 'clv.parquet', '--margin', '0.6', '--discount-rate', '0.1',
    '--horizon', '3 years', '--seed', '1')
scores = pd.read_parquet(work / 'clv.parquet')
print(f"The command line's 3-year total, {usd(scores['expected_clv'].sum())}, "
      + ('is' if np.isclose(scores['expected_clv'].sum(), value_3y['expected_clv'].sum()) else 'is NOT')
      + f" the Python total above ({usd(value_3y['expected_clv'].sum())}): the same models and settings give the same value.")
scores.head().round(2)"""),
    ("code", """run('report', 'churn', 'accounts.csv', '--out', 'churn.html', '--segment-col', 'Contract', '--acquisition-cost', '250',
    '--margin', '0.6', '--discount-rate', '0.1')
page = (work / 'churn.html').read_text()
sections = [re.sub('<[^>]+>', '', h) for h in re.findall(r'<h2[^>]*>(.*?)</h2>', page, flags=re.S)]
print(f"churn.html ({len(page.encode()) / 1024:,.0f} KB, one self-contained file to share) has these sections: {'; '.join(sections)}.")"""),
    ("md", """A table that does not say clearly whether an account cancelled gets a one-paragraph error naming the column, and exit code 1:"""),
    ("code", """run('fit', '--kind', 'contractual', 'accounts.csv', '--account-col', 'customerID', '--churned-col', 'gender',
    '--period', 'month', '--out', 'wrong')"""),
    ("code", """shutil.rmtree(work)   # the job, scores and report were only for this demonstration"""),
]


def build() -> Path:
    cells = []
    for kind, src, *tags in CELLS:
        cell = new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        if tags:
            cell.metadata["tags"] = list(tags[0])
        cells.append(cell)
    nb = new_notebook(cells=cells)
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
