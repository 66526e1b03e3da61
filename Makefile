# Two commands matter: `make bench` and `make test`. Both create a local
# virtual environment in .venv on first use, so a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: test bench bench-quick bench-full docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# One stamp per set of extras: re-install only when pyproject.toml changes.
.stamp-%: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[$*]"
	@touch $@

test: .stamp-test
	$(PY) -m pytest

# The default run is bounded (adaptive repeats, time budgets; under 15 minutes
# on an idle 2-core machine); --quick is a representative report in about 3
# minutes; --full runs every sweep point and every case, with no time budget.
bench: .stamp-bench
	$(PY) -m benchmarks $(ARGS)

bench-quick: .stamp-bench
	$(PY) -m benchmarks --quick $(ARGS)

bench-full: .stamp-bench
	$(PY) -m benchmarks --full $(ARGS)

# Then the build from a checkout path containing "skscratch", and the check
# that the HTML loads nothing (MathJax included) from the network.
docs: .stamp-docs
	$(PY) -m sphinx -E -W --keep-going -b html -q docs docs/_build/html
	$(PY) -m sphinx -E -W --keep-going -b doctest -q docs docs/_build/doctest
	$(PY) -m pytest -q -p no:cacheprovider -m docs_build tests/test_docs.py

clean:
	rm -rf $(VENV) .stamp-* docs/_build docs/generated *.egg-info
