"""Benchmark: how fast the command line answers --help and usage errors (issue 15:
within 0.5 s, before pandas, NumPy, SciPy, PyMC or any model code is imported).

Usage::

    .venv/bin/python bench/bench_cli_start.py [--repeat 10] [--workdir DIR] [--no-bytecode]

Each command runs ``--repeat`` times as ``python -m clvmodels ...`` in a fresh
interpreter (what a user's shell runs, minus the console-script wrapper), after one
untimed run; the table shows the median and the slowest wall time of those runs, the
median CPU time (user + system of the child: what the command costs, nearly
independent of other load on the machine), the exit code, and whether the median wall
time is within the 0.5 s target. For scale it also times a bare interpreter
(``python -c pass``) and ``import pandas``. The load average before and after is
printed: on a busy machine every wall time grows by about the same factor.

Bytecode: an installed package has its ``.pyc`` files; a checkout run with
``PYTHONDONTWRITEBYTECODE=1`` (as in this project's sandbox) compiles ``cli.py`` on
every start, about 0.1 s of CPU. By default the children get
``PYTHONPYCACHEPREFIX`` set to a temporary folder (the untimed run fills it; the
checkout is not written to) and bytecode writing on: the installed case.
``--no-bytecode`` measures the other. Nothing else is written besides a few small
files in ``--workdir`` (a temporary folder by default).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.5  # seconds, issue 15


def commands(d: Path) -> list[tuple[str, list[str]]]:
    """(label, arguments of ``python``) for every timed command."""
    cli = ["-m", "clvmodels"]
    score = [*cli, "score", str(d / "nope"), str(d / "tx.csv"), "--out", str(d / "s.parquet")]
    fit = [*cli, "fit", str(d / "tx.csv"), "--out", str(d / "m")]
    return [
        ("python -c pass (interpreter only)", ["-c", "pass"]),
        ("python -c 'import pandas' (for scale)", ["-c", "import pandas"]),
        ("clvmodels --help", [*cli, "--help"]),
        ("clvmodels fit --help", [*cli, "fit", "--help"]),
        ("clvmodels score --help", [*cli, "score", "--help"]),
        ("clvmodels report --help", [*cli, "report", "--help"]),
        ("clvmodels (no command)", cli),
        ("fit (missing arguments)", [*cli, "fit"]),
        ("fit --bogus (unknown flag)", [*fit, "--bogus"]),
        ("fit --max-iter 3", [*fit, "--max-iter", "3"]),
        ("fit --model bgbb (no --period)", [*fit, "--model", "bgbb"]),
        ("fit --out an existing folder", [*cli, "fit", str(d / "tx.csv"), "--out",
                                          str(d / "existing")]),
        ("fit a missing input", [*cli, "fit", str(d / "missing.csv"), "--out", str(d / "m")]),
        ("score --horizon soon", [*score, "--horizon", "soon"]),
        ("score --level 90", [*score, "--level", "90"]),
        ("score --discount-rate 8", [*score, "--discount-rate", "8"]),
        ("score --margin 30", [*score, "--margin", "30"]),
        ("score --out in a missing folder", [*score[:-1], str(d / "no" / "s.parquet")]),
        ("score a missing model directory", score),
        ("report --horizons x", [*cli, "report", str(d / "nope"), str(d / "tx.csv"), "--out",
                                 str(d / "r.html"), "--horizons", "x"]),
    ]


def time_runs(argv: list[str], repeat: int, env: dict) -> tuple[list[float], list[float], int]:
    """Wall and CPU times (user + system of the child) of ``repeat`` runs, after an
    untimed one; the exit code."""
    subprocess.run([sys.executable, *argv], capture_output=True, check=False, env=env)
    walls, cpus, code = [], [], 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, *argv], capture_output=True, check=False,
                              env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        code = proc.returncode
    return walls, cpus, code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--no-bytecode", action="store_true",
                        help="compile every module on every start (PYTHONDONTWRITEBYTECODE=1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        if args.no_bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        d = Path(args.workdir or tmp)
        d.mkdir(parents=True, exist_ok=True)
        (d / "tx.csv").write_text("customer_id,date,amount\n1,2020-01-01,3\n")
        (d / "existing").mkdir(exist_ok=True)
        load = os.getloadavg()
        print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
              f"({os.cpu_count()} cores); {args.repeat} runs each; Python "
              f"{sys.version.split()[0]}; bytecode "
              + ("compiled on every start" if args.no_bytecode else "cached (as installed)"))
        width = 42
        print(f"{'command':<{width}} {'wall':>8} {'slowest':>8} {'cpu':>8} {'exit':>5}  "
              f"wall <= {TARGET} s")
        failed = 0
        for label, command in commands(d):
            walls, cpus, code = time_runs(command, args.repeat, env)
            median = statistics.median(walls)
            scale = label.startswith("python")
            verdict = "" if scale else ("ok" if median <= TARGET else "SLOW")
            failed += verdict == "SLOW"
            print(f"{label:<{width}} {median:>7.3f}s {max(walls):>7.3f}s "
                  f"{statistics.median(cpus):>7.3f}s {code:>5}  {verdict}")
        load = os.getloadavg()
        print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
