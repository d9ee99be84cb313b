"""Progress of fit, score and report on stderr (issue 15): stage lines (and a bar while
scoring) on a terminal, nothing with --quiet, plain lines in a log with --progress;
stdout, which carries the results, is the same in every mode.

The data: 300 CDNOW customers (as tests/test_bad_input_output.py uses), a job fitted
once per module.
"""

import io
import re
import sys
from pathlib import Path

import pytest

from clvmodels import progress as progress_module
from clvmodels.cli import main
from clvmodels.progress import Progress


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def _times(text: str) -> str:
    """Output with its durations blanked ("in 1.2 s" varies from run to run)."""
    return re.sub(r"\d+(\.\d+)? s\b", "T s", text)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from clvmodels.datasets import load_cdnow_transactions

    d = tmp_path_factory.mktemp("progress")
    tx = load_cdnow_transactions()
    tx[tx["customer_id"].astype(int) <= 300].to_csv(d / "tx.csv", index=False)
    assert main(["fit", str(d / "tx.csv"), "--out", str(d / "job"), "--observation-end",
                 "1998-06-30", "-q"]) == 0
    return d


def run(argv, *, terminal=False, monkeypatch):
    """main(argv) with stdout and stderr captured; stderr a terminal or not."""
    out, err = io.StringIO(), Terminal() if terminal else io.StringIO()
    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", out)
        m.setattr(sys, "stderr", err)
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def test_quiet_prints_nothing_on_stderr_even_on_a_terminal(small, monkeypatch):
    d = small
    fit = ["fit", d / "tx.csv", "--out", d / "q", "--observation-end", "1998-06-30"]
    score = ["score", d / "job", d / "tx.csv", "--out", d / "q.parquet", "--chunk-customers", "100"]
    for argv in (fit + ["--quiet"], score + ["-q"]):
        code, out, err = run(argv, terminal=True, monkeypatch=monkeypatch)
        assert code == 0 and err == "", err
        assert out.startswith(("fitted 300 customers", "scored 300 customers"))


def test_a_terminal_shows_the_stages_and_the_scoring_bar(small, monkeypatch):
    d = small
    code, out, err = run(["score", d / "job", d / "tx.csv", "--out", d / "t.parquet",
                          "--chunk-customers", "100"], terminal=True, monkeypatch=monkeypatch)
    assert code == 0
    assert f"\rloading the model {d / 'job'}… " in err
    assert re.search(r"\rsummarising transactions… 300 customers, \d+\.\d s\x1b\[K\n", err), err
    assert re.search(r"\rscoring 300 customers… \d+\.\d s\x1b\[K\n", err), err
    # tqdm's bar, drawn when it starts (later draws are at most every 0.1 s: not tested)
    assert re.search(r"\rscoring: +0%\|.*\| 0/300 ", err), err
    assert out.startswith("scored 300 customers")


def test_forced_progress_writes_plain_stage_lines_to_a_log(small, monkeypatch):
    d = small
    code, _, err = run(["fit", d / "tx.csv", "--out", d / "f", "--observation-end",
                        "1998-06-30", "--progress"], monkeypatch=monkeypatch)
    assert code == 0
    lines = err.splitlines()
    assert [line.split("…")[0] for line in lines] == [
        "loading clvmodels", f"reading {d / 'tx.csv'}", "summarising transactions",
        "fitting BG/NBD and Gamma-Gamma (mle)"]
    assert re.fullmatch(r"reading .*… \d[\d,]* rows, \d+\.\d s", lines[1])
    assert lines[2].startswith("summarising transactions… 300 customers, ")
    assert "\r" not in err and "\x1b" not in err  # no terminal control in a log


def test_the_bar_in_a_log_is_a_line_now_and_then(small, monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_EVERY", 0.0)  # a line per chunk
    d = small
    code, _, err = run(["score", d / "job", d / "tx.csv", "--out", d / "l.parquet",
                        "--chunk-customers", "100", "--progress"], monkeypatch=monkeypatch)
    assert code == 0
    assert "  scoring: 33% (100 of 300 customers), " in err
    assert "  scoring: 67% (200 of 300 customers), " in err
    assert re.search(r"\nscoring 300 customers… \d+\.\d s\n", err), err


@pytest.mark.parametrize("command", ["fit", "score"])
def test_stdout_is_the_same_with_and_without_progress(small, monkeypatch, command):
    d = small
    outs = []
    for i, (flags, terminal) in enumerate([(["-q"], False), (["--progress"], False),
                                           ([], True)]):
        argv = (["fit", d / "tx.csv", "--out", d / f"same{i}", "--observation-end", "1998-06-30"]
                if command == "fit" else
                ["score", d / "job", d / "tx.csv", "--out", d / f"same{i}.parquet"])
        code, out, err = run(argv + flags, terminal=terminal, monkeypatch=monkeypatch)
        assert code == 0
        outs.append(_times(out.replace(f"same{i}", "same")))
        assert (err == "") == (i == 0), err  # progress where forced or on a terminal
    assert outs[1:] == outs[:1] * 2


def test_report_shows_its_stages(small, monkeypatch):
    """The stages of report around its page (the page itself is tests/test_report.py's:
    here a stand-in writes it, so that the test takes a second, not half a minute)."""
    import clvmodels.report

    def page(bg, spend, summary, out, **kwargs):
        assert len(summary) == 300 and kwargs["horizons_years"] == (1.0,)
        Path(out).write_text("<html></html>")
        return out

    monkeypatch.setattr(clvmodels.report, "build_report", page)
    d = small
    code, out, err = run(["report", d / "job", d / "tx.csv", "--out", d / "r.html", "--horizons",
                          "1", "--progress"], monkeypatch=monkeypatch)
    assert code == 0 and out.startswith(f"wrote {d / 'r.html'} for 300 customers")
    stages = [line.split("…")[0] for line in err.splitlines()]
    assert stages == ["loading clvmodels", f"loading the model {d / 'job'}",
                      f"reading {d / 'tx.csv'}", "summarising transactions",
                      f"valuing the customers and drawing the report {d / 'r.html'}"]


def test_a_failed_stage_is_left_on_its_own_line_before_the_error(small, tmp_path, monkeypatch):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\n1,2020-01-01,x\n")
    code, out, err = run(["fit", bad, "--out", tmp_path / "m", "--progress"],
                         monkeypatch=monkeypatch)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[2] == "summarising transactions…"  # where it stopped, no time
    assert lines[3].startswith("clvmodels fit failed (")


# ------------------------------------------------------------------ Progress itself
def test_a_warning_inside_a_stage_gets_a_line_of_its_own():
    log = io.StringIO()
    progress = Progress(log, enabled=True, terminal=False)
    with progress.stage("fitting") as stage:
        progress.interrupt()
        log.write("warning: thin data\n")
        stage.detail = "2 models"
    first, warning, last = log.getvalue().splitlines()
    assert (first, warning) == ("fitting…", "warning: thin data")
    assert re.fullmatch(r"fitting… 2 models, \d\.\d s", last)


def test_a_cli_warning_breaks_the_stage_line(small, tmp_path, monkeypatch):
    """A DataWarning while summarising (a refund on a day without a purchase) prints on a
    line of its own, and the stage's line is written again, whole, after it."""
    tx = (small / "tx.csv").read_text().splitlines()
    customer = tx[1].split(",")[0]
    tx.append(f"{customer},1998-06-01,1,-1.0")  # columns customer_id,date,quantity,amount
    assert tx[0] == "customer_id,date,quantity,amount"
    (tmp_path / "refund.csv").write_text("\n".join(tx) + "\n")
    code, _, err = run(["fit", tmp_path / "refund.csv", "--out", tmp_path / "m",
                        "--observation-end", "1998-06-30", "--allow-refunds", "--progress"],
                       monkeypatch=monkeypatch)
    assert code == 0
    lines = err.splitlines()
    assert lines[2] == "summarising transactions…"
    assert lines[3].startswith("clvmodels fit: warning: 1 refund row(s)")
    assert lines[4].startswith("summarising transactions… 300 customers, ")


def test_disabled_progress_writes_nothing_and_makes_no_bar():
    log = Terminal()
    progress = Progress.for_flags(quiet=True, stream=log)
    assert not progress.enabled and progress.terminal
    with progress.stage("scoring"):
        assert progress.bar(10, "scoring") is None
    progress.interrupt()
    assert log.getvalue() == ""
    assert Progress(log).enabled  # a terminal by default
    assert not Progress(io.StringIO()).enabled
