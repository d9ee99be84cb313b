"""Bundled datasets: the CDNOW loader and the file's place in the wheel."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clvmodels.datasets as datasets
from clvmodels.datasets import load_cdnow_transactions

REPO = Path(__file__).resolve().parent.parent


def test_cdnow_loader():
    tx = load_cdnow_transactions()
    assert len(tx) == 6919
    assert tx["customer_id"].nunique() == 2357
    assert tx["customer_id"].min() == 1 and tx["customer_id"].max() == 2357
    assert tx["date"].min() == pd.Timestamp("1997-01-01")
    assert tx["date"].max() == pd.Timestamp("1998-06-30")
    assert list(tx.columns) == ["customer_id", "date", "quantity", "amount"]
    assert tx["customer_id"].dtype == np.int64 and tx["quantity"].dtype == np.int64
    assert tx["amount"].dtype == np.float64
    assert pd.api.types.is_datetime64_dtype(tx["date"])
    assert (tx["amount"] == 0).sum() == 8
    assert (tx["quantity"] >= 1).all()


def test_missing_data_file_error(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets.resources, "files", lambda package: tmp_path)
    monkeypatch.setattr(datasets, "__file__", str(tmp_path / "clvmodels" / "datasets.py"))
    with pytest.raises(FileNotFoundError, match=r"'CDNOW_sample\.txt' was found neither in the "
                                                r"installed package .* nor in a source checkout"):
        load_cdnow_transactions()


def test_wheel_contains_cdnow_and_loads_it(tmp_path):
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling in the venv")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "-w", str(tmp_path / "dist"), str(REPO)],
        check=True, capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("clvmodels-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "clvmodels/_data/CDNOW_sample.txt" in archive.namelist()
        archive.extractall(tmp_path / "site")
    # the unpacked wheel, not the editable checkout, serves the file
    code = ("import clvmodels, clvmodels.datasets as d; "
            "print(clvmodels.__file__); print(d._data_file('CDNOW_sample.txt')); "
            "print(len(d.load_cdnow_transactions()))")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=env, cwd=tmp_path).stdout.split("\n")
    site = str((tmp_path / "site").resolve())
    assert out[0].startswith(site)
    assert out[1].startswith(site) and out[1].endswith("clvmodels/_data/CDNOW_sample.txt")
    assert out[2] == "6919"
