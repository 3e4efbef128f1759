# Every target sets itself up: the virtual environment lives in .venv at the repo root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint typecheck test-python bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python notebooks/demo.py

lint: $(STAMP)
	$(BIN)/ruff check qjm_widget tests benchmarks notebooks
	$(BIN)/ruff format --check qjm_widget tests benchmarks notebooks

typecheck: $(STAMP)
	$(BIN)/mypy

test-python: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck test-python

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/latency.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
