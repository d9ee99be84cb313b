"""Credible bounds from finite draws hold their nominal probability on average."""

import numpy as np
import pytest

from clvmodels.value.intervals import credible_bounds


@pytest.mark.parametrize("n_draws", [100, 200, 1000])
def test_interval_from_few_draws_holds_its_level_on_average(n_draws):
    # 20,000 posteriors of a continuous quantity, each known only through n_draws
    # draws: the true probability between the bounds is their difference (uniform)
    u = np.random.default_rng(n_draws).random((20_000, n_draws))
    lo, hi = credible_bounds(u, 0.9, axis=1)
    content = hi - lo
    se = content.std() / np.sqrt(content.size)
    assert abs(content.mean() - 0.9) < 4 * se  # numpy's default would give 0.8825 at 100
    assert abs(lo.mean() - 0.05) < 4 * lo.std() / np.sqrt(lo.size)


def test_bounds_are_ordered_and_shaped():
    draws = np.random.default_rng(0).normal(size=(400, 7))
    bounds = credible_bounds(draws, 0.8)
    assert bounds.shape == (2, 7) and (bounds[0] < bounds[1]).all()
