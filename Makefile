# Quickstart: `make train` (set up, then train on the synthetic default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The exact tested set: pip installs the ranges of pyproject.toml constrained to this lock file.
LOCK := constraints/current.txt
# Reinstall when pyproject.toml or the lock file changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
# The next stack (Hydra 1.4 release candidates, optuna 5, SQLAlchemy 2, mlflow 3.17) in its own venv.
NEXT_VENV := .venv-next
NEXT_LOCK := constraints/next.txt
NEXT_STAMP := $(NEXT_VENV)/.installed-$(shell cat pyproject.toml $(NEXT_LOCK) | cksum | cut -d' ' -f1)
# The tests that depend on the sweep and tracking stack, run on both stacks.
NEXT_TESTS := tests/test_sweeps.py tests/test_pruning.py tests/test_optuna_storage.py tests/test_study_importances.py \
	tests/test_tracking.py tests/test_resume.py tests/test_served_model.py tests/test_moved.py \
	tests/test_store_upgrade.py tests/test_dashboard.py
ARGS ?=
PYTEST_ARGS ?=

.PHONY: install install-next train smoke test test-next lint format ui clean

# The lock pins torch==2.14.1 and torchvision==0.29.1, whose wheels come from the local disk (a looser
# spec would pull a multi-GB build).
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c $(LOCK) -e ".[dev,demo,cluster]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

$(NEXT_STAMP): pyproject.toml $(NEXT_LOCK)
	test -x $(NEXT_VENV)/bin/python || $(PYTHON) -m venv $(NEXT_VENV)
	$(NEXT_VENV)/bin/pip install -q -c $(NEXT_LOCK) -e ".[dev,cluster,dashboard]"
	rm -f $(NEXT_VENV)/.installed-*
	touch $@

install-next: $(NEXT_STAMP)

train: install
	$(BIN)/python train.py $(ARGS)

smoke: install
	$(BIN)/python train.py debug=smoke $(ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The sweep, Optuna storage, tracking, resume, registry and served-model tests on the next stack, and
# the store upgrade (today's stores made in .venv, upgraded and read in .venv-next) and the dashboard.
test-next: install install-next
	ASTRO_CURRENT_PYTHON=$(abspath $(BIN)/python) $(NEXT_VENV)/bin/python -m pytest $(NEXT_TESTS) $(PYTEST_ARGS)

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
