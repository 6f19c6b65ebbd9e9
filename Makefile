# One entry point for people and CI: `make demo`, `make test`, `make bench`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.PHONY: venv demo test lint format bench openapi clean browser

$(STAMP): pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --constraint requirements.lock --editable '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

demo: venv
	$(VENV)/bin/edgesync demo

lint: venv
	$(VENV)/bin/ruff format --check src tests migrations bench
	$(VENV)/bin/ruff check src tests migrations bench
	$(VENV)/bin/mypy

# The browser tests drive Debian's Chromium; install it when it is missing.
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: lint browser
	$(PY) -m pytest

format: venv
	$(VENV)/bin/ruff format src tests migrations bench
	$(VENV)/bin/ruff check --fix src tests migrations bench

bench: venv
	$(PY) bench/run.py

openapi: venv
	$(PY) -m edgesync.openapi docs/openapi

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
