# The two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck unit integration e2e docs bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## run: seed the regional demo into var/careflow.db (first time) and serve on 127.0.0.1:8000
run: $(STAMP)
	$(BIN)/careflow demo

## test: lint, type-check, architecture contracts and the whole suite: one pytest worker per core
## (PYTEST_WORKERS=0: one process), then the tests marked serial alone, on a quiet machine
PYTEST_WORKERS ?= auto
test: $(STAMP) lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not serial" tests
	$(BIN)/pytest -m serial tests

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

## docs: regenerate docs/violation-codes.md from the code catalogue
docs: $(STAMP)
	$(BIN)/python -m careflow.docs > docs/violation-codes.md

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
