"""BG/CNBD-k model of repeat purchasing (Platzer & Reutterer 2016, "Ticking Away the
Moments: Timing Regularity Helps to Better Predict Customer Activity", Marketing
Science 35(5)).

The BG/NBD model (:mod:`clvmodels.models.purchase.bgnbd`) with regular purchases:
while alive a customer's inter-purchase times are Erlang-k with mean ``1 / lambda``,
``lambda ~ Gamma(r, alpha)``, and she drops out with probability ``p ~ Beta(a, b)``
right after each repeat purchase (not after the first, so a customer without repeat
purchases is alive). ``k = 1`` is BG/NBD with the same parameters (these formulas
then call BG/NBD's); the math of every ``k`` is in
:mod:`clvmodels.models.purchase.cnbd`, shared with MBG/CNBD-k, which also
builds this model's formulas and simulator
(:func:`~clvmodels.models.purchase.cnbd.erlang_formulas`; their examples run as
doctests here, with ``PARS``). Every formula takes the Erlang order as ``erlang_k``
(the fitted model's ``point_params`` and ``param_draws`` carry it) and broadcasts like
the other purchase models.
"""

from __future__ import annotations

import numpy as np  # noqa: F401 - the examples use it

from ..registry import register_model
from .bgnbd import BGNBD_DROPOUT, BetaGeoModel
from .cnbd import ErlangPurchaseModel, erlang_formulas

__all__ = [
    "BetaGeoCNBDModel",
    "bgcnbd_conditional_expected_purchases",
    "bgcnbd_discounted_purchases_if_alive",
    "bgcnbd_expected_purchases_new",
    "bgcnbd_probability_alive",
    "bgcnbd_probability_of_purchases",
    "bgcnbd_simulate_future",
    "simulate_bgcnbd",
]

PARS = (0.2426, 4.4135, 0.7929, 2.4258)  # CDNOW's BG/NBD fit, for the examples

# the results of the formulas' examples (built in cnbd.py, run as doctests here)
NUMBERS = {"alive": "[0.58, 0.361, 0.097]", "expected": "1.5467", "new": "1.0903"}
FORMULAS, simulate_bgcnbd = erlang_formulas("bgcnbd", dropout_at_zero=False,
                                             random_timing=BetaGeoModel.formulas,
                                             module=__name__, numbers=NUMBERS)
(bgcnbd_probability_alive, bgcnbd_conditional_expected_purchases,
 bgcnbd_expected_purchases_new, bgcnbd_probability_of_purchases,
 bgcnbd_discounted_purchases_if_alive, bgcnbd_simulate_future) = FORMULAS.values()


@register_model
class BetaGeoCNBDModel(ErlangPurchaseModel):
    """BG/CNBD-k model of repeat purchases: the BG/NBD with Erlang-k gaps, fitted by
    ``fit(summary, method=...)`` with ``"mle"`` (default), ``"map"``, ``"mcmc"`` or
    ``"advi"``. Settings (``k`` = 1 is the BG/NBD), the summary it needs and the parameters:
    :class:`~clvmodels.models.purchase.cnbd.ErlangPurchaseModel`.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = BetaGeoCNBDModel(k=1, random_state=1).fit(load_cdnow_summary())
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 2)  # BG/NBD's
    ([0.243, 4.414, 0.793, 2.426], -9582.43)
    """

    dropout_at_zero = False
    dropout_when = BGNBD_DROPOUT
    random_timing_name = "BG/NBD"
    reference = "Platzer & Reutterer (2016), Marketing Science 35(5)"
    formulas = FORMULAS


__test__ = {fn.__name__: fn for fn in (*FORMULAS.values(), simulate_bgcnbd)}
