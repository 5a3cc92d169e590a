# The two commands of the README: `make run` and `make test`. Both create the virtual environment
# (.venv) and install the project into it when it is missing or pyproject.toml or the lock changed.
# The versions installed are exactly those of requirements.lock; `make lock` re-resolves it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PACKAGES := energy forecasting optimizer connectors
LOCK   := requirements.lock

.PHONY: help run test lint bench install lock system-deps services clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) -e '.[dev,data]'
	@touch $@

install: $(STAMP)  ## create .venv and install the platform with its dev tools, at the locked versions

lock: $(STAMP)  ## re-resolve requirements.lock: the newest versions within pyproject.toml's bounds
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra data --universal \
		--python-version 3.11 --upgrade --custom-compile-command 'make lock' -o $(LOCK)

system-deps:  ## install the Debian tools the tests use (mbpoll, chromium) when missing
	@bash scripts/ensure-system-deps.sh

services:  ## start the local PostgreSQL server when it is down
	@bash scripts/ensure-services.sh

run: $(STAMP)  ## run the platform on its embedded default (SQLite, simulated Klimaviertel, web UI)
	$(BIN)/kv config check
	$(BIN)/kv run $(RUN_ARGS)

test: $(STAMP) system-deps services  ## lint, type-check, check the import contracts and run the whole test suite (SQLite and PostgreSQL)
	$(BIN)/ruff check .
	$(BIN)/mypy $(PACKAGES)
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(STAMP)  ## ruff check, format check and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES)

bench: $(STAMP)  ## run the benchmark scripts (prints figures; see docs/benchmarks.md)
	$(BIN)/python bench/store_bench.py
	$(BIN)/python bench/simulate_bench.py
	$(BIN)/python bench/study_bench.py

clean:  ## remove the virtual environment and caches (keeps data/)
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
