"""Per-customer covariates: attach them to a summary, and encode them for a model.

:func:`attach_covariates` joins a second table (one row per customer, or a table with
many rows per customer whose covariate values are static) onto a summary, and refuses
what a model cannot use: customers without covariates, duplicated customers, values that
vary within a customer, missing values, constant columns and perfectly collinear
columns. :class:`CovariateEncoding` turns the chosen columns into the numeric design a
model fits: a categorical column becomes one 0/1 column per level except the stated
reference level, and a numeric column is centred and scaled for the optimiser, with
coefficients reported back on the user's scale (:meth:`CovariateEncoding.user_scale`).
The encoding is plain JSON (:meth:`CovariateEncoding.to_dict`), saved with a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError, format_examples

__all__ = ["attach_covariates", "CovariateEncoding", "covariate_columns"]


def covariate_columns(summary: pd.DataFrame) -> list[str]:
    """The covariate columns :func:`attach_covariates` recorded on ``summary``."""
    return list(summary.attrs.get("covariates", []))


def attach_covariates(summary: pd.DataFrame, covariates: pd.DataFrame, *,
                      columns=None, customer_col: str = "customer_id",
                      one_row_per_customer: bool = True,
                      check_variation: bool = True,
                      owner: str = "attach_covariates") -> pd.DataFrame:
    """``summary`` with each customer's covariates joined on as columns.

    Parameters
    ----------
    summary : DataFrame
        Per-customer summary indexed by customer id (e.g. :func:`rfm_summary`).
    covariates : DataFrame
        Covariates with a ``customer_col`` column (or index of that name).
    columns : list of str, optional
        The covariate columns to attach; default every column but ``customer_col``.
    one_row_per_customer : bool
        ``True`` (default): a customer on two rows is an error. ``False``: rows of one
        customer are accepted when their values agree (e.g. a transactions table with
        a static column such as the acquisition channel), and an error otherwise.
    check_variation : bool
        ``True`` (default, for fitting): constant and perfectly collinear columns are
        errors. ``False`` (for scoring with a fitted model, whose encoding is fixed): they
        are accepted, e.g. one customer, or customers of one channel.

    Returns
    -------
    DataFrame
        A copy of ``summary`` with the covariate columns added, same index and order;
        ``attrs`` keeps the summary's and adds ``covariates`` (the column names).

    Examples
    --------
    >>> s = pd.DataFrame({"frequency": [2, 0, 1]}, index=pd.Index([1, 2, 3], name="customer_id"))
    >>> cov = pd.DataFrame({"customer_id": [3, 1, 2], "channel": ["web", "store", "web"],
    ...                     "first_amount": [10.0, 25.0, 7.5]})
    >>> attach_covariates(s, cov)  # doctest: +NORMALIZE_WHITESPACE
                 frequency channel  first_amount
    customer_id
    1                    2   store          25.0
    2                    0     web           7.5
    3                    1     web          10.0
    """
    if not isinstance(covariates, pd.DataFrame):
        raise TypeError(f"{owner}: covariates must be a pandas DataFrame with a "
                        f"{customer_col!r} column; got {type(covariates).__name__}.")
    table = covariates
    if customer_col not in table.columns:
        if table.index.name == customer_col:
            table = table.reset_index()
        else:
            raise DataError(f"{owner}: the covariates table has no {customer_col!r} column "
                            f"(customer_col); it has {list(table.columns)[:20]}. Pass "
                            "customer_col= with the name of its customer id column.")
    if columns is None:
        columns = [c for c in table.columns if c != customer_col]
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise DataError(f"{owner}: no covariate columns: the covariates table has only "
                        f"{customer_col!r}. Add covariate columns or pass columns=[...].")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{owner}: covariate column(s) {missing} are not in the covariates "
                        f"table; it has {list(table.columns)[:20]}. Check the names.")
    clash = [c for c in columns if c in summary.columns]
    if clash:
        raise DataError(f"{owner}: covariate column(s) {clash} have the name of a summary "
                        "column; rename them in the covariates table.")
    table = table[[customer_col, *columns]]
    ids = _matching_ids(table[customer_col], summary.index, customer_col, owner)
    table = table.assign(**{customer_col: ids})
    table = table[table[customer_col].isin(summary.index)]
    per_customer = _one_row_each(table, customer_col, columns, one_row_per_customer, owner)
    absent = summary.index.difference(per_customer.index)
    if len(absent):
        raise DataError(
            f"{owner}: {len(absent):,} of {len(summary):,} customers in the summary have no "
            f"row in the covariates table, e.g. {format_examples(absent.tolist())}. Add their rows, "
            "or drop them from the summary first "
            "(summary[summary.index.isin(covariates[customer_col])]).")
    out = summary.copy()
    for c in columns:
        out[c] = per_customer[c].reindex(summary.index).to_numpy()
    _check_values(out, columns, owner, check_variation)
    out.attrs = {**summary.attrs, "covariates": columns}
    return out


def _matching_ids(ids: pd.Series, index: pd.Index, customer_col: str, owner: str) -> pd.Series:
    """The covariate table's ids in the summary's id type when they only differ in type
    (ids read as text on one side and as numbers on the other)."""
    if ids.isin(index).any() or len(index) == 0:
        return ids
    as_text = ids.astype(str)
    index_text = index.astype(str)
    if as_text.isin(index_text).any():
        raise DataError(
            f"{owner}: the covariates' {customer_col!r} values are {ids.dtype} and the "
            f"summary's ids are {index.dtype}, so none match (e.g. {_plain(ids.iloc[0])!r} "
            f"against {_plain(index[0])!r}). Read both id columns with the same type (ids "
            f"with leading zeros as text: dtype={{{customer_col!r}: str}}).")
    raise DataError(f"{owner}: none of the covariates table's {len(ids):,} {customer_col!r} "
                    f"values is a customer of the summary (e.g. {_plain(ids.iloc[0])!r} against "
                    f"{_plain(index[0])!r}). Check that customer_col names the customer id column.")


def _plain(value):
    """A numpy scalar as the Python value it holds (so messages show 104, not np.int64(104))."""
    return value.item() if isinstance(value, np.generic) else value


def _one_row_each(table: pd.DataFrame, customer_col: str, columns: list[str],
                  one_row_per_customer: bool, owner: str) -> pd.DataFrame:
    """One row per customer, or the error that names the customers that have more."""
    repeated = table[customer_col].duplicated(keep=False)
    if not repeated.any():
        return table.set_index(customer_col)
    names = table.loc[repeated, customer_col].unique().tolist()
    if one_row_per_customer:
        raise DataError(
            f"{owner}: {len(names):,} customers have more than one row in the covariates "
            f"table, e.g. {format_examples(names)}. Keep one row per customer, or pass "
            "one_row_per_customer=False to accept repeated rows whose values agree.")
    groups = table.groupby(customer_col, sort=False, dropna=False)
    for c in columns:
        varying = groups[c].nunique(dropna=False) > 1
        if varying.any():
            bad = varying.index[varying.to_numpy()].tolist()
            first = table.loc[table[customer_col] == bad[0], c].unique()[:3].tolist()
            raise DataError(
                f"{owner}: covariate {c!r} varies within {int(varying.sum()):,} customers, "
                f"e.g. customer {bad[0]!r} has {first}; these covariates must be static "
                "(one value per customer). Derive one value per customer first (e.g. the "
                "first order's) or leave the column out.")
    return groups.first()


def _check_values(frame: pd.DataFrame, columns: list[str], owner: str,
                  check_variation: bool = True) -> None:
    """Missing or infinite values, constant columns and collinear columns, by name."""
    for c in columns:
        col = frame[c]
        if col.isna().any():
            bad = col.index[col.isna().to_numpy()].tolist()
            raise DataError(f"{owner}: covariate {c!r} is missing for {len(bad):,} customers, "
                            f"e.g. {format_examples(bad)}. Fill them (for a category, e.g. "
                            "with a 'missing' level) or drop those customers.")
        if _is_numeric(col) and not np.isfinite(col.to_numpy(float)).all():
            bad = col.index[~np.isfinite(col.to_numpy(float))].tolist()
            raise DataError(f"{owner}: covariate {c!r} is infinite for {len(bad):,} "
                            f"customers, e.g. {format_examples(bad)}. Fix or drop them.")
        if check_variation and col.nunique() < 2:
            raise DataError(f"{owner}: covariate {c!r} has the same value "
                            f"({_plain(col.iloc[0])!r}) for every customer, so it cannot explain "
                            "differences between them; leave it out.")
    if check_variation:
        CovariateEncoding.from_frame(frame, columns, owner=owner)  # collinearity, by name


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


@dataclass(frozen=True)
class CovariateEncoding:
    """How covariate columns become a model's numeric design.

    ``features`` are the design's column names: a numeric column keeps its name, a
    categorical one gives ``"column[level]"`` for every level but ``levels[column][0]``,
    the reference. A numeric feature enters the design as ``(x - center) / scale``; a
    coefficient ``b`` on that scale is ``b / scale`` per unit of the user's column
    (:meth:`user_scale`).

    Examples
    --------
    >>> frame = pd.DataFrame({"channel": ["web", "store", "web", "app"],
    ...                       "first_amount": [10.0, 30.0, 20.0, 20.0]})
    >>> enc = CovariateEncoding.from_frame(frame, ["channel", "first_amount"],
    ...                                    reference={"channel": "store"})
    >>> enc.features
    ('channel[app]', 'channel[web]', 'first_amount')
    >>> enc.design(frame).round(3).tolist()
    [[0.0, 1.0, -1.414], [0.0, 0.0, 1.414], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """

    columns: tuple[str, ...]
    levels: dict = field(default_factory=dict)   # categorical column -> (reference, *others)
    center: dict = field(default_factory=dict)   # numeric column -> mean
    scale: dict = field(default_factory=dict)    # numeric column -> standard deviation

    @property
    def features(self) -> tuple[str, ...]:
        out = []
        for c in self.columns:
            if c in self.levels:
                out += [f"{c}[{lv}]" for lv in self.levels[c][1:]]
            else:
                out.append(c)
        return tuple(out)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, columns, *, reference: dict | None = None,
                   owner: str = "CovariateEncoding") -> CovariateEncoding:
        """The encoding of ``columns`` of ``frame``: text, categorical and boolean columns
        are categories (reference level: ``reference[column]``, else the most common
        level, ties by sort order), numeric columns are centred and scaled. Raises
        :class:`~clvmodels.errors.DataError` for perfectly collinear features."""
        reference = dict(reference or {})
        unknown = set(reference) - set(columns)
        if unknown:
            raise DataError(f"{owner}: reference levels given for {sorted(unknown)}, which "
                            f"are not covariate columns {list(columns)}.")
        levels, center, scale = {}, {}, {}
        for c in columns:
            col = frame[c]
            if _is_numeric(col):
                if c in reference:
                    raise DataError(f"{owner}: covariate {c!r} is numeric, so it has no "
                                    "reference level; drop it from reference= or convert "
                                    "the column to text to treat it as a category.")
                values = col.to_numpy(float)
                center[c] = float(values.mean())
                scale[c] = float(values.std()) or 1.0
                continue
            counts = col.astype(str).value_counts(sort=False)
            order = sorted(counts.index, key=lambda lv: (-counts[lv], lv))
            ref = order[0]
            if c in reference:
                ref = str(reference[c])
                if ref not in counts.index:
                    raise DataError(f"{owner}: reference level {ref!r} of covariate {c!r} "
                                    f"does not occur; its levels are {sorted(counts.index)}.")
            levels[c] = (ref, *sorted(lv for lv in counts.index if lv != ref))
        encoding = cls(tuple(columns), levels, center, scale)
        encoding._check_rank(frame, owner)
        return encoding

    def design(self, frame: pd.DataFrame, owner: str = "CovariateEncoding") -> np.ndarray:
        """The (rows x features) float design of ``frame``'s covariate columns. A level
        the encoding has not seen is an error naming it (it has no coefficient)."""
        parts = []
        for c in self.columns:
            if c not in frame.columns:
                raise DataError(f"{owner}: covariate column {c!r} the model was fitted with "
                                f"is not in the data; it has {list(frame.columns)[:20]}.")
            col = frame[c]
            if c in self.levels:
                text = col.astype(str).to_numpy()
                known = np.isin(text, self.levels[c])
                if not known.all():
                    new = pd.unique(text[~known]).tolist()
                    raise DataError(f"{owner}: covariate {c!r} has level(s) "
                                    f"{format_examples(new)} the model was not fitted with "
                                    f"(known: {list(self.levels[c])}); refit with them or "
                                    "map them to a known level.")
                parts += [(text == lv).astype(float) for lv in self.levels[c][1:]]
            else:
                values = pd.to_numeric(col, errors="coerce").to_numpy(float)
                if not np.isfinite(values).all():
                    raise DataError(f"{owner}: covariate {c!r} has missing, non-numeric or "
                                    "infinite values; fix or drop those rows.")
                parts.append((values - self.center[c]) / self.scale[c])
        if not parts:
            return np.zeros((len(frame), 0))
        return np.column_stack(parts)

    def user_scale(self, coefficients) -> tuple[np.ndarray, float]:
        """Coefficients per unit of the user's columns, and the amount to add to the
        log of the linked parameter so that it describes a customer whose covariates
        are all 0 (reference levels, numeric columns at 0) instead of one at the means.

        >>> enc = CovariateEncoding(("x",), center={"x": 10.0}, scale={"x": 2.0})
        >>> enc.user_scale([0.5])
        (array([0.25]), -2.5)
        """
        coef = np.asarray(coefficients, dtype=float).copy()
        shift = 0.0
        for j, name in enumerate(self.features):
            if name in self.scale:
                coef[j] = coef[j] / self.scale[name]
                shift -= coef[j] * self.center[name]
        return coef, float(shift)

    def to_dict(self) -> dict:
        """Plain JSON: saved next to the fitted parameters."""
        return {"columns": list(self.columns),
                "levels": {c: list(v) for c, v in self.levels.items()},
                "center": dict(self.center), "scale": dict(self.scale)}

    @classmethod
    def from_dict(cls, data: dict) -> CovariateEncoding:
        return cls(tuple(data["columns"]), {c: tuple(v) for c, v in data["levels"].items()},
                   dict(data["center"]), dict(data["scale"]))

    def _check_rank(self, frame: pd.DataFrame, owner: str) -> None:
        """Refuse features that are an exact linear combination of the intercept and the
        features before them, naming the set."""
        x = self.design(frame, owner)
        if x.shape[1] == 0:
            return
        names = self.features
        basis = np.ones((x.shape[0], 1))
        kept: list[str] = []
        for j in range(x.shape[1]):
            candidate = np.column_stack([basis, x[:, j]])
            if np.linalg.matrix_rank(candidate, tol=1e-9 * max(1.0, np.sqrt(x.shape[0]))) \
                    < candidate.shape[1]:
                coef, *_ = np.linalg.lstsq(basis, x[:, j], rcond=None)
                used = [n for n, b in zip(["(intercept)", *kept], coef) if abs(b) > 1e-8]
                raise DataError(
                    f"{owner}: covariate feature {names[j]!r} is a perfect linear combination "
                    f"of {used or ['(intercept)']} on these customers, so their effects cannot "
                    "be told apart; leave one of them out.")
            basis = candidate
            kept.append(names[j])
