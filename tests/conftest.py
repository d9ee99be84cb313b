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
