# Quick start: `make run` (set up, then the main job) and `make test` (set up, then the test suite).
PY := .venv/bin/python
export TESTTIME_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: setup run test test-fast bench clean
setup:
	bash scripts/setup.sh

run: setup
	$(PY) -m testtime run --strategy best_of_n --n 64

test: setup
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

bench: setup
	$(PY) -m testtime bench

clean:
	rm -rf .venv runs
