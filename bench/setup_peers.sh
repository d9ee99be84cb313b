#!/usr/bin/env bash
# Creates bench/.peer-venv: a separate Python 3.12 virtualenv with PyMC-Marketing 1.3
# (it pins pymc<6.4 and numpy<2.5, so it cannot share the project's .venv).
# Usage: bash bench/setup_peers.sh   (from the repository root; idempotent)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(ls -d "$(pyenv root)"/versions/3.12.*/bin/python3.12 | sort -V | tail -n 1)
if [ ! -x bench/.peer-venv/bin/python ]; then
    "$PY" -m venv bench/.peer-venv
fi
bench/.peer-venv/bin/python -m pip install --quiet --upgrade pip
bench/.peer-venv/bin/python -m pip install --quiet "pymc-marketing==1.3.*"
bench/.peer-venv/bin/python -c "import pymc_marketing, pymc, numpy; print('pymc-marketing', pymc_marketing.__version__, 'pymc', pymc.__version__, 'numpy', numpy.__version__)"
