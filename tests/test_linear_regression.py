"""LinearRegressionOLS against scipy's lstsq and scikit-learn's LinearRegression.

Tolerances: u = 2.2e-16. A backward-stable least-squares solver has relative
forward error about kappa(X) * u for consistent data, so on designs with
kappa <= 1e3 an agreement of 1e-10 keeps a margin of a few hundred.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

import skscratch._base
from skscratch import LinearRegressionOLS

SOLVERS = ["auto", "householder"]


def _rel(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(float).tiny)


def _oracle(X, y, sample_weight=None, fit_intercept=True):
    """Weighted least squares by scipy's LAPACK lstsq on centred, scaled data."""
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    if fit_intercept:
        x_mean = w @ X / w.sum()
        y_mean = w @ y / w.sum()
    else:
        x_mean, y_mean = np.zeros(X.shape[1]), np.zeros(y.shape[1:])
    sw = np.sqrt(w)
    Xs = (X - x_mean) * sw[:, None]
    ys = (y - y_mean) * (sw if y.ndim == 1 else sw[:, None])
    coef = scipy.linalg.lstsq(Xs, ys)[0]
    return coef.T, y_mean - x_mean @ coef


def _design(n, p, cond, rng):
    """X = U diag(s) V^T with singular values logspaced from 1 down to 1/cond."""
    U = scipy.linalg.qr(rng.standard_normal((n, p)), mode="economic")[0]
    V = scipy.linalg.qr(rng.standard_normal((p, p)))[0]
    return (U * np.logspace(0, -np.log10(cond), p)) @ V.T


# --------------------------------------------------------------------------
# Accuracy
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(200, 10), (1000, 60), (130, 97), (3000, 3)])
def test_matches_lstsq_on_well_conditioned(solver, fit_intercept, shape):
    rng = np.random.default_rng(0)
    n, p = shape
    # Features with means and scales far from 0 and 1: centring matters.
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 20, p) + rng.uniform(-50, 50, p)
    y = X @ rng.standard_normal(p) + 3.0 + rng.standard_normal(n)
    reg = LinearRegressionOLS(fit_intercept=fit_intercept, solver=solver).fit(X, y)
    coef, intercept = _oracle(X, y, fit_intercept=fit_intercept)
    assert reg.coef_.shape == (p,)
    assert _rel(reg.coef_, coef) < 1e-10
    assert abs(reg.intercept_ - intercept) < 1e-10 * max(1.0, abs(intercept))
    assert reg.rank_ == p


def test_auto_takes_the_fast_path_when_it_is_safe():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 20))
    y = rng.standard_normal(500)
    assert LinearRegressionOLS().fit(X, y).solver_ == "seminormal"
    assert LinearRegressionOLS(solver="householder").fit(X, y).solver_ == "householder"


@pytest.mark.parametrize("seed", range(8))
def test_ill_conditioned_error_within_10x_of_lstsq(seed):
    # Condition number 1e10, consistent y: the error of any backward-stable
    # method is about kappa * u ~ 1e-6 times a constant. The bar is LAPACK's
    # own error on the same data, times 10.
    rng = np.random.default_rng(seed)
    X = _design(200, 20, 1e10, rng)
    theta = rng.standard_normal(20)
    y = X @ theta
    reg = LinearRegressionOLS(fit_intercept=False).fit(X, y)
    ours = np.linalg.norm(reg.coef_ - theta) / np.linalg.norm(theta)
    theirs = np.linalg.norm(scipy.linalg.lstsq(X, y)[0] - theta) / np.linalg.norm(theta)
    assert reg.solver_ == "householder"  # CholeskyQR2 must refuse this case
    assert reg.rank_ == 20
    assert ours <= 10 * theirs


def test_normal_equations_fail_on_the_same_case():
    # Forming X^T X squares the condition number (1e20 > 1/u): the normal
    # equations lose every digit where QR keeps about six.
    rng = np.random.default_rng(0)
    X = _design(200, 20, 1e10, rng)
    theta = rng.standard_normal(20)
    y = X @ theta
    normal = np.linalg.solve(X.T @ X, X.T @ y)
    qr = LinearRegressionOLS(fit_intercept=False).fit(X, y).coef_
    err = lambda t: np.linalg.norm(t - theta) / np.linalg.norm(theta)  # noqa: E731
    assert err(normal) > 1e-2
    assert err(qr) < 1e-5


@pytest.mark.parametrize("solver", SOLVERS)
def test_multi_target(solver):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 8))
    Y = X @ rng.standard_normal((8, 3)) + rng.standard_normal((300, 3))
    reg = LinearRegressionOLS(solver=solver).fit(X, Y)
    coef, intercept = _oracle(X, Y)
    assert reg.coef_.shape == (3, 8)
    assert reg.intercept_.shape == (3,)
    assert _rel(reg.coef_, coef) < 1e-10
    np.testing.assert_allclose(reg.intercept_, intercept, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reg.predict(X), X @ coef.T + intercept, rtol=1e-10, atol=1e-10)
    # A single column y stays 2-D, as in scikit-learn.
    reg1 = LinearRegressionOLS(solver=solver).fit(X, Y[:, :1])
    assert reg1.coef_.shape == (1, 8)
    assert reg1.predict(X).shape == (300, 1)


def test_diabetes_matches_sklearn():
    X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    ours = LinearRegressionOLS().fit(X_tr, y_tr)
    theirs = LinearRegression().fit(X_tr, y_tr)
    assert _rel(ours.coef_, theirs.coef_) < 1e-10
    assert abs(ours.score(X_te, y_te) - theirs.score(X_te, y_te)) < 1e-12


# --------------------------------------------------------------------------
# Rank deficiency: the minimum-norm solution, as scikit-learn returns
# --------------------------------------------------------------------------


def _rank_deficient_cases():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((60, 4))
    return {
        "duplicate_columns": np.c_[base, base[:, 1], base[:, 1]],
        "scaled_copy": np.c_[base, 3.0 * base[:, 0]],
        "constant_column": np.c_[base, np.full(60, 7.0)],
        "zero_column": np.c_[np.zeros(60), base],
        "low_rank": rng.standard_normal((60, 3)) @ rng.standard_normal((3, 9)),
        "wide": rng.standard_normal((10, 25)),
        "single_sample": rng.standard_normal((1, 5)),
        "all_zero": np.zeros((20, 4)),
    }


@pytest.mark.parametrize("name", list(_rank_deficient_cases()))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("solver", SOLVERS)
def test_rank_deficient_minimum_norm(name, fit_intercept, solver):
    X = _rank_deficient_cases()[name]
    rng = np.random.default_rng(4)
    y = rng.standard_normal(X.shape[0]) + 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning noise, no NaN arithmetic
        reg = LinearRegressionOLS(fit_intercept=fit_intercept, solver=solver).fit(X, y)
    theirs = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    Xc = X - X.mean(axis=0) if fit_intercept else X
    pinv_coef = np.linalg.pinv(Xc) @ (y - y.mean() if fit_intercept else y)
    assert np.all(np.isfinite(reg.coef_))
    # Minimum-norm solutions are unique and continuous in the data when the
    # rank gap is wide (here exact zeros vs O(1)): agreement to 1e-10.
    scale = max(1.0, np.max(np.abs(pinv_coef)))
    assert np.max(np.abs(reg.coef_ - pinv_coef)) < 1e-10 * scale
    assert np.max(np.abs(reg.coef_ - theirs.coef_)) < 1e-10 * scale
    assert abs(reg.intercept_ - theirs.intercept_) < 1e-10 * max(1.0, abs(theirs.intercept_))
    assert reg.rank_ == np.linalg.matrix_rank(Xc)


def test_weighted_wide_problem_of_the_check_suite():
    # scikit-learn's check suite fits a 15 x 30 problem with sample weights.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((15, 30))
    y = rng.standard_normal(15)
    w = rng.uniform(0.1, 3.0, 15)
    ours = LinearRegressionOLS().fit(X, y, sample_weight=w)
    theirs = LinearRegression().fit(X, y, sample_weight=w)
    assert ours.rank_ == 14  # centring removes one dimension
    assert _rel(ours.coef_, theirs.coef_) < 1e-10
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)


# --------------------------------------------------------------------------
# Sample weights
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sample_weight_matches_weighted_lstsq(solver, fit_intercept):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((150, 6)) + 4.0
    y = X @ rng.standard_normal(6) + rng.standard_normal(150)
    w = rng.uniform(0.0, 5.0, 150)
    reg = LinearRegressionOLS(fit_intercept=fit_intercept, solver=solver).fit(X, y, sample_weight=w)
    coef, intercept = _oracle(X, y, w, fit_intercept)
    assert _rel(reg.coef_, coef) < 1e-10
    assert abs(reg.intercept_ - intercept) < 1e-10 * max(1.0, abs(intercept))


@pytest.mark.parametrize("solver", SOLVERS)
def test_integer_weights_equal_repeated_rows(solver):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 5))
    y = rng.standard_normal(40)
    w = rng.integers(1, 4, 40)
    weighted = LinearRegressionOLS(solver=solver).fit(X, y, sample_weight=w)
    repeated = LinearRegressionOLS(solver=solver).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_zero_weights_equal_dropped_rows(solver):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((40, 5))
    y = rng.standard_normal(40)
    w = np.ones(40)
    w[::3] = 0.0
    # The dropped rows carry wild values: they must not leak in.
    X[::3] *= 1e6
    y[::3] = -1e6
    weighted = LinearRegressionOLS(solver=solver).fit(X, y, sample_weight=w)
    dropped = LinearRegressionOLS(solver=solver).fit(X[w > 0], y[w > 0])
    np.testing.assert_allclose(weighted.coef_, dropped.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weighted.intercept_, dropped.intercept_, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# Input types
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_equals_dense(fmt, fit_intercept):
    rng = np.random.default_rng(9)
    X = sp.random(200, 15, density=0.3, format=fmt, random_state=0)
    y = rng.standard_normal(200)
    sparse = LinearRegressionOLS(fit_intercept=fit_intercept).fit(X, y)
    dense = LinearRegressionOLS(fit_intercept=fit_intercept).fit(X.toarray(), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X.toarray()), rtol=1e-12)


def test_sparse_too_large_to_densify_names_the_size(monkeypatch):
    # Only the reference Householder path densifies sparse X (auto never does).
    monkeypatch.setattr(skscratch._base, "_available_memory_bytes", lambda: 10_000)
    X = sp.random(1000, 50, density=0.01, format="csr", random_state=0)
    with pytest.raises(ValueError, match=r"shape \(1000, 50\).*GiB"):
        LinearRegressionOLS(solver="householder").fit(X, np.ones(1000))
    assert LinearRegressionOLS().fit(X, np.ones(1000)).solver_ != "householder"


def test_float32_stays_float32():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((100, 4)).astype(np.float32)
    y = (X @ np.arange(1, 5) + 1).astype(np.float32)
    reg = LinearRegressionOLS().fit(X, y)
    assert reg.coef_.dtype == np.float32
    assert reg.predict(X).dtype == np.float32
    # Computed in float64, so the float32 result is the float64 one rounded.
    ref = LinearRegressionOLS().fit(X.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_inputs_are_not_modified(fit_intercept, dtype):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((50, 4)).astype(dtype)
    y = rng.standard_normal(50).astype(dtype)
    w = rng.uniform(0.5, 2.0, 50)
    copies = X.copy(), y.copy(), w.copy()
    for solver in SOLVERS:
        LinearRegressionOLS(fit_intercept=fit_intercept, solver=solver).fit(X, y, sample_weight=w)
    for before, after in zip(copies, (X, y, w)):
        np.testing.assert_array_equal(before, after)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------

_rng = np.random.default_rng(12)
_X = _rng.standard_normal((20, 3))
_y = _rng.standard_normal(20)


def _with(value, where=(0, 0)):
    X = _X.copy()
    X[where] = value
    return X


@pytest.mark.parametrize(
    "X, y, kwargs, match",
    [
        (_with(np.nan), _y, {}, "NaN"),
        (_with(np.inf), _y, {}, "infinity"),
        (_X, np.r_[_y[:-1], np.nan], {}, "NaN"),
        (np.array([["a", "b"], ["c", "d"]]), [1.0, 2.0], {}, "convert|string"),
        (_X + 1j, _y, {}, "[Cc]omplex"),
        (_X.reshape(20, 3, 1), _y, {}, "dim 3"),
        (np.empty((0, 3)), np.empty(0), {}, "0 sample"),
        (np.empty((5, 0)), np.ones(5), {}, "0 feature"),
        (_X, _y[:-1], {}, "inconsistent numbers of samples"),
        (_X, _y, {"sample_weight": -np.ones(20)}, "[Nn]egative"),
        (_X, _y, {"sample_weight": np.zeros(20)}, "non-zero"),
        (_X, _y, {"sample_weight": np.ones(19)}, "sample_weight"),
    ],
)
def test_bad_input_raises_clear_value_error(X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        LinearRegressionOLS().fit(X, y, **kwargs)


@pytest.mark.parametrize("params", [{"solver": "qr"}, {"tol": -1.0}, {"tol": 1.5}, {"fit_intercept": "yes"}])
def test_bad_parameters_raise(params):
    with pytest.raises(ValueError, match="parameter"):
        LinearRegressionOLS(**params).fit(_X, _y)


def test_predict_before_fit_and_with_wrong_width():
    with pytest.raises(NotFittedError):
        LinearRegressionOLS().predict(_X)
    reg = LinearRegressionOLS().fit(_X, _y)
    with pytest.raises(ValueError, match="3 features"):
        reg.predict(_X[:, :2])


def test_failed_fit_leaves_fitted_model_as_it_was():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(_X, columns=["a", "b", "c"])
    reg = LinearRegressionOLS().fit(frame, _y)
    before = {k: v for k, v in vars(reg).items() if k.endswith("_")}
    bad = np.c_[_X, _X]
    bad[3, 4] = np.nan
    with pytest.raises(ValueError):
        reg.fit(bad, _y)  # different width, no names, and NaN
    with pytest.raises(ValueError):
        reg.fit(_X, _y, sample_weight=-np.ones(20))
    after = {k: v for k, v in vars(reg).items() if k.endswith("_")}
    assert after.keys() == before.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])
    np.testing.assert_array_equal(reg.predict(frame), LinearRegressionOLS().fit(frame, _y).predict(frame))


def test_make_regression_recovers_coefficients():
    # A noiseless make_regression problem has an exact answer.
    X, y, coef = make_regression(n_samples=500, n_features=30, noise=0.0, coef=True, random_state=0)
    reg = LinearRegressionOLS().fit(X, y)
    assert _rel(reg.coef_, coef) < 1e-12
    assert abs(reg.intercept_) < 1e-10


def test_tol_cuts_like_sklearn_across_a_spectral_gap():
    # scikit-learn >= 1.9 drops singular values below tol=1e-6 of the largest.
    # Across a clear gap (1e-2 ... 1e-9) the pivoted-QR cutoff lands in the
    # same place, so tol=1e-6 reproduces scikit-learn's default answer, while
    # the default tol keeps the small directions, as scipy's lstsq does.
    rng = np.random.default_rng(13)
    n, p = 100, 8
    U = scipy.linalg.qr(rng.standard_normal((n, p)), mode="economic")[0]
    V = scipy.linalg.qr(rng.standard_normal((p, p)))[0]
    s = np.r_[np.logspace(0, -2, 5), np.logspace(-9, -10, 3)]
    X = (U * s) @ V.T
    y = rng.standard_normal(n)
    cut = LinearRegressionOLS(fit_intercept=False, tol=1e-6).fit(X, y)
    theirs = LinearRegression(fit_intercept=False).fit(X, y)
    assert cut.rank_ == theirs.rank_ == 5
    # The two truncations (R22 := 0 vs small singular values := 0) differ by
    # about (s_6 / s_5) * kappa(kept part) = 1e-7 * 1e2 relative.
    assert _rel(cut.coef_, theirs.coef_) < 1e-5
    full = LinearRegressionOLS(fit_intercept=False).fit(X, y)
    assert full.rank_ == 8
    # Relative to lstsq's own (large, kappa ~ 1e10) solution: ~ kappa u.
    assert _rel(full.coef_, scipy.linalg.lstsq(X, y)[0]) < 1e-5


# --------------------------------------------------------------------------
# Collinear and rank-deficient dense designs: the fast Gram path
# --------------------------------------------------------------------------


def _gelsd(X, y, w=None):
    """Minimum-norm weighted least squares by gelsd with numpy's rank cutoff max(n, p) eps.

    scipy's default cutoff (eps) keeps the rounding left in centred one-hot
    blocks as signal and returns coefficients ~1e13.
    """
    w = np.ones(X.shape[0]) if w is None else w
    xm, ym = w @ X / w.sum(), w @ y / w.sum()
    sw = np.sqrt(w)
    cond = max(X.shape) * np.finfo(float).eps
    coef = scipy.linalg.lstsq((X - xm) * sw[:, None], (y - ym) * sw, cond=cond)[0]
    return coef, ym - xm @ coef


def _one_hot_dense(n, levels, rng):
    cols = []
    for m in levels:
        z = rng.integers(0, m, n)
        cols.append(np.eye(m)[z])
    return np.hstack(cols)


def _collinear_designs():
    rng = np.random.default_rng(20)
    base = rng.standard_normal((400, 6))
    from sklearn.preprocessing import PolynomialFeatures

    poly = PolynomialFeatures(degree=3, include_bias=True).fit_transform(rng.uniform(0, 1, (400, 3)))
    return {
        "one_hot_blocks": _one_hot_dense(400, [3, 5, 8], rng),
        "one_hot_and_numeric": np.c_[_one_hot_dense(400, [4, 6], rng), base[:, :3] * 10 + 5],
        "duplicated_columns": np.c_[base, base[:, [0, 3]], 2.5 * base[:, 5]],
        "polynomial_with_bias": poly,
    }


@pytest.mark.parametrize("name", list(_collinear_designs()))
@pytest.mark.parametrize("weighted", [False, True])
def test_collinear_designs_fast_path_minimum_norm(name, weighted):
    # The Gram path (gram_cod) on exactly rank-deficient designs must return
    # gelsd's minimum-norm answer to 1e-10 (the kept part has kappa <= 1e3,
    # so both are within ~1e-13 of the exact one) and the same rank.
    # Rejects a basic solution (no null-space projection: O(1) differences
    # per block) and a rank decision from the Gram pivots alone.
    X = _collinear_designs()[name]
    rng = np.random.default_rng(21)
    y = X @ rng.standard_normal(X.shape[1]) + rng.standard_normal(X.shape[0])
    w = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    reg = LinearRegressionOLS().fit(X, y, sample_weight=w)
    coef, intercept = _gelsd(X, y, w)
    assert reg.solver_ == "gram_cod"
    xm = (np.ones(len(y)) if w is None else w) @ X / (len(y) if w is None else w.sum())
    assert reg.rank_ == np.linalg.matrix_rank(X - xm)
    assert _rel(reg.coef_, coef) < 1e-10
    assert abs(reg.intercept_ - intercept) < 1e-10 * max(1.0, abs(intercept))
    assert np.linalg.norm(reg.coef_) <= np.linalg.norm(coef) * (1 + 1e-12)
    ref = LinearRegressionOLS(solver="householder").fit(X, y, sample_weight=w)
    assert _rel(reg.coef_, ref.coef_) < 1e-10


def test_near_collinear_full_rank_keeps_qr_accuracy():
    # A column equal to another plus 1e-4 noise: full rank with kappa ~1e4-1e5.
    # The answer must stay within 10x gelsd's own error from the truth.
    rng = np.random.default_rng(22)
    base = rng.standard_normal((300, 5))
    X = np.c_[base, base[:, 0] + 1e-4 * rng.standard_normal(300)]
    theta = rng.standard_normal(6)
    y = X @ theta + 1.0
    reg = LinearRegressionOLS().fit(X, y)
    ours = np.linalg.norm(reg.coef_ - theta) / np.linalg.norm(theta)
    theirs = np.linalg.norm(_gelsd(X, y)[0] - theta) / np.linalg.norm(theta)
    assert reg.rank_ == 6
    assert ours <= 10 * max(theirs, 1e-15)


def test_gram_path_refuses_an_uncertified_rank():
    # A column at relative distance 1e-9 from the span of the others: below
    # what the Gram matrix resolves (sqrt(u) ~ 1e-8) but far above the rank
    # cutoff (max(n, p) u ~ 1e-13). The Gram path must not drop it; the
    # answer keeps full rank, as gelsd does.
    rng = np.random.default_rng(23)
    base = rng.standard_normal((300, 5))
    X = np.c_[base, base[:, 1] + 1e-9 * rng.standard_normal(300)]
    y = rng.standard_normal(300)
    reg = LinearRegressionOLS().fit(X, y)
    assert reg.rank_ == 6 and reg.solver_ == "householder"
    coef, _ = _gelsd(X, y)
    # kappa ~ 1e9: both errors ~ kappa u ~ 1e-7 relative.
    assert _rel(reg.coef_, coef) < 1e-5


# --------------------------------------------------------------------------
# The twin's signature: copy_X, n_jobs, positive
# --------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_copy_x_false_centres_in_place_with_the_same_answer(weighted):
    rng = np.random.default_rng(24)
    X = rng.standard_normal((100, 4)) + 7.0
    y = rng.standard_normal(100)
    w = rng.uniform(0.5, 2.0, 100) if weighted else None
    X0 = X.copy()
    kept = LinearRegressionOLS().fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(X, X0)  # copy_X=True: untouched
    overwritten = LinearRegressionOLS(copy_X=False).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(overwritten.coef_, kept.coef_, rtol=1e-13)
    wm = X0.mean(0) if w is None else w @ X0 / w.sum()
    expected = (X0 - wm) * (1.0 if w is None else np.sqrt(w)[:, None])
    np.testing.assert_allclose(X, expected, rtol=1e-13, atol=1e-13)  # centred (and weighted) in place


def test_copy_x_false_never_touches_other_dtypes_or_y():
    rng = np.random.default_rng(25)
    X = (rng.standard_normal((60, 3)) + 2).astype(np.float32)
    y = rng.standard_normal(60)
    X0, y0 = X.copy(), y.copy()
    LinearRegressionOLS(copy_X=False).fit(X, y)
    np.testing.assert_array_equal(X, X0)  # float32 is converted: a copy
    np.testing.assert_array_equal(y, y0)


def test_parameter_grid_written_for_linear_regression_runs_unchanged():
    from sklearn.model_selection import GridSearchCV

    rng = np.random.default_rng(26)
    X = rng.standard_normal((80, 3))
    y = X @ [1.0, 2.0, 0.5] + rng.standard_normal(80)
    grid = {"fit_intercept": [True, False], "copy_X": [True, False], "positive": [True, False],
            "n_jobs": [None, 2], "tol": [1e-6]}
    ours = GridSearchCV(LinearRegressionOLS(), grid, cv=3).fit(X, y)
    theirs = GridSearchCV(LinearRegression(), grid, cv=3).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=1e-8)
    assert set(LinearRegression().get_params()) <= set(LinearRegressionOLS().get_params())


def test_dense_lsmr_solver_matches_exact():
    rng = np.random.default_rng(27)
    X = rng.standard_normal((300, 10))
    y = X @ rng.standard_normal(10) + 0.01 * rng.standard_normal(300)
    reg = LinearRegressionOLS(solver="lsmr", tol=1e-12).fit(X, y)
    assert reg.solver_ == "lsmr" and reg.rank_ is None
    # atol = btol = 1e-12, kappa ~ 2: forward error ~ 1e-11.
    assert _rel(reg.coef_, LinearRegressionOLS().fit(X, y).coef_) < 1e-9
