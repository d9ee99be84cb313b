"""The notebooks are stored executed, so a reader sees every output and figure without
running anything, and they still run top to bottom (fast settings), drawing the same
figures inline.

The stored outputs come from ``python notebooks/execute.py`` (normal settings, a
temporary working directory); notebooks/02 is built from
notebooks/build_02_contractual_churn.py. A code cell tagged "deterministic" prints only
what the fast settings do not change (data, maximum-likelihood fits): the fresh run must
print the same text, so the stored numbers are the current code's.
"""

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

HERE = Path(__file__).parents[1] / "notebooks"
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))
MAX_STORED_BYTES = 300_000  # each notebook, figures included
RERUN = "re-execute and store it: python notebooks/execute.py"


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _images(cell) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.outputs)


def _errors(nb):
    return [f"{o.ename}: {o.evalue}" for c in _code(nb) for o in c.outputs
            if o.output_type == "error"]


def _stdout(cell) -> str:
    return "".join(o.text for o in cell.outputs
                   if o.output_type == "stream" and o.name == "stdout")


def _deterministic(nb):
    return [(i, c) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and "deterministic" in c.metadata.get("tags", [])]


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_contractual_churn.ipynb",
                                           "03_batch_scoring_and_report.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_executed(path):
    nb = nbformat.read(path, as_version=4)
    code = _code(nb)
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), \
        f"{path.name}: code cells not all executed in order ({counts}); {RERUN}"
    assert not _errors(nb), f"{path.name} is stored with an error: {_errors(nb)}"
    assert sum(_images(c) for c in code) >= 1, f"{path.name} is stored without a figure"
    # plots inline: no file backend, and the first code cell selects the inline one
    assert code[0].source.startswith("%matplotlib inline")
    assert not any("matplotlib.use(" in c.source for c in code)
    checked = _deterministic(nb)
    assert checked, f"{path.name}: no cell is checked against a fresh run"
    assert all(_stdout(c) for _, c in checked), f"{path.name}: a checked cell prints nothing"
    assert path.stat().st_size < MAX_STORED_BYTES, \
        f"{path.name} is {path.stat().st_size:,} bytes stored (figures too large?)"


def test_contractual_notebook_is_its_builder_output():
    spec = importlib.util.spec_from_file_location(
        "build_02", HERE / "build_02_contractual_churn.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    nb = nbformat.read(HERE / "02_contractual_churn.ipynb", as_version=4)
    built = [(kind, src, list(tags[0]) if tags else []) for kind, src, *tags in builder.CELLS]
    stored = [("md" if c.cell_type == "markdown" else "code", c.source,
               c.metadata.get("tags", [])) for c in nb.cells]
    assert stored == built, ("02_contractual_churn.ipynb differs from its builder: "
                             "python notebooks/build_02_contractual_churn.py, then " + RERUN)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("CLVMODELS_FAST", "1")
    # the JVM of notebook 03's short Spark job: C1 compiler only, serial collector (less
    # CPU than optimising Spark's code for a run this short; the same results). The
    # kernel inherits the environment; pyspark reads its spark-submit flags from it.
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS",
                       "--driver-java-options '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC' "
                       "pyspark-shell")
    stored = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert not _errors(nb)
    # every figure is drawn inline again, in the same cells as in the stored notebook
    assert [_images(c) for c in _code(nb)] == [_images(c) for c in _code(stored)]
    # the stored numbers are the current code's
    for (i, fresh), (_, kept) in zip(_deterministic(nb), _deterministic(stored)):
        assert _stdout(fresh) == _stdout(kept), \
            f"{path.name}, cell {i}: the stored output is not what the code prints now; {RERUN}"
    assert not list(tmp_path.iterdir()), f"{path.name} left files in its working directory"
