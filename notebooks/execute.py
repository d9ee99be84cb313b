"""Execute the notebooks with their normal settings and store them with their outputs.

Run from anywhere: ``python notebooks/execute.py`` (all notebooks) or
``python notebooks/execute.py notebooks/01_quickstart.ipynb ...``. Each notebook runs in
a fresh kernel whose working directory is a temporary folder (deleted afterwards), so
nothing is written into the repository; ``CLVMODELS_FAST`` is removed from the
environment so the stored outputs come from the full settings (the test suite runs the
notebooks again with ``CLVMODELS_FAST=1``). A notebook that raises is not written.

Stored: the outputs, figures and execution counts; not the per-cell timestamps nbclient
records, so re-executing changes only what the code prints or draws. Figures stay PNG
at the dpi they were drawn at, re-encoded with a 256-colour palette (charts look the
same at a third of the size), so the stored notebooks stay small.
tests/test_notebooks.py checks that every code cell ran, in order, without an error,
and that the figures are there.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from PIL import Image

HERE = Path(__file__).resolve().parent


def compact_png(data: str) -> str:
    """A base64 PNG re-encoded with an adaptive 256-colour palette on white (the
    original when that is not smaller)."""
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    if image.mode != "RGB":
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                   dither=Image.Dither.NONE).save(out, "PNG", optimize=True)
    packed = base64.b64encode(out.getvalue()).decode("ascii")
    return packed if len(packed) < len(data) else data


def execute(path: Path) -> float:
    """Execute one notebook in a temporary working directory and write it back; seconds."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="clvmodels-nb-") as work:
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": work}}).execute()
    seconds = time.perf_counter() - started
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    if errors:
        raise RuntimeError(f"{path.name}: {errors[0].ename}: {errors[0].evalue}")
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                output.data["image/png"] = compact_png(output.data["image/png"])
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    os.environ.pop("CLVMODELS_FAST", None)  # the stored outputs use the normal settings
    paths = [Path(a).resolve() for a in argv] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        seconds = execute(path)
        print(f"{path.name}: executed in {seconds:.0f} s, {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
