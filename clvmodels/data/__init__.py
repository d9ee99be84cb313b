"""Data layer: validate transactions, summarize customers, compress summary rows."""

from clvmodels.data.compress import CompressedRows, compress_rows
from clvmodels.data.summary import (
    calibration_holdout_summary,
    repeat_purchase_tracking,
    rfm_summary,
)
from clvmodels.data.transactions import load_transactions

__all__ = [
    "load_transactions",
    "rfm_summary",
    "calibration_holdout_summary",
    "repeat_purchase_tracking",
    "compress_rows",
    "CompressedRows",
]
