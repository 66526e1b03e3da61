"""Speed and accuracy of skscratch estimators against their scikit-learn twins.

Run ``python -m benchmarks --help`` (or ``make bench``). The pieces:

- :mod:`benchmarks.harness`: alternating timing, adaptive repeats, result records;
- :mod:`benchmarks.machine`: machine facts, thread pools, other processes' load;
- :mod:`benchmarks.report`: plain-text and Markdown tables;
- :mod:`benchmarks.document`: the Markdown report;
- :mod:`benchmarks.plots`: log-log scaling plots;
- :mod:`benchmarks.suites`: the registry of per-estimator case modules;
- ``benchmarks/cases_*.py``: one module per estimator, defining ``SUITE``;
- :mod:`benchmarks.data`, :mod:`benchmarks.text`: data shared by several suites.
"""
