"""scikit-learn's callback API (``sklearn.callback``, scikit-learn >= 1.9) on both classifiers.

Oracles: the estimator itself fitted with ``max_iter=n`` (a deterministic
solver after n iterations is the same model whether it stopped by its budget
or was watched on the way), and scikit-learn's own ``ScoringMonitor``,
``ProgressBar``, ``Pipeline`` and ``GridSearchCV``.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skscratch import LogisticRegressionGD, MLPClassifierScratch

callback = pytest.importorskip("sklearn.callback")

X, Y = load_iris(return_X_y=True)


class Recorder:
    """A FitCallback that records every hook, and may ask to stop after an iteration."""

    def __init__(self, stop_after=None):
        self.events, self.models, self.stop_after = [], [], stop_after

    def setup(self, estimator, context):
        self.events.append("setup")

    def teardown(self, estimator, context):
        self.events.append("teardown")

    def on_fit_task_begin(self, estimator, context, *, X=None, fitted_estimator=None):
        self.events.append(("begin", context.task_name, context.task_id))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.events.append(("end", context.task_name, context.task_id))
        if context.task_name in ("iteration", "epoch") and fitted_estimator is not None:
            self.models.append(fitted_estimator)
            return self.stop_after is not None and len(self.models) >= self.stop_after
        return False


def _coef(est):
    return est.coef_ if hasattr(est, "coef_") else np.concatenate(
        [c.ravel() for c in est.coefs_ + est.intercepts_])


CASES = [
    (LogisticRegressionGD, dict(solver="gd")),
    (LogisticRegressionGD, dict(solver="gd", metric="diagonal", l1_ratio=0.5)),
    (LogisticRegressionGD, dict(solver="sgd", random_state=0)),
    (MLPClassifierScratch, dict(solver="lbfgs", hidden_layer_sizes=(5,), random_state=0)),
    (MLPClassifierScratch, dict(solver="adam", hidden_layer_sizes=(5,), random_state=0)),
]


@pytest.mark.parametrize("cls, params", CASES, ids=lambda c: str(c))
def test_one_task_per_iteration_with_the_model_of_that_iteration(cls, params):
    # The fit is a task with one subtask per iteration (or epoch), each
    # opened and closed in order, the last one left open by the solver closed
    # empty, setup first and teardown last. The fitted_estimator handed to
    # the n-th iteration's end is the model after n iterations: the same as
    # a fit with max_iter=n (exactly: same solver, same data, same start).
    # Rejects hooks out of order, a missing close, and a model taken at the
    # start of the iteration instead of its end.
    rec = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = cls(max_iter=6, **params).set_callbacks(rec).fit(X, Y)
        reference = cls(max_iter=3, **params).fit(X, Y)
    n = est.n_iter_[0] if np.ndim(est.n_iter_) else est.n_iter_
    kind = rec.events[2][1]
    assert rec.events[:3] == ["setup", ("begin", "fit", 0), ("begin", kind, 0)]
    assert rec.events[-2:] == [("end", "fit", 0), "teardown"]
    inner = rec.events[2:-2]
    expected = []
    for i in range(n + 1):
        expected += [("begin", kind, i), ("end", kind, i)]
    assert inner == expected
    assert len(rec.models) == n
    np.testing.assert_allclose(_coef(rec.models[2]), _coef(reference), rtol=1e-12, atol=1e-14)
    assert not hasattr(est, "_callback_fit_ctx")  # torn down


@pytest.mark.parametrize("cls, params", CASES, ids=lambda c: str(c))
def test_a_callback_can_stop_the_fit(cls, params):
    # on_fit_task_end returning True stops the training after that
    # iteration, as the protocol says: n_iter_ is 2, the model is the one of
    # max_iter=2, and stopping on request is not a convergence failure (no
    # ConvergenceWarning from a fit that would otherwise run 50 iterations).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = cls(max_iter=2, **params).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = cls(max_iter=50, **params).set_callbacks(Recorder(stop_after=2)).fit(X, Y)
    n = est.n_iter_[0] if np.ndim(est.n_iter_) else est.n_iter_
    assert n == 2
    np.testing.assert_allclose(_coef(est), _coef(reference), rtol=1e-12, atol=1e-14)


def test_scoring_monitor_logs_each_iteration():
    # ScoringMonitor scores the model of every iteration on the training
    # data: one row per iteration, and the last row is the fitted model's
    # score.
    monitor = callback.ScoringMonitor(scoring="accuracy")
    est = LogisticRegressionGD().set_callbacks(monitor).fit(X, Y)
    log = monitor.get_logs().data
    scores = [row["accuracy"] for row in log if row["task_name"] == "iteration"]
    assert len(scores) == est.n_iter_[0]
    assert scores[-1] == pytest.approx(est.score(X, Y))


class RowsSeen:
    """A FitCallback that records how many rows of X, y and sample_weight each epoch is given."""

    def __init__(self):
        self.rows = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, *, X=None):
        pass

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None):
        if context.task_name == "epoch" and X is not None:  # not the empty last one
            sw = (metadata or {}).get("sample_weight")
            self.rows.append((len(X), len(y), len(sw)))
        return False


@pytest.mark.parametrize("cls, params", [
    (LogisticRegressionGD, dict(solver="sgd")),
    (MLPClassifierScratch, dict(solver="adam", hidden_layer_sizes=(5,))),
], ids=lambda c: str(c))
def test_early_stopping_hands_callbacks_the_training_rows(cls, params):
    # With early stopping the fit trains on the rows left after the
    # hold-out: X, y and the weights a callback gets are those rows, so that
    # a ScoringMonitor can score the model on them. Rejects handing the
    # callbacks the training X with the unsplit y (150 labels for 135 rows):
    # scoring then raises on the inconsistent lengths.
    w = np.linspace(0.5, 2.0, len(Y))
    seen, monitor = RowsSeen(), callback.ScoringMonitor(scoring="accuracy")
    est = cls(early_stopping=True, max_iter=3, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_callbacks(seen, monitor).fit(X, Y, sample_weight=w)
    n_train = len(Y) - int(np.ceil(0.1 * len(Y)))  # validation_fraction=0.1 held out
    assert seen.rows == [(n_train, n_train, n_train)] * 3
    scores = [row["accuracy"] for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    assert len(scores) == 3


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_callbacks_inside_pipeline_and_grid_search(n_jobs):
    # Nested in scikit-learn's meta-estimators: a ScoringMonitor set on the
    # classifier logs the iterations of every fit of a grid search over a
    # pipeline, in worker processes too: one run (the search's), in which
    # the iterations hang under 2 values of C x 3 folds + the refit = 7
    # distinct fits. A ProgressBar on the outer search propagates down
    # without error.
    monitor = callback.ScoringMonitor(scoring="accuracy")
    pipe = make_pipeline(StandardScaler(), LogisticRegressionGD().set_callbacks(monitor))
    search = GridSearchCV(pipe, {"logisticregressiongd__C": [0.1, 1.0]}, cv=3, n_jobs=n_jobs)
    search.fit(X, Y)
    (run,) = monitor.get_logs(select="all")
    fits = {row["parent_task_id_path"] for row in run.data if row["task_name"] == "iteration"}
    assert len(fits) == 7
    pytest.importorskip("rich")
    search.set_callbacks(callback.ProgressBar()).fit(X, Y)
    assert search.best_estimator_.score(X, Y) > 0.9
