"""Logistic regression at width: sparse text, and dense data with more columns than rows.

Three suites, ``LogisticRegressionGD()`` against ``LogisticRegression()``:

- ``logistic-text``: the synthetic corpus of :mod:`benchmarks.text` (20000
  documents, 16000 for training), vectorized as a user would: with
  ``TfidfVectorizer()`` (every word of the training documents, about 50 000
  columns) and with ``HashingVectorizer(n_features=2**18)`` at its defaults
  (signed hashing, rows l2-normalized, no idf: the stateless transform of
  scikit-learn's out-of-core example). Each as the 5-class problem and as a
  binary one (class 0 against the other four). float64 CSR on both sides; with
  ``--full`` also the tf-idf 5-class row in float32 on both sides, and an L1 row
  (``l1_ratio=1``) against scikit-learn's ``saga``.
- ``logistic-wide``: ``make_classification`` with 20000 columns and 2000
  training rows (n < p), binary and 5-class, dense float64.
- ``logistic-wide-matched``: the binary tf-idf and wide rows, with
  scikit-learn's side the fastest of its solvers that reaches the accuracy bar
  (as the shipped-set ``logistic-matched`` table); the hashed and 5-class rows
  with ``--full``. ``newton-cholesky`` is not among the solvers (it factors a
  p x p Hessian per class pair), nor ``saga`` on dense wide data.

Beside the time ratio, each row gives both test accuracies (and their
difference in points) and both training objectives at the fitted coefficients,
``C * sum_i logloss_i + 1/2 ||coef_||^2`` (``C = 1``), computed in float64 by
:func:`benchmarks.cases_logistic.objective`: the two estimators minimize the
same function, so the lower value is the better minimizer.
"""

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skscratch import LogisticRegressionGD

from .cases_logistic import (
    C, CONTENDER_FACTOR, GAP_BAR, MATCHED_MAX_ITER, PROBA_BAR, LogisticCase, MatchedCase,
    _tol, make_ours, make_theirs, objective,
)
from .data import RANDOM_STATE
from .harness import Case, Quiet, Suite
from .text import N_CLASSES, text_data, text_description

HASHED = 2**18
# The dense wide problem: n < p. The test rows only cost predictions, so there
# are twice as many as training rows (accuracy resolved to 0.025 points).
WIDE_TRAIN, WIDE_TEST, WIDE_FEATURES, WIDE_INFORMATIVE = 2000, 4000, 20_000, 50
QUICK_WIDE_TRAIN, QUICK_WIDE_TEST, QUICK_WIDE_FEATURES = 1000, 2000, 10_000
# scikit-learn's solvers for this objective at these widths, each at its
# tolerances, loosest first (see MatchedCase). newton-cholesky is left out:
# it factors the (p k) x (p k) Hessian, 3 GB at 20000 columns and 90 GB for
# the 5-class tf-idf matrix. lbfgs at its default tol=1e-4 is the other
# table's row and falls short of the bar there, so it starts at 1e-6. saga
# is tried at 1e-4 only: at 1e-6 it reached the bar on the binary tf-idf row
# in 117 s, 30 times lbfgs's time there, on a loaded machine.
WIDE_SOLVERS = {
    "lbfgs": (1e-6, 1e-8, 1e-10),
    "newton-cg": (1e-4, 1e-6, 1e-8),
    "saga": (1e-4,),
}
# On the dense wide rows saga is not tried: there each of its epochs costs a
# full pass over the dense matrix and it needs thousands of them (at tol=1e-4
# on the --quick wide row, 1000 x 10000, it ran past a minute where L-BFGS
# reached the bar in 9 s).
DENSE_WIDE_SOLVERS = {solver: WIDE_SOLVERS[solver] for solver in ("lbfgs", "newton-cg")}


def binary(split):
    """Class 0 against the others, from a multi-class split (no new vectorization)."""
    X_train, X_test, y_train, y_test = split
    return X_train, X_test, (y_train == 0).astype(int), (y_test == 0).astype(int)


def as_float32(split):
    """Both feature matrices in float32 (a copy, outside the clock)."""
    X_train, X_test, y_train, y_test = split
    return X_train.astype(np.float32), X_test.astype(np.float32), y_train, y_test


def wide(quick, n_classes):
    """``make_classification`` with more columns than training rows, dense float64.

    The rows come out of ``make_classification`` shuffled, so the first
    ``n_train`` are the training rows and the rest the test rows, as views: no
    copy of the 960 MB matrix.
    """
    n_train, n_test, n_features = ((QUICK_WIDE_TRAIN, QUICK_WIDE_TEST, QUICK_WIDE_FEATURES)
                                   if quick else (WIDE_TRAIN, WIDE_TEST, WIDE_FEATURES))
    X, y = make_classification(n_samples=n_train + n_test, n_features=n_features,
                               n_informative=WIDE_INFORMATIVE, n_classes=n_classes,
                               random_state=RANDOM_STATE)
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def wide_description(quick, n_classes):
    n_train, n_test, n_features = ((QUICK_WIDE_TRAIN, QUICK_WIDE_TEST, QUICK_WIDE_FEATURES)
                                   if quick else (WIDE_TRAIN, WIDE_TEST, WIDE_FEATURES))
    shrunk = (f"; shrunk from {WIDE_TRAIN} + {WIDE_TEST} rows and {WIDE_FEATURES} columns by "
              "`--quick`" if quick else "")
    return (f"`make_classification(n_samples={n_train + n_test}, n_features={n_features}, "
            f"n_informative={WIDE_INFORMATIVE}, n_classes={n_classes}, "
            f"random_state={RANDOM_STATE})`, the first {n_train} rows for training and "
            f"{n_test} held out{shrunk}; dense float64")


class WideCase(LogisticCase):
    """Compares the two fits by accuracy and by the objective each reached.

    No optimum is computed (the shipped sets' Newton reference forms the
    Hessian, p x p per class pair): the two objectives are compared with each
    other.
    """

    def __init__(self, split, l1_ratio=0.0):
        super().__init__(split)
        self.l1_ratio = l1_ratio

    def compare(self, ours, theirs):
        X_train, X_test, y_train, y_test = self.data
        self.data = None
        a, b = ours.estimator, theirs.estimator
        fa = objective(a, X_train, y_train, l1_ratio=self.l1_ratio)
        fb = objective(b, X_train, y_train, l1_ratio=self.l1_ratio)
        columns = {
            "Δ accuracy (points)": f"{100 * (a.score(X_test, y_test) - b.score(X_test, y_test)):+.2f}",
            # Ten digits: the two differ in the fifth or later.
            "skscratch objective": f"{fa:.10g}",
            "sklearn objective": f"{fb:.10g}",
            "(f_skscratch − f_sklearn) / f_sklearn": (fa - fb) / fb,
            "skscratch metric_": a.metric_,
            "skscratch n_iter": int(np.max(a.n_iter_)),
            "sklearn n_iter": int(np.max(b.n_iter_)),
            "skscratch converged": "no" if ours.convergence_warnings else "yes",
            "sklearn converged": "no" if theirs.convergence_warnings else "yes",
        }
        if self.l1_ratio > 0:
            columns["non-zeros (skscratch / sklearn)"] = (
                f"{np.count_nonzero(a.coef_)} / {np.count_nonzero(b.coef_)}")
        return columns


def _case(name, description, split, make_ours=make_ours, make_theirs=make_theirs, **kwargs):
    holder = WideCase(split, l1_ratio=kwargs.pop("l1_ratio", 0.0))
    return Case(name=name, description=description, load=holder.load, make_ours=make_ours,
                make_theirs=make_theirs, compare=holder.compare, **kwargs)


def _l1_ours():
    return Quiet(LogisticRegressionGD(l1_ratio=1.0))


def _l1_theirs():
    return Quiet(LogisticRegression(solver="saga", l1_ratio=1.0))


def _text_rows(quick):
    """``(name, description, split, vectorizer, classes)`` of each text row."""
    rows = []
    for vectorizer in ("tfidf", "hashing"):
        n_features = HASHED if vectorizer == "hashing" else None
        label = "hashed 2^18" if vectorizer == "hashing" else "tf-idf"  # no "**": Markdown
        described = text_description(vectorizer, n_features, quick)
        load = (lambda v=vectorizer, n=n_features: text_data(v, n, quick))
        rows.append((f"{label}, binary", described + "; class 0 against the other four",
                     lambda load=load: binary(load()), 2))
        rows.append((f"{label}, {N_CLASSES} classes", described, load, N_CLASSES))
    return rows


def text_cases(quick):
    """tf-idf and hashed, binary and 5-class; float32 and L1 rows with ``--full``."""
    # The hashed 5-class fits take tens of seconds a side (scikit-learn's about a
    # minute on a loaded 2-core machine): one repeat, the warm-up fits, outside --full.
    # --quick leaves the hashed 5-class row out (the tf-idf 5-class row is its kind).
    found = [_case(name, description, split,
                   max_repeats=1 if name.startswith("hashed") and k > 2 else None)
             for name, description, split, k in _text_rows(quick)
             if not (quick and name.startswith("hashed") and k > 2)]
    tfidf = _text_rows(quick)[1]
    found.append(_case(
        name=f"tf-idf, {N_CLASSES} classes, float32",
        description=tfidf[1] + "; cast to float32 for both sides",
        split=lambda load=tfidf[2]: as_float32(load()),
        full_only=True,
    ))
    tfidf_binary = _text_rows(quick)[0]
    found.append(_case(
        name="tf-idf, binary, l1_ratio=1",
        description=tfidf_binary[1] + "; L1 penalty: skscratch `l1_ratio=1.0`, scikit-learn "
                    "`solver='saga', l1_ratio=1.0`",
        split=tfidf_binary[2],
        make_ours=_l1_ours,
        make_theirs=_l1_theirs,
        l1_ratio=1.0,
        full_only=True,
    ))
    return found


def wide_cases(quick):
    """Binary and 5-class dense wide rows; ``quick`` keeps the binary one (the
    tf-idf 5-class row is the quick run's wide multinomial fit)."""
    return [
        _case(name=f"{'binary' if k == 2 else f'{k} classes'}",
              description=wide_description(quick, k),
              split=lambda k=k: wide(quick, k))
        for k in ((2,) if quick else (2, 5))
    ]


class BestSeen:
    """The optimum as the lowest objective any fit of the case reached.

    Stands in for :class:`~benchmarks.cases_logistic.Optimum` where its Newton
    reference cannot be formed (p x p per class pair). It is seeded with
    skscratch's default fit, then lowered by every scikit-learn fit of the
    solver search, the tightest of which runs to ``tol=1e-10``; gaps and
    probability differences are measured from the best fit seen so far.
    """

    def __init__(self, X_train, X_test, y_train):
        self.X_train, self.X_test, self.y_train = X_train, X_test, y_train
        self.f, self.P = np.inf, None

    def see(self, estimator):
        f = objective(estimator, self.X_train, self.y_train)
        if f < self.f:
            self.f, self.P = f, estimator.predict_proba(self.X_test)
        return f

    def gap(self, estimator):
        return (self.see(estimator) - self.f) / self.f

    def proba(self, estimator):
        self.see(estimator)
        return float(np.max(np.abs(estimator.predict_proba(self.X_test) - self.P)))

    def meets_bar(self, estimator):
        return self.gap(estimator) <= GAP_BAR and self.proba(estimator) <= PROBA_BAR


class WideMatchedCase(MatchedCase):
    """:class:`MatchedCase` on wide data: :data:`WIDE_SOLVERS`, and :class:`BestSeen`
    as the optimum, seeded with one fit of skscratch's default."""

    solvers = WIDE_SOLVERS

    def __init__(self, split, solvers=WIDE_SOLVERS):
        super().__init__(split)
        self.solvers = solvers

    def optimum(self):
        if self._optimum is None:
            X_train, X_test, y_train, _ = self.data
            self._optimum = BestSeen(X_train, X_test, y_train)
            self._optimum.see(make_ours().fit(X_train, y_train).estimator)
        return self._optimum


def _matched_case(name, description, split, solvers=WIDE_SOLVERS, full_only=False):
    holder = WideMatchedCase(split, solvers)
    return Case(name=name, description=description, load=holder.load, make_ours=make_ours,
                make_theirs=holder.make_theirs, compare=holder.compare, full_only=full_only)


def matched_cases(quick):
    """The binary tf-idf and wide rows (tf-idf only with ``quick``); the hashed and 5-class
    ones with ``--full``."""
    rows = [(f"text {name}", description, split, k, WIDE_SOLVERS)
            for name, description, split, k in _text_rows(quick)]
    rows += [(f"wide {'binary' if k == 2 else f'{k} classes'}", wide_description(quick, k),
              lambda k=k: wide(quick, k), k, DENSE_WIDE_SOLVERS) for k in (2, 5)]
    # The search fits each solver several times: the default run keeps the
    # binary tf-idf and wide rows (about a minute and a half each on a loaded
    # 2-core machine); the hashed binary row (three minutes there) and the
    # 5-class rows run with --full.
    # --quick keeps the text row only: the dense wide row's search (a
    # minute and a half) is the same kind of row on other data.
    return [_matched_case(name, description, split, solvers,
                          full_only=k > 2 or name.startswith("text hashed"))
            for name, description, split, k, solvers in rows
            if not (quick and name.startswith("wide"))]


_COLUMNS_NOTE = (
    "Both minimize `C Σ logloss + ½‖coef_‖²` with `C = 1` (binary log-loss for two classes, "
    "multinomial for more). *Δ accuracy* is skscratch's test accuracy minus scikit-learn's, "
    "in points; the *objective* columns are each fit's training objective at its "
    "coefficients, computed in float64, and *(f_skscratch − f_sklearn) / f_sklearn* is "
    "negative where skscratch's fit is the better minimizer. *metric_* is the "
    "preconditioner skscratch chose from the data's shape (`diagonal` for sparse input, "
    "`kernel`, the row space of the data, for dense input with more columns than rows). "
    "*n_iter* counts skscratch's accepted steps and scikit-learn's L-BFGS iterations. "
    "*peak MB* (timing table) is what each side's first fit added to the process's memory "
    "above the data. "
)

TEXT_SUITE = Suite(
    name="logistic-text",
    title="Logistic regression on text",
    ours_label="skscratch.LogisticRegressionGD()",
    theirs_label="sklearn.linear_model.LogisticRegression()",
    score_name="test accuracy",
    cases=text_cases,
    notes=(
        "Logistic regression's most common use: a bag of words with tens of thousands to "
        "hundreds of thousands of sparse columns. The corpus is generated "
        "(`benchmarks/text.py`: a Zipf vocabulary, classes with their own word preferences, "
        "log-normal document lengths; no download) and vectorized once per run, outside the "
        "clock, as a user would: `TfidfVectorizer()` with its defaults (every word of the "
        "training documents), and `HashingVectorizer(n_features=2**18)` with its defaults "
        "(signed hashing, l2-normalized rows, no idf; the stateless transform of scikit-learn's "
        "out-of-core example). The binary rows are class 0 against the other four (20% "
        "positives). Both estimators at their defaults, float64 CSR on both sides. The hashed "
        "5-class row is timed once (its warm-up fits, tens of seconds each) outside `--full`, "
        "so its ratio has no spread there. "
        + _COLUMNS_NOTE
        + "With `--full`, two more rows: the tf-idf 5-class problem in float32 on both sides, "
        "and the L1 penalty (`l1_ratio=1.0`) against scikit-learn's `saga` (the parity of the "
        "L1 and elastic-net fits with `saga` is held by skscratch's tests)."
    ),
)

WIDE_SUITE = Suite(
    name="logistic-wide",
    title="Logistic regression on wide dense data",
    ours_label="skscratch.LogisticRegressionGD()",
    theirs_label="sklearn.linear_model.LogisticRegression()",
    score_name="test accuracy",
    cases=wide_cases,
    notes=(
        "Dense data with ten times more columns than training rows (2000 x 20000, 320 MB of "
        "float64), where the optimum lies in the row space of the data. 50 informative "
        "columns among 20000 and 2000 rows make a hard problem: the 5-class accuracy is "
        "low on both sides, and the comparison is of two minimizers of the same objective. "
        "Both estimators at their defaults, float64. " + _COLUMNS_NOTE
    ),
)

_LADDERS = "; ".join(
    f"`{solver}`: " + ", ".join(map(_tol, tolerances)) for solver, tolerances in WIDE_SOLVERS.items()
)

WIDE_MATCHED_SUITE = Suite(
    name="logistic-wide-matched",
    title="Logistic regression on text and wide data at matched accuracy",
    ours_label="skscratch.LogisticRegressionGD()",
    theirs_label=(
        "sklearn.linear_model.LogisticRegression, the fastest of "
        f"{', '.join(WIDE_SOLVERS)} at the accuracy bar"
    ),
    score_name="test accuracy",
    cases=matched_cases,
    timing_columns=("sklearn solver",),
    notes=(
        "The rows of the two tables above with scikit-learn at its best, chosen as in the "
        "shipped-set table at matched accuracy: each solver at its tolerances, loosest first "
        f"({_LADDERS}; `max_iter={MATCHED_MAX_ITER}`), on one thread, until a fit reaches the "
        f"bar (objective gap at most {_tol(GAP_BAR)}, max |Δ proba| on the held-out rows at "
        f"most {_tol(PROBA_BAR)}); a solver is not tried tighter once it stops at `max_iter` "
        f"or falls short while {CONTENDER_FACTOR:g} times slower than a fit at the bar; the "
        "fastest at the bar is timed against skscratch's defaults. Two differences, forced "
        "by the width: the optimum is not a Newton fit at `tol=1e-12` (it forms the Hessian, "
        "3 GB at 20000 columns, 90 GB for the 5-class tf-idf matrix) but the lowest objective "
        "any fit of the row reached (skscratch's default fit, or any of scikit-learn's, the "
        "tightest of which runs to `tol=1e-10`), and the gaps are measured from it; and "
        "`newton-cholesky` is not tried, for the same reason (`lbfgs` at its default "
        "`tol=1e-4` is the row of the tables above, so its ladder starts at 1e-6; `saga` is "
        "tried at 1e-4 only, and on the text rows only: at 1e-6 it reached the bar on the "
        "binary tf-idf row in thirty times L-BFGS's time there, and on dense wide data each "
        "of its thousands of epochs is a pass over the dense matrix). The "
        "binary tf-idf and wide rows run by default; the hashed and 5-class rows, whose "
        f"solver search takes minutes, with `--full`. C = {C:g}."
    ),
)
