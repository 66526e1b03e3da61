"""Generic timing and comparison machinery shared by every benchmark suite.

A suite module (``cases_*.py``) says *what* to compare: datasets, estimator
factories, how to compare the fitted models. This module says *how*: fit the
skscratch estimator and its scikit-learn twin alternately on the same data in
the same process, take medians, and gather plain result records. It knows
nothing about any particular estimator.
"""

import gc
import math
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from sklearn.exceptions import ConvergenceWarning

# A timed batch shorter than this is dominated by timer resolution and
# scheduler noise, so small problems are fitted several times per batch.
MIN_BATCH_SECONDS = 0.05
MAX_LOOPS = 1000


@dataclass(frozen=True)
class Case:
    """One dataset on which a skscratch estimator meets its scikit-learn twin.

    Parameters
    ----------
    name : str
        Short label shown in the table.
    description : str
        Where the data comes from and how it is split (shown in the report).
    load : callable
        ``load() -> (X_train, X_test, y_train, y_test)``. Called once per
        case; the arrays are released as soon as the case is done.
    make_ours, make_theirs : callable
        ``make() -> estimator``, a fresh unfitted estimator on each call.
    compare : callable
        ``compare(ours, theirs) -> dict`` of extra table columns computed
        from the two fitted estimators (parameter agreement, solver used, ...).
        Floats are shown in scientific notation, anything else with ``str``.
    """

    name: str
    description: str
    load: Callable[[], tuple]
    make_ours: Callable[[], Any]
    make_theirs: Callable[[], Any]
    compare: Callable[[Any, Any], dict] = lambda ours, theirs: {}


@dataclass(frozen=True)
class Sweep:
    """Fit time against one problem dimension, for a log-log scaling plot.

    ``load(size) -> (X, y)`` builds the problem at one point of ``sizes``;
    ``label`` names the varying dimension and what is held fixed.
    """

    name: str
    label: str
    sizes: Sequence[int]
    load: Callable[[int], tuple]
    make_ours: Callable[[], Any]
    make_theirs: Callable[[], Any]


@dataclass(frozen=True)
class Suite:
    """Everything benchmarked for one skscratch estimator.

    ``cases(quick)`` and ``sweeps(quick)`` return the work to do; ``quick``
    lets a suite shrink its sweeps while keeping the same cases, so the quick
    table has the same rows as the full one.
    """

    name: str
    title: str
    ours_label: str
    theirs_label: str
    score_name: str
    cases: Callable[[bool], list]
    sweeps: Callable[[bool], list] = lambda quick: []
    notes: str = ""


@dataclass
class Timing:
    """Per-fit times of both estimators over the repeats, and the last fits."""

    ours: list
    theirs: list
    loops: int
    fitted_ours: Any
    fitted_theirs: Any

    @property
    def ours_median(self):
        return statistics.median(self.ours)

    @property
    def theirs_median(self):
        return statistics.median(self.theirs)

    @property
    def ratio(self):
        return self.ours_median / self.theirs_median


@dataclass
class CaseResult:
    """The numbers one case produces: shapes, timings, scores, extra columns."""

    case: Case
    n_train: int
    n_test: int
    n_features: int
    timing: Timing
    ours_score: float
    theirs_score: float
    columns: dict = field(default_factory=dict)


@dataclass
class SweepResult:
    """One sweep's points: ``(size, skscratch median, sklearn median)``."""

    sweep: Sweep
    points: list


class Quiet:
    """An estimator whose ``fit`` runs with warnings silenced but counted.

    Iterative fits often stop at ``max_iter`` (scikit-learn's L-BFGS on raw
    data; any epoch-limited run) and say so with a ``ConvergenceWarning``.
    Printing it from inside the timed loop would add noise to the log and to
    the clock; instead the count of the last fit is kept, for a table column.
    Entering ``catch_warnings`` costs microseconds, paid equally by both sides.
    """

    def __init__(self, estimator):
        self.estimator = estimator
        self.convergence_warnings = 0

    def _input(self, X):
        """The array handed to the estimator (a subclass may convert it)."""
        return X

    def fit(self, X, y):
        X = self._input(X)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.estimator.fit(X, y)
        self.convergence_warnings = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        return self

    def score(self, X, y):
        return self.estimator.score(self._input(X), y)


def log(message):
    """Progress goes to stderr, flushed, so stdout holds only the table."""
    print(message, file=sys.stderr, flush=True)


def format_seconds(seconds):
    """Seconds in the unit that keeps three significant digits readable."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _fit_once(make, X, y):
    """Fit one fresh estimator and return it with its wall time."""
    estimator = make()
    start = time.perf_counter()
    estimator.fit(X, y)
    return estimator, time.perf_counter() - start


def _time_batch(make, X, y, loops):
    """Mean wall time of ``loops`` fits, and the last fitted estimator.

    The estimators are built before the clock starts: only ``fit`` is timed.
    """
    estimators = [make() for _ in range(loops)]
    start = time.perf_counter()
    for estimator in estimators:
        estimator.fit(X, y)
    elapsed = time.perf_counter() - start
    return elapsed / loops, estimators[-1]


def time_alternating(make_ours, make_theirs, X, y, repeats, label=""):
    """Time both estimators on ``(X, y)``, alternating, and return a Timing.

    One untimed warm-up fit each absorbs first-call costs (lazy imports, BLAS
    thread start-up, page faults on fresh arrays). The order within a repeat
    flips every repeat (ours-theirs, theirs-ours, ...) so neither side always
    runs on a cache or a clock state left behind by the other. Both sides use
    the same number of fits per batch.
    """
    fitted_ours, warm_ours = _fit_once(make_ours, X, y)
    fitted_theirs, warm_theirs = _fit_once(make_theirs, X, y)
    slowest = max(warm_ours, warm_theirs, 1e-9)
    loops = min(MAX_LOOPS, max(1, math.ceil(MIN_BATCH_SECONDS / slowest)))
    sides = {"ours": make_ours, "theirs": make_theirs}
    times = {"ours": [], "theirs": []}
    fitted = {"ours": fitted_ours, "theirs": fitted_theirs}
    for repeat in range(repeats):
        order = ("ours", "theirs") if repeat % 2 == 0 else ("theirs", "ours")
        for side in order:
            # Collect garbage outside the clock so no fit pays for another's.
            gc.collect()
            seconds, fitted[side] = _time_batch(sides[side], X, y, loops)
            times[side].append(seconds)
        log(
            f"  {label} repeat {repeat + 1}/{repeats}: "
            f"skscratch {format_seconds(times['ours'][-1])}, "
            f"sklearn {format_seconds(times['theirs'][-1])}"
            + (f" (mean of {loops} fits)" if loops > 1 else "")
        )
    return Timing(times["ours"], times["theirs"], loops, fitted["ours"], fitted["theirs"])


def run_case(suite, case, repeats):
    """Load a case's data, time both estimators, score and compare them."""
    log(f"[{suite.name}] {case.name}: loading data")
    X_train, X_test, y_train, y_test = case.load()
    shape = (X_train.shape[0], X_test.shape[0], X_train.shape[1])
    log(f"[{suite.name}] {case.name}: train {shape[0]} x {shape[2]}, test {shape[1]}")
    timing = time_alternating(
        case.make_ours, case.make_theirs, X_train, y_train, repeats,
        label=f"[{suite.name}] {case.name}",
    )
    ours_score = timing.fitted_ours.score(X_test, y_test)
    theirs_score = timing.fitted_theirs.score(X_test, y_test)
    columns = case.compare(timing.fitted_ours, timing.fitted_theirs)
    # The larger cases hold hundreds of MB: release them before the next one.
    del X_train, X_test, y_train, y_test
    gc.collect()
    return CaseResult(case, *shape, timing, ours_score, theirs_score, columns)


def run_sweep(suite, sweep, repeats):
    """Time both estimators at every size of a sweep."""
    points = []
    for size in sweep.sizes:
        X, y = sweep.load(size)
        timing = time_alternating(
            sweep.make_ours, sweep.make_theirs, X, y, repeats,
            label=f"[{suite.name}] sweep {sweep.name}={size}",
        )
        points.append((size, timing.ours_median, timing.theirs_median))
        del X, y
        gc.collect()
    return SweepResult(sweep, points)
