"""The registry of benchmark suites: the one place a new estimator is added.

Each entry maps the name accepted by ``--only`` to the module holding that
estimator's cases; the module defines ``SUITE``, a :class:`~benchmarks.harness.Suite`
(or the named suite after a colon, for a module that defines more than one).
Modules are imported only when selected, so ``--only ols`` runs even while
another estimator is still being written.
"""

import importlib

SUITES = {
    "ols": "benchmarks.cases_linear",
    "ols-sparse": "benchmarks.cases_linear_offpath:SPARSE_SUITE",
    "ols-collinear": "benchmarks.cases_linear_offpath:COLLINEAR_SUITE",
    "ols-positive": "benchmarks.cases_linear_offpath:POSITIVE_SUITE",
    "logistic": "benchmarks.cases_logistic",
    "logistic-matched": "benchmarks.cases_logistic:MATCHED_SUITE",
    "logistic-text": "benchmarks.cases_logistic_wide:TEXT_SUITE",
    "logistic-wide": "benchmarks.cases_logistic_wide:WIDE_SUITE",
    "logistic-wide-matched": "benchmarks.cases_logistic_wide:WIDE_MATCHED_SUITE",
    "mlp": "benchmarks.cases_mlp",
    "mlp-sparse": "benchmarks.cases_mlp:SPARSE_SUITE",
    "mlp-small": "benchmarks.cases_mlp:SMALL_SUITE",
    "dask": "benchmarks.cases_dask",
}


def load_suite(name):
    """Import the module registered under ``name`` and return its suite.

    An entry is ``"module"`` (whose ``SUITE`` is taken) or ``"module:NAME"``.
    """
    module, _, attribute = SUITES[name].partition(":")
    return getattr(importlib.import_module(module), attribute or "SUITE")
