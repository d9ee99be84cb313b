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
    from clvmodels import load_transactions, rfm_summary

    # the API reads the same CSV with text ids, as the command line does
    summary = rfm_summary(load_transactions(workdir / "cdnow.csv"), observation_end="1998-06-30")
    assert summary.index.dtype != np.int64
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
        assert "contractual" in result.stdout


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


# ------------------------------------------------------------------ contractual
@pytest.fixture(scope="module")
def telco_dir(tmp_path_factory):
    from clvmodels.datasets import load_telco

    d = tmp_path_factory.mktemp("cli_contractual")
    table = load_telco().reset_index().drop(columns=["churned", "entry"])  # the file's columns
    table["cac"] = table["Contract"].map({"Month-to-month": 2000.0, "One year": 300.0,
                                          "Two year": 200.0})
    table["acquired"] = (pd.Timestamp("2025-01-01")
                         - pd.to_timedelta(table["tenure"] * 30.4375, unit="D")).dt.date
    table.to_csv(d / "telco.csv", index=False)
    base = ["fit", "--kind", "contractual", str(d / "telco.csv"), "--account-col", "customerID",
            "--churned-col", "Churn", "--period", "month", "--observed-periods", "1", "--seed", "1"]
    assert main([*base, "--revenue-col", "MonthlyCharges", "--out", str(d / "churn")]) == 0
    assert main([*base, "--covariates", "Contract,SeniorCitizen", "--method", "map",
                 "--out", str(d / "churn_cov")]) == 0
    return d


def test_contractual_fit_and_score_round_trip(telco_dir, capsys):
    from clvmodels.scoring import CONTRACTUAL_SCORE_COLUMNS, load_job

    d = telco_dir
    job = load_job(d / "churn")
    assert job.kind == "contractual" and job.meta["columns"]["revenue_col"] == "MonthlyCharges"
    out = d / "clv.parquet"
    assert main(["score", str(d / "churn"), str(d / "telco.csv"), "--out", str(out),
                 "--margin", "0.6", "--level", "0.8"]) == 0  # revenue column recorded at fit
    assert "scored 7,043 accounts" in capsys.readouterr().out
    scores = pd.read_parquet(out)
    assert list(scores.columns) == list(CONTRACTUAL_SCORE_COLUMNS)[:8]
    assert len(scores) == 7043 and scores.index.name == "customerID"
    telco = pd.read_csv(d / "telco.csv", index_col="customerID").reindex(scores.index)
    churned = telco["Churn"].eq("Yes").to_numpy()
    assert (scores.expected_clv[churned] == 0).all() and (scores.expected_clv[~churned] > 0).all()
    assert (scores.expected_clv_lower <= scores.expected_clv).all()
    assert (scores.expected_clv <= scores.expected_clv_upper).all()
    assert (scores.clv_predictive_lower <= scores.clv_predictive_upper).all()
    cov = d / "clv_cov.parquet"
    assert main(["score", str(d / "churn_cov"), str(d / "telco.csv"), "--out", str(cov),
                 "--revenue-col", "MonthlyCharges", "--acquisition-cost-col", "cac",
                 "--growth-rate", "0.002"]) == 0
    assert list(pd.read_parquet(cov).columns) == list(CONTRACTUAL_SCORE_COLUMNS)


def test_contractual_reruns_are_byte_identical(telco_dir):
    d = telco_dir
    args = ["--revenue-col", "MonthlyCharges", "--seed", "5", "--chunk-customers", "1500"]
    paths = [d / f"same{i}.parquet" for i in range(2)]
    for p in paths:
        assert main(["score", str(d / "churn_cov"), str(d / "telco.csv"), "--out", str(p),
                     *args]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    csv = d / "same.csv"
    assert main(["score", str(d / "churn_cov"), str(d / "telco.csv"), "--out", str(csv),
                 *args]) == 0
    a, b = pd.read_parquet(paths[0]), pd.read_csv(csv, index_col=0)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12)


def test_contractual_report_from_the_command_line(telco_dir, capsys):
    d = telco_dir
    out = d / "churn.html"
    assert main(["report", str(d / "churn_cov"), str(d / "telco.csv"), "--out", str(out),
                 "--revenue-col", "MonthlyCharges", "--segment-col", "Contract",
                 "--cohort-col", "acquired", "--acquisition-cost-col", "cac",
                 "--margin", "0.6"]) == 0
    assert "wrote" in capsys.readouterr().out
    text = out.read_text()
    assert "How long accounts stay" in text and "Below 3 : 1" in text
    assert "By acquisition cohort" in text and "<td>2019</td>" in text  # dates read from CSV
    assert out.with_suffix(".clv.csv").is_file()


@pytest.mark.parametrize("args,code,message", [
    # data errors: exit 1, the message names the column
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--account-col", "customerID",
      "--churned-col", "gender", "--period", "month", "--out", "{d}/x"], 1,
     r"column 'gender' \(churned\) must say whether each account cancelled: yes/no, "
     r"true/false or 1/0; 7043 row\(s\)"),
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--account-col", "account",
      "--churned-col", "Churn", "--period", "month", "--out", "{d}/x"], 1,
     r"column 'account' \(account_col, --account-col\) is not in the accounts table"),
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--account-col", "customerID",
      "--churned-col", "Churn", "--tenure-col", "MonthlyCharges", "--period", "month",
      "--out", "{d}/x"], 1, r"column 'MonthlyCharges' \(tenure.*whole number"),
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--account-col", "customerID",
      "--churned-col", "Churn", "--covariates", "Plan", "--period", "month", "--out", "{d}/x"], 1,
     r"'Plan' \(covariates\[0\], --covariates\)"),
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--account-col", "customerID",
      "--churned-col", "Churn", "--revenue-col", "Revenue", "--period", "month",
      "--out", "{d}/x"], 1, r"revenue column 'Revenue' \(--revenue-col\)"),
    (["score", "{d}/churn", "{d}/telco.csv", "--out", "{d}/x.parquet", "--revenue-col",
      "Revenue"], 1, r"revenue_col column 'Revenue' \(--revenue-col\) is not in the accounts"),
    (["score", "{d}/churn", "{d}/telco.csv", "--out", "{d}/x.parquet", "--acquisition-cost-col",
      "TotalCharges"], 1, r"'TotalCharges' must be finite and >= 0; 11 row"),
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--account-col", "customerID",
      "--churned-col", "Churn", "--period", "month", "--out", "{d}/churn"], 1, "already exists"),
    # usage errors: exit 2
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--out", "{d}/x"], 2,
     "needs --period"),
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--period", "month", "--time-unit", "week",
      "--out", "{d}/x"], 2, "--time-unit is for noncontractual jobs"),
    (["fit", "{d}/telco.csv", "--tenure-col", "tenure", "--out", "{d}/x"], 2,
     "add --kind contractual"),
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--account-col", "customerID",
      "--churned-col", "Churn", "--period", "month", "--observed-periods", "0", "--out", "{d}/x"],
     2, "--observed-periods must be a whole number >= 1"),
    (["fit", "--kind", "contractual", "{d}/telco.csv", "--account-col", "customerID",
      "--churned-col", "Churn", "--period", "month", "--observed-periods", "1", "--entry-col",
      "tenure", "--out", "{d}/x"], 2, "not allowed with argument"),
    (["score", "{d}/churn_cov", "{d}/telco.csv", "--out", "{d}/x.parquet"], 2,
     "needs --revenue-col"),
    (["score", "{d}/churn", "{d}/telco.csv", "--out", "{d}/x.parquet", "--time-unit", "week"], 2,
     "disagrees with the model's time unit"),
])
def test_contractual_errors_have_exit_codes_and_one_paragraph(telco_dir, capsys, args, code,
                                                              message):
    import re

    argv = [a.format(d=telco_dir) for a in args]
    if code == 2:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    else:
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err and "\n\n" not in err.strip()
    assert not (telco_dir / "x").exists() and not (telco_dir / "x.parquet").exists()


def test_unseen_category_at_scoring_names_the_column(telco_dir, capsys):
    d = telco_dir
    table = pd.read_csv(d / "telco.csv")
    table["Contract"] = table["Contract"].replace("Two year", "Three year")
    table.to_csv(d / "changed.csv", index=False)
    assert main(["score", str(d / "churn_cov"), str(d / "changed.csv"), "--out",
                 str(d / "x.parquet"), "--revenue-col", "MonthlyCharges"]) == 1
    err = capsys.readouterr().err
    assert "covariate column 'Contract' has values the model was not fitted on" in err
    assert "['Three year']" in err


def test_noncontractual_jobs_refuse_contractual_options(workdir):
    with pytest.raises(SystemExit) as info:
        main(["score", str(workdir / "model"), str(workdir / "cdnow.csv"), "--out",
              str(workdir / "x.parquet"), "--revenue-col", "amount"])
    assert info.value.code == 2


def test_the_cli_starts_without_the_heavy_libraries():
    """`clvmodels --help` and usage errors import no pandas, SciPy, PyMC or numba (they
    load where a command needs them), so they answer at once."""
    import subprocess
    import sys

    code = ("import sys, clvmodels.cli as c\n"
            "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pandas', 'scipy', 'pymc', 'numba', 'pytensor', 'matplotlib')"
            " if m in sys.modules]\nprint(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_any_purchase_model_from_the_command_line(workdir, capsys):
    """--model picks the purchase model; auto compares them on a holdout and keeps the
    best; score and report run on whichever was chosen."""
    from clvmodels.scoring import load_job

    d = workdir
    assert main(["fit", str(d / "cdnow.csv"), "--out", str(d / "pnbd"), "--model", "pnbd",
                 "--observation-end", "1998-06-30"]) == 0
    assert "ParetoNBDModel r=" in capsys.readouterr().out
    assert type(load_job(d / "pnbd").transactions).__name__ == "ParetoNBDModel"
    assert main(["score", str(d / "pnbd"), str(d / "cdnow.csv"), "--out",
                 str(d / "pnbd.parquet"), "--margin", "0.3"]) == 0
    scores = pd.read_parquet(d / "pnbd.parquet")
    assert list(scores.columns) == list(SCORE_COLUMNS) and len(scores) == 2357
    assert main(["fit", str(d / "cdnow.csv"), "--out", str(d / "auto"), "--model", "auto",
                 "--calibration-end", "1997-09-30", "--observation-end", "1998-06-30"]) == 0
    out = capsys.readouterr().out
    assert "models compared (holdout MAE; the first is used)" in out
    job = load_job(d / "auto")
    table = pd.DataFrame.from_dict(job.meta["model_comparison"], orient="index")
    assert set(table.index) == {"bgnbd", "mbgnbd", "pnbd"}
    assert job.meta["model"] == table["mae"].idxmin()  # the best holdout MAE is kept
    assert main(["report", str(d / "auto"), str(d / "cdnow.csv"), "--out",
                 str(d / "auto.html")]) == 0
    page = (d / "auto.html").read_text()
    assert "Which purchase model" in page and "forecast the holdout period best" in page
    assert all(name in page for name in ("BG/NBD", "MBG/NBD", "Pareto/NBD"))


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "sbg"], "transactions take bgnbd"),
    (["--calibration-end", "1997-09-30"], "use it with --model auto"),
])
def test_purchase_model_usage_errors(workdir, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", str(workdir / "cdnow.csv"), "--out", str(workdir / "x"), *args])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_contractual_score_over_a_horizon(telco_dir):
    d = telco_dir
    whole, year = d / "whole.parquet", d / "year.parquet"
    for out, extra in ((whole, []), (year, ["--horizon", "1 year"])):
        assert main(["score", str(d / "churn"), str(d / "telco.csv"), "--out", str(out),
                     "--margin", "0.6", "--seed", "1", *extra]) == 0
    a, b = pd.read_parquet(whole), pd.read_parquet(year)
    active = a["probability_renewal"] > 0
    assert (b["expected_clv"] <= a["expected_clv"] + 1e-9).all()
    assert (b.loc[active, "expected_clv"] < a.loc[active, "expected_clv"]).all()
    # within one year an account renews at most 12 times: at most 12 months of revenue
    assert (b["expected_residual_lifetime"] <= 12 + 1e-9).all()


def test_a_failed_fit_advises_in_flags_not_python(workdir, tmp_path, capsys):
    """The command line's advice names flags that exist, never Python arguments."""
    code = main(["fit", str(workdir / "cdnow.csv"), "--out", str(tmp_path / "m"),
                 "--max-iter", "10"])
    err = capsys.readouterr().err
    assert code == 1 and "did not converge" in err
    assert "the iteration limit was reached (10 iterations)" in err
    assert "--max-iter 20 (now 10)" in err and "--method map" in err
    assert "max_iter" not in err and "method=" not in err and "ABNORMAL" not in err
    assert not (tmp_path / "m").exists()
    with pytest.raises(SystemExit) as usage:
        main(["fit", str(workdir / "cdnow.csv"), "--out", str(tmp_path / "m"), "--max-iter", "3"])
    assert usage.value.code == 2
    assert "--max-iter must be a whole number >= 10" in capsys.readouterr().err


def test_the_bundled_text_file_is_read_with_reading_flags(workdir, tmp_path, capsys):
    """CDNOW_sample.txt (whitespace-separated, no header, dates as 19970101) fits from the
    command line; its ids keep their leading zeros in the scores."""
    from clvmodels.datasets import _data_file

    txt = str(_data_file("CDNOW_sample.txt"))
    code = main(["fit", txt, "--out", str(tmp_path / "m"), "--observation-end", "1998-06-30",
                 "--names", "customer_id,order_id,date,quantity,amount",
                 "--date-format", "%Y%m%d", "--seed", "1"])
    assert code == 0 and "fitted 2,357 customers" in capsys.readouterr().out
    from clvmodels.scoring import load_job

    a, b = load_job(tmp_path / "m"), load_job(workdir / "model")
    np.testing.assert_allclose(a.transactions.params_, b.transactions.params_, rtol=1e-9)
    out = tmp_path / "s.csv"
    assert main(["score", str(tmp_path / "m"), txt, "--out", str(out), "--names",
                 "customer_id,order_id,date,quantity,amount", "--date-format", "%Y%m%d"]) == 0
    ids = pd.read_csv(out, dtype={"customer_id": str})["customer_id"]
    assert ids.iloc[0] == "00004" and ids.str.len().eq(5).all()
    # without the flags: the advice names the flag that reads it
    assert main(["fit", txt, "--out", str(tmp_path / "n")]) == 1
    err = capsys.readouterr().err
    assert "no header row" in err and "--names" in err and "customer_col=" not in err


@pytest.mark.parametrize("content, encoding, flags, advice", [
    ("customer_id;date;amount\n1;2020-01-01;3\n", "utf-8", [], "add --sep ';'"),
    ("customer_id,date,amount\nJosé,2020-01-01,3\n", "latin-1", [], "--encoding"),
    ("", "utf-8", [], "is empty"),
    ("customer_id,date,amount\n1,2020-01-01,3\n", "utf-8", ["--reader", "duckdb", "--sep", ","],
     "--sep work with --reader pandas"),
])
def test_unreadable_text_names_the_flag_that_reads_it(tmp_path, capsys, content, encoding, flags,
                                                      advice):
    f = tmp_path / "tx.csv"
    f.write_bytes(content.encode(encoding))
    try:
        code = main(["fit", str(f), "--out", str(tmp_path / "m"), *flags])
    except SystemExit as exc:  # usage errors exit through argparse
        code = exc.code
    assert code in (1, 2)
    err = capsys.readouterr().err
    assert advice in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_bgbb_on_transaction_periods_from_the_command_line(workdir, tmp_path, capsys):
    """fit --model bgbb --period month summarizes months with a purchase, fits BG/BB and
    Gamma-Gamma; score and report run on the job; the horizon must be whole months."""
    from clvmodels import (BetaGeoBetaBinomModel, GammaGammaModel, customer_lifetime_value,
                           discrete_summary, load_transactions)

    job = tmp_path / "bgbb"
    assert main(["fit", str(workdir / "cdnow.csv"), "--model", "bgbb", "--period", "month",
                 "--out", str(job), "--observation-end", "1998-06-30"]) == 0
    out = capsys.readouterr().out
    assert "over months 1997-01-01 .. 1998-06-30: BetaGeoBetaBinomModel" in out
    scores = tmp_path / "s.parquet"
    assert main(["score", str(job), str(workdir / "cdnow.csv"), "--out", str(scores),
                 "--margin", "0.3"]) == 0
    got = pd.read_parquet(scores)
    # the same numbers from the API on the same summary
    summary = discrete_summary(load_transactions(workdir / "cdnow.csv"), period="month",
                               observation_end="1998-06-30", amount_col="amount")
    bgbb = BetaGeoBetaBinomModel(random_state=0).fit(summary)
    gg = GammaGammaModel(random_state=0).fit(summary)
    want = customer_lifetime_value(bgbb, gg, summary, margin=0.3, discount_rate=0.10,
                                   random_state=0)
    np.testing.assert_allclose(got["expected_clv"], want["expected_clv"], rtol=1e-9)
    assert got[["clv_predictive_lower", "clv_predictive_upper"]].notna().all().all()
    capsys.readouterr()
    assert main(["score", str(job), str(workdir / "cdnow.csv"), "--out", str(scores),
                 "--horizon", "10 weeks"]) == 1
    assert "counts whole months" in capsys.readouterr().err
    assert main(["report", str(job), str(workdir / "cdnow.csv"),
                 "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "Purchases (BG/BB)" in page and "not validated on a holdout" in page
    with pytest.raises(SystemExit) as usage:
        main(["fit", str(workdir / "cdnow.csv"), "--model", "bgbb", "--out", str(tmp_path / "x")])
    assert usage.value.code == 2 and "add --period" in capsys.readouterr().err


def test_bgbb_reproduces_the_published_donations_fit_from_the_command_line(
        donation_transactions, tmp_path, capsys):
    """REFERENCES.md: alpha 1.204, beta 0.750, gamma 0.657, delta 2.783 (FHB 2010), from a
    transaction log of the donations data through `fit --model bgbb --period year`."""
    # spend whose mean differs between donors (as Gamma-Gamma assumes): with one mean for
    # everyone, its q and gamma have no finite estimate and the fit fails on some machines
    rng = np.random.default_rng(0)
    ids = donation_transactions["customer_id"].to_numpy()
    mean = rng.gamma(4.0, 10.0, ids.max() + 1)[ids]
    tx = donation_transactions.assign(amount=rng.gamma(6.0, mean / 6.0))
    tx.to_csv(tmp_path / "donations.csv", index=False)
    assert main(["fit", str(tmp_path / "donations.csv"), "--model", "bgbb", "--period", "year",
                 "--observation-end", "2001-12-31", "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "fitted 11,104 customers" in out and "over years 1995-01-01 .. 2001-12-31" in out
    from clvmodels.scoring import load_job

    params = load_job(tmp_path / "m").transactions.params_
    np.testing.assert_allclose(params.round(3), [1.204, 0.750, 0.657, 2.783], atol=1e-12)


@pytest.mark.parametrize("flag, value, message", [
    ("--chunk-customers", "0", "--chunk-customers must be a whole number >= 1. Got 0."),
    ("--seed", "-1", "--seed must be a whole number >= 0. Got -1."),
    ("--n-samples", "5", "--n-samples must be a whole number >= 20. Got 5."),
])
def test_out_of_range_counts_are_usage_errors_and_write_nothing(workdir, tmp_path, capsys, flag,
                                                                value, message):
    out = tmp_path / "s.parquet"
    with pytest.raises(SystemExit) as usage:
        main(["score", str(workdir / "model"), str(workdir / "cdnow.csv"), "--out", str(out),
              flag, value])
    assert usage.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_debug_is_accepted_after_the_subcommand(workdir, tmp_path, capsys):
    code = main(["score", str(workdir / "model"), str(tmp_path / "missing.csv"), "--out",
                 str(tmp_path / "s.parquet"), "--debug"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" in err and "No input at" in err


def test_report_takes_level_and_horizons(workdir, tmp_path, capsys):
    with pytest.raises(SystemExit) as usage:
        main(["report", str(workdir / "model"), str(workdir / "cdnow.csv"),
              "--out", str(tmp_path / "r.html"), "--level", "90"])
    assert usage.value.code == 2 and "Did you mean 0.90?" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
    assert main(["report", str(workdir / "model"), str(workdir / "cdnow.csv"),
                 "--out", str(tmp_path / "r.html"), "--level", "0.8", "--horizons", "2"]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "over the next 2 years" in page and "80% credible range" in page
    assert "3 years" not in page


@pytest.fixture(scope="module")
def regular_csv(tmp_path_factory):
    """Transactions of 120 customers who buy regularly (Erlang-3 gaps, about one purchase
    in two months, drop-out after each purchase with probability p ~ Beta(1, 6)), first
    purchases over 2020, observed to the end of 2021; Gamma-Gamma amounts."""
    rng = np.random.default_rng(14)
    n = 120
    start = pd.Timestamp("2020-01-01")
    end_days = 730
    first = rng.integers(0, 365, n).astype(float)
    rate = rng.gamma(2.0, 1.0 / 120.0, n)  # purchases per day: mean 1 in 60 days
    rows_id, rows_day = [np.arange(n)], [first]
    drop = rng.beta(1.0, 6.0, n)
    t, alive = first.copy(), np.ones(n, dtype=bool)
    while alive.any():
        t = t + rng.standard_gamma(3.0, n) / (3.0 * rate)
        alive &= t < end_days
        rows_id.append(np.flatnonzero(alive))
        rows_day.append(np.floor(t[alive]))
        alive &= rng.random(n) > drop
    ids, days = np.concatenate(rows_id), np.concatenate(rows_day)
    nu = rng.gamma(4.0, 1.0 / 15.0, n)  # Gamma-Gamma spend: p = 6, q = 4, gamma = 15
    tx = pd.DataFrame({"customer_id": ids, "date": start + pd.to_timedelta(days, unit="D"),
                       "amount": np.round(rng.gamma(6.0, 1.0 / nu[ids]), 2)})
    d = tmp_path_factory.mktemp("regular")
    tx.to_csv(d / "regular.csv", index=False)
    return d


@pytest.mark.parametrize(("model", "cls"), [("mbgcnbd", "ModifiedBetaGeoCNBDModel"),
                                            ("bgcnbd", "BetaGeoCNBDModel")])
def test_erlang_models_fit_score_and_report_from_the_command_line(regular_csv, capsys, model,
                                                                  cls):
    """--model mbgcnbd|bgcnbd: the summary carries log_gap_sum, so the order k is chosen on
    the gaps (regular data: k > 1); the saved job keeps k; score runs on it, and report
    (on MBG/CNBD-k: the report evaluates a few dozen value tables, the slow part)."""
    from clvmodels.scoring import load_job

    d, name = regular_csv, regular_csv / model
    assert main(["fit", str(d / "regular.csv"), "--out", str(name), "--model", model,
                 "--observation-end", "2021-12-31", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{cls} erlang_k=" in out
    job = load_job(name)
    bg = job.transactions
    assert type(bg).__name__ == cls and job.meta["model"] == model
    assert bg.regularity_source_ == "gaps" and bg.k_ > 1
    assert bg.point_params()["erlang_k"] == bg.k_
    assert main(["score", str(name), str(d / "regular.csv"), "--out",
                 str(d / f"{model}.parquet"), "--margin", "0.3"]) == 0
    scores = pd.read_parquet(d / f"{model}.parquet")
    assert list(scores.columns) == list(SCORE_COLUMNS) and len(scores) == 120
    assert np.isfinite(scores["expected_clv"]).all()
    assert (scores.expected_clv_lower <= scores.expected_clv_upper).all()
    if model != "mbgcnbd":
        return
    assert main(["report", str(name), str(d / "regular.csv"), "--out",
                 str(d / f"{model}.html")]) == 0
    assert (d / f"{model}.html").stat().st_size > 0
