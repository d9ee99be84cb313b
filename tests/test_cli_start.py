"""The command line starts at once (issue 15): ``--help`` and every usage error, and the
paths that cannot work (a missing input, model directory or output folder, an existing
``--out``), answer before pandas, NumPy, SciPy, PyMC, PyTensor, matplotlib, Dask, DuckDB,
Spark or MLflow are imported. Checked on the modules a fresh interpreter has loaded, not
on a clock (bench/bench_cli_start.py times them).
"""

import json
import subprocess
import sys
import textwrap

import pytest

#: what a usage error must not import (top-level package names)
HEAVY = ("pandas", "numpy", "scipy", "pymc", "pytensor", "matplotlib", "dask", "distributed",
         "duckdb", "pyspark", "mlflow", "numba", "xarray", "arviz", "pyarrow")

#: argv (with {d} the working folder), exit code, what stderr (or stdout for help) says
CASES = [
    ([], 2, "the following arguments are required: COMMAND"),
    (["--help"], 0, "usage: clvmodels"),
    (["fit", "--help"], 0, "--quiet"),
    (["score", "--help"], 0, "--progress"),
    (["report", "--help"], 0, "--horizons"),
    (["fit"], 2, "the following arguments are required: transactions, --out"),
    (["fit", "{d}/tx.csv", "--out", "{d}/m", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["fit", "{d}/tx.csv", "--out", "{d}/m", "--method", "nuts"], 2, "invalid choice: 'nuts'"),
    (["fit", "{d}/tx.csv", "--out", "{d}/m", "--max-iter", "3"], 2, "--max-iter must be"),
    (["fit", "{d}/tx.csv", "--out", "{d}/m", "--model", "sbg"], 2, "transactions take bgnbd"),
    (["fit", "{d}/tx.csv", "--out", "{d}/m", "--model", "bgbb"], 2, "add --period"),
    (["fit", "{d}/tx.csv", "--out", "{d}/m", "--calibration-end", "2020-01-01"], 2,
     "use it with --model auto"),
    (["fit", "--kind", "contractual", "{d}/tx.csv", "--out", "{d}/m"], 2, "needs --period"),
    (["fit", "{d}/tx.csv", "--out", "{d}/m", "--tenure-col", "tenure"], 2,
     "add --kind contractual"),
    (["fit", "{d}/tx.csv", "--out", "{d}/existing"], 1, "already exists; pass --overwrite"),
    (["fit", "{d}/missing.csv", "--out", "{d}/m"], 1, "No input at"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.parquet", "--horizon", "soon"], 2,
     "--horizon must be a positive duration with a unit"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.parquet", "--horizon", "12 parsecs"],
     2, "--horizon must be"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.parquet", "--level", "90"], 2,
     r"--level must be a probability in \(0, 1\).*Did you mean 0.90"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.parquet", "--discount-rate", "8"], 2,
     r"Did you mean 0.08 \(8%\)"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.parquet", "--margin", "30"], 2,
     r"--margin must be .*Did you mean 0.30"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.parquet", "--growth-rate", "2"], 2,
     "--growth-rate must be"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.parquet", "--n-samples", "5"], 2,
     "--n-samples must be a whole number >= 20"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.parquet", "-q", "--progress"], 2,
     "not allowed with argument -q/--quiet"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/no/such/s.parquet"], 1,
     "the folder .* does not exist"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.txt"], 1, r"name it \*.parquet"),
    (["score", "{d}/nope", "{d}/tx.csv", "--out", "{d}/s.parquet"], 1,
     "is not a clvmodels model directory"),
    (["score", "{d}/existing", "{d}/missing.csv", "--out", "{d}/s.parquet"], 1, "No input at"),
    (["report", "{d}/nope", "{d}/tx.csv", "--out", "{d}/r.html", "--level", "90"], 2,
     "--level must be"),
    (["report", "{d}/nope", "{d}/tx.csv", "--out", "{d}/r.html", "--horizons", "1,x"], 2,
     "--horizons takes years"),
    (["report", "{d}/nope", "{d}/tx.csv", "--out", "{d}/r.html", "--serving-cost-rate", "5"], 2,
     "--serving-cost-rate must be"),
    (["report", "{d}/nope", "{d}/tx.csv", "--out", "{d}/no/such/r.html"], 1,
     "does not exist"),
    (["report", "{d}/nope", "{d}/tx.csv", "--out", "{d}/r.html"], 1,
     "is not a clvmodels model directory"),
]

#: runs every case through main() in one fresh interpreter; per case: the exit code,
#: the output, and the heavy packages loaded by it
DRIVER = textwrap.dedent("""
    import contextlib, io, json, sys

    from clvmodels.cli import main

    heavy, cases, results = json.loads(sys.argv[1]), json.loads(sys.argv[2]), []
    loaded = lambda: sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
    for argv in cases:
        before, out, err = loaded(), io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
        results.append({"code": code, "text": out.getvalue() + err.getvalue(),
                        "imported": sorted(set(loaded()) - set(before))})
    print(json.dumps({"results": results, "loaded": loaded()}))
""")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("start")
    (d / "tx.csv").write_text("customer_id,date,amount\n1,2020-01-01,3\n")
    (d / "existing").mkdir()
    (d / "existing" / "job.json").write_text("{}")  # looks like a job until it is loaded
    argvs = [[a.format(d=d) for a in argv] for argv, _, _ in CASES]
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(HEAVY), json.dumps(argvs)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[" ".join(c[0][:1] + c[0][-2:]) or "none"
                                                      for c in CASES])
def test_usage_errors_answer_before_any_heavy_import(runs, i):
    import re

    argv, code, says = CASES[i]
    got = runs["results"][i]
    assert got["code"] == code, got["text"]
    assert re.search(says, got["text"]), got["text"]
    assert "Traceback" not in got["text"]
    assert got["imported"] == [], f"{argv} imported {got['imported']}"


def test_no_case_loaded_a_heavy_package(runs):
    """The whole run, help and errors together, loaded none of them."""
    assert runs["loaded"] == []


def test_the_installed_entry_point_imports_nothing_heavy(tmp_path):
    """`python -m clvmodels score ... --level 90` as a user runs it: every module the
    interpreter imported (-X importtime) is light."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "clvmodels", "score", str(tmp_path / "m"),
         str(tmp_path / "tx.csv"), "--out", str(tmp_path / "s.parquet"), "--level", "90"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "--level must be" in proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "clvmodels" in imported  # the lines were parsed
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
