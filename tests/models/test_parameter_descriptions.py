"""Every model explains its fitted parameters in words (``describe_parameters``), for
the report's appendix: one sentence per row of its parameter table, naming the
parameter and carrying the fitted numbers."""

import re

import numpy as np
import pandas as pd
import pytest

from clvmodels.datasets import load_cdnow_summary, load_donations, load_telco
from clvmodels.models.base import BaseModel
from clvmodels.models.churn.base import ChurnModel
from clvmodels.models.churn.sbg import accounts_from_survival
from clvmodels.models.purchase.base import PurchaseModel
from clvmodels.models.registry import registered_models

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]  # Fader & Hardie (2007), years 0-7


@pytest.fixture(scope="module")
def data():
    return {"purchase": load_cdnow_summary(), "discrete": load_donations(),
            "churn": accounts_from_survival(REGULAR, time_unit="year")}


def _family(cls) -> str:
    if issubclass(cls, PurchaseModel):
        return "discrete" if getattr(cls, "discrete_time", False) else "purchase"
    return "churn" if issubclass(cls, ChurnModel) else "purchase"  # the spend model


def _check(model, words: dict) -> None:
    rows = list(model.summary(level=0.9).index)
    assert list(words) == rows
    for key, text in words.items():
        name = key[-1] if isinstance(key, tuple) else key
        assert re.search(rf"(^|\W){re.escape(name)}(\W|$)", text), (key, text)
        assert re.search(r"\d", text) and "{" not in text and "nan" not in text, (key, text)


@pytest.mark.parametrize("name", list(registered_models()))
def test_every_registered_model_describes_every_parameter(name, data):
    cls = registered_models()[name]
    model = cls(random_state=0)
    assert model.describe_parameters.__func__ is not BaseModel.describe_parameters, name
    model.fit(data[_family(cls)], method="map")  # priors keep a limit model finite
    _check(model, model.describe_parameters())


def test_the_numbers_in_the_words_are_the_fit(data):
    from clvmodels.models import BetaGeoModel

    bg = BetaGeoModel(random_state=0).fit(data["purchase"])
    v, words = bg.point_params(), bg.describe_parameters()
    per_week = v["r"] / v["alpha"]
    assert f"r/alpha = {per_week:.3g} times a week ({per_week * 365.25 / 7:.3g} a year)" \
        in words["alpha"]
    assert f"a/(a+b) = {v['a'] / (v['a'] + v['b']):.1%}" in words["a"]
    # the base default describes nothing: a report then shows the bare table
    assert BaseModel.describe_parameters(bg) == {}


def test_covariate_and_segmented_churn_models_describe_every_row():
    from clvmodels.models.churn.covariates import ShiftedBetaGeoCovariateModel
    from clvmodels.models.churn.segmented import SegmentedChurnModel

    telco = load_telco()
    telco = telco.join(pd.get_dummies(telco["Contract"], drop_first=True, dtype=float))
    cov = ShiftedBetaGeoCovariateModel(covariates=["One year", "Two year"],
                                       random_state=0).fit(telco, method="map")
    words = cov.describe_parameters()
    _check(cov, words)
    assert words["alpha"].startswith("For accounts with One year, Two year all 0:")
    # two-year contracts churn less: a multiplier below 1 on alpha or above 1 on beta
    v = cov.point_params()
    a, b = v["alpha"] * v["alpha[Two year]"], v["beta"] * v["beta[Two year]"]
    assert f"beta is multiplied by {v['beta[Two year]']:.3g}" in words["beta[Two year]"]
    assert f"churns with probability {a / (a + b):.1%} at its first renewal" \
        in words["alpha[Two year]"] and a / (a + b) < v["alpha"] / (v["alpha"] + v["beta"])
    seg = SegmentedChurnModel(segment_col="Contract").fit(telco)
    _check(seg, seg.describe_parameters())
    assert np.all([isinstance(k, tuple) for k in seg.describe_parameters()])
