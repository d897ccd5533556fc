# Quick start: `make run` (set up, then the main job) and `make test` (set up, then the test suite).
PY := .venv/bin/python
export TESTTIME_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: setup run test test-fast bench clean
setup:
	bash scripts/setup.sh

run: setup
	$(PY) -m testtime run --strategy best_of_n --n 64

# Tests without a real model on parallel workers (pytest-xdist), then the real-model tests in one process: they
# share engines, and an engine computes on every core (beside other work its threads stall each other).
test: setup
	$(PY) -m pytest -n auto --maxprocesses 4 -m "not real_model"
	$(PY) -m pytest -m real_model

test-fast: setup
	$(PY) -m pytest -m "not slow"

bench: setup
	$(PY) -m testtime bench

clean:
	rm -rf .venv runs
