# Two entry points for a fresh machine (see README): `make demo` builds the toy-world workspace (resumable: a second
# run takes seconds) and opens the explorer on http://127.0.0.1:8501,
# `make test` runs ruff and the test suite. Both create .venv in the checkout and install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: setup demo test lint clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: a bare `torch` requirement pulls a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

WORKSPACE ?= workspace
PORT ?= 8501

demo: setup
	$(VENV)/bin/interp workspace build --out $(WORKSPACE)
	$(VENV)/bin/interp explore --workspace $(WORKSPACE) --port $(PORT)

lint: setup
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs workspace
