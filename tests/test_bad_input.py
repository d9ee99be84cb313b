"""Bad or unusual input, run as a user would (issue 17): through the command line
(``clvmodels.cli.main``: exit 0 ok, 1 bad data, 2 usage; the message on stderr) and
the Python API. Every case ends clear: a refusal or a warning that names the column,
rows, ids or flag and the fix, or a correct result for valid input; never a traceback
or a numpy/pandas RuntimeWarning reaching the user.

Families: silent wrong answers (dates, duplicates, refunds, ids, tampered models,
chunk size), errors from library internals, degenerate data, valid input refused. More
cases in ``test_bad_input_*.py`` (data, money settings, outputs and kills). Every module
turns a RuntimeWarning (numpy, pandas, scipy) into an error, besides the checks of the
helpers below.
"""

import json
import re
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clvmodels import load_transactions, rfm_summary
from clvmodels.cli import main
from clvmodels.data import calibration_holdout_summary, repeat_purchase_tracking
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import DataError, DataWarning, IncompatibleModelError
from clvmodels.models.persistence import load_model
from clvmodels.scoring import fit_job, load_job, score_to_file

COLUMNS = {"customer_col": "customer_id", "date_col": "date", "amount_col": "amount"}
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


# ------------------------------------------------------------------------ helpers
def run(*argv):
    """Run the command line as a user would: (exit code, stdout, stderr, warnings that
    escaped to Python's warning machinery)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # usage errors exit through argparse
            code = exc.code
    return code, caught


def cli(capsys, *argv, code: int, says=(), never=()):
    """Run and check the outcome: exit code, a one-paragraph message that matches every
    pattern of ``says`` and none of ``never``, no traceback, no library warning."""
    got, caught = run(*argv)
    out, err = capsys.readouterr()
    assert got == code, (got, out, err)
    assert "Traceback" not in err, err
    assert not re.search(r"\b[A-Z]\w*Warning\b", err), err  # numpy's, pandas', scipy's
    for pattern in says:
        assert re.search(pattern, err if code else out + err), (pattern, err)
    for pattern in never:
        assert not re.search(pattern, err), (pattern, err)
    library = [w for w in caught if not issubclass(w.category, (DataWarning,))]
    assert not library, [f"{w.category.__name__}: {w.message}" for w in library]
    if code == 1:  # one paragraph, then the --debug hint
        lines = err.strip().splitlines()
        assert len(lines) == 2 and lines[1].startswith("Run again with --debug"), err
    return out, err


def api(call, *args, **kwargs):
    """Call the Python API recording warnings; return (result or raised error, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - returned for the test to check
            result = exc
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not runtime, [str(w.message) for w in runtime]
    return result, [w for w in caught if issubclass(w.category, DataWarning)]


def refused(call, *args, match: str, **kwargs) -> str:
    """The API refuses with a DataError (or IncompatibleModelError) matching ``match``;
    its message gives Python advice (no command-line flags)."""
    error, _ = api(call, *args, **kwargs)
    assert isinstance(error, (DataError, IncompatibleModelError)), error
    message = str(error)
    assert re.search(match, message), message
    assert not re.search(r"(^|\s)--[a-z]", message), message  # flags are for the CLI
    return message


@pytest.fixture(scope="module")
def cdnow():
    tx = load_cdnow_transactions()[["customer_id", "date", "amount"]]
    tx = tx[tx["customer_id"] <= 800].reset_index(drop=True)  # 800 customers: fast fits
    tx["customer_id"] = tx["customer_id"].astype(str)
    tx["date"] = tx["date"].dt.strftime("%Y-%m-%d")
    return tx


@pytest.fixture(scope="module")
def d(tmp_path_factory, cdnow):
    """A folder with the transactions as CSV and a job fitted on them."""
    d = tmp_path_factory.mktemp("bad_input")
    cdnow.to_csv(d / "tx.csv", index=False)
    assert main(["fit", str(d / "tx.csv"), "--out", str(d / "model"), "--observation-end",
                 "1998-06-30"]) == 0
    return d


def write(d, name, frame, **kwargs):
    path = d / name
    frame.to_csv(path, index=False, **kwargs)
    return path


def small():
    return pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c", "c", "a"],
                         "date": ["2024-01-01", "2024-01-05", "2024-01-02", "2024-02-09",
                                  "2024-01-03", "2024-03-01", "2024-03-15"],
                         "amount": [5.0, 7.0, 3.0, 4.0, 2.0, 6.0, 1.0]})


# ============================================================ 1. silent wrong answers
# ---- a few typo rows far in the future would become the observation end
def test_far_future_typos_are_refused_on_the_command_line(d, cdnow, capsys):
    tx = cdnow.copy()
    tx.loc[[5, 100, 2000], "date"] = ["2099-01-05", "2099-03-01", "2098-12-12"]
    cli(capsys, "fit", write(d, "future.csv", tx), "--out", d / "m_future", code=1,
        says=[r"3 rows dated far after all the others", r"row positions \[5, 100, 2000\]",
              "2099-01-05", "end on 1998-06-30", "fix or drop these rows",
              "--observation-end 2099-03-01"], never=["observation_end="])
    assert not (d / "m_future").exists()
    pytest.importorskip("duckdb")  # the streaming reader says the same
    cli(capsys, "fit", d / "future.csv", "--out", d / "m_future", "--reader", "duckdb", code=1,
        says=[r"3 rows dated far after all the others \(dated \['2098-12-12', '2099-01-05', "
              r"'2099-03-01'\]\)", "--observation-end 2099-03-01"], never=["observation_end="])


def test_far_future_typo_is_refused_by_every_summary():
    tx = small()
    tx.loc[3, "date"] = "2099-02-09"
    refused(rfm_summary, tx, match=r"Column 'date' has 1 row dated far after all the others "
            r"\(row positions \[3\]: \['2099-02-09'\]\).*observation_end='2099-02-09'")
    refused(calibration_holdout_summary, tx, calibration_end="2024-02-01",
            match="dated far after all the others")
    refused(repeat_purchase_tracking, tx, match=r"dated far after.*pass end='2099-02-09'")


def test_a_late_end_given_on_purpose_and_long_histories_are_accepted():
    tx = small()
    tx.loc[3, "date"] = "2099-02-09"
    s, _ = api(rfm_summary, tx, observation_end="2099-12-31", time_unit="year")
    assert isinstance(s, pd.DataFrame) and s.loc["b", "T"] > 75  # asked for, so taken
    # five years of steady purchases, and a cohort that buys less and less: no gap
    days = pd.date_range("2019-01-01", "2023-12-31", freq="7D")
    steady = pd.DataFrame({"customer_id": np.arange(days.size) % 40, "date": days,
                           "amount": 1.0})
    assert isinstance(api(rfm_summary, steady)[0], pd.DataFrame)
    rng = np.random.default_rng(3)  # repeat purchases ever rarer: a long thin tail
    waits = np.concatenate([np.zeros(100), rng.exponential(365.0, 300)]).astype(int)
    fading = pd.DataFrame({"customer_id": np.arange(400) % 100, "amount": 1.0,
                           "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(waits, "D")})
    assert waits.max() > 5 * 365
    assert isinstance(api(rfm_summary, fading)[0], pd.DataFrame)


# ---- day-first dates read month first
def _day_first(cdnow, fmt="%d/%m/%Y", only_small_days=True):
    tx = cdnow.copy()
    dates = pd.to_datetime(tx["date"])
    if only_small_days:
        tx, dates = tx[dates.dt.day <= 12].reset_index(drop=True), dates[dates.dt.day <= 12]
    tx["date"] = dates.dt.strftime(fmt).to_numpy()
    return tx


def test_ambiguous_day_first_dates_are_refused_with_the_flag(d, cdnow, capsys):
    tx = _day_first(cdnow)
    _, err = cli(capsys, "fit", write(d, "dayfirst.csv", tx), "--out", d / "m_df", code=1,
                 says=[r"Column 'date' holds dates such as '\d\d/\d\d/\d{4}' that read either "
                       "day first", "no day in the column is above 12",
                       "--date-format '%d/%m/%Y' for day first",
                       "--date-format '%m/%d/%Y' for month first"], never=["date_format="])
    refused(rfm_summary, tx, match=r"date_format='%d/%m/%Y' for day first or "
            "date_format='%m/%d/%Y' for month first")
    # dotted dates with a time of day: the same question
    dotted = _day_first(cdnow, "%d.%m.%Y 10:30")
    refused(load_transactions, dotted, match=r"'%d.%m.%Y %H:%M' for day first")


def test_day_first_dates_with_the_format_give_the_right_summary(d, cdnow, capsys):
    tx = _day_first(cdnow)
    path = write(d, "dayfirst_ok.csv", tx)
    truth = rfm_summary(tx.assign(date=pd.to_datetime(tx["date"], format="%d/%m/%Y")),
                        observation_end="1998-06-30")
    got, _ = api(rfm_summary, tx, date_format="%d/%m/%Y", observation_end="1998-06-30")
    pd.testing.assert_frame_equal(got, truth)
    cli(capsys, "fit", path, "--out", d / "m_df_ok", "--date-format", "%d/%m/%Y",
        "--observation-end", "1998-06-30", code=0, says=[f"fitted {len(truth)} customers"])
    assert load_job(d / "m_df_ok").meta["customers"] == len(truth)


def test_unambiguous_day_first_dates_are_read_day_first_without_pandas_notes(cdnow):
    tx = _day_first(cdnow, only_small_days=False)  # days up to 31: one order fits
    got, notes = api(load_transactions, tx)
    assert not notes
    expected = pd.to_datetime(cdnow["date"]).to_numpy()
    np.testing.assert_array_equal(got["date"].to_numpy(), expected)
    # month first, with a day above 12 further down: read month first, whatever row 0 is
    month_first = tx.assign(date=pd.to_datetime(cdnow["date"]).dt.strftime("%m/%d/%Y"))
    got, _ = api(load_transactions, month_first)
    np.testing.assert_array_equal(got["date"].to_numpy(), expected)


# ---- the whole file appended twice; refunds
def test_a_file_appended_to_itself_is_refused(d, cdnow, capsys):
    doubled = pd.concat([cdnow, cdnow], ignore_index=True)
    cli(capsys, "fit", write(d, "doubled.csv", doubled), "--out", d / "m_dbl", code=1,
        says=[f"Every one of the {len(doubled):,} transactions has an exact copy",
              "appended to itself", "Drop the copies"])
    shuffled = doubled.sample(frac=1.0, random_state=1)  # not in file order either
    refused(rfm_summary, shuffled, match=r"has an exact copy .*multiplying every customer's "
            "spend by 2")
    refused(rfm_summary, pd.concat([small()] * 3), match="21 transactions has an exact copy")


def test_duplicates_that_change_nothing_or_are_few_are_accepted(cdnow):
    doubled = pd.concat([cdnow, cdnow], ignore_index=True)
    # without amounts a copy changes nothing: distinct purchase days are counted
    got, _ = api(rfm_summary, doubled, amount_col=None)
    pd.testing.assert_frame_equal(got, rfm_summary(cdnow, amount_col=None))
    # the same customer buying the same thing twice a day is real
    some = pd.concat([cdnow, cdnow.iloc[:50]], ignore_index=True)
    assert isinstance(api(rfm_summary, some)[0], pd.DataFrame)


def test_refunds_are_refused_by_default_with_the_flag(d, cdnow, capsys):
    tx = cdnow.copy()
    tx.loc[[3, 7], "amount"] = -10.0
    path = write(d, "refunds.csv", tx)
    cli(capsys, "fit", path, "--out", d / "m_ref", code=1,
        says=[r"Column 'amount' has a negative amount in 2 rows \(row positions \[3, 7\]",
              "add --allow-refunds"], never=["allow_refunds=True"])
    refused(rfm_summary, tx, match="pass allow_refunds=True")


def test_refund_only_days_are_said_in_words(d, cdnow, capsys):
    tx = cdnow.copy()
    tx.loc[[3, 7], "amount"] = -10.0  # days with only a refund on them
    path = write(d, "refunds2.csv", tx)
    _, err = cli(capsys, "fit", path, "--out", d / "m_ref2", "--allow-refunds", code=0,
                 says=["fitted 800 customers"])
    assert re.search(r"clvmodels fit: warning: 2 refund row\(s\).* 2 of those days have a net "
                     r"total of zero or less.*'1 on 1997-12-12'.*still count as purchase days",
                     err), err
    # a refund netted against a purchase on its day changes nothing countable: no warning
    netted = pd.concat([small(), pd.DataFrame({"customer_id": ["a"], "date": ["2024-01-05"],
                                                "amount": [-2.0]})])
    s, notes = api(rfm_summary, netted, allow_refunds=True, time_unit="day")
    assert not notes and s.loc["a", "monetary_value"] == (5.0 + 1.0) / 2
    alone = pd.concat([small(), pd.DataFrame({"customer_id": ["b"], "date": ["2024-03-20"],
                                               "amount": [-4.0]})])
    s, notes = api(rfm_summary, alone, allow_refunds=True)
    assert len(notes) == 1 and "'b on 2024-03-20'" in str(notes[0].message)
    assert s.loc["b", "frequency"] == 2  # as the warning says


# ---- ids
def test_duplicate_ids_in_a_summary_to_score_are_refused(d, cdnow, capsys):
    summary = rfm_summary(cdnow, observation_end="1998-06-30")
    dup = pd.concat([summary, summary.iloc[[3, 10, 10]]])
    dup.to_csv(d / "dup_summary.csv")
    first, second = summary.index[[3, 10]]
    cli(capsys, "score", d / "model", d / "dup_summary.csv", "--out", d / "dup.parquet",
        "--time-unit", "week", code=1,
        says=[rf"hold 2 customer id\(s\) on more than one row \(5 rows\), e.g. "
              rf"\['{first}', '{second}'\]", "Drop the duplicate rows"])
    assert not (d / "dup.parquet").exists()
    job = load_job(d / "model")
    refused(score_to_file, job, dup, d / "dup_api.parquet", match="more than one row")
    mixed = summary.iloc[:3].copy()
    mixed.index = pd.Index([1, "1", "2"], dtype=object, name="customer_id")
    refused(score_to_file, job, mixed, d / "mixed.parquet",
            match=r"written both ways \(1 and '1'\)")


def test_ids_written_as_number_and_text_are_refused():
    tx = small()
    tx["customer_id"] = pd.Series([1, "1", 2, 2, "3", 3.0, 1], dtype=object)
    refused(rfm_summary, tx, match=r"mix numbers and text, and 2 of them are written both ways "
            r"\(1 and '1'; '3' and 3.0\): they would count as different customers")
    refused(calibration_holdout_summary, tx, calibration_end="2024-02-01",
            match="written both ways")
    # mixed types that cannot be confused stay apart, as before
    fine = tx.assign(customer_id=pd.Series(["b", 2, "a", 10, "c", 11, "b"], dtype=object))
    assert api(rfm_summary, fine)[0].index.tolist() == [2, 10, 11, "a", "b", "c"]


# ---- a tampered or corrupted saved model
def _copy_job(d, name):
    shutil.rmtree(d / name, ignore_errors=True)
    shutil.copytree(d / "model", d / name)
    return d / name


@pytest.mark.parametrize("value, shown", [(1e308, "r=1e+308"), ("Infinity", "r=inf"),
                                          ("NaN", "r=nan"), (-2.0, "r=-2.0")])
def test_tampered_parameters_are_refused_at_load(d, capsys, value, shown):
    job = _copy_job(d, "tampered")
    file = job / "transactions" / "model.json"
    meta = json.loads(file.read_text())
    meta["fitted"]["params_"]["values"][0] = value
    file.write_text(json.dumps(meta))
    message = refused(load_job, job, match=re.escape(shown) + r".*unusable|unusable.*"
                      + re.escape(shown))
    assert "fit and save the model again" in message
    refused(load_model, job / "transactions", match="unusable parameter values")
    cli(capsys, "score", job, d / "tx.csv", "--out", d / "t.parquet", code=1,
        says=["unusable parameter values", re.escape(shown)])
    assert not (d / "t.parquet").exists()


def test_edited_estimate_and_corrupted_draws_are_refused(d, capsys):
    job = _copy_job(d, "edited")
    file = job / "spend" / "model.json"
    meta = json.loads(file.read_text())
    meta["fitted"]["params_"]["values"][2] = 1e6  # in range, but not the fitted value
    file.write_text(json.dumps(meta))
    refused(load_job, job, match=r"params_ .* is not exp\(log_params_\)")
    job = _copy_job(d, "nan_draws")
    draws = xr.open_dataset(job / "spend" / "draws.nc", engine="h5netcdf").load()
    draws.close()
    draws["p"][0, :5] = np.nan
    draws["q"][0, 7] = 1e300
    draws.to_netcdf(job / "spend" / "draws.nc", engine="h5netcdf")
    cli(capsys, "score", job, d / "tx.csv", "--out", d / "n.parquet", code=1,
        says=[r"5 of the \d[\d,]* draws of 'p'", r"1 of the \d[\d,]* draws of 'q', e\.g\. "
              r"\[1e\+300\]"])


# ---- chunk size
@pytest.mark.parametrize("value", ["0", "-5", "-250000"])
def test_chunk_customers_out_of_range_is_a_usage_error(d, capsys, value):
    out = d / "chunk.parquet"
    cli(capsys, "score", d / "model", d / "tx.csv", "--out", out, "--chunk-customers", value,
        code=2, says=[f"--chunk-customers must be a whole number >= 1. Got {value}"])
    assert not out.exists()


# ================================================= 2. errors from library internals
@pytest.mark.parametrize("content, encoding, flags, says", [
    (b"", "utf-8", [], [r"is empty: it has no header and no rows"]),
    ("customer_id,date,amount\n", "utf-8", [], ["The transactions have no rows"]),
    ("customer_id,date,amount\nJosé,2020-01-01,3\nAna,2020-02-01,4\n", "latin-1", [],
     ["as utf-8 text", "--encoding latin-1"]),
    ("customer_id;date;amount\n1;2020-01-01;3\n2;2020-02-01;4\n", "utf-8", [],
     ["looks semicolon-separated; add --sep ';'"]),
    ("1,2020-01-01,3\n2,2020-02-01,4\n", "utf-8", [], ["no header row", "--names"]),
])
def test_unreadable_files_name_the_flag_that_reads_them(d, capsys, content, encoding, flags,
                                                        says):
    path = d / "unreadable.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    cli(capsys, "fit", path, "--out", d / "m_unreadable", *flags, code=1, says=says,
        never=["customer_col=", "date_format="])


def test_mixed_date_formats_are_named_as_such(d, cdnow, capsys):
    tx = cdnow.copy()
    tx.loc[::3, "date"] = pd.to_datetime(tx.loc[::3, "date"]).dt.strftime("%m/%d/%Y")
    _, err = cli(capsys, "fit", write(d, "mixed.csv", tx), "--out", d / "m_mixed", code=1,
                 says=[r"Column 'date' mixes date formats: [\d,]+ rows are written like "
                       r"'01/01/1997' as %m/%d/%Y, but \d+ rows", "--date-format mixed"],
                 never=["unparseable", "date_format="])
    assert "'1997-" in err  # the ISO rows are shown as written another way
    refused(rfm_summary, tx, match="mixes date formats.*date_format='mixed'")
    # dates truly unreadable are still called so
    bad = small()
    bad.loc[[2, 5], "date"] = ["2024-13-01", "soon"]
    refused(rfm_summary, bad, match=r"unparseable date in 2 rows \(row positions \[2, 5\]")


def test_dates_stored_as_numbers_give_advice_for_where_they_were_read(d, cdnow, capsys):
    tx = cdnow.assign(date=pd.to_datetime(cdnow["date"]).dt.strftime("%Y%m%d").astype(int))
    path = write(d, "numeric_dates.csv", tx)
    cli(capsys, "fit", path, "--out", d / "m_num", code=1,
        says=[r"holds numbers \(int64\), not dates", "--date-format %Y%m%d"],
        never=["date_format="])
    refused(rfm_summary, tx, match="date_format='%Y%m%d'")
    cli(capsys, "fit", path, "--out", d / "m_num", "--date-format", "%Y%m%d",
        "--observation-end", "1998-06-30", code=0, says=["fitted 800 customers"])


def test_outputs_that_cannot_be_files_are_refused_before_the_work(d, capsys):
    (d / "folder.parquet").mkdir(exist_ok=True)
    cli(capsys, "score", d / "model", d / "tx.csv", "--out", d / "folder.parquet", code=1,
        says=["it is a folder", "folder.parquet/scores.parquet"], never=["Errno"])
    (d / "folder.html").mkdir(exist_ok=True)
    cli(capsys, "report", d / "model", d / "tx.csv", "--out", d / "folder.html", code=1,
        says=["it is a folder"], never=["Errno"])
    cli(capsys, "fit", d / "tx.csv", "--out", d / "tx.csv", "--overwrite", code=1,
        says=["'.*tx.csv': it is a file, and a model is a directory"])
    assert (d / "tx.csv").is_file()
    summary = rfm_summary(d / "tx.csv", observation_end="1998-06-30")
    refused_error, _ = api(fit_job, summary, d / "tx.csv", columns=COLUMNS)
    assert isinstance(refused_error, FileExistsError) and "it is a file" in str(refused_error)


@pytest.mark.parametrize("text, says", [
    ("{nope", r"job.json' is unreadable \(Expecting property name"),
    ("\x00\xff garbage", r"job.json' is unreadable"),
    ('{"format": "clvmodels-job", "format_version": 1, "kind": "noncontractual"}',
     r"damaged or was edited: 'columns' is not a mapping"),
    (None, r"damaged or was edited: 'time_unit' is 'fortnight'"),
])
def test_a_corrupted_job_file_is_named(d, capsys, text, says):
    job = _copy_job(d, "bad_job")
    if text is None:
        meta = json.loads((job / "job.json").read_text())
        meta["time_unit"] = "fortnight"
        text = json.dumps(meta)
    (job / "job.json").write_text(text, encoding="latin-1")
    cli(capsys, "score", job, d / "tx.csv", "--out", d / "j.parquet", code=1, says=[says])
    error, _ = api(load_job, job)
    assert isinstance(error, IncompatibleModelError) and re.search(says, str(error))


# ========================================================= 3. degenerate data
def test_nobody_with_a_repeat_purchase_is_said_in_words(d, capsys):
    tx = pd.DataFrame({"customer_id": [f"c{i}" for i in range(60)], "amount": 5.0,
                       "date": pd.date_range("2024-01-01", periods=60).strftime("%Y-%m-%d")})
    cli(capsys, "fit", write(d, "no_repeat.csv", tx), "--out", d / "m_nr", code=1,
        says=["Nobody made a repeat purchase: frequency is 0 for all 60 customers",
              "one id per customer"], never=["did not converge"])
    summary = rfm_summary(tx)
    refused(fit_job, summary, d / "m_nr_api", columns=COLUMNS, match="Nobody made a repeat")
    # the same with --method map
    cli(capsys, "fit", d / "no_repeat.csv", "--out", d / "m_nr", "--method", "map", code=1,
        says=["Nobody made a repeat purchase"])


def test_no_time_observed_is_said_in_words(d, capsys):
    tx = pd.DataFrame({"customer_id": [f"c{i % 30}" for i in range(60)],
                       "amount": np.arange(60.0) + 1, "date": "2024-01-01"})
    cli(capsys, "fit", write(d, "t_zero.csv", tx), "--out", d / "m_t0", code=1,
        says=[r"Every customer's age T is 0: all 30 first purchases are on the observation "
              r"end \(2024-01-01\)", "Add a later --observation-end"],
        never=["observation_end="])
    refused(fit_job, rfm_summary(tx), d / "m_t0_api", columns=COLUMNS,
            match="age T is 0.*Pass a later observation_end")
    # a later end is the fix, and then the data say what they can: nobody came back
    cli(capsys, "fit", d / "t_zero.csv", "--out", d / "m_t0", "--observation-end", "2024-03-01",
        code=1, says=["Nobody made a repeat purchase"])


def test_absurd_amounts_are_refused_before_fitting(d, cdnow, capsys):
    tx = cdnow.copy()
    tx.loc[::50, "amount"] = 1e300
    cli(capsys, "fit", write(d, "absurd.csv", tx), "--out", d / "m_abs", code=1,
        says=[r"Column 'amount' has an absurd amount \(size 1e15 or more\) in \d+ rows "
              r"\(row positions \[0, 50, 100, 150, 200, \.\.\.\]", "Fix or drop these rows"])
    refused(load_transactions, tx.iloc[:60].assign(amount=-1e300), allow_refunds=True,
            match="absurd amount")
    summary = rfm_summary(cdnow, observation_end="1998-06-30")
    summary.loc[summary["frequency"] > 0, "monetary_value"] *= 1e300
    refused(fit_job, summary, d / "m_abs_api", columns=COLUMNS,
            match=r"'monetary_value' is absurd .* for \d+ customer")


# ===================================================== 4. valid input refused
def test_timestamps_across_a_daylight_saving_change_keep_their_local_day(d, cdnow, capsys):
    tx = cdnow.copy()
    local = pd.to_datetime(tx["date"]) + pd.Timedelta(hours=23, minutes=30)
    stamps = local.dt.tz_localize("Europe/Berlin", ambiguous=True, nonexistent="shift_forward")
    tx["date"] = stamps.map(lambda t: t.isoformat())  # +01:00 in winter, +02:00 in summer
    assert tx["date"].str.endswith("+01:00").any() and tx["date"].str.endswith("+02:00").any()
    got, notes = api(rfm_summary, tx, observation_end="1998-06-30")
    assert not notes
    pd.testing.assert_frame_equal(got, rfm_summary(cdnow, observation_end="1998-06-30"))
    cli(capsys, "fit", write(d, "dst.csv", tx), "--out", d / "m_dst", "--observation-end",
        "1998-06-30", code=0, says=["fitted 800 customers"])
    # Z and named offsets in one column; Timestamp objects from two zones
    mixed = pd.DataFrame({"customer_id": ["a", "a", "b"], "date": [
        "2024-03-30T23:30:00Z", "2024-03-31T23:30:00+02:00", "2024-03-31 00:15-05:00"]})
    got, _ = api(load_transactions, mixed, amount_col=None)
    assert got["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-30", "2024-03-31",
                                                              "2024-03-31"]
    objects = mixed.assign(date=[pd.Timestamp("2024-03-30 23:30", tz="UTC"),
                                 pd.Timestamp("2024-03-31 23:30", tz="Europe/Berlin"),
                                 pd.Timestamp("2024-03-31 00:15", tz="America/New_York")])
    got, _ = api(load_transactions, objects, amount_col=None)
    assert got["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-30", "2024-03-31",
                                                              "2024-03-31"]


def test_free_items_leaving_zero_mean_spend_are_scored(d, cdnow, capsys):
    tx = cdnow.copy()
    free = ["1", "2", "3"]
    tx.loc[tx["customer_id"].isin(free), "amount"] = 0.0
    path = write(d, "free.csv", tx)
    _, err = cli(capsys, "fit", path, "--out", d / "m_free", "--observation-end", "1998-06-30",
                 code=0, says=["fitted 800 customers"])
    assert re.search(r"warning: 2 customer\(s\) with repeat purchases spent nothing on them.*"
                     r"\['1', '2'\].*fitted without them.*mean spend of 0", err), err
    out = d / "free.parquet"
    cli(capsys, "score", d / "m_free", path, "--out", out, code=0, says=["scored 800 customers"])
    scores = pd.read_parquet(out)
    assert np.isfinite(scores.to_numpy()).all()
    job = load_job(d / "m_free")
    p, q, gamma = (job.spend.params_[k] for k in ("p", "q", "gamma"))
    summary = rfm_summary(tx, observation_end="1998-06-30")
    for cid in ("1", "2"):  # the model's expected spend at a mean spend of 0
        x = summary.loc[cid, "frequency"]
        assert scores.loc[cid, "expected_spend"] == pytest.approx(p * gamma / (p * x + q - 1))
        assert scores.loc[cid, "expected_spend"] < p * gamma / (q - 1)
    cli(capsys, "report", d / "m_free", path, "--out", d / "free.html", code=0,
        says=["wrote .*free.html for 800 customers"])
    # the API: fit_job says the same, and scoring takes the summary as it is
    fitted, notes = api(fit_job, summary, d / "m_free_api", columns=COLUMNS)
    assert len(notes) == 1 and "spent nothing" in str(notes[0].message)
    rows, _ = api(score_to_file, fitted, summary, d / "free_api.parquet")
    assert rows == len(summary)


def test_nothing_spent_by_anyone_is_said_in_words(d, cdnow):
    summary = rfm_summary(cdnow.assign(amount=0.0), observation_end="1998-06-30")
    refused(fit_job, summary, d / "m_nothing", columns=COLUMNS,
            match=r"customer\(s\) with repeat purchases spent nothing .* only 0 spent anything")
