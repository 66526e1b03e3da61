"""MLPClassifierScratch: backpropagation against finite differences, scikit-learn's
MLPClassifier as the oracle for initialization, objective and accuracy, and the
estimator's contract (bad input, failed fits, partial_fit, float32)."""

import warnings

import numpy as np
import pytest
from scipy.special import expit, log_expit, log_softmax
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skscratch import MLPClassifierScratch
from skscratch._network import NetworkProblem, glorot_init
from skscratch._training import DivergenceError

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
OUTPUTS = ["binary", "multiclass", "multilabel"]


def _targets(kind, n, rng):
    if kind == "binary":
        return rng.integers(0, 2, (n, 1)).astype(float), "logistic"
    if kind == "multiclass":
        return np.eye(3)[rng.integers(0, 3, n)], "softmax"
    return rng.integers(0, 2, (n, 3)).astype(float), "logistic"


def _problem(activation, kind, alpha=0.3, weighted=True, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    n, p = 25, 5
    X = rng.standard_normal((n, p)).astype(dtype)
    Y, out = _targets(kind, n, rng)
    sw = rng.uniform(0.2, 3.0, n).astype(dtype) if weighted else None
    units = [p, 4, 3, Y.shape[1]]
    coefs, intercepts = glorot_init(units, activation, np.random.RandomState(seed), dtype)
    problem = NetworkProblem(X, Y.astype(dtype), sw, units, activation, out, alpha)
    return problem, [problem.pack(coefs + intercepts)]


def _objective(problem, params):
    """The objective written out independently with scipy's log-links."""
    L = problem.n_layers
    params = problem.unpack(params[0])
    A = problem.X
    for layer in range(L):
        Z = A @ params[layer] + params[L + layer]
        if layer < L - 1:
            A = {"identity": Z, "logistic": expit(Z), "tanh": np.tanh(Z),
                 "relu": np.maximum(Z, 0)}[problem.activation]
    Y = problem.Y
    if problem.out_activation == "softmax":
        losses = -(Y * log_softmax(Z, axis=1)).sum(axis=1)
    else:
        losses = -(Y * log_expit(Z) + (1 - Y) * log_expit(-Z)).sum(axis=1)
    sw = np.ones(len(Y)) if problem.sw is None else problem.sw
    S = sw.sum()
    penalty = sum(float(np.sum(W * W)) for W in params[:L])
    return float(sw @ losses) / S + problem.alpha / (2 * S) * penalty


# ---------------------------------------------------------------------------
# Backpropagation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_is_the_objective(activation, kind):
    problem, params = _problem(activation, kind)
    loss, _ = problem.loss_grad(params, None)
    assert loss == pytest.approx(_objective(problem, params), rel=1e-13)


@pytest.mark.parametrize("kind", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_matches_central_differences(activation, kind):
    # Central differences have truncation error O(h^2 f''') and rounding
    # error O(eps f / h); h = 1e-5 balances them near 1e-10 relative to the
    # gradient's scale, so 1e-6 leaves room and still catches any wrong term
    # (a missing factor or a transposed product is off by O(1)).
    problem, params = _problem(activation, kind)
    _, grads = problem.loss_grad(params, None)
    grads = [g.copy() for g in grads]
    h = 1e-5
    worst, scale = 0.0, max(float(np.max(np.abs(g))) for g in grads)
    for P, G in zip(params, grads):
        for index in np.ndindex(P.shape):
            saved = P[index]
            P[index] = saved + h
            up = problem.loss_grad(params, None)[0]
            P[index] = saved - h
            down = problem.loss_grad(params, None)[0]
            P[index] = saved
            worst = max(worst, abs((up - down) / (2 * h) - G[index]))
    assert worst <= 1e-6 * scale


def test_relu_inputs_are_away_from_the_kink():
    # The finite-difference test for relu is meaningful only if no
    # pre-activation is within h of 0 (the derivative jumps there).
    problem, params = _problem("relu", "multiclass")
    W1, W2, _, b1, b2, _ = problem.unpack(params[0])
    Z = problem.X @ W1 + b1
    assert np.min(np.abs(Z)) > 1e-3
    Z2 = np.maximum(Z, 0) @ W2 + b2
    assert np.min(np.abs(Z2)) > 1e-3


def test_minibatch_gradient_is_the_batchs_objective():
    problem, params = _problem("tanh", "multiclass")
    idx = np.array([3, 7, 1, 20])
    loss, grads = problem.loss_grad(params, idx)
    sub = NetworkProblem(problem.X[idx], problem.Y[idx], problem.sw[idx], problem.layer_units,
                         "tanh", "softmax", problem.alpha)
    loss_sub, grads_sub = sub.loss_grad(params, None)
    assert loss == pytest.approx(loss_sub, rel=1e-14)
    for g, gs in zip(grads, grads_sub):
        np.testing.assert_allclose(g, gs, rtol=1e-13, atol=1e-15)


def test_float32_problem_computes_in_float32():
    problem, params = _problem("relu", "multiclass", dtype=np.float32)
    loss, grads = problem.loss_grad(params, None)
    assert all(g.dtype == np.float32 for g in grads)
    problem64, params64 = _problem("relu", "multiclass", dtype=np.float64)
    loss64, grads64 = problem64.loss_grad(params64, None)
    assert loss == pytest.approx(loss64, rel=1e-5)
    for g, g64 in zip(grads, grads64):
        np.testing.assert_allclose(g, g64, rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------------------
# scikit-learn's MLPClassifier as the oracle
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_initial_weights_are_scikit_learns(activation):
    # A step of 1e-300 leaves the weights at their initial values, so both
    # fits expose their initialization: the same Glorot draws from the same seed.
    X, y = make_classification(n_samples=60, n_features=6, n_classes=3, n_informative=4,
                               random_state=0)
    kw = dict(hidden_layer_sizes=(7, 5), activation=activation, solver="sgd", momentum=0.0,
              learning_rate_init=1e-300, max_iter=1, random_state=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifierScratch(**kw).fit(X, y)
        theirs = MLPClassifier(**kw).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_training_follows_scikit_learn_step_for_step(solver):
    # Same initialization, same batches (same shuffling stream), same update
    # rules: the two fits differ only by rounding, epoch after epoch.
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(16,), solver=solver, batch_size=32, max_iter=15,
              learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifierScratch(**kw).fit(X, y)
        theirs = MLPClassifier(**kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_parameters_and_defaults_are_scikit_learns():
    ours = MLPClassifierScratch().get_params()
    theirs = MLPClassifier().get_params()
    assert set(ours) == set(theirs) | {"class_weight"}
    for name, value in theirs.items():
        assert ours[name] == value, name
    assert ours["class_weight"] is None


def _twin_fits(X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifierScratch(**kw).fit(X, y), MLPClassifier(**kw).fit(X, y)


@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_learning_rate_schedules_follow_scikit_learn(schedule):
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours, theirs = _twin_fits(X, y, hidden_layer_sizes=(8,), solver="sgd", learning_rate=schedule,
                              learning_rate_init=0.05, batch_size=40, max_iter=60, tol=1e-3,
                              n_iter_no_change=2, nesterovs_momentum=False, random_state=1)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate)


def test_multilabel_training_follows_scikit_learn():
    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    Y = np.column_stack([y, 1 - y, (X[:, 0] > 0).astype(int)])
    ours, theirs = _twin_fits(X, Y, hidden_layer_sizes=(10,), max_iter=20, batch_size=50,
                              learning_rate_init=0.01, random_state=0)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_warm_start_continues_as_scikit_learn_does():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, batch_size=40, learning_rate_init=0.01,
              warm_start=True, random_state=0)
    ours, theirs = MLPClassifierScratch(**kw), MLPClassifier(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            ours.fit(X, y)
            theirs.fit(X, y)
    # n_iter_ counts the last call's epochs; the loss curve and t_ run on
    assert ours.n_iter_ == theirs.n_iter_ == 5 and len(ours.loss_curve_) == 15
    assert ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_input_equals_dense(solver):
    import scipy.sparse as sp

    X, y = load_digits(return_X_y=True)
    X = X[:400] / 16
    y = y[:400]
    kw = dict(hidden_layer_sizes=(12,), solver=solver, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPClassifierScratch(**kw).fit(X, y)
        sparse = MLPClassifierScratch(**kw).fit(sp.csr_matrix(X), y)
    # Sparse and dense products sum in different orders: rounding only.
    # The sparse first layer's gradient is built on the batch's columns and
    # the penalty's term apart (digits' first column is never set, others
    # are absent from some batches): rejects a dropped or doubled penalty
    # there (alpha=1e-4 moves the loss curve by ~1e-6) and rows of X^T delta
    # put back at the wrong columns.
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)),
                               dense.predict_proba(X), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_wide_sparse_input_equals_dense(solver):
    # A first layer larger than one stretch of the optimizers' update (3000
    # x 30 weights: 90000 entries, stretches of 65520): on sparse input its
    # mini-batch gradient is formed stretch by stretch from the batch's
    # columns (RowSparseGradient), on dense input written out whole. The
    # two fits must agree to rounding (the products sum in different
    # orders). Rejects data-term rows added to the wrong stretch or dropped
    # at a stretch's edge, the L2 term left out of the sparse gradient, and
    # a second layer's penalty lost on the sparse path: each moves the loss
    # curve by more than 1e-6 here (alpha=1e-2).
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = sp.random(300, 3000, density=0.01, random_state=1, format="csr")
    y = rng.integers(0, 3, 300)
    y[X[:, :50].sum(axis=1).A1 > 0] = 3  # a class the first columns predict
    kw = dict(hidden_layer_sizes=(30, 7), solver=solver, alpha=1e-2, max_iter=5,
              batch_size=64, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPClassifierScratch(**kw).fit(X.toarray(), y)
        sparse = MLPClassifierScratch(**kw).fit(X, y)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-9)
    for a, b in zip(sparse.coefs_, dense.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)


def _split(X, y, scale):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    if scale:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train, X_test, y_train, y_test


def _article_set():
    return make_classification(n_samples=5000, n_features=20, n_informative=15,
                               n_redundant=3, n_repeated=0, n_classes=2, flip_y=0.05,
                               class_sep=1.0, random_state=42)


ACCURACY_CASES = {
    "digits": (lambda: load_digits(return_X_y=True), False, {}),
    "breast_cancer standardized": (lambda: load_breast_cancer(return_X_y=True), True, {}),
    "wine standardized": (lambda: load_wine(return_X_y=True), True, {}),
    "article (8, 3) logistic": (_article_set, False,
                                dict(hidden_layer_sizes=(8, 3), activation="logistic")),
}


@pytest.mark.parametrize("case", list(ACCURACY_CASES))
def test_test_accuracy_within_a_point_of_scikit_learn(case):
    load, scale, kw = ACCURACY_CASES[case]
    X_train, X_test, y_train, y_test = _split(*load(), scale)
    scores = []
    for cls in (MLPClassifierScratch, MLPClassifier):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores.append(cls(random_state=0, **kw).fit(X_train, y_train).score(X_test, y_test))
    assert abs(scores[0] - scores[1]) <= 0.01, scores


def test_article_set_reaches_the_articles_accuracy():
    # The series reports about 91% test accuracy with hidden layers (8, 3).
    X_train, X_test, y_train, y_test = _split(*_article_set(), scale=False)
    clf = MLPClassifierScratch(hidden_layer_sizes=(8, 3), activation="logistic",
                               max_iter=500, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.89


def test_lbfgs_reaches_scikit_learns_minimum():
    # With identity activations the network computes a linear model, and for
    # a convex loss every local minimum of such a deep linear network is
    # global (Laurent & von Brecht 2018): both L-BFGS fits, from the same
    # start, must reach the same objective value although their paths differ.
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(4,), activation="identity", solver="lbfgs", alpha=1.0,
              max_iter=5000, tol=1e-9, random_state=0)
    ours = MLPClassifierScratch(**kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = MLPClassifier(**kw).fit(X, y)
    # Both stop on scipy's relative-decrease rule, on a valley that is nearly
    # flat (the factorization W1 W2 of the linear weights is not unique), so
    # the objective values agree far more closely than the weights do.
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_lbfgs_respects_max_fun():
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifierScratch(hidden_layer_sizes=(5,), solver="lbfgs", max_fun=25,
                               random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_fun"):
        clf.fit(X, y)
    assert clf._state.n_fun <= 25 + 40  # the last line search may finish its bracket


# ---------------------------------------------------------------------------
# The estimator's contract
# ---------------------------------------------------------------------------


def test_fitted_attributes_mirror_scikit_learns():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(6, 4), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPClassifierScratch(**kw).fit(X, y), MLPClassifier(**kw).fit(X, y)
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_iter_", "t_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert len(ours.loss_curve_) == len(theirs.loss_curve_)
    assert ours.best_loss_ == min(ours.loss_curve_)
    assert ours.validation_scores_ is None and ours.best_validation_score_ is None
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)


def test_binary_and_multilabel_outputs():
    X, y = make_classification(n_samples=200, n_features=8, random_state=0)
    clf = MLPClassifierScratch(hidden_layer_sizes=(10,), solver="lbfgs", random_state=0)
    P = clf.fit(X, y).predict_proba(X)
    assert clf.out_activation_ == "logistic" and P.shape == (200, 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    Y = np.column_stack([y, 1 - y, (X[:, 0] > 0).astype(int)])
    clf.fit(X, Y)
    assert clf.predict(X).shape == (200, 3) and clf.predict_proba(X).shape == (200, 3)
    assert clf.score(X, Y) > 0.8  # subset accuracy


def _output_logits(clf, X):
    """The output layer's logits, by a forward pass written out here from coefs_ and intercepts_."""
    act = {"identity": lambda Z: Z, "logistic": expit, "tanh": np.tanh,
           "relu": lambda Z: np.maximum(Z, 0)}[clf.activation]
    A = np.asarray(X, dtype=np.float64)
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        Z = A @ W.astype(np.float64) + b.astype(np.float64)
        A = act(Z) if i < len(clf.coefs_) - 1 else Z
    return A


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", OUTPUTS)
def test_log_probabilities_come_from_the_logits(kind, dtype):
    # A relu network is positively homogeneous, so inputs scaled by 1e3 give
    # logits 1e3 times larger (up to ~3e5 here): many probabilities round to
    # 1, where log(predict_proba) would be 0. The log-probabilities must be
    # scipy's log_softmax / log_expit of the output logits, recomputed here in
    # float64 by an independent forward pass. Each logit of ours carries the
    # rounding of its dot products, ~ eps |z| (measured 0.7 eps32 max|z| in
    # float32, exact in float64), and a log-probability inherits those
    # absolute errors: 16 eps times the row's largest logit, absolute, plus
    # 16 eps relative. Rejects log(predict_proba) (0 where the exact value is
    # ~ -1e-20), log(1 - p) for the binary model's first class, and a
    # multilabel output given two columns.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    if kind == "multiclass":
        y = np.argmax(X[:, :3], axis=1)
    elif kind == "binary":
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
    else:
        y = (X[:, :3] > 0).astype(int)
    clf = MLPClassifierScratch(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0,
                               max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X.astype(dtype), y)
    X_big = np.vstack([X * 10.0, X * 1e3]).astype(dtype)  # margins below and beyond 745
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L = clf.predict_log_proba(X_big)
        P = clf.predict_proba(X_big)
    Z = _output_logits(clf, X_big)
    if kind == "multiclass":
        expected = log_softmax(Z, axis=1)
    elif kind == "binary":
        expected = np.hstack([log_expit(-Z), log_expit(Z)])
    else:
        expected = log_expit(Z)
    assert L.dtype == dtype and L.shape == P.shape == expected.shape
    # Where predict_proba is 0 (below the smallest float) the log is -inf, as
    # scikit-learn's checks require log(predict_proba) there; everywhere else
    # finite, including where predict_proba rounds to exactly 1 and
    # log(predict_proba) would say 0.
    representable = P > 0
    assert np.all(np.isneginf(L[~representable]))
    assert np.all(np.isfinite(L[representable]))
    if kind != "multiclass":  # (scipy's log_softmax itself rounds log(1 + tiny) to 0)
        assert np.any((P == 1) & (expected < 0))
    eps = np.finfo(dtype).eps
    bound = 16 * eps * (np.abs(Z).max(axis=1, keepdims=True) + np.abs(expected))
    assert np.all((np.abs(L - expected) <= bound)[representable])


def test_early_stopping_restores_the_best_weights():
    # Same seed: scikit-learn holds out the same rows, trains on the same
    # batches and keeps the same best epoch; the restored weights agree.
    X, y = load_digits(return_X_y=True)
    kw = dict(hidden_layer_sizes=(30,), early_stopping=True, n_iter_no_change=3,
              max_iter=100, random_state=0)
    ours, theirs = MLPClassifierScratch(**kw).fit(X, y), MLPClassifier(**kw).fit(X, y)
    assert ours.best_loss_ is None
    assert ours.best_validation_score_ == max(ours.validation_scores_)
    assert len(ours.validation_scores_) == ours.n_iter_ < 100
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_divergence_is_reported_and_the_model_kept():
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifierScratch(hidden_layer_sizes=(20,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    coefs = [c.copy() for c in clf.coefs_]
    clf.set_params(solver="sgd", learning_rate_init=1e8, momentum=0.99, warm_start=True)
    with pytest.raises(DivergenceError, match="learning_rate_init"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            clf.fit(X, y)
    for a, b in zip(clf.coefs_, coefs):
        np.testing.assert_array_equal(a, b)


def test_class_weight_is_sample_weight():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(5,), solver="lbfgs", random_state=0, max_iter=50)
    weights = {0: 2.0, 1: 0.5, 2: 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifierScratch(class_weight=weights, **kw).fit(X, y)
        b = MLPClassifierScratch(**kw).fit(X, y, sample_weight=np.vectorize(weights.get)(y))
    for u, v in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(u, v)


def test_integer_weights_equal_repeated_rows():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:120]
    y = y[:120]
    w = np.random.default_rng(0).integers(1, 3, len(y))
    kw = dict(hidden_layer_sizes=(5,), solver="lbfgs", random_state=0, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifierScratch(**kw).fit(X, y, sample_weight=w)
        b = MLPClassifierScratch(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    for u, v in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-8)


def test_float32_end_to_end():
    X, y = load_digits(return_X_y=True)
    X32 = (X / 16).astype(np.float32)
    kw = dict(hidden_layer_sizes=(20,), max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifierScratch(**kw).fit(X32, y)
        clf64 = MLPClassifierScratch(**kw).fit(X32.astype(np.float64), y)
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    assert abs(clf.score(X32, y) - clf64.score(X32, y)) < 0.01


def test_partial_fit():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(10,), batch_size=50, random_state=0)
    clf, twin = MLPClassifierScratch(**kw), MLPClassifier(**kw)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    for _ in range(30):
        clf.partial_fit(X, y, classes=[0, 1, 2])
        twin.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == twin.n_iter_ == 1 and clf.t_ == twin.t_ == 30 * len(y)
    # Each call re-seeds the shuffling from random_state, as scikit-learn's does.
    np.testing.assert_allclose(clf.loss_curve_, twin.loss_curve_, rtol=1e-9)
    assert clf.score(X, y) > 0.9
    coefs = [c.copy() for c in clf.coefs_]
    with pytest.raises(ValueError, match=r"not in classes"):
        clf.partial_fit(X, np.where(y == 2, 7, y))
    for a, b in zip(clf.coefs_, coefs):
        np.testing.assert_array_equal(a, b)
    assert not hasattr(MLPClassifierScratch(solver="lbfgs"), "partial_fit")


@pytest.mark.parametrize("fitted_by", ["partial_fit", "fit"])
def test_partial_fit_refuses_other_classes_as_scikit_learn_does(fitted_by):
    # The classes are fixed by the first call (or by fit); a later call may
    # omit them or repeat them (in any order), but different ones raise
    # scikit-learn's ValueError, word for word, and leave the model as it was.
    X, y = load_wine(return_X_y=True)
    kw = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    ours, twin = MLPClassifierScratch(**kw), MLPClassifier(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (ours, twin):
            if fitted_by == "fit":
                est.fit(X, y)
            else:
                est.partial_fit(X, y, classes=[0, 1, 2])
    coefs = [c.copy() for c in ours.coefs_]
    messages = []
    for est in (ours, twin):
        with pytest.raises(ValueError, match="is not the same as on last call") as exc:
            est.partial_fit(X, np.minimum(y, 1), classes=[0, 1])
        messages.append(str(exc.value))
    assert messages[0] == messages[1]
    for a, b in zip(ours.coefs_, coefs):
        np.testing.assert_array_equal(a, b)
    ours.partial_fit(X, y, classes=[2, 0, 1])
    ours.partial_fit(X, y)


def test_partial_fit_after_another_solver():
    # A model fitted by L-BFGS, then switched to Adam, trains on from its weights.
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifierScratch(hidden_layer_sizes=(5,), solver="lbfgs", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    before = clf.score(X, y)
    clf.set_params(solver="adam").partial_fit(X, y)
    assert clf.n_iter_ == 1 and clf.score(X, y) >= before - 0.05


def test_verbose_prints_each_epoch(capsys):
    X, y = load_wine(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifierScratch(hidden_layer_sizes=(4,), max_iter=3, verbose=True,
                             early_stopping=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("Iteration") == 3 and out.count("Validation score") == 3


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.ones((10, 2)), np.linspace(0, 1, 10), "continuous"),
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), [0, 1], "NaN"),
        (np.ones((3, 2)), [0, 1], "inconsistent"),
    ],
)
def test_bad_input(X, y, match):
    with pytest.raises(ValueError, match=match):
        MLPClassifierScratch().fit(X, y)


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        MLPClassifierScratch().predict(np.ones((2, 2)))
