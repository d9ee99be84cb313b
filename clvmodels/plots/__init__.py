"""Diagnostic and reporting plots (matplotlib); every function takes ``ax=`` and
returns what it drew on.

Model checks follow Fader, Hardie & Lee (2005), "Counting Your Customers the Easy
Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2): the
distribution of repeat purchases (their Figure 2), conditional expectations in the
holdout period (Figure 4) and the cohort's weekly and cumulative repeat purchases
(Figure 3). Model quantities come from the one implementation of each formula in
each model's file; the plots only aggregate them, grouping customers by
their distinct values first so the cost grows with distinct rows, not customers.

Axis labels carry the model's time unit (``model.time_unit_``) and "$" for money.
``matplotlib.pyplot`` is imported only when a function has to create a figure.

One module per theme: :mod:`.purchase` (model checks), :mod:`.value` (CLV tables),
:mod:`.parameters` (posteriors), :mod:`.retention` (subscriptions), :mod:`.decisions`
(value concentration, gains, money by decile, cash flows per period, segments
with their ranges).
"""

from .decisions import (
    plot_cash_flows,
    plot_concentration,
    plot_decile_check,
    plot_gains,
    plot_segment_values,
)
from .parameters import plot_parameter_posterior
from .purchase import (
                       plot_calibration_vs_holdout,
                       plot_expected_purchases_matrix,
                       plot_frequency_fit,
                       plot_probability_alive_matrix,
                       plot_tracking,
)
from .retention import plot_survival
from .value import plot_clv_distribution, plot_top_customers

__all__ = [
                       "plot_calibration_vs_holdout",
                       "plot_cash_flows",
                       "plot_concentration",
                       "plot_decile_check",
                       "plot_clv_distribution",
                       "plot_expected_purchases_matrix",
                       "plot_frequency_fit",
                       "plot_gains",
                       "plot_parameter_posterior",
                       "plot_probability_alive_matrix",
                       "plot_segment_values",
                       "plot_survival",
                       "plot_top_customers",
                       "plot_tracking",
]
