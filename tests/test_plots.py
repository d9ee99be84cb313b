"""Plots: each returns its Axes and draws the numbers the models and data give.

Figures are written as PNG to pytest's tmp dir, and also to ``$CLVMODELS_PLOT_DIR``
when that is set (for looking at them).
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from clvmodels import (  # noqa: E402
    BetaGeoModel,
    GammaGammaModel,
    IncompatibleModelError,
    customer_lifetime_value,
)
from clvmodels.datasets import load_cdnow_summary, load_cdnow_transactions  # noqa: E402
from clvmodels.models.purchase.bgnbd import (  # noqa: E402
    bgnbd_expected_purchases_new,
    bgnbd_probability_alive,
    bgnbd_probability_of_purchases,
)
from clvmodels.plots import (  # noqa: E402
    plot_calibration_vs_holdout,
    plot_clv_distribution,
    plot_expected_purchases_matrix,
    plot_frequency_fit,
    plot_parameter_posterior,
    plot_probability_alive_matrix,
    plot_survival,
    plot_top_customers,
    plot_tracking,
)

DATES = dict(start="1997-01-01", calibration_end="1997-09-30", end="1998-06-30")


@pytest.fixture(scope="module")
def summary():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def transactions():
    return load_cdnow_transactions()


@pytest.fixture(scope="module")
def bg(summary):
    return BetaGeoModel(random_state=0).fit(summary)


@pytest.fixture(scope="module")
def gg(summary):
    return GammaGammaModel(random_state=0).fit(summary)


@pytest.fixture(scope="module")
def clv(bg, gg, summary):
    return customer_lifetime_value(bg, gg, summary, horizon="52 weeks", n_samples=50,
                                   random_state=0)


@pytest.fixture
def save(tmp_path, request):
    """Write a figure as PNG (tmp dir, and $CLVMODELS_PLOT_DIR if set), then close it."""
    figures = []

    def _save(ax, name=None):
        fig = np.ravel(ax)[0].figure
        name = name or request.node.name
        dirs = [tmp_path] + ([Path(os.environ["CLVMODELS_PLOT_DIR"])]
                             if os.environ.get("CLVMODELS_PLOT_DIR") else [])
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
            fig.savefig(d / f"{name}.png", dpi=100)
        assert (tmp_path / f"{name}.png").stat().st_size > 5000
        figures.append(fig)

    yield _save
    for fig in figures:
        plt.close(fig)


def line(ax, label):
    (found,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return found.get_xdata(), found.get_ydata()


def bars(ax, label):
    (found,) = [c for c in ax.containers if c.get_label() == label]
    return np.array([b.get_height() for b in found])


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# ---------------------------------------------------------------- model checks
def test_frequency_fit_bars_are_true_counts_and_model_probabilities(bg, summary, save):
    ax = plot_frequency_fit(bg, summary)
    save(ax, "frequency_fit")
    assert isinstance(ax, Axes)
    actual, expected = bars(ax, "Actual"), bars(ax, "Expected by the model")
    freq = summary["frequency"].to_numpy()
    assert actual[0] == 1411
    np.testing.assert_array_equal(actual, np.bincount(np.minimum(freq, 7)))
    np.testing.assert_allclose(expected.sum(), len(summary), rtol=1e-6)
    # every customer on her own, no grouping by T
    p = bgnbd_probability_of_purchases(**bg.point_params(), k=np.arange(7)[:, None],
                                       t=summary["T"].to_numpy()[None, :])
    np.testing.assert_allclose(expected[:7], p.sum(axis=1), rtol=1e-10)
    # the pooled bar summed term by term instead of as a complement
    ages, counts = np.unique(summary["T"], return_counts=True)
    tail = bgnbd_probability_of_purchases(**bg.point_params(), k=np.arange(7, 300)[:, None],
                                          t=ages[None, :])
    np.testing.assert_allclose(expected[7], tail.sum(axis=0) @ counts, rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "7+"
    assert ax.get_ylabel() == "Customers"
    assert legend_texts(ax) == ["Actual", "Expected by the model"]


def test_calibration_vs_holdout_matches_group_means(bg, summary, save):
    ax = plot_calibration_vs_holdout(bg, summary, max_frequency=6)
    save(ax, "calibration_vs_holdout")
    assert isinstance(ax, Axes)
    group = np.minimum(summary["frequency"], 6)
    _, actual = line(ax, "Actual")
    _, expected = line(ax, "Expected by the model")
    np.testing.assert_allclose(actual, summary["holdout_frequency"].groupby(group).mean(),
                               rtol=1e-12)
    np.testing.assert_allclose(expected, bg.expected_purchases(summary, 39.0).groupby(group).mean(),
                               rtol=1e-10)
    assert "39 weeks" in ax.get_ylabel()


def test_tracking_cumulative_matches_data_and_first_purchase_dates(bg, transactions, summary,
                                                                   save):
    ax = plot_tracking(bg, transactions, summary, **DATES)
    save(ax, "tracking_cumulative")
    assert isinstance(ax, Axes)
    weeks, actual = line(ax, "Actual")
    _, expected = line(ax, "Expected by the model")
    np.testing.assert_array_equal(weeks, np.arange(1, 79))
    assert actual[77] == 4339
    # independent clock: first purchase dates from the transactions, not from T
    first = (transactions.groupby("customer_id")["date"].min()
             - pd.Timestamp("1997-01-01")).dt.days.to_numpy() / 7
    age = np.clip(weeks[:, None] - first[None, :], 0, None)
    direct = bgnbd_expected_purchases_new(**bg.point_params(), t=age).sum(axis=1)
    np.testing.assert_allclose(expected, direct, rtol=1e-9)
    # the fit reproduces the calibration total (2,457 repeat purchases) to within 3%
    assert abs(expected[38] / summary["frequency"].sum() - 1) < 0.03
    assert ax.get_xlabel() == "Weeks since 1997-01-01"
    assert any(t.get_text().strip() == "end of calibration" for t in ax.texts)
    assert any(np.allclose(ln.get_xdata(), 39) for ln in ax.get_lines())


def test_tracking_per_period_is_the_difference(bg, transactions, summary, save):
    ax = plot_tracking(bg, transactions, summary, cumulative=False, **DATES)
    save(ax, "tracking_weekly")
    _, actual = line(ax, "Actual")
    _, expected = line(ax, "Expected by the model")
    assert actual.sum() == 4339
    cum = line(plot_tracking(bg, transactions, summary, **DATES), "Expected by the model")[1]
    np.testing.assert_allclose(np.cumsum(expected), cum, rtol=1e-12)
    assert ax.get_ylabel() == "Repeat purchases per week"


# ------------------------------------------------------------------ heatmaps
def test_probability_alive_matrix_is_the_formula_on_the_grid(bg, save):
    ax = plot_probability_alive_matrix(bg, T=39.0, max_frequency=20)
    save(ax, "probability_alive_matrix")
    assert isinstance(ax, Axes)
    values = ax.images[0].get_array()
    assert values.shape == (21, 101)
    recency = np.linspace(0, 39, 101)
    np.testing.assert_allclose(values[5], bgnbd_probability_alive(**bg.point_params(), frequency=5,
                                                                  recency=recency, T=39.0))
    assert values[0, 0] == 1.0 and values.mask[0, 1:].all() and not values.mask[1:].any()
    assert ax.figure.axes[-1].get_ylabel() == "Probability still active"
    assert ax.get_ylabel() == "Repeat purchases"
    assert "Weeks" in ax.get_xlabel() and "39 weeks" in ax.get_title()


def test_expected_purchases_matrix_accepts_a_duration(bg, save):
    ax = plot_expected_purchases_matrix(bg, "1 year", T=39.0, max_recency=30.0)
    save(ax, "expected_purchases_matrix")
    values = ax.images[0].get_array()
    row = pd.DataFrame({"frequency": [3], "recency": [30.0], "T": [39.0]})
    np.testing.assert_allclose(values[3, -1], bg.expected_purchases(row, 365.25 / 7).iloc[0],
                               rtol=1e-12)
    same = plot_expected_purchases_matrix(bg, 365.25 / 7, T=39.0, max_recency=30.0)
    np.testing.assert_allclose(same.images[0].get_array(), values)
    plt.close(same.figure)
    assert "next year" in ax.get_title() and ax.figure.axes[-1].get_ylabel() == (
        "Expected purchases, next year")


def test_matrix_arguments_are_checked(bg):
    with pytest.raises(TypeError, match="T"):
        plot_probability_alive_matrix(bg)
    with pytest.raises(ValueError, match="'max_recency' parameter .* in \\(0, T\\]"):
        plot_probability_alive_matrix(bg, T=39.0, max_recency=40.0)
    with pytest.raises(ValueError, match="'t' parameter of plot_expected_purchases_matrix"):
        plot_expected_purchases_matrix(bg, -1.0, T=39.0)


# ----------------------------------------------------------------------- CLV
def test_clv_distribution_counts_every_customer_in_log_bins(clv, save):
    ax = plot_clv_distribution(clv)
    save(ax, "clv_distribution")
    assert isinstance(ax, Axes)
    values = clv["expected_clv"].to_numpy()
    heights = np.array([p.get_height() for p in ax.patches])
    edges = np.array([p.get_x() for p in ax.patches] + [ax.patches[-1].get_x()
                                                         + ax.patches[-1].get_width()])
    assert ax.get_xscale() == "log" and heights.sum() == len(clv)
    np.testing.assert_allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0]), rtol=1e-9)
    low = np.quantile(values, 0.01)
    np.testing.assert_allclose(edges[[0, -1]], [low, values.max()], rtol=1e-12)
    # count on the exact edges (bar x + width rounds the last edge a hair below the maximum,
    # which then fell outside np.histogram's last bin)
    inner = np.histogram(values, bins=np.geomspace(low, values.max(), len(edges)))[0]
    np.testing.assert_array_equal(heights[1:], inner[1:])
    assert heights[0] == inner[0] + (values < low).sum()
    labels = legend_texts(ax)
    assert labels[:2] == [f"Median ${np.median(values):,.2f}", f"Mean ${values.mean():,.2f}"]
    assert labels[2] == f"{(values < low).sum()} customers below ${low:,.2f}\nare in the first bar"
    assert "52 weeks" in ax.get_title() and "$" in ax.get_xlabel()


def test_clv_distribution_zeros_and_linear_bins(clv, save):
    ax = plot_clv_distribution(clv, column="clv_predictive_upper")
    save(ax, "clv_distribution_predictive_upper")
    assert "upper end of the predictive interval" in ax.get_title()
    assert sum(p.get_height() for p in ax.patches) == len(clv)
    skewed = plot_clv_distribution(pd.DataFrame({"expected_clv": [0.0, 0.0, 1, 2, 3, 4, 900]}))
    assert skewed.get_xscale() == "log" and sum(p.get_height() for p in skewed.patches) == 7
    assert "3 customers below $1.04\nare in the first bar" in legend_texts(skewed)
    flat = plot_clv_distribution(pd.DataFrame({"expected_clv": np.linspace(10, 20, 50)}))
    assert flat.get_xscale() == "linear"
    assert sum(p.get_height() for p in flat.patches) == 50
    for a in (skewed, flat):
        plt.close(a.figure)


def test_top_customers_shows_both_intervals(clv, save):
    ax = plot_top_customers(clv, n=20)
    save(ax, "top_customers")
    assert isinstance(ax, Axes)
    top = clv.sort_values("expected_clv", ascending=False).head(20)
    x, y = line(ax, "Expected CLV")
    np.testing.assert_allclose(x, top["expected_clv"])
    np.testing.assert_array_equal(y, np.arange(20))
    pred, cred = ax.collections
    np.testing.assert_allclose([s[:, 0] for s in cred.get_segments()],
                               np.c_[top["expected_clv_lower"], top["expected_clv_upper"]])
    np.testing.assert_allclose([s[:, 0] for s in pred.get_segments()],
                               np.c_[top["clv_predictive_lower"], top["clv_predictive_upper"]])
    assert cred.get_linewidth()[0] > 3 * pred.get_linewidth()[0]
    labels = legend_texts(ax)
    assert any(t.startswith("90% credible interval of the expected CLV") for t in labels)
    assert any(t.startswith("90% predictive interval") for t in labels)
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(i) for i in top.index]
    assert ax.yaxis_inverted()


# ---------------------------------------------------------------- parameters
def test_parameter_posterior_one_panel_per_parameter(bg, gg, save):
    axes = plot_parameter_posterior(bg)
    save(axes, "parameter_posterior_bgnbd")
    assert len(axes) == 4 and all(isinstance(a, Axes) for a in axes)
    draws, point = bg.param_draws(), bg.point_params()
    for ax, name in zip(axes, bg.param_names):
        assert ax.get_title() == name
        assert sum(p.get_height() for p in ax.patches) == draws[name].size == 1000
        np.testing.assert_allclose(line(ax, "Point estimate")[0], point[name])
    assert axes[1].get_xlabel() == "Scale of purchase rates (weeks)"
    gg_axes = plot_parameter_posterior(gg)
    save(gg_axes, "parameter_posterior_gamma_gamma")
    assert [a.get_title() for a in gg_axes] == ["p", "q", "gamma"]
    assert gg_axes[2].get_xlabel() == "Scale of spend levels ($)"


def test_parameter_posterior_draws_on_given_axes(gg):
    fig, given = plt.subplots(1, 3)
    out = plot_parameter_posterior(gg, axes=given)
    assert list(out) == list(given)
    with pytest.raises(ValueError, match="at least 3 Axes"):
        plot_parameter_posterior(gg, axes=given[:2])
    plt.close(fig)


# ------------------------------------------------------------------ survival
def test_survival_shares_and_counts(save):
    projected = 0.9 ** np.arange(13)
    actual = np.round(projected[:8] + np.array([0, .01, -.02, .01, 0, -.01, .02, 0]), 3)
    ax = plot_survival(actual, projected, calibration_periods=7, time_unit="month")
    save(ax, "survival")
    assert isinstance(ax, Axes)
    np.testing.assert_array_equal(line(ax, "Actual")[1], actual)
    np.testing.assert_array_equal(line(ax, "Projected by the model")[0], np.arange(13))
    assert any(np.allclose(ln.get_xdata(), 7) for ln in ax.get_lines())
    assert ax.get_ylabel() == "Customers still active (share)"
    assert ax.get_xlabel() == "Months since acquisition"
    counts = plot_survival(1000 * actual, 1000 * projected, periods=np.arange(1, 14))
    assert counts.get_ylabel() == "Customers still active"
    np.testing.assert_array_equal(line(counts, "Actual")[0], np.arange(1, 9))
    plt.close(counts.figure)
    with pytest.raises(ValueError, match="'periods' parameter of plot_survival"):
        plot_survival(actual, projected, periods=np.arange(5))


# -------------------------------------------------------------------- errors
def test_bad_models_and_arguments_are_refused(bg, gg, summary):
    with pytest.raises(TypeError, match="'model' parameter of plot_frequency_fit must be a "
                                        "fitted purchase model .* Got GammaGammaModel"):
        plot_frequency_fit(gg, summary)
    with pytest.raises(ValueError, match="'max_frequency' parameter of "
                                         "plot_calibration_vs_holdout must be an int >= 1"):
        plot_calibration_vs_holdout(bg, summary, max_frequency=0)
    days = summary.copy()
    days.attrs = {**summary.attrs, "time_unit": "day"}
    with pytest.raises(IncompatibleModelError, match="model is in weeks but the summary is in days"):
        plot_frequency_fit(bg, days)
    with pytest.raises(ValueError, match="start <= calibration_end <= end"):
        plot_tracking(bg, None, summary, start="1998-01-01", calibration_end="1997-09-30",
                      end="1998-06-30")
    with pytest.raises(ValueError, match="'n' parameter of plot_top_customers"):
        plot_top_customers(pd.DataFrame(columns=["expected_clv", "expected_clv_lower",
                                                 "expected_clv_upper", "clv_predictive_lower",
                                                 "clv_predictive_upper"]), n=0)
    with pytest.raises(Exception, match="not fitted"):
        plot_probability_alive_matrix(BetaGeoModel(), T=39.0)


def test_plots_take_any_purchase_model_and_compare_them():
    from clvmodels import ModifiedBetaGeoModel, ParetoNBDModel, plots
    summary = load_cdnow_summary()
    models = {name: cls().fit(summary) for name, cls in
              (("BG/NBD", BetaGeoModel), ("MBG/NBD", ModifiedBetaGeoModel),
               ("Pareto/NBD", ParetoNBDModel))}
    ax = plots.plot_tracking(models, load_cdnow_transactions(), summary, start="1997-01-01",
                             calibration_end="1997-09-30", end="1998-06-30", cumulative=False)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:4] == ["Actual", "BG/NBD", "MBG/NBD", "Pareto/NBD"]
    # each line is the model's own tracking forecast: weekly purchases sum to the total
    for line, model in zip(ax.get_lines()[1:4], models.values()):
        assert line.get_ydata().sum() > 0
    ax = plots.plot_probability_alive_matrix(models["Pareto/NBD"], T=39)
    assert ax.images  # the heat map is drawn from the Pareto/NBD's own P(alive)
