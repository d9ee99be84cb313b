"""The one error vocabulary of clvmodels (DESIGN.md principle 7).

Every message names the column, row or parameter at fault and says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ClvModelsError",
    "DataError",
    "FitError",
    "NotFittedError",
    "IncompatibleModelError",
    "ConvergenceWarning",
    "DataWarning",
    "check_parameter",
    "format_examples",
    "percent_as_share",
]


class ClvModelsError(Exception):
    """Base class of every error raised on purpose by clvmodels.

    ``cli_message``, when given, is the same message with its advice in command-line
    terms (flags instead of Python arguments); the command line prints it.
    """

    def __init__(self, message: str = "", *, cli_message: str | None = None):
        super().__init__(message)
        self.cli_message = cli_message


class DataError(ClvModelsError, ValueError):
    """Input data is malformed: a missing column, unparseable values, impossible rows."""


class FitError(ClvModelsError, RuntimeError):
    """A fit did not converge or produced unusable estimates."""


class NotFittedError(ClvModelsError, AttributeError):
    """A model was used before ``fit``."""

    def __init__(self, model: object):
        name = type(model).__name__
        super().__init__(
            f"This {name} instance is not fitted yet. Call 'fit' with appropriate "
            "data before using this method."
        )


class IncompatibleModelError(ClvModelsError, ValueError):
    """A model or saved file does not fit the request (wrong type, unit, format)."""


class ConvergenceWarning(UserWarning):
    """A fit finished but its diagnostics call for care."""


class DataWarning(UserWarning):
    """The data were accepted, but something in them changes the answer and the user
    should know it (e.g. refund-only days counted as purchase days).

    ``cli_message``, when given, is the same message in command-line terms."""

    def __init__(self, message: str = "", *, cli_message: str | None = None):
        super().__init__(message)
        self.cli_message = cli_message


def percent_as_share(value: float) -> str:
    """A number read as a percentage, written as the share it stands for (two decimals
    where they are exact: 30 -> '0.30', 1.5 -> '0.015'), for the "Did you mean" of a
    rate or share written as a percentage (here, not in :mod:`clvmodels.value`, so the
    command line words it without importing NumPy).

    >>> percent_as_share(30), percent_as_share(1.5), percent_as_share(12.5)
    ('0.30', '0.015', '0.125')
    """
    share = value / 100
    return f"{share:.2f}" if abs(round(share, 2) - share) < 1e-12 else f"{share:.4g}"


def format_examples(values: Iterable[object], limit: int = 5) -> str:
    """Render the first ``limit`` offending values for an error message."""
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f", ... ({len(values) - limit} more)" if len(values) > limit else ""
    return f"[{shown}{more}]"


def check_parameter(name: str, owner: str, value: object, ok: bool, expected: str) -> None:
    """Raise the standard parameter error unless ``ok``.

    >>> check_parameter("margin", "customer_lifetime_value", -1.0, False, "a float in (0, inf)")
    Traceback (most recent call last):
    ...
    ValueError: The 'margin' parameter of customer_lifetime_value must be a float in (0, inf). Got -1.0 instead.
    """
    if not ok:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead."
        )
