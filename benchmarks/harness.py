"""Generic timing and comparison machinery shared by every benchmark suite.

A suite module (``cases_*.py``) says *what* to compare: datasets, estimator
factories, how to compare the fitted models. This module says *how*: fit the
skscratch estimator and its scikit-learn twin alternately on the same data in
the same process, as many repeats as the spread of their ratio asks for
(:class:`Repeats`), and gather plain result records with that spread, the
threads used and what else the machine was doing. It knows nothing about any
particular estimator.
"""

import contextlib
import gc
import math
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from sklearn.exceptions import ConvergenceWarning

from .machine import Meter, PeakMemory

# A timed batch shorter than this is dominated by timer resolution and
# scheduler noise, so small problems are fitted several times per batch.
MIN_BATCH_SECONDS = 0.05
MAX_LOOPS = 1000
# A warm-up fit at least this long is kept as the first timed repeat: the
# first-call costs it absorbs (lazy imports, thread start-up, most of them
# paid by earlier cases of the same run anyway) are milliseconds, under 1%
# of such a fit, and refitting for seconds only to throw the fit away would
# cost the time budget a whole repeat.
LONG_FIT_SECONDS = 1.0


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
    units : int
        The timed fit is this many of the suite's ``unit`` (epochs, say): the
        tables show the time of one unit, the fit time divided by ``units``.
    single_thread : bool
        Also time both sides with every BLAS and OpenMP pool limited to one
        thread (``threadpoolctl.threadpool_limits(1)``), for the tables where
        threading decides the ratio (small fits, per-epoch times).
    full_only : bool
        Run only with ``--full`` (a case too long for the default time budget);
        the default report lists it as not run.
    max_repeats : int or None
        At most this many repeats outside ``--full`` (a case whose every fit
        takes tens of seconds), whatever the run's policy; None: the policy's.
    """

    name: str
    description: str
    load: Callable[[], tuple]
    make_ours: Callable[[], Any]
    make_theirs: Callable[[], Any]
    compare: Callable[[Any, Any], dict] = lambda ours, theirs: {}
    units: int = 1
    single_thread: bool = False
    full_only: bool = False
    max_repeats: int | None = None


@dataclass(frozen=True)
class Sweep:
    """Fit time against one problem dimension, for a log-log scaling plot.

    ``load(size) -> (X, y)`` builds the problem at one point of ``sizes``
    (ascending: the harness stops a sweep early when its time budget is spent);
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
    """Everything benchmarked for one skscratch estimator (or one side of it).

    ``cases(quick)`` and ``sweeps(quick)`` return the work to do; ``quick``
    lets a suite shrink its data while keeping the same kinds of rows, so the
    quick table reads like the full one. ``unit`` names what a case's time is
    per (``"fit"``, or ``"epoch"`` with :attr:`Case.units` epochs per fit);
    ``timing_columns`` names ``compare`` columns shown in the timing table
    rather than in the agreement table (the solver a time belongs to, say).
    """

    name: str
    title: str
    ours_label: str
    theirs_label: str
    score_name: str
    cases: Callable[[bool], list]
    sweeps: Callable[[bool], list] = lambda quick: []
    notes: str = ""
    unit: str = "fit"
    timing_columns: Sequence[str] = ()


@dataclass(frozen=True)
class Repeats:
    """How many alternating repeats to time: as few as the spread allows.

    After each repeat the harness looks at the per-repeat ratios (skscratch
    time over scikit-learn time within one repeat): it stops at ``maximum``,
    or from ``minimum`` on once their relative spread ``(max - min) / median``
    is at most ``spread``, or, once the case has used ``budget`` seconds, as
    soon as there are two repeats (the fewest that show a spread at all).
    ``Repeats.fixed(n)`` times exactly ``n`` repeats.
    """

    minimum: int = 3
    maximum: int = 7
    spread: float = 0.10
    budget: float | None = None

    @classmethod
    def fixed(cls, count):
        return cls(minimum=count, maximum=count, spread=0.0, budget=None)

    @classmethod
    def coerce(cls, repeats):
        """A :class:`Repeats` from itself or from a fixed count (the older API)."""
        return repeats if isinstance(repeats, cls) else cls.fixed(int(repeats))

    def reason_to_stop(self, ratios, elapsed):
        """Why to stop after these ratios and seconds, or None to go on."""
        done = len(ratios)
        if done >= self.maximum:
            return "maximum"
        if done >= max(2, self.minimum) and relative_spread(ratios) <= self.spread:
            return "spread"
        if self.budget is not None and elapsed >= self.budget and done >= min(2, self.maximum):
            return "budget"
        return None


def relative_spread(values):
    """``(max - min) / median`` of positive values: 0 for fewer than two."""
    if len(values) < 2:
        return 0.0
    return (max(values) - min(values)) / statistics.median(values)


@dataclass
class Timing:
    """Per-fit times of both estimators over the repeats, and the last fits
    (which :func:`run_case` drops once it has scored and compared them).

    ``ours[i]`` and ``theirs[i]`` were measured back to back in repeat ``i``,
    so the per-repeat ratio ``ours[i] / theirs[i]`` sees the machine in one
    state; :attr:`ratio` is their median and :attr:`ratio_range` their range.
    ``stopped`` says why the repeats stopped (see :class:`Repeats`) and
    ``threads`` under which thread limit they ran (``None``: the libraries'
    defaults). ``peak_memory`` is the bytes each side's warm-up fit added to
    the process at its peak, ``(ours, theirs)`` (None where not measurable).
    """

    ours: list
    theirs: list
    loops: int
    fitted_ours: Any
    fitted_theirs: Any
    stopped: str = "maximum"
    threads: int | None = None
    peak_memory: tuple = (None, None)

    @property
    def ours_median(self):
        return statistics.median(self.ours)

    @property
    def theirs_median(self):
        return statistics.median(self.theirs)

    @property
    def ratios(self):
        return [ours / theirs for ours, theirs in zip(self.ours, self.theirs)]

    @property
    def ratio(self):
        return statistics.median(self.ratios)

    @property
    def ratio_range(self):
        ratios = self.ratios
        return min(ratios), max(ratios)

    @property
    def repeats(self):
        return len(self.ours)


@dataclass
class CaseResult:
    """The numbers one case produces: shapes, timings, scores, extra columns.

    ``single`` is the timing with every thread pool limited to one thread
    (when the case asks for it), ``dtypes`` the dtype of each side's fitted
    parameters, ``usage`` what the machine did while the case ran.
    """

    case: Case
    n_train: int
    n_test: int
    n_features: int
    timing: Timing
    ours_score: float
    theirs_score: float
    columns: dict = field(default_factory=dict)
    single: Timing | None = None
    dtypes: tuple = ("-", "-")
    usage: Any = None


@dataclass
class SweepResult:
    """One sweep's points: ``(size, skscratch median, sklearn median)``.

    ``timings`` holds each point's :class:`Timing`; ``skipped`` the sizes not
    run because the sweep's time budget was spent.
    """

    sweep: Sweep
    points: list
    timings: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    usage: Any = None


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


def parameter_dtype(fitted):
    """The dtype of a fitted estimator's first weight array, as a string.

    Unwraps :class:`Quiet`; looks at ``coefs_`` (networks) or ``coef_``
    (linear models). ``"-"`` when neither is there.
    """
    estimator = getattr(fitted, "estimator", fitted)
    weights = getattr(estimator, "coefs_", None)
    weights = weights[0] if weights else getattr(estimator, "coef_", None)
    return str(getattr(weights, "dtype", "-"))


def _fit_once(make, X, y, memory=None):
    """Fit one fresh estimator and return it with its wall time.

    ``memory``: a list to which the bytes the fit added at its peak are
    appended (:class:`~benchmarks.machine.PeakMemory`, read outside the clock).
    """
    estimator = make()
    peak = PeakMemory() if memory is not None else None
    start = time.perf_counter()
    estimator.fit(X, y)
    seconds = time.perf_counter() - start
    if peak is not None:
        memory.append(peak.stop())
    return estimator, seconds


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


@contextlib.contextmanager
def frozen_heap():
    """Collect garbage once, then keep the surviving objects out of every collection.

    The timing loops collect garbage before each timed batch, outside the
    clock, so that no fit pays for another's garbage. A full collection walks
    every tracked object: with scikit-learn, SciPy and Dask imported that was
    about 0.23 s here, a dozen times per small case, most of a quick run's
    time on the small sets. Frozen (``gc.freeze``), the objects alive before
    the timing are skipped, and a collection walks only what the fits made.
    Garbage made before the block is collected on entry; the objects are
    thawed on exit, so later collections see them again.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def loops_for(seconds):
    """Fits per timed batch for a fit of ``seconds``, so a batch lasts long enough."""
    return min(MAX_LOOPS, max(1, math.ceil(MIN_BATCH_SECONDS / max(seconds, 1e-9))))


def best_time(make, X, y, count=3):
    """One estimator's best time per fit: the best of ``count`` batch means.

    For ranking settings of one side (which solver is fastest), not for
    ratios. A first fit calibrates the batch size; a fit longer than
    :data:`LONG_FIT_SECONDS` is not repeated and that first fit is its time.
    """
    with frozen_heap():
        seconds = _fit_once(make, X, y)[1]
        if seconds >= LONG_FIT_SECONDS:
            return seconds
        loops = loops_for(seconds)
        best = math.inf
        for _ in range(count):
            gc.collect()
            best = min(best, _time_batch(make, X, y, loops)[0])
    return best


def time_alternating(make_ours, make_theirs, X, y, repeats, label="", threads=None):
    """Time both estimators on ``(X, y)``, alternating, and return a Timing.

    ``repeats`` is a :class:`Repeats` policy or a fixed count. One untimed
    warm-up fit each absorbs first-call costs (lazy imports, BLAS thread
    start-up, page faults on fresh arrays); when both warm-up fits take longer
    than :data:`LONG_FIT_SECONDS` they are kept as the first repeat instead.
    The order within a repeat flips every repeat (ours-theirs, theirs-ours,
    ...) so neither side always runs on a cache or a clock state left behind by
    the other. Both sides use the same number of fits per batch. ``threads``
    only labels the result: the caller sets the limit.
    """
    with frozen_heap():  # the collections between batches walk only what the fits made
        policy = Repeats.coerce(repeats)
        start = time.perf_counter()
        peaks = []  # the memory each warm-up fit added at its peak
        fitted_ours, warm_ours = _fit_once(make_ours, X, y, peaks)
        gc.collect()
        fitted_theirs, warm_theirs = _fit_once(make_theirs, X, y, peaks)
        loops = loops_for(max(warm_ours, warm_theirs))
        sides = {"ours": make_ours, "theirs": make_theirs}
        times = {"ours": [], "theirs": []}
        fitted = {"ours": fitted_ours, "theirs": fitted_theirs}

        def report(note=""):
            ours, theirs = times["ours"][-1], times["theirs"][-1]
            log(f"  {label} repeat {len(times['ours'])}: skscratch {format_seconds(ours)}, "
                f"sklearn {format_seconds(theirs)}, ratio {ours / theirs:.2f}"
                + (f" (mean of {loops} fits)" if loops > 1 else "") + note)

        if min(warm_ours, warm_theirs) >= LONG_FIT_SECONDS:
            times["ours"].append(warm_ours)
            times["theirs"].append(warm_theirs)
            report(" (the warm-up fits)")
        while True:
            ratios = [ours / theirs for ours, theirs in zip(times["ours"], times["theirs"])]
            stopped = policy.reason_to_stop(ratios, time.perf_counter() - start)
            if stopped is not None:
                break
            order = ("ours", "theirs") if len(ratios) % 2 == 0 else ("theirs", "ours")
            for side in order:
                # Drop the previous fit first (a wide network holds hundreds of MB),
                # and collect garbage outside the clock so no fit pays for another's.
                fitted[side] = None
                gc.collect()
                seconds, fitted[side] = _time_batch(sides[side], X, y, loops)
                times[side].append(seconds)
            report()
        log(f"  {label} stopped after {len(ratios)} repeats ({stopped}); "
            f"ratio {statistics.median(ratios):.2f} "
            f"[{min(ratios):.2f}, {max(ratios):.2f}]")
        return Timing(times["ours"], times["theirs"], loops, fitted["ours"], fitted["theirs"],
                      stopped=stopped, threads=threads, peak_memory=tuple(peaks))


def _one_thread():
    """Every BLAS and OpenMP pool limited to one thread, while the block runs."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def run_case(suite, case, repeats):
    """Load a case's data, time both estimators, score and compare them.

    With ``case.single_thread`` the timing is done a second time with every
    thread pool limited to one thread, each timing with half the case's time
    budget. ``repeats``: a :class:`Repeats` policy or a fixed count.
    """
    meter = Meter()
    log(f"[{suite.name}] {case.name}: loading data")
    X_train, X_test, y_train, y_test = case.load()
    shape = (X_train.shape[0], X_test.shape[0], X_train.shape[1])
    log(f"[{suite.name}] {case.name}: train {shape[0]} x {shape[2]}, test {shape[1]}")
    label = f"[{suite.name}] {case.name}"
    repeats = Repeats.coerce(repeats)
    if case.max_repeats is not None and repeats.budget is not None:
        # Only bounded runs are capped: --full (no budget) times every case fully.
        repeats = replace(repeats, minimum=min(repeats.minimum, case.max_repeats),
                          maximum=min(repeats.maximum, case.max_repeats))
    if case.single_thread and repeats.budget is not None:
        # The case's budget is shared by its two timings.
        repeats = replace(repeats, budget=repeats.budget / 2)
    timing = time_alternating(case.make_ours, case.make_theirs, X_train, y_train, repeats,
                              label=label)
    single = None
    if case.single_thread:
        with _one_thread():
            single = time_alternating(case.make_ours, case.make_theirs, X_train, y_train,
                                      repeats, label=f"{label} (1 thread)", threads=1)
        # Only the times are kept: the fitted pair of the default run is compared.
        single.fitted_ours = single.fitted_theirs = None
    ours_score = timing.fitted_ours.score(X_test, y_test)
    theirs_score = timing.fitted_theirs.score(X_test, y_test)
    dtypes = (parameter_dtype(timing.fitted_ours), parameter_dtype(timing.fitted_theirs))
    columns = case.compare(timing.fitted_ours, timing.fitted_theirs)
    # The larger cases hold hundreds of MB in their data and fitted models:
    # release them before the next case (the result keeps numbers only).
    timing.fitted_ours = timing.fitted_theirs = None
    del X_train, X_test, y_train, y_test
    gc.collect()
    usage = meter.stop()
    log(f"[{suite.name}] {case.name}: done in {usage.wall:.1f} s"
        + ("" if usage.others is None else f" (other processes: {usage.others:.2f} cores)"))
    return CaseResult(case, *shape, timing, ours_score, theirs_score, columns,
                      single=single, dtypes=dtypes, usage=usage)


def _predicted_seconds(points, size):
    """Time of the next sweep point, extrapolated on log-log axes from the last two."""
    if not points:
        return 0.0
    last_size, last = points[-1][0], points[-1][1] + points[-1][2]
    slope = 1.0
    if len(points) >= 2:
        previous_size, previous = points[-2][0], points[-2][1] + points[-2][2]
        if previous > 0 and last_size != previous_size:
            slope = math.log(last / previous) / math.log(last_size / previous_size)
    slope = min(3.0, max(1.0, slope))  # no sweep here gets cheaper, none worse than cubic
    return last * (size / last_size) ** slope


def run_sweep(suite, sweep, repeats, budget=None):
    """Time both estimators at every size of a sweep, within ``budget`` seconds.

    A point is skipped when the time spent on the sweep plus the point's
    predicted cost (a warm-up and two repeats of both sides, extrapolated from
    the previous points) would pass the budget; the rest of the sweep is
    skipped with it (sizes ascend). ``budget=None`` runs every point.
    """
    meter = Meter()
    points, timings, skipped = [], [], []
    for size in sweep.sizes:
        spent = time.perf_counter() - meter.wall_start
        if skipped or (budget is not None and points
                       and spent + 3 * _predicted_seconds(points, size) > budget):
            skipped.append(size)
            continue
        X, y = sweep.load(size)
        timing = time_alternating(
            sweep.make_ours, sweep.make_theirs, X, y, repeats,
            label=f"[{suite.name}] sweep {sweep.name}={size}",
        )
        timing.fitted_ours = timing.fitted_theirs = None
        points.append((size, timing.ours_median, timing.theirs_median))
        timings.append(timing)
        del X, y
        gc.collect()
    usage = meter.stop()
    log(f"[{suite.name}] sweep {sweep.name}: done in {usage.wall:.1f} s")
    if skipped:
        log(f"[{suite.name}] sweep {sweep.name}: sizes {', '.join(map(str, skipped))} "
            "skipped by the time budget (--full runs them)")
    return SweepResult(sweep, points, timings, skipped, usage=usage)

