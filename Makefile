# Every target sets itself up: the virtual environment lives in .venv at the repo root, the
# front end's packages in node_modules, and Debian's chromium (for the browser tests) is
# installed with apt-get when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JS_SOURCES := $(wildcard js/*.ts js/*.css)
BUNDLE := qjm_widget/static/widget.js qjm_widget/static/dashboard.js
# qiskit 1.4 + qiskit-ibm-provider 0.11 (which imports only on qiskit 1.x): a venv of its own,
# pinned in tests/qiskit1/requirements.txt. qjm_widget comes from the work tree through
# PYTHONPATH, not pip: an install would run the npm build again; the widget's bundle
# (qjm_widget/static) is built once for both venvs.
VENV1 := .venv-qiskit1
BIN1 := $(VENV1)/bin
STAMP1 := $(VENV1)/.installed-stamp

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install demo demo-headless test lint typecheck test-js test-python test-qiskit1 bench clean

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# One npm run build writes every bundle (a grouped target: make runs it once).
$(BUNDLE) &: $(NODE_STAMP) $(JS_SOURCES)
	npm run build

# pip install runs npm itself (hatch-jupyter-builder), so node_modules comes first.
$(STAMP): pyproject.toml $(NODE_STAMP)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(STAMP1): tests/qiskit1/requirements.txt
	$(PYTHON) -m venv $(VENV1)
	echo '*' > $(VENV1)/.gitignore
	$(BIN1)/python -m pip install --quiet --upgrade pip
	$(BIN1)/python -m pip install --quiet -r tests/qiskit1/requirements.txt
	touch $@

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

install: $(STAMP) $(BUNDLE)

# Prints the URL (with its token) that opens the demo notebook; stop with Control-C.
demo: install
	$(BIN)/jupyter lab --ip=127.0.0.1 --allow-root \
		--ServerApp.root_dir=$(CURDIR)/notebooks --LabApp.default_url=/lab/tree/demo.ipynb

demo-headless: install
	$(BIN)/python notebooks/demo_headless.py

lint: install
	$(BIN)/ruff check qjm_widget tests benchmarks notebooks
	$(BIN)/ruff format --check qjm_widget tests benchmarks notebooks
	npm run lint
	@! grep -rnE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write' js \
		|| (echo "js/ must build the DOM with textContent / createElement" && false)

typecheck: install
	$(BIN)/mypy
	npm run typecheck

test-js: install
	npm test

test-python: install $(CHROMIUM)
	$(BIN)/python -m pytest

# --confcutdir keeps tests/conftest.py (qiskit 2.x and qiskit-ibm-runtime) out of this suite.
test-qiskit1: $(STAMP1) $(BUNDLE)
	PYTHONPATH=$(CURDIR) $(BIN1)/python -m pytest tests/qiskit1 --confcutdir=tests/qiskit1

test: lint typecheck test-js test-python test-qiskit1

bench: install $(STAMP1) $(CHROMIUM)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/latency.py
	$(BIN)/python benchmarks/comm_bytes.py
	$(BIN)/python benchmarks/view_update.py
	$(BIN)/python benchmarks/dashboard.py
	$(BIN)/python benchmarks/ibm_requests.py
	$(BIN)/python benchmarks/pending_limit.py
	PYTHONPATH=$(CURDIR) $(BIN1)/python benchmarks/pending_limit.py --provider
	$(BIN)/python benchmarks/sweeps.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/dask_overhead.py
	$(BIN)/python benchmarks/store_overhead.py

clean:
	rm -rf $(VENV) $(VENV1) node_modules qjm_widget/static .mypy_cache .ruff_cache .pytest_cache
