"""Bundled datasets (provenance in the repository's ``data/README.md``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .data.subscriptions import snapshot_entry

__all__ = ["load_cdnow_transactions", "load_cdnow_summary"]

_CDNOW = "CDNOW_sample.txt"


def _data_file(name: str):
    """The bundled file ``name``: inside the installed package (wheel) first, then
    the repository's ``data/`` folder (editable install or source checkout)."""
    packaged = resources.files("clvmodels").joinpath("_data", name)
    if packaged.is_file():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "data" / name
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(
        f"The bundled dataset {name!r} was found neither in the installed package "
        f"(clvmodels/_data/{name}) nor in a source checkout ({checkout}). Reinstall "
        "clvmodels from a wheel, or restore data/ in the repository."
    )


def load_cdnow_transactions() -> pd.DataFrame:
    """The CDNOW sample: 6,919 purchases by 2,357 customers, 1997-01-01 .. 1998-06-30.

    The customers of the online music retailer CDNOW who made their first purchase
    in the first 12 weeks of 1997 (a 1/10 sample of that cohort), followed until
    the end of June 1998; the data of Fader, Hardie & Lee (2005), "Counting Your
    Customers the Easy Way", Marketing Science 24(2). Several lines of one customer
    can fall on the same day; :func:`clvmodels.data.rfm_summary` merges them.

    Returns
    -------
    DataFrame
        One row per transaction line, in file order: ``customer_id`` (int64, the
        sample id 1..2357), ``date`` (datetime64), ``quantity`` (int64, number of
        CDs) and ``amount`` (float64, dollars; 8 lines are 0).

    Examples
    --------
    >>> tx = load_cdnow_transactions()
    >>> tx.shape, tx["customer_id"].nunique()
    ((6919, 4), 2357)
    >>> tx.head(3)
       customer_id       date  quantity  amount
    0            1 1997-01-01         2   29.33
    1            1 1997-01-18         2   29.73
    2            1 1997-08-02         1   14.96
    """
    with _data_file(_CDNOW).open("r") as handle:
        raw = pd.read_csv(
            handle,
            sep=r"\s+",
            header=None,
            names=["master_id", "customer_id", "date", "quantity", "amount"],
            dtype={"master_id": np.int64, "customer_id": np.int64, "date": str,
                   "quantity": np.int64, "amount": np.float64},
        )
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "date": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[ns]"),
            "quantity": raw["quantity"],
            "amount": raw["amount"],
        }
    )


def load_cdnow_summary() -> pd.DataFrame:
    """The CDNOW calibration summary of the papers, in weeks.

    Calibration 1997-01-01 .. 1997-09-30 (39 weeks), holdout to 1998-06-30 (39
    weeks): ``frequency``, ``recency``, ``T``, ``monetary_value`` plus
    ``holdout_frequency``, ``holdout_monetary_value`` and ``holdout_length``
    (from :func:`clvmodels.data.calibration_holdout_summary`).

    >>> s = load_cdnow_summary()
    >>> len(s), int(s["frequency"].sum()), int((s["frequency"] == 0).sum())
    (2357, 2457, 1411)
    """
    from .data.summary import calibration_holdout_summary

    return calibration_holdout_summary(
        load_cdnow_transactions(), calibration_end="1997-09-30",
        observation_end="1998-06-30", time_unit="week",
    )


_TELCO = "telco_customer_churn.csv"


def load_telco() -> pd.DataFrame:
    """IBM's sample Telco churn data: 7,043 monthly subscribers, one row per account.

    A snapshot of a telecom provider's customer base (provenance in ``data/README.md``):
    the accounts active at the start of one month, ``tenure`` the number of months an
    account has been a customer, ``Churn`` whether it cancelled in that month. Accounts
    that cancelled in any earlier month are not in the file. In the terms of
    :mod:`clvmodels.data.subscriptions`, a churned account ended after ``tenure``
    months and an active one has renewed ``tenure`` times, and each account was
    observed for that one decision only: ``entry = tenure - 1`` (0 for the 11 accounts
    with tenure 0, which have made no decision yet). Every churn model conditions on
    it, so the frame can be passed to
    :class:`clvmodels.models.churn.sbg.ShiftedBetaGeoModel` as it is. Dropping ``entry``
    would treat each account as observed from acquisition and make churn look far
    lower than it is (62% of tenure-1 accounts cancelled in the month).

    Returns
    -------
    DataFrame
        Indexed by ``customerID``, with the file's columns (``TotalCharges`` as float,
        NaN for the 11 accounts with tenure 0 that have not been billed yet) plus
        ``churned`` (bool, ``Churn == "Yes"``) and ``entry`` (renewal decisions survived
        before the observed month); ``attrs['time_unit'] == 'month'`` and
        ``attrs['observed_periods'] == 1``.

    Examples
    --------
    >>> telco = load_telco()
    >>> telco.shape, int(telco["churned"].sum()), telco.attrs["time_unit"]
    ((7043, 22), 1869, 'month')
    >>> telco.groupby("Contract")["churned"].mean().round(3).tolist()
    [0.427, 0.113, 0.028]
    """
    with _data_file(_TELCO).open("r") as handle:
        raw = pd.read_csv(handle, dtype={"customerID": str, "TotalCharges": str})
    out = raw.set_index("customerID")
    out["TotalCharges"] = pd.to_numeric(out["TotalCharges"].str.strip().replace("", None),
                                        errors="raise").astype(np.float64)
    out["churned"] = out["Churn"].eq("Yes")
    out["entry"] = snapshot_entry(out["tenure"].to_numpy()).astype(np.int64)
    out.attrs["time_unit"] = "month"
    out.attrs["observed_periods"] = 1
    return out


__all__.append("load_telco")


_DONATIONS = "donations.csv"


def load_donations() -> pd.DataFrame:
    """Repeat donations of 11,104 first-time donors of 1995, as a BG/BB summary.

    The data of Fader, Hardie & Berger (2010), "Customer-Base Analysis in a
    Discrete-Time Noncontractual Setting", Marketing Science 29(6): a nonprofit's
    donors acquired in 1995 and followed for the 6 annual repeat-donation opportunities
    1996-2001 (provenance in ``data/README.md``). The file is already compressed: one
    row per distinct history, with the number of donors who had it.

    Returns
    -------
    DataFrame
        22 rows with int64 columns ``frequency`` (years with a donation, 0-6),
        ``recency`` (the last of them, 1996 = 1; 0 if none), ``n_periods`` (6) and
        ``weight`` (donors with that history), as
        :class:`clvmodels.models.purchase.bgbb.BetaGeoBetaBinomModel` takes them;
        ``attrs['time_unit'] == 'year'``.

    Examples
    --------
    >>> donations = load_donations()
    >>> donations.shape, int(donations["weight"].sum()), donations.attrs["time_unit"]
    ((22, 4), 11104, 'year')
    """
    with _data_file(_DONATIONS).open("r") as handle:
        raw = pd.read_csv(handle, dtype=np.int64)
    out = pd.DataFrame({"frequency": raw["frequency"], "recency": raw["recency"],
                        "n_periods": raw["periods"], "weight": raw["weights"]})
    out.attrs["time_unit"] = "year"
    return out


__all__.append("load_donations")
