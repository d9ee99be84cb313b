# Finds a Python >= 3.12 (PATH first, then pyenv's versions), builds .venv, runs things.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

PYTHON ?= $(shell for c in python3.13 python3.12 python3; do \
    p=$$(command -v $$c 2>/dev/null) && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
  done; \
  root=$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv); \
  for p in $$(ls -d $$root/versions/3.1[2-9]*/bin/python3.1[2-9] 2>/dev/null | sort -rV); do \
    $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
  done)

.PHONY: demo test bench venv clean

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: clvmodels needs Python >= 3.12 (PyMC 6). None found on PATH or under pyenv; install one (e.g. 'pyenv install 3.12') or run 'make PYTHON=/path/to/python3.12 ...'." >&2; exit 1; fi
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) -m clvmodels demo

# two workers, each taking a whole test file at a time (its module fixtures fitted once)
test: venv
	@.ci/system-packages
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: venv
	$(PY) bench/bench_noncontractual.py

clean:
	rm -rf $(VENV) out build dist
