import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)


def donation_histories(donations, seed):
    """A transaction log consistent with the donations summary: each donor gave in
    1995 and in year ``1995 + t_x`` and in ``x - 1`` further years drawn at random among
    ``1996 .. 1995 + t_x - 1``. The file holds only ``(x, t_x, n)``; given them every
    yearly history is equally likely under the BG/BB (its likelihood depends on a
    history only through them), so this draw is the model's own conditional one."""
    rng = np.random.default_rng(seed)
    ids, years = [], []
    donor = 0
    for x, t_x, w in donations[["frequency", "recency", "weight"]].itertuples(index=False):
        for _ in range(w):
            earlier = rng.choice(np.arange(1, t_x), size=x - 1, replace=False) if x > 1 else []
            for k in [0, *earlier, *([t_x] if x > 0 else [])]:
                ids.append(donor)
                years.append(1995 + int(k))
            donor += 1
    return pd.DataFrame({"customer_id": ids,
                         "date": pd.to_datetime([f"{y}-06-15" for y in years])})


@pytest.fixture(scope="session")
def donation_transactions():
    """The donations summary as a transaction log (:func:`donation_histories`, seed 3)."""
    from clvmodels.datasets import load_donations

    return donation_histories(load_donations(), seed=3)


@pytest.fixture(scope="session")
def zero_coefficients():
    """``f(cov, base)``: the fitted covariate model ``cov`` set to ``base``'s fit (the same
    model without covariates) with every coefficient 0, its draws included, so it must
    predict exactly what ``base`` does."""
    import xarray as xr

    def as_zero(cov, base):
        k = len(cov.param_names) - len(base.param_names)
        cov.log_params_ = np.concatenate([base.log_params_, np.zeros(k)])
        cov.params_ = pd.Series(np.exp(cov.log_params_), index=list(cov.param_names))
        ones = xr.ones_like(base.draws_[base.param_names[0]])
        cov.draws_ = xr.Dataset({n: base.draws_[n] if n in base.param_names else ones
                                 for n in cov.param_names})
        return cov

    return as_zero
