"""The bundled Telco data as contractual accounts."""

import numpy as np
import pytest

from clvmodels.datasets import load_telco
from clvmodels.evaluation.retention import retention_table
from clvmodels.models.churn.sbg import ShiftedBetaGeoModel


@pytest.fixture(scope="module")
def telco():
    return load_telco()


def test_loader(telco):
    assert telco.shape == (7043, 22) and telco.index.name == "customerID"
    assert telco.index.is_unique
    assert telco["TotalCharges"].isna().sum() == 11
    assert (telco.loc[telco["TotalCharges"].isna(), "tenure"] == 0).all()
    assert telco["churned"].sum() == 1869 and telco.attrs["time_unit"] == "month"
    assert telco.loc[telco["churned"], "tenure"].min() >= 1  # valid sBG accounts
    share = telco.groupby("Contract")["churned"].mean()
    np.testing.assert_allclose(share, [0.427, 0.113, 0.028], atol=5e-4)


def test_cohort_fit_and_life_table(telco):
    model = ShiftedBetaGeoModel().fit(telco)
    # 145 distinct (tenure, churned) rows; the 11 tenure-0 accounts observe no decision
    assert model.time_unit_ == "month" and model.n_unique_ == 144
    # regression values of this package's snapshot fit (not published)
    np.testing.assert_allclose(model.params_, [8.5032, 5.8535], rtol=1e-3)
    assert model.log_likelihood_ == pytest.approx(-3576.40, abs=0.01)
    table = retention_table(telco)
    assert table.index.max() == 72
    # delayed entry: at decision 1 only the accounts seen at tenure 1 are at risk
    assert table.loc[1, "at_risk"] == 613 and table.loc[1, "churned"] == 380
