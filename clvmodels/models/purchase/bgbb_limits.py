"""The BG/BB's nested limits: what a fit becomes when a beta mixing distribution
collapses to a point (DESIGN.md principle 8; :mod:`clvmodels.models.boundary`).

The BG/BB (:mod:`~clvmodels.models.purchase.bgbb`) mixes the transaction probability
while alive, ``p ~ Beta(alpha, beta)`` (mixing ``"purchase"``), and the drop-out
probability at the start of each period, ``theta ~ Beta(gamma, delta)`` (mixing
``"dropout"``). When the data show no heterogeneity in one of them, maximum likelihood
drives its two parameters to infinity together (the mean ``alpha / (alpha + beta)`` or
``gamma / (gamma + delta)`` fixed), and the model becomes one of

* :class:`BetaGeoBetaBinomHomogeneousDropoutModel` ``(alpha, beta, theta)``: every
  customer drops out with the same probability ``theta`` (geometric lifetimes,
  beta-binomial transactions);
* :class:`BetaGeoBetaBinomHomogeneousRateModel` ``(p, gamma, delta)``: every customer
  transacts with the same probability ``p`` while alive (binomial transactions,
  shifted-beta-geometric lifetimes);
* :class:`BetaGeoBetaBinomHomogeneousModel` ``(p, theta)``: both (either of the first
  two can collapse further into it).

**The formulas** are the BG/BB's, written once for the family in
:mod:`~clvmodels.models.purchase.bgbb`, with a point in place of a beta: as ``a, b ->
inf`` with ``a / (a + b) = p``, ``B(a + x, b + m - x) / B(a, b) -> p^x (1-p)^(m-x)``
and the posterior mean ``(a + x) / (a + b + m) -> p``; as ``gamma, delta -> inf`` with
``gamma / (gamma + delta) = theta``, ``B(gamma, delta + m) / B(gamma, delta) -> (1 -
theta)^m``, ``B(gamma + 1, delta + m) / B(gamma, delta) -> theta (1 - theta)^m``, and
the expected (discounted) periods alive become geometric sums, ``sum_{k=1}^{t} r^k =
r (1 - r^t) / (1 - r)`` with ``r = (1 - theta) / (1 + d)`` (``d`` the discount rate
per period, 0 undiscounted). So with both fixed the likelihood is ``p^x (1-p)^(n-x)
(1-theta)^n + sum_{i=0}^{n-t_x-1} p^x (1-p)^(t_x+i-x) theta (1-theta)^(t_x+i)``, and
P(alive in period n + 1) is its first term times ``1 - theta`` over the whole.

**Probabilities stay below 1.** The engine optimizes ``log p`` and ``log theta``
(bounds ``exp(+-15)``); the likelihood has ``log(1 - p)`` terms for every period
alive without a transaction and ``log(1 - theta)`` terms for every period survived,
so it is ``-inf`` (not a number above 1) beyond 1 and the optimizer stays inside.

Every formula broadcasts: parameters may be scalars or arrays of draws shaped to
broadcast against the customer arrays, as in the BG/BB.
"""

from __future__ import annotations

import numpy as np

from ...priors import LogNormal
from ..boundary import beta_spread, boundary_statement, estimate_text
from ..registry import register_model
from .bgbb import (
    BetaGeoBetaBinomFamily,
    BetaGeoBetaBinomModel,
    _BetaDropout,
    _BetaPurchase,
    _PointDropout,
    _PointPurchase,
    family_formulas,
)

__all__ = [
    "BetaGeoBetaBinomHomogeneousDropoutModel",
    "BetaGeoBetaBinomHomogeneousRateModel",
    "BetaGeoBetaBinomHomogeneousModel",
]


def _homogeneous_dropout_parts(alpha, beta, theta):
    return _BetaPurchase(alpha, beta), _PointDropout(theta)


def _homogeneous_rate_parts(p, gamma, delta):
    return _PointPurchase(p), _BetaDropout(gamma, delta)


def _homogeneous_parts(p, theta):
    return _PointPurchase(p), _PointDropout(theta)


#: the fact each collapsed mixing states, its parameter, and the pair that grew without bound
_FACTS = {
    "dropout": (("The drop-out probability at the start of each {unit} is the same for every "
                 "customer: {estimate}"), "theta", "gamma and delta"),
    "purchase": (("The transaction probability in each {unit} while alive is the same for "
                  "every customer: {estimate}"), "p", "alpha and beta"),
}


def _probability_text(model, name: str) -> str:
    """``"theta = 0.1380 (95% interval 0.1210-0.1560)"`` with enough digits for a small
    probability."""
    est = float(model.params_[name])
    digits = max(4, int(-np.floor(np.log10(est))) + 2) if est > 0 else 4
    return estimate_text(model, name, digits=digits)


class _LimitModel(BetaGeoBetaBinomFamily):
    """What the three limits share: the statement in words of a boundary."""

    #: the model in words, for the boundary statement
    _words = ""

    def _boundary_message(self, full_name, lr, p_value, collapsed) -> str:
        unit = self.time_unit_ or "period"
        facts = [_FACTS[m][0].format(unit=unit, estimate=_probability_text(self, _FACTS[m][1]))
                 for m in collapsed]
        grow = ", and so do ".join(
            _FACTS[m][2] + (" grow without bound together" if i == 0 else "")
            for i, m in enumerate(collapsed))
        uses = f"{self._words} ({type(self).__name__}), the limit of {full_name} as {grow}"
        return boundary_statement(facts, full_name, lr, p_value, uses)


@register_model
class BetaGeoBetaBinomHomogeneousDropoutModel(_LimitModel):
    """The BG/BB with one drop-out probability ``theta`` for every customer: at the start
    of each period a live customer becomes inactive for good with probability ``theta``
    (geometric lifetimes), and while alive she transacts with her own ``p ~ Beta(alpha,
    beta)`` (the BG/BB's limit ``gamma, delta -> inf`` with ``gamma / (gamma + delta) =
    theta``). A BG/BB fit becomes this model when the data show no heterogeneity in
    drop-out (DESIGN.md principle 8); it can also be fitted directly, and becomes
    :class:`BetaGeoBetaBinomHomogeneousModel` when the transaction probabilities show
    none either. Summaries, settings and predictions as
    :class:`~clvmodels.models.purchase.bgbb.BetaGeoBetaBinomModel`.

    Examples
    --------
    >>> from clvmodels.datasets import load_donations
    >>> model = BetaGeoBetaBinomHomogeneousDropoutModel().fit(load_donations())
    >>> model.param_names, bool(0 < model.params_["theta"] < 1)
    (('alpha', 'beta', 'theta'), True)
    """

    param_names = ("alpha", "beta", "theta")
    default_priors = {"alpha": LogNormal(0.0, 2.0), "beta": LogNormal(0.0, 2.0),
                      "theta": LogNormal(-2.0, 2.0)}
    reference = ("Fader, Hardie & Berger (2010), Marketing Science 29(6): the BG/BB with a "
                 "point mass for the drop-out probability")
    _words = ("the BG/BB model with one drop-out probability theta for every customer "
              "(geometric lifetimes, beta-distributed transaction probabilities)")
    _parts = staticmethod(_homogeneous_dropout_parts)
    formulas = family_formulas(_homogeneous_dropout_parts, "bgbb_homogeneous_dropout")

    def _start(self, arrays, weights):
        return np.log([1.0, 1.0, 0.1])

    def mixing_spread(self, params):
        """``1 / (alpha + beta + 1)``: the transaction probability's spread; 0 when
        every customer has the same one."""
        return {"purchase": beta_spread(params["alpha"], params["beta"])}


@register_model
class BetaGeoBetaBinomHomogeneousRateModel(_LimitModel):
    """The BG/BB with one transaction probability ``p`` for every customer while alive
    (binomial transactions), and her own drop-out probability ``theta ~ Beta(gamma,
    delta)`` (the BG/BB's limit ``alpha, beta -> inf`` with ``alpha / (alpha + beta) =
    p``). A BG/BB fit becomes this model when the data show no heterogeneity in the
    transaction probability (DESIGN.md principle 8); it can also be fitted directly,
    and becomes :class:`BetaGeoBetaBinomHomogeneousModel` when drop-out shows none
    either. Summaries, settings and predictions as
    :class:`~clvmodels.models.purchase.bgbb.BetaGeoBetaBinomModel`.

    Examples
    --------
    >>> from clvmodels.datasets import load_donations
    >>> model = BetaGeoBetaBinomHomogeneousRateModel().fit(load_donations())
    >>> model.param_names, bool(0 < model.params_["p"] < 1)
    (('p', 'gamma', 'delta'), True)
    """

    param_names = ("p", "gamma", "delta")
    default_priors = {"p": LogNormal(-1.0, 1.0), "gamma": LogNormal(0.0, 2.0),
                      "delta": LogNormal(0.0, 2.0)}
    reference = ("Fader, Hardie & Berger (2010), Marketing Science 29(6): the BG/BB with a "
                 "point mass for the transaction probability")
    _words = ("the BG/BB model with one transaction probability p for every customer "
              "(binomial transactions while alive, beta-distributed drop-out probabilities)")
    _parts = staticmethod(_homogeneous_rate_parts)
    formulas = family_formulas(_homogeneous_rate_parts, "bgbb_homogeneous_rate")

    def _start(self, arrays, weights):
        return np.log([self._start_p(arrays, weights), 1.0, 1.0])

    def mixing_spread(self, params):
        """``1 / (gamma + delta + 1)``: the drop-out probability's spread; 0 when every
        customer has the same one."""
        return {"dropout": beta_spread(params["gamma"], params["delta"])}


@register_model
class BetaGeoBetaBinomHomogeneousModel(_LimitModel):
    """The BG/BB without heterogeneity: every customer transacts with probability ``p``
    in each period she is alive and becomes inactive with probability ``theta`` at the
    start of each period, the BG/BB's limit as both betas collapse to points. A BG/BB
    fit (or either one-beta limit) becomes this model when the data show no
    heterogeneity at all (DESIGN.md principle 8); it can also be fitted directly.
    Summaries, settings and predictions as
    :class:`~clvmodels.models.purchase.bgbb.BetaGeoBetaBinomModel`.

    Examples
    --------
    >>> import pandas as pd
    >>> summary = pd.DataFrame({"frequency": [0, 1, 2, 3, 1, 4], "recency": [0, 1, 4, 3, 2, 6],
    ...                         "n_periods": [6, 6, 6, 6, 6, 6]})
    >>> model = BetaGeoBetaBinomHomogeneousModel(time_unit="year").fit(summary)
    >>> model.param_names, model.params_.round(2).tolist()
    (('p', 'theta'), [0.57, 0.19])
    """

    param_names = ("p", "theta")
    default_priors = {"p": LogNormal(-1.0, 1.0), "theta": LogNormal(-2.0, 2.0)}
    reference = ("Fader, Hardie & Berger (2010), Marketing Science 29(6): the BG/BB with "
                 "point masses for both probabilities")
    _words = ("the homogeneous BG/BB model (one transaction probability p while alive, one "
              "drop-out probability theta per period)")
    _parts = staticmethod(_homogeneous_parts)
    formulas = family_formulas(_homogeneous_parts, "bgbb_homogeneous")
    limit_models = {}

    def _start(self, arrays, weights):
        return np.log([self._start_p(arrays, weights), 0.1])


BetaGeoBetaBinomHomogeneousDropoutModel.limit_models = {
    "purchase": BetaGeoBetaBinomHomogeneousModel}
BetaGeoBetaBinomHomogeneousRateModel.limit_models = {"dropout": BetaGeoBetaBinomHomogeneousModel}
BetaGeoBetaBinomModel.limit_models = {"dropout": BetaGeoBetaBinomHomogeneousDropoutModel,
                                      "purchase": BetaGeoBetaBinomHomogeneousRateModel}
