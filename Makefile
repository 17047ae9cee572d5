# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint types check bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "oncelink needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/oncelink serve

test: $(STAMP)
	@bash scripts/test_stack.sh
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP)
	$(VENV)/bin/mypy

# What CI runs: the checks first (seconds), then the whole suite.
check: lint types test

# One run, four programs, each writing its own section of docs/benchmarks.md: the wrk table,
# the peer (snappass, in its own venv under bench/.work/), open-loop latency, then the
# instruction counts.
bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk"; exit 2; }
	@command -v valgrind >/dev/null || { echo "make bench needs valgrind: apt-get install valgrind"; exit 2; }
	$(VENV)/bin/python -m bench.run
	$(VENV)/bin/python -m bench.peer
	$(VENV)/bin/python -m bench.openloop
	$(VENV)/bin/python -m bench.instructions

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
