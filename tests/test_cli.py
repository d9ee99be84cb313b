"""The ``clvmodels`` command: fit, score, errors, exit codes, determinism, atomicity."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.scoring import SCORE_COLUMNS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    load_cdnow_transactions().to_csv(d / "cdnow.csv", index=False)
    assert main(["fit", str(d / "cdnow.csv"), "--out", str(d / "model"),
                 "--observation-end", "1998-06-30", "--seed", "1"]) == 0
    return d


def test_fit_and_score_write_the_documented_schema(workdir, capsys):
    out = workdir / "scores.parquet"
    assert main(["score", str(workdir / "model"), str(workdir / "cdnow.csv"), "--out", str(out),
                 "--horizon", "52 weeks", "--margin", "0.3"]) == 0
    assert "scored 2,357 customers" in capsys.readouterr().out
    scores = pd.read_parquet(out)
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert len(scores) == 2357 and scores.index.name == "customer_id"
    assert (scores.expected_clv_lower <= scores.expected_clv_upper).all()
    assert oct(out.stat().st_mode & 0o777) != "0o600"


def test_same_inputs_and_seed_give_identical_bytes(workdir):
    paths = [workdir / f"same{i}.parquet" for i in range(2)]
    for p in paths:
        assert main(["score", str(workdir / "model"), str(workdir / "cdnow.csv"), "--out", str(p),
                     "--seed", "5", "--chunk-customers", "1000"]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    csv = workdir / "same.csv"
    assert main(["score", str(workdir / "model"), str(workdir / "cdnow.csv"), "--out", str(csv),
                 "--seed", "5", "--chunk-customers", "1000"]) == 0
    a, b = pd.read_parquet(paths[0]), pd.read_csv(csv, index_col=0)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12)


def test_scoring_a_summary_file(workdir):
    from clvmodels import rfm_summary

    summary = rfm_summary(load_cdnow_transactions(), observation_end="1998-06-30")
    summary.to_parquet(workdir / "summary.parquet")
    a, b = workdir / "from_tx.parquet", workdir / "from_summary.parquet"
    for data, out in ((workdir / "cdnow.csv", a), (workdir / "summary.parquet", b)):
        assert main(["score", str(workdir / "model"), str(data), "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))


@pytest.mark.parametrize("args,code,message", [
    (["score", "{d}/nope", "{d}/cdnow.csv", "--out", "{d}/x.parquet"], 1,
     "is not a clvmodels model directory"),
    (["score", "{d}/model", "{d}/cdnow.csv", "--out", "{d}/x.txt"], 1,
     "name it \\*.parquet, \\*.pq or \\*.csv"),
    (["score", "{d}/model", "{d}/cdnow.csv", "--out", "{d}/no/such/x.parquet"], 1,
     "does not exist"),
    (["score", "{d}/model", "{d}/cdnow.csv", "--out", "{d}/x.parquet", "--time-unit", "day"], 2,
     "disagrees with the model's time unit"),
    (["fit", "{d}/cdnow.csv", "--out", "{d}/m2", "--customer-col", "account"], 1,
     "'account'.*not in the transactions"),
    (["fit", "{d}/cdnow.csv", "--out", "{d}/model"], 1, "already exists"),
    (["score", "{d}/model"], 2, "required"),
])
def test_errors_have_exit_codes_and_one_paragraph(workdir, capsys, args, code, message):
    argv = [a.format(d=workdir) for a in args]
    if code == 2:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    else:
        assert main(argv) == 1
    err = capsys.readouterr().err
    import re

    assert re.search(message, err), err
    assert "Traceback" not in err


def test_model_trained_on_other_columns_is_refused(workdir, capsys):
    tx = load_cdnow_transactions().rename(columns={"customer_id": "account"})
    tx.to_csv(workdir / "renamed.csv", index=False)
    assert main(["score", str(workdir / "model"), str(workdir / "renamed.csv"), "--out",
                 str(workdir / "r.parquet")]) == 1
    assert "lacks ['customer_id']" in capsys.readouterr().err


def test_help_has_examples():
    for command in ("fit", "score"):
        result = subprocess.run([sys.executable, "-m", "clvmodels", command, "--help"],
                                capture_output=True, text=True, check=True)
        assert "examples:" in result.stdout and f"clvmodels {command}" in result.stdout


def test_killed_scoring_leaves_previous_output_intact(tmp_path):
    """Kill a scoring run midway: the earlier output stays complete, no partial file."""
    from clvmodels import simulate_bgnbd, simulate_spend

    n = 300_000
    df = simulate_bgnbd(n, 0.24, 30.0, 0.8, 2.4, T=np.random.default_rng(0).integers(1, 700, n),
                        time_unit="day", random_state=1)
    df["recency"] = np.floor(df["recency"])
    df["monetary_value"] = simulate_spend(df.frequency.to_numpy(), 6.25, 3.74, 15.44, random_state=2)
    df = df[["frequency", "recency", "T", "monetary_value"]]
    df.attrs["time_unit"] = "day"
    from clvmodels.scoring import fit_job

    fit_job(df.iloc[:20_000], tmp_path / "model", columns={"customer_col": "customer_id",
                                                          "date_col": "date", "amount_col": "amount"})
    df.to_parquet(tmp_path / "summary.parquet")
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"previous complete output")
    cmd = [sys.executable, "-m", "clvmodels", "score", str(tmp_path / "model"),
           str(tmp_path / "summary.parquet"), "--out", str(out), "--time-unit", "day",
           "--chunk-customers", "20000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(".scores.parquet.*.tmp")):
        time.sleep(0.05)
    assert list(tmp_path.glob(".scores.parquet.*.tmp")), "scoring never started writing"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert out.read_bytes() == b"previous complete output"
    # a killed run leaves its temporary file behind at worst, never a partial target
    assert {p.name for p in tmp_path.iterdir()} <= {"model", "summary.parquet", "scores.parquet"} | {
        p.name for p in tmp_path.glob(".scores.parquet.*.tmp")}
