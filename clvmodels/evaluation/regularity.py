"""How regular are the customers' purchases? The regularity check behind the choice
between random-timing purchase models (BG/NBD, MBG/NBD, Pareto/NBD: exponential
inter-purchase times) and the Erlang-k ones ((M)BG/CNBD-k, Platzer & Reutterer 2016,
"Ticking Away the Moments: Timing Regularity Helps to Better Predict Customer
Activity", Marketing Science 35(5)); the idea of BTYDplus's ``estimateRegularity``.

**The estimate.** A customer's gaps (times between her purchase days) are taken to be
independent gamma variables with a shape ``kappa`` common to all customers and a rate
of her own: ``kappa = 1`` is random (Poisson) timing, ``kappa = k`` an Erlang-k rhythm,
and the gaps' coefficient of variation is ``1 / sqrt(kappa)``. Each customer's own
rate is removed by conditioning on the sum of her ``x`` gaps (her recency ``t_x``):
given it, the gaps over their sum are ``Dirichlet(kappa, ..., kappa)`` whatever her rate,
so the conditional log-likelihood

    sum_i  lgamma(x_i kappa) - x_i lgamma(kappa) + (kappa - 1) (log_gap_sum_i - x_i log t_x_i)

depends on ``kappa`` alone and is maximised over it (a concave function of ``kappa``;
standard error from its curvature, interval on the log scale). Why this and not a
moment method: it uses every gap of every customer with ``min_gaps`` or more, customers
with different rates are not mixed (normalising by the customer's own mean gap), it is
unbiased for any number of gaps per customer (the profile likelihood with a rate per
customer is not), it needs only ``frequency``, ``recency`` and ``log_gap_sum`` from
the summary, and right-censoring at the end of the observation window and drop-out
do not bias it: given ``x`` and ``t_x`` they do not depend on how the gaps are split.

What it assumes: one shape for all customers (with mixed shapes it estimates a
typical one), rates steady within a customer (a rate that drifts looks irregular),
and gaps long compared with a day (gaps are whole days; the same-day purchases
are merged).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from ..data.regularity import (
    LOG_GAP_SUM,
    log_gap_sum_array,
    log_gap_sums,
    purchase_gaps,
)
from ..errors import DataError, check_parameter
from ..timeunits import check_time_unit, unit_length_days

__all__ = ["RegularityEstimate", "estimate_regularity", "regularity_log_likelihood"]

#: shapes searched: below 1e-3 or above 1e3 the data say "as irregular / regular as
#: can be", and the estimate is reported at that end
SHAPE_RANGE = (1e-3, 1e3)


@dataclass(frozen=True)
class RegularityEstimate:
    """The regularity check's answer (:func:`estimate_regularity`).

    Attributes
    ----------
    shape : float
        Estimated gamma shape ``kappa`` of the gaps (1: random timing).
    se, lower, upper : float
        Its standard error and a ``level`` interval.
    erlang_k : int
        The whole-number order with the highest likelihood (at least 1): the ``k`` of
        the Erlang-k models the data look like.
    variation : float
        ``1 / sqrt(shape)``: how much a customer's gaps vary relative to random timing.
    p_value_random : float
        Likelihood-ratio test of random timing (``shape = 1``).
    n_customers, n_gaps : int
        Customers with ``min_gaps`` or more gaps, and their gaps.
    typical_gap : float
        The median of those customers' mean gaps, in ``time_unit``.
    statement : str
        The answer in words.
    normalized_gaps, gap_counts : ndarray or None
        With transactions: each gap of those customers over her mean gap, and her
        number of gaps (what :func:`clvmodels.plots.regularity.plot_regularity` draws).
    """

    shape: float
    se: float
    lower: float
    upper: float
    level: float
    erlang_k: int
    variation: float
    p_value_random: float
    n_customers: int
    n_gaps: int
    min_gaps: int
    typical_gap: float
    time_unit: str | None
    statement: str
    normalized_gaps: np.ndarray | None = field(default=None, repr=False)
    gap_counts: np.ndarray | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.statement

    def to_series(self) -> pd.Series:
        """The numbers of the estimate as a Series (for tables and reports)."""
        names = ("shape", "se", "lower", "upper", "level", "erlang_k", "variation",
                 "p_value_random", "n_customers", "n_gaps", "min_gaps", "typical_gap")
        return pd.Series({n: getattr(self, n) for n in names}, name="regularity")


def regularity_log_likelihood(shape, frequency, recency, log_gap_sum, *, derivatives=0):
    """Conditional log-likelihood of the gap shape ``kappa`` (module docstring), summed
    over customers with at least two gaps; with ``derivatives`` 1 or 2 also its first
    (and second) derivative in ``kappa``. The unit of the gaps cancels.

    >>> x, t_x = np.array([2.0, 3.0]), np.array([2.0, 3.0])
    >>> ll1 = regularity_log_likelihood(1.0, x, t_x, np.zeros(2))  # all gaps equal
    >>> bool(regularity_log_likelihood(5.0, x, t_x, np.zeros(2)) > ll1)
    True
    """
    x = np.asarray(frequency, dtype=np.float64)
    u = np.asarray(log_gap_sum, dtype=np.float64) - x * np.log(np.asarray(recency, float))
    k = float(shape)
    ll = float(np.sum(special.gammaln(x * k) - x * special.gammaln(k) + (k - 1.0) * u))
    if derivatives == 0:
        return ll
    d1 = float(np.sum(x * (special.digamma(x * k) - special.digamma(k)) + u))
    if derivatives == 1:
        return ll, d1
    d2 = float(np.sum(x * x * special.polygamma(1, x * k) - x * special.polygamma(1, k)))
    return ll, d1, d2


def _from_transactions(data, customer_col, date_col, date_format, observation_end, unit):
    """frequency, recency, log_gap_sum and the gaps of every customer (time ``unit``)."""
    from ..data.purchase_days import purchase_days
    from ..data.summary import _rfm_columns
    from ..data.transactions import parse_day

    owner = "estimate_regularity"
    end_day = None if observation_end is None else parse_day(observation_end,
                                                             "observation_end", owner)
    p = purchase_days(data, customer_col=customer_col, date_col=date_col, amount_col=None,
                      allow_refunds=False, date_format=date_format, end_day=end_day,
                      end_name="observation_end")
    days = unit_length_days(unit)
    keep, cols = _rfm_columns(p, None, p.end if end_day is None else end_day, days)
    rows, gaps = purchase_gaps(p, keep, None, days)
    return (cols["frequency"].astype(np.float64), cols["recency"],
            log_gap_sums(p, keep, None, days), rows, gaps)


def estimate_regularity(
    data,
    *,
    min_gaps: int = 2,
    level: float = 0.95,
    time_unit: str = "week",
    customer_col: str = "customer_id",
    date_col: str = "date",
    date_format: str | None = None,
    observation_end: object = None,
) -> RegularityEstimate:
    """Estimate how regular purchases are: the gamma (Erlang) shape of customers' gaps.

    Parameters
    ----------
    data : DataFrame, str or path
        Transactions (as for :func:`clvmodels.rfm_summary`), or a summary with
        ``frequency``, ``recency`` and ``log_gap_sum`` (``rfm_summary(...,
        regularity=True)``). Transactions also give the gaps for the plot.
    min_gaps : int
        Customers with at least this many gaps (repeat purchases) are used; at least 2
        (one gap says nothing about regularity).
    level : float
        Probability content of the interval.
    time_unit : str
        Unit of the gaps when ``data`` are transactions (for ``typical_gap`` only: the
        shape does not depend on it).
    customer_col, date_col, date_format, observation_end
        How to read transactions (see :func:`clvmodels.rfm_summary`).

    Returns
    -------
    RegularityEstimate
        With ``statement``, the answer in words.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> est = estimate_regularity(load_cdnow_transactions())
    >>> est.erlang_k, est.n_customers, round(est.shape, 2)
    (1, 736, 0.96)
    """
    owner = "estimate_regularity"
    check_parameter("min_gaps", owner, min_gaps, isinstance(min_gaps, (int, np.integer))
                    and not isinstance(min_gaps, bool) and min_gaps >= 2, "an int >= 2")
    check_parameter("level", owner, level, isinstance(level, float) and 0 < level < 1,
                    "a float in (0, 1)")
    is_summary = isinstance(data, pd.DataFrame) and LOG_GAP_SUM in data.columns
    rows = gaps = None
    if is_summary:
        from ..models.inputs import summary_arrays

        # T is not needed here: checked when present, else stood in for by recency
        arr = summary_arrays(data if "T" in data.columns else data.assign(T=data.get("recency")),
                             owner)
        x, t_x = arr["frequency"], arr["recency"]
        lgs = log_gap_sum_array(data, x, t_x, owner)
        unit = data.attrs.get("time_unit")
    elif isinstance(data, (pd.DataFrame, str, os.PathLike)):
        if isinstance(data, pd.DataFrame) and {"frequency", "recency"} <= set(data.columns):
            raise DataError(
                f"{owner}: the summary has no {LOG_GAP_SUM!r} column. Build it with "
                "rfm_summary(..., regularity=True), or pass the transactions.")
        unit = check_time_unit(time_unit, owner)
        x, t_x, lgs, rows, gaps = _from_transactions(data, customer_col, date_col, date_format,
                                                     observation_end, unit)
    else:
        raise TypeError(f"The 'data' parameter of {owner} must be transactions (a DataFrame, "
                        "or a CSV/Parquet path) or a summary with 'log_gap_sum'. Got "
                        f"{type(data).__name__} instead.")
    use = x >= min_gaps
    n_customers = int(use.sum())
    if n_customers < 10:
        raise DataError(
            f"{owner}: only {n_customers} customer(s) have {min_gaps} or more gaps between "
            "purchase days; at least 10 are needed to estimate how regular purchases are. "
            + ("Lower min_gaps (2 is the least) or use a longer observation period."
               if min_gaps > 2 else "Use a longer observation period or more customers."))
    xs, ts, ls = x[use], t_x[use], lgs[use]
    shape = _maximize(xs, ts, ls)
    ll, _, d2 = regularity_log_likelihood(shape, xs, ts, ls, derivatives=2)
    se = 1.0 / math.sqrt(-d2) if d2 < 0 else math.inf
    z = stats.norm.ppf(0.5 + level / 2)
    lower, upper = shape * math.exp(-z * se / shape), shape * math.exp(z * se / shape)
    lr = max(0.0, 2.0 * (ll - regularity_log_likelihood(1.0, xs, ts, ls)))
    p_random = float(stats.chi2.sf(lr, 1))
    lo_k = max(1, math.floor(shape))
    candidates = {k: regularity_log_likelihood(float(k), xs, ts, ls) for k in (lo_k, lo_k + 1)}
    erlang_k = max(candidates, key=candidates.get) if shape >= 1 else 1
    n_gaps = int(xs.sum())
    typical_gap = float(np.median(ts / xs))
    normalized = counts = None
    if gaps is not None:
        mean_gap = np.where(x > 0, t_x / np.maximum(x, 1.0), 1.0)
        mine = use[rows]
        normalized = gaps[mine] / mean_gap[rows[mine]]
        counts = x[rows[mine]].astype(np.int64)
    statement = _statement(shape, lower, upper, level, erlang_k, p_random, n_customers,
                           min_gaps, typical_gap, unit)
    return RegularityEstimate(
        shape=float(shape), se=float(se), lower=float(lower), upper=float(upper),
        level=float(level), erlang_k=int(erlang_k), variation=float(1.0 / math.sqrt(shape)),
        p_value_random=p_random, n_customers=n_customers, n_gaps=n_gaps, min_gaps=int(min_gaps),
        typical_gap=typical_gap, time_unit=unit, statement=statement,
        normalized_gaps=normalized, gap_counts=counts)


def _maximize(x, t_x, lgs) -> float:
    """The shape maximising the (concave) conditional likelihood, clipped to SHAPE_RANGE."""
    def score(log_k):
        return regularity_log_likelihood(math.exp(log_k), x, t_x, lgs, derivatives=1)[1]

    lo, hi = (math.log(v) for v in SHAPE_RANGE)
    if score(hi) >= 0:  # all gaps of each customer (nearly) equal
        return SHAPE_RANGE[1]
    if score(lo) <= 0:
        return SHAPE_RANGE[0]
    return math.exp(optimize.brentq(score, lo, hi, xtol=1e-12))


def _statement(shape, lower, upper, level, k, p_random, n, min_gaps, typical_gap,
               unit) -> str:
    """The estimate in words, with what it means for the choice of model."""
    units = f" {unit}s" if unit else ""
    basis = (f"(gap shape {shape:.2f}, {level:.0%} interval {lower:.2f} to {upper:.2f}, from "
             f"{n:,} customers with {min_gaps} or more gaps; a typical customer's mean gap "
             f"{typical_gap:.3g}{units})")
    vary = f"a customer's gaps vary about {100 / math.sqrt(shape):.0f}% as much as random timing would"
    if shape < 0.8 and upper < 1.0:
        return (f"Purchases are less regular than random (Poisson) timing: {vary}, bursts of "
                f"purchases between long pauses {basis}. Erlang-k models describe more regular "
                "timing only; the random-timing models (BG/NBD, MBG/NBD, Pareto/NBD) are the "
                "closest.")
    if k == 1:
        test = ("random timing is not rejected" if p_random >= 0.05 else
                f"the difference from random timing is small but clear (p = {p_random:.2g})")
        return (f"Purchases are about as regular as random (Poisson) timing, Erlang-1: {vary} "
                f"{basis}; {test}. The random-timing models (BG/NBD, MBG/NBD, Pareto/NBD) fit "
                "this; an Erlang-k model chooses k = 1 or close to it.")
    return (f"Purchases are about as regular as Erlang-{k}: {vary} {basis}. Random-timing "
            "models (BG/NBD, MBG/NBD, Pareto/NBD) read a long pause as drop-out less often "
            "than they should and misjudge who is still active; fit an Erlang-k model "
            "(ModifiedBetaGeoCNBDModel, BetaGeoCNBDModel).")
