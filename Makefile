# The two commands: `make up` (dev platform on kind) and `make test` (offline suite).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: test up down lint tools bench e2e

test: $(VENV)/.installed tools lint
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# `up` installs only the platform's own dependencies (no torch, kserve, kfp, locust); the
# command checks docker, kind, pulumi, helm and kubectl before it creates anything.
up: $(VENV)/.core
	$(VENV)/bin/mlplatform up --env dev

down: $(VENV)/.core
	$(VENV)/bin/mlplatform down --env dev

e2e: $(VENV)/.installed
	MLPLATFORM_E2E=1 $(PY) -m pytest -m e2e -p no:xdist tests/e2e

bench: $(VENV)/.installed
	$(PY) benchmarks/program.py

tools:
	@scripts/install-tools.sh

$(VENV)/.core: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e . 2>&1 | { grep -v "^WARNING: Location" || true; }
	@touch $@

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (torch, kserve, kfp, locust, pulumi: a few minutes)"
	$(VENV)/bin/pip install -q -e ".[workloads,test,reports]" 2>&1 | { grep -v "^WARNING: Location" || true; }
	@touch $@
