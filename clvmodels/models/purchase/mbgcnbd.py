"""MBG/CNBD-k model of repeat purchasing (Platzer & Reutterer 2016, "Ticking Away the
Moments: Timing Regularity Helps to Better Predict Customer Activity", Marketing
Science 35(5)).

The MBG/NBD model (:mod:`clvmodels.models.purchase.mbgnbd`) with regular purchases:
while alive a customer's inter-purchase times are Erlang-k with mean ``1 / lambda``,
``lambda ~ Gamma(r, alpha)``, and she drops out with probability ``p ~ Beta(a, b)``
right after her first purchase and after each repeat purchase. ``k = 1`` is MBG/NBD
with the same parameters (these formulas then call MBG/NBD's); the math of every
``k`` is in :mod:`clvmodels.models.purchase.cnbd`, shared with BG/CNBD-k, which also
builds this model's formulas and simulator
(:func:`~clvmodels.models.purchase.cnbd.erlang_formulas`; their examples run as
doctests here, with ``PARS``). Every formula takes the Erlang order as ``erlang_k``
(the fitted model's ``point_params`` and ``param_draws`` carry it) and broadcasts like
the other purchase models.
"""

from __future__ import annotations

import numpy as np  # noqa: F401 - the examples use it

from ..registry import register_model
from .cnbd import ErlangPurchaseModel, erlang_formulas
from .mbgnbd import MBGNBD_DROPOUT, ModifiedBetaGeoModel

__all__ = [
    "ModifiedBetaGeoCNBDModel",
    "mbgcnbd_conditional_expected_purchases",
    "mbgcnbd_discounted_purchases_if_alive",
    "mbgcnbd_expected_purchases_new",
    "mbgcnbd_probability_alive",
    "mbgcnbd_probability_of_purchases",
    "mbgcnbd_simulate_future",
    "simulate_mbgcnbd",
]

PARS = (0.5248, 6.1831, 0.8914, 1.6140)  # CDNOW's MBG/NBD fit, for the examples

# the results of the formulas' examples (built in cnbd.py, run as doctests here)
NUMBERS = {"alive": "[0.565, 0.348, 0.092]", "expected": "1.5404", "new": "1.1012"}
FORMULAS, simulate_mbgcnbd = erlang_formulas("mbgcnbd", dropout_at_zero=True,
                                             random_timing=ModifiedBetaGeoModel.formulas,
                                             module=__name__, numbers=NUMBERS)
(mbgcnbd_probability_alive, mbgcnbd_conditional_expected_purchases,
 mbgcnbd_expected_purchases_new, mbgcnbd_probability_of_purchases,
 mbgcnbd_discounted_purchases_if_alive, mbgcnbd_simulate_future) = FORMULAS.values()


@register_model
class ModifiedBetaGeoCNBDModel(ErlangPurchaseModel):
    """MBG/CNBD-k model of repeat purchases: the MBG/NBD with Erlang-k gaps, fitted by
    ``fit(summary, method=...)`` with ``"mle"`` (default), ``"map"``, ``"mcmc"`` or
    ``"advi"``. Settings (``k`` = 1 is the MBG/NBD), the summary it needs and the parameters:
    :class:`~clvmodels.models.purchase.cnbd.ErlangPurchaseModel`.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = ModifiedBetaGeoCNBDModel(k=1, random_state=1).fit(load_cdnow_summary())
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 2)  # MBG/NBD's
    ([0.525, 6.183, 0.891, 1.614], -9582.14)
    """

    dropout_at_zero = True
    dropout_when = MBGNBD_DROPOUT
    random_timing_name = "MBG/NBD"
    reference = "Platzer & Reutterer (2016), Marketing Science 35(5)"
    formulas = FORMULAS


__test__ = {fn.__name__: fn for fn in (*FORMULAS.values(), simulate_mbgcnbd)}
