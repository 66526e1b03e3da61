"""Exact streaming: partial_fit merges triangular factors; CentredFactor alone.

Bars: on well-conditioned data (kappa ~ 10) a stream of batches must give
the single fit's coef_ to 1e-10 relative (both are QR-class, error ~kappa u
each). On ill-conditioned data (kappa = 1e8) the bar is the single
Householder fit's own distance from the truth, times 10 ("QR-class"): a
merge through normal equations or Sherman-Morrison updates loses everything
there (kappa^2 u > 1).
"""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

from skscratch import LinearRegressionOLS
from skscratch._linalg import CentredFactor, triangular_factor


def _rel(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(float).tiny)


def _stream(reg, X, Y, w=None, n_batches=5, seed=0):
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    cuts = np.sort(rng.choice(np.arange(1, n), n_batches - 1, replace=False))
    for rows in np.split(np.arange(n), cuts):
        reg.partial_fit(X[rows], Y[rows], sample_weight=None if w is None else w[rows])
    return reg


def test_triangular_factor_matches_scipy_r():
    # R is unique up to row signs; kappa ~ 10: 1e-12.
    rng = np.random.default_rng(0)
    M = rng.standard_normal((40, 7))
    R = triangular_factor(M)
    ref = scipy.linalg.qr(M, mode="r")[0][:7]
    signs = np.sign(np.diagonal(R)) * np.sign(np.diagonal(ref))
    assert _rel(signs[:, None] * R, ref) < 1e-12
    assert triangular_factor(M[:3]).shape == (3, 7)  # fewer rows: a trapezoid


@pytest.mark.parametrize("centre", [True, False])
def test_centred_factor_merge_is_exact_in_any_order(centre):
    # The merged scatter equals the scatter of all rows (1e-13 normwise),
    # whatever the merge tree. Rejects a merge without the between-block
    # term (off by w_a w_b / w * |m_a - m_b|^2, O(1) here).
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((300, 5)) * [1, 2, 3, 4, 5] + [10, -20, 30, 0, 5]
    w = rng.uniform(0.1, 2.0, 300)
    parts = [CentredFactor.from_rows(Z[r], w[r], centre) for r in np.array_split(np.arange(300), 6)]
    left = parts[0]
    for part in parts[1:]:
        left = left.merge(part)
    tree = (parts[0].merge(parts[1])).merge(parts[2].merge(parts[3])).merge(parts[4].merge(parts[5]))
    m = w @ Z / w.sum() if centre else np.zeros(5)
    C = ((Z - m) * w[:, None]).T @ (Z - m)
    for f in (left, tree):
        np.testing.assert_allclose(f.mean, m, rtol=1e-13, atol=1e-13)
        assert np.max(np.abs(f.R.T @ f.R - C)) < 1e-13 * np.max(np.abs(C))
        assert f.weight == pytest.approx(w.sum(), rel=1e-14) and f.count == 300


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("targets", [1, 3])
def test_stream_equals_single_fit(fit_intercept, weighted, targets):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((500, 8)) * rng.uniform(0.5, 5, 8) + rng.uniform(-50, 50, 8)
    Y = X @ rng.standard_normal((8, targets)) + 3 + rng.standard_normal((500, targets))
    y = Y[:, 0] if targets == 1 else Y
    w = rng.uniform(0.0, 3.0, 500) if weighted else None
    one = LinearRegressionOLS(fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    many = _stream(LinearRegressionOLS(fit_intercept=fit_intercept), X, y, w, n_batches=7)
    assert many.solver_ == "streaming_qr" and many.rank_ == 8
    assert _rel(many.coef_, one.coef_) < 1e-10
    assert _rel(np.atleast_1d(many.intercept_), np.atleast_1d(one.intercept_)) < 1e-10
    assert np.shape(many.intercept_) == np.shape(one.intercept_)


def test_stream_with_single_row_batches():
    # Batches smaller than the width give trapezoidal factors; the merge
    # must still be exact.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 6))
    y = X @ rng.standard_normal(6) + rng.standard_normal(40)
    reg = LinearRegressionOLS()
    for i in range(40):
        reg.partial_fit(X[i:i + 1], y[i:i + 1])
    assert _rel(reg.coef_, LinearRegressionOLS().fit(X, y).coef_) < 1e-10


@pytest.mark.parametrize("seed", range(4))
def test_stream_is_qr_accurate_on_ill_conditioned_data(seed):
    rng = np.random.default_rng(seed)
    n, p = 400, 10
    U = scipy.linalg.qr(rng.standard_normal((n, p)), mode="economic")[0]
    V = scipy.linalg.qr(rng.standard_normal((p, p)))[0]
    X = (U * np.logspace(0, -8, p)) @ V.T
    theta = rng.standard_normal(p)
    y = X @ theta
    one = LinearRegressionOLS(fit_intercept=False, solver="householder").fit(X, y)
    many = _stream(LinearRegressionOLS(fit_intercept=False), X, y, n_batches=6, seed=seed)
    err_one = np.linalg.norm(one.coef_ - theta) / np.linalg.norm(theta)
    err_many = np.linalg.norm(many.coef_ - theta) / np.linalg.norm(theta)
    assert err_many <= 10 * max(err_one, 1e-15)


def test_rank_deficient_stream_gives_minimum_norm():
    # Duplicated column: the stream's answer is the minimum-norm one (1e-10),
    # both copies sharing the weight, as scikit-learn's.
    rng = np.random.default_rng(4)
    base = rng.standard_normal((200, 4))
    X = np.c_[base, base[:, 2]]
    y = base @ rng.standard_normal(4) + rng.standard_normal(200)
    many = _stream(LinearRegressionOLS(), X, y, n_batches=4)
    ref = np.linalg.pinv(X - X.mean(0)) @ (y - y.mean())
    assert many.rank_ == 4
    assert _rel(many.coef_, ref) < 1e-10


def test_sparse_batches_match_dense_stream():
    # Sparse batches are factored through their scatter (kappa^2 u ~ 1e-13 here).
    rng = np.random.default_rng(5)
    X = sp.random(300, 6, density=0.5, format="csr", random_state=5)
    y = X @ rng.standard_normal(6) + rng.standard_normal(300)
    sparse = _stream(LinearRegressionOLS(), X, y, n_batches=3)
    dense = LinearRegressionOLS().fit(X.toarray(), y)
    assert _rel(sparse.coef_, dense.coef_) < 1e-10


def test_fit_resets_the_stream_and_bad_batches_raise():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((50, 3))
    y = rng.standard_normal(50)
    reg = LinearRegressionOLS().partial_fit(X[:25], y[:25])
    with pytest.raises(ValueError, match="3 features"):
        reg.partial_fit(X[:5, :2], y[:5])
    with pytest.raises(ValueError, match="same targets"):
        reg.partial_fit(X[:5], np.c_[y[:5], y[:5]])
    before = reg.coef_.copy()
    with pytest.raises(ValueError):
        reg.partial_fit(X[:5], y[:5], sample_weight=-np.ones(5))
    np.testing.assert_array_equal(reg.coef_, before)  # a failed call changes nothing
    reg.fit(X[25:], y[25:])
    reg.partial_fit(X[:25], y[:25])  # a new stream: only these rows
    np.testing.assert_allclose(reg.coef_, LinearRegressionOLS().fit(X[:25], y[:25]).coef_, rtol=1e-10)


@pytest.mark.parametrize("targets", [1, 2])
def test_positive_stream_equals_one_positive_fit(targets):
    # Non-negative least squares on the merged triangle: ||X b - y||^2 is
    # ||R b - Q^T y||^2 plus a constant, so the constrained minimizer is the
    # one-shot fit's. The data make several coefficients hit the bound (the
    # test fails if the constraint is ignored: those would be negative).
    # Both are the same convex problem solved by the same active-set
    # method on different but exact-to-rounding data: 1e-9.
    rng = np.random.default_rng(11)
    X = rng.standard_normal((300, 6))
    Y = X @ np.array([1.0, -2.0, 0.5, -0.5, 3.0, 0.0]) + 0.1 * rng.standard_normal(300)
    Y = Y if targets == 1 else np.c_[Y, -Y + X[:, 1]]
    whole = LinearRegressionOLS(positive=True).fit(X, Y)
    reg = LinearRegressionOLS(positive=True)
    for start in range(0, 300, 70):
        reg.partial_fit(X[start:start + 70], Y[start:start + 70])
    assert reg.solver_ == "streaming_nnls"
    assert np.all(reg.coef_ >= 0) and np.any(whole.coef_ == 0)
    np.testing.assert_allclose(reg.coef_, whole.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(reg.intercept_, whole.intercept_, rtol=1e-9, atol=1e-12)


def test_memory_is_independent_of_rows_seen():
    rng = np.random.default_rng(7)
    reg = LinearRegressionOLS()
    for _ in range(20):
        reg.partial_fit(rng.standard_normal((100, 5)), rng.standard_normal(100))
    assert reg._stream.factor.R.shape == (6, 6)
