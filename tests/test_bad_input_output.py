"""Bad or unusual input, round two (issue 17): outputs. Saved models and outputs take
the usual file modes (the umask), not the owner-only mode of temporary files; a
``score``, ``fit`` or ``report`` killed by SIGTERM, SIGINT or SIGKILL leaves the previous
output intact, and after the next run no temporary file is left behind.

The kills are real: one driver process imports clvmodels once and forks a child per
run (a fresh interpreter per kill would spend most of the test importing). A child can
be told to pause at the rename that puts its output in place — the moment a kill does
most harm — so that the signal lands exactly there; others are killed after a delay.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from test_bad_input import cdnow  # noqa: F401

from clvmodels.cli import main
from clvmodels.io import remove_stale_siblings
from clvmodels.scoring import load_job

pytestmark = [pytest.mark.filterwarnings("error::RuntimeWarning"),
              pytest.mark.skipif(os.name != "posix", reason="signals and fork are POSIX")]


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary siblings (``.name.tmp-...``, ``.name.old-...``) in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def k(tmp_path_factory, cdnow):
    """A folder with 300 customers' transactions and a job fitted on them."""
    folder = tmp_path_factory.mktemp("kills")
    cdnow[cdnow["customer_id"].astype(int) <= 300].to_csv(folder / "tx.csv", index=False)
    assert main(["fit", str(folder / "tx.csv"), "--out", str(folder / "model"),
                 "--observation-end", "1998-06-30"]) == 0
    return folder


# ------------------------------------------------------------------ file modes
@pytest.mark.parametrize("umask, folder_mode, file_mode", [(0o022, 0o755, 0o644),
                                                           (0o002, 0o775, 0o664)])
def test_outputs_and_saved_models_follow_the_umask(k, tmp_path, capsys, umask, folder_mode,
                                                   file_mode):
    before = os.umask(umask)
    try:
        assert main(["fit", str(k / "tx.csv"), "--out", str(tmp_path / "job"),
                     "--observation-end", "1998-06-30"]) == 0
        assert main(["score", str(tmp_path / "job"), str(k / "tx.csv"), "--out",
                     str(tmp_path / "s.parquet")]) == 0
        load_job(tmp_path / "job").spend.save(tmp_path / "alone")
    finally:
        os.umask(before)
    capsys.readouterr()
    folders = [tmp_path / "job", tmp_path / "job" / "transactions", tmp_path / "job" / "spend",
               tmp_path / "alone"]
    files = [tmp_path / "s.parquet", tmp_path / "job" / "job.json",
             *(tmp_path / "job" / "spend").iterdir(), *(tmp_path / "alone").iterdir()]
    assert {oct(f.stat().st_mode & 0o777) for f in folders} == {oct(folder_mode)}
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {oct(file_mode)}


# ---------------------------------------------------- leftovers of killed runs
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftovers_of_dead_runs_go_and_those_of_live_runs_stay(tmp_path):
    from clvmodels.io import _HOST

    dead, live = _dead_pid(), os.getppid()
    target = tmp_path / "scores.parquet"
    target.write_bytes(b"previous")
    stale = tmp_path / f".scores.parquet.tmp-{dead}-{_HOST}-abc123.tmp"
    running = tmp_path / f".scores.parquet.tmp-{live}-{_HOST}-def456.tmp"
    elsewhere = tmp_path / f".scores.parquet.tmp-{dead}-0000beef-ghi789.tmp"  # another host
    unrelated = tmp_path / ".scores.parquet.notes"
    for p in (stale, running, elsewhere, unrelated):
        p.write_bytes(b"x")
    folder = tmp_path / f".job.tmp-{dead}-{_HOST}-k1.tmp"
    (folder / "transactions").mkdir(parents=True)
    assert remove_stale_siblings(target) == [stale.name]
    assert remove_stale_siblings(tmp_path / "job") == [folder.name]
    assert leftovers(tmp_path) == sorted(p.name for p in (running, elsewhere, unrelated))
    assert target.read_bytes() == b"previous"


def test_a_model_folder_cut_off_between_its_two_renames_is_put_back(k, tmp_path, capsys):
    from clvmodels.io import _HOST

    dead = _dead_pid()
    import shutil

    shutil.copytree(k / "model", tmp_path / f".job.old-{dead}-{_HOST}-0a1b2c3d")
    (tmp_path / f".job.tmp-{dead}-{_HOST}-x.tmp").mkdir()  # the new one, never moved
    assert load_job(tmp_path / "job").meta["customers"] == 300  # found and put back
    assert leftovers(tmp_path) == []
    assert main(["score", str(tmp_path / "job"), str(k / "tx.csv"), "--out",
                 str(tmp_path / "s.csv")]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------- real kills
DRIVER = textwrap.dedent('''
    import contextlib, io, json, os, sys, time
    import pyarrow.parquet, tqdm
    import clvmodels.cli, clvmodels.report, clvmodels.scoring  # imported once, then forked
    from clvmodels.cli import main

    tqdm.tqdm.monitor_interval = 0  # no monitor thread: fork a process of one thread

    def pause_at_rename(target, marker, seconds):
        """Pause the rename of a temporary path onto ``target``: write ``marker``, sleep."""
        def wrap(real):
            def rename(src, dst, *args, **kwargs):
                if (os.path.basename(os.fspath(dst)) == target
                        and ".tmp-" in os.path.basename(os.fspath(src))):
                    open(marker, "w").close()
                    time.sleep(seconds)
                return real(src, dst, *args, **kwargs)
            return rename
        os.replace, os.rename = wrap(os.replace), wrap(os.rename)

    for line in sys.stdin:
        run = json.loads(line)
        if "warm" in run:  # compile and load what every run needs, once, before forking
            with contextlib.redirect_stdout(io.StringIO()):
                for argv in run["warm"]:
                    assert main(argv) == 0, argv
            print(len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task")
                  else 1, flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            log = os.open(run["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(log, 1)
            os.dup2(log, 2)
            if run.get("pause"):
                pause_at_rename(*run["pause"])
            try:
                code = main(run["argv"])
            except SystemExit as exc:
                code = exc.code
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code or 0)
        print(pid, flush=True)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
''')


@pytest.fixture(scope="module")
def driver(k, tmp_path_factory):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
           "JE_ARROW_MALLOC_CONF": "background_thread:false"}  # no threads when forking
    proc = subprocess.Popen([sys.executable, "-c", DRIVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    warm = tmp_path_factory.mktemp("warm")
    proc.stdin.write(json.dumps({"warm": [
        ["fit", str(k / "tx.csv"), "--out", str(warm / "m"), "--observation-end", "1998-06-30"],
        ["score", str(warm / "m"), str(k / "tx.csv"), "--out", str(warm / "s.csv")]]}) + "\n")
    proc.stdin.flush()
    assert int(proc.stdout.readline()) == 1  # one thread left to fork
    yield proc
    proc.stdin.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
        proc.wait()


def kill(driver, folder: Path, argv, sig, *, pause=None, after=None,
         seconds=120.0) -> tuple[int, str]:
    """Run ``clvmodels argv`` in a forked child; send ``sig`` when it reaches the rename
    onto ``pause`` (a file name in ``folder``; the child waits ``seconds`` there), or
    after ``after`` seconds. Returns the exit code (negative: the signal that ended it)
    and what it printed. The marker and the log live beside ``folder``."""
    marker, log = folder.parent / f"{folder.name}.paused", folder.parent / f"{folder.name}.log"
    marker.unlink(missing_ok=True)
    run = {"argv": [str(a) for a in argv], "log": str(log),
           "pause": [pause, str(marker), seconds] if pause else None}
    driver.stdin.write(json.dumps(run) + "\n")
    driver.stdin.flush()
    pid = int(driver.stdout.readline())
    if pause:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        marker.unlink()
    else:
        time.sleep(after)
    try:
        os.kill(pid, sig)
    except ProcessLookupError:  # finished first
        pass
    code = int(driver.stdout.readline())
    printed = log.read_text() if log.exists() else ""
    assert "Traceback" not in printed and "Warning" not in printed, printed
    return code, printed


def test_a_killed_score_leaves_the_previous_output_and_the_next_run_cleans_up(k, driver,
                                                                            tmp_path, capsys):
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"previous complete output")
    score = ["score", k / "model", k / "tx.csv", "--out", out]
    for sig, code, says in ((signal.SIGTERM, 143, "terminated"),
                            (signal.SIGINT, 130, "interrupted")):
        got, printed = kill(driver, tmp_path, score, sig, pause=out.name)
        assert got == code, printed
        assert f"clvmodels score: {says}; nothing was written" in printed, printed
        assert "Traceback" not in printed
        assert out.read_bytes() == b"previous complete output"
        assert leftovers(tmp_path) == []  # it removed its own temporary file
    got, printed = kill(driver, tmp_path, score, signal.SIGKILL, pause=out.name)
    assert got == -signal.SIGKILL
    assert out.read_bytes() == b"previous complete output"
    assert [n.split("-")[0] for n in leftovers(tmp_path)] == [".scores.parquet.tmp"]
    assert main([str(a) for a in score]) == 0  # the next run
    capsys.readouterr()
    assert leftovers(tmp_path) == [] and len(pd.read_parquet(out)) == 300


def test_a_score_killed_at_any_moment_leaves_a_whole_output(k, driver, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    out.write_text("previous\n")
    for delay in (0.0, 0.3, 0.8):
        got, _ = kill(driver, tmp_path, ["score", k / "model", k / "tx.csv", "--out", out],
                      signal.SIGKILL, after=delay)
        text = out.read_text()
        # the previous file, or the whole new one: a kill that lands after the rename but
        # before the process exits (got = -9) still leaves the complete new output
        assert got in (0, -signal.SIGKILL)
        assert text == "previous\n" or len(pd.read_csv(out)) == 300
    assert main(["score", str(k / "model"), str(k / "tx.csv"), "--out", str(out)]) == 0
    capsys.readouterr()
    assert leftovers(tmp_path) == []


def test_a_refit_killed_between_its_two_renames_keeps_the_old_job(k, driver, tmp_path, capsys):
    import shutil

    shutil.copytree(k / "model", tmp_path / "job")
    before = (tmp_path / "job" / "job.json").read_bytes()
    fit = ["fit", k / "tx.csv", "--out", tmp_path / "job", "--overwrite", "--seed", "3",
           "--observation-end", "1998-06-30"]
    # the old job already renamed away, the new one not yet in place: the worst moment
    got, _ = kill(driver, tmp_path, fit, signal.SIGKILL, pause="job")
    assert got == -signal.SIGKILL and not (tmp_path / "job").exists()
    assert sorted(n.split("-")[0] for n in leftovers(tmp_path)) == [".job.old", ".job.tmp"]
    # the next run that reads it puts the old job back, whole, and clears the rest
    assert main(["score", str(tmp_path / "job"), str(k / "tx.csv"), "--out",
                 str(tmp_path / "s.parquet")]) == 0
    capsys.readouterr()
    assert (tmp_path / "job" / "job.json").read_bytes() == before
    assert leftovers(tmp_path) == []
    # SIGTERM at that moment waits for the swap: the new job is whole, nothing is left
    got, printed = kill(driver, tmp_path, fit, signal.SIGTERM, pause="job", seconds=1.0)
    assert got == 143 and "clvmodels fit: terminated" in printed, printed
    assert load_job(tmp_path / "job").meta["seed"] == 3
    assert leftovers(tmp_path) == []


def test_a_killed_report_leaves_the_previous_page(k, driver, tmp_path, capsys):
    page = tmp_path / "r.html"
    page.write_text("<p>previous report</p>")
    report = ["report", k / "model", k / "tx.csv", "--out", page]
    got, _ = kill(driver, tmp_path, report, signal.SIGKILL, pause=page.name)
    assert got == -signal.SIGKILL and page.read_text() == "<p>previous report</p>"
    assert [n.split("-")[0] for n in leftovers(tmp_path)] == [".r.html.tmp"]  # not removable
    before = os.umask(0o027)  # the next run, under another umask
    try:
        assert main([str(a) for a in report]) == 0
    finally:
        os.umask(before)
    capsys.readouterr()
    assert leftovers(tmp_path) == [] and "previous report" not in page.read_text()
    # the page and its per-account table take the umask's mode, as any new file
    assert {oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()} == {oct(0o640)}
