"""The registry of benchmark suites: the one place a new estimator is added.

Each entry maps the name accepted by ``--only`` to the module holding that
estimator's cases; the module defines ``SUITE``, a :class:`~benchmarks.harness.Suite`.
Modules are imported only when selected, so ``--only ols`` runs even while
another estimator is still being written.
"""

import importlib

SUITES = {
    "ols": "benchmarks.cases_linear",
    "logistic": "benchmarks.cases_logistic",
}


def load_suite(name):
    """Import the module registered under ``name`` and return its ``SUITE``."""
    return importlib.import_module(SUITES[name]).SUITE
