"""Speed and accuracy of skscratch estimators against their scikit-learn twins.

Run ``python -m benchmarks --help`` (or ``make bench``). The pieces:

- :mod:`benchmarks.harness`: alternating timing, medians, result records;
- :mod:`benchmarks.report`: plain-text and Markdown tables, machine facts;
- :mod:`benchmarks.plots`: log-log scaling plots;
- :mod:`benchmarks.suites`: the registry of per-estimator case modules;
- ``benchmarks/cases_*.py``: one module per estimator, defining ``SUITE``.
"""
