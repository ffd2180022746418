# govflow: `make run` installs and runs the pipeline on its embedded defaults;
# `make test` installs and runs every check (ruff, mypy --strict, pytest);
# `make check` is the quick loop: the same without the tests marked slow (tests/conftest.py).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test check lint typecheck pytest bench soak screenshots clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "govflow needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/govflow serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

check: lint typecheck
	$(BIN)/pytest -q -m "not slow"

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# The full fault soak and crash test (docs/reliability.md); e.g. SOAK_ARGS="--requests 20".
soak: install
	$(BIN)/python -m reliability soak $(SOAK_ARGS)

# The documentation's screenshots: the console's browser test, keeping a picture of each step
# of the README tour, then the PM's board and one journey in the Prefect UI.
screenshots: install
	GOVFLOW_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/sandbox/console/test_browser_walk.py
	$(BIN)/python -m screenshots.pm_views --out docs/screenshots

clean:
	rm -rf $(VENV) .govflow .pytest_cache .mypy_cache .ruff_cache
