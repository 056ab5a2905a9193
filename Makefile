# Quickstart: `make train` (set up, then train on the synthetic default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall when pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
ARGS ?=
PYTEST_ARGS ?=

.PHONY: install train smoke test lint format ui clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: these wheels come from the local disk; a looser spec pulls a multi-GB build.
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e ".[dev,demo,cluster]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

train: install
	$(BIN)/python train.py $(ARGS)

smoke: install
	$(BIN)/python train.py debug=smoke $(ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: install
	$(BIN)/python -m astro ui

clean:
	rm -rf outputs multirun .pytest_cache
