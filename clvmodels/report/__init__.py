"""Self-contained HTML forecast reports for a marketing or finance reader: one for
purchase data (:func:`build_report`, BG/NBD + Gamma-Gamma) and one for subscriptions
(:func:`build_contractual_report`, churn models), sharing one page skeleton
(:mod:`clvmodels.report.page`).

One file: images are embedded PNGs, styles are inline, nothing is fetched from a
network. Every number says its unit and horizon. A small script in the page checks
that every image loaded and records the result in ``<body data-images-ok>`` (the
tests read it through headless Chromium).
"""

from .purchase import build_report
from .subscription import build_contractual_report

__all__ = ["build_report", "build_contractual_report"]
