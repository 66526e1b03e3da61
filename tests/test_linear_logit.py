"""Logistic regression's numerics alone: data products, gradients, curvature, metrics, prox.

Oracles: central finite differences of the objective, metrics built
independently with numpy from their definitions, and brute-force
minimization of the proximal problem.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from skscratch import LogisticRegressionGD
from skscratch._linear_logit import (
    CholeskyMetric, DiagonalMetric, FeatureMoments, LinearLogit, MiniBatchLogit,
)
from skscratch._stochastic import SGD, Adam


def _problem(multinomial=False, sparse=False, fit_intercept=True, C=0.7, l1_ratio=0.0,
             n=60, p=5, seed=0, dtype=np.float64, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.geomspace(0.1, 10.0, p) + 2.0
    X[rng.random((n, p)) < (0.5 if sparse else 0.0)] = 0.0
    X = (X * scale).astype(dtype)
    k = 3 if multinomial else 2
    y = rng.integers(0, k, n)
    sw = rng.uniform(0.5, 2.0, n)
    Xin = sp.csr_matrix(X) if sparse else X
    prob = LinearLogit(Xin, y, sw, n_classes=k, C=C, l1_ratio=l1_ratio,
                       fit_intercept=fit_intercept)
    return prob, X, y, sw


def _objective(prob, X, y, sw, theta, C, l1_ratio=0.0):
    """The objective per unit weight, written out independently with scipy."""
    from scipy.special import log_expit, log_softmax

    W, b = prob.split(theta)
    Z = X.astype(np.float64) @ W + b
    if prob.multinomial:
        losses = -log_softmax(Z, axis=1)[np.arange(len(y)), y]
    else:
        z = Z[:, 0]
        losses = -np.where(y == 1, log_expit(z), log_expit(-z))
    S = sw.sum()
    lam = 1.0 / (C * S)
    return (sw @ losses / S + 0.5 * lam * (1 - l1_ratio) * np.sum(W * W)
            + lam * l1_ratio * np.abs(W).sum())


CASES = [dict(multinomial=m, sparse=s, fit_intercept=i)
         for m in (False, True) for s in (False, True) for i in (True, False)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(k for k, v in c.items() if v) or "plain")
def test_gradient_matches_central_differences(case):
    # The gradient of the smooth objective, from the two data products and
    # the loss's gradient in the logits. Central differences with h = 1e-6
    # on an objective ~1: truncation h^2 f''' ~ 1e-12, rounding u / h ~ 1e-10;
    # gradients are O(0.01..1): 1e-7 relative plus 1e-8 absolute. Rejects a
    # pullback without the intercept column, a ridge applied to the
    # intercept, and a gradient of the wrong layout (class-major logits read
    # as sample-major).
    prob, X, y, sw = _problem(**case)
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(prob.size) * 0.3
    if not prob.fit_intercept:
        prob.split(theta)[1][:] = 0.0
    z = prob.image(theta)
    f, gz = prob.outer(z)
    g = prob.pullback_theta(gz, theta)
    f_ref = _objective(prob, X, y, sw, theta, C=0.7)
    assert f + 0.5 * prob.lam2 * float(theta @ prob.ridge(theta)) == pytest.approx(f_ref, rel=1e-12)
    h = 1e-6
    fd = np.zeros_like(theta)
    free = np.ones_like(theta, dtype=bool)
    if not prob.fit_intercept:
        free[prob.p * prob.k:] = False
    for i in np.flatnonzero(free):
        e = np.zeros_like(theta)
        e[i] = h
        fd[i] = (_objective(prob, X, y, sw, theta + e, 0.7)
                 - _objective(prob, X, y, sw, theta - e, 0.7)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("multinomial", [False, True])
def test_outer_hessian_matches_differences_of_the_gradient(multinomial):
    # U H U^T along three random directions in the logits, against central
    # differences of the loss's gradient: (U . (g(z + h u) - g(z - h u))) / 2h.
    # The Hessian is read off the gradient without an exponential; rejects a
    # softmax Hessian without the - p p^T term, a sigmoid curvature sigma
    # instead of sigma (1 - sigma), and weights applied twice. Truncation
    # h^2 ~ 1e-10 relative: 1e-7.
    prob, X, y, sw = _problem(multinomial=multinomial, n=80)
    rng = np.random.default_rng(2)
    z = rng.standard_normal(prob.n * prob.k) * 2.0
    U = rng.standard_normal((3, prob.n * prob.k))
    _, gz = prob.outer(z)
    H = prob.outer_hessian(gz, U)
    h = 1e-5
    fd = np.empty((3, 3))
    for j in range(3):
        gp = prob.outer(z + h * U[j])[1]
        gm = prob.outer(z - h * U[j])[1]
        fd[:, j] = U @ (gp - gm) / (2 * h)
    np.testing.assert_allclose(H, fd, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)


def _centred_weighted(X, sw, fit_intercept):
    w = sw / sw.sum()
    mu = w @ X if fit_intercept else np.zeros(X.shape[1])
    return X - mu, w


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("scale", [1.0, 1e160], ids=["unit", "1e160"])
@pytest.mark.parametrize("kind", ["cholesky", "diagonal"])
def test_metric_is_the_bohning_bound(kind, scale, sparse):
    # M = c Xc^T diag(w) Xc + lam2 I (its diagonal for 'diagonal'), built
    # here with numpy from the definition on the unscaled data, and
    # M^{-1} applied to a gradient. The package builds it on column-scaled
    # data, so that X * 1e160 (whose squares overflow) gives the same
    # preconditioned direction scaled by 1e-320 (relative 1e-12: the
    # Jacobi scaling changes the rounding, not the matrix). Rejects a metric
    # without the centring, the weights, the curvature bound c, or the ridge.
    prob, X, y, sw = _problem(multinomial=True, sparse=sparse, scale=scale)
    base, _, _, _ = _problem(multinomial=True, sparse=sparse, scale=1.0)
    metric = prob.build_metric(kind)
    assert isinstance(metric, CholeskyMetric if kind == "cholesky" else DiagonalMetric)
    Xc, w = _centred_weighted(np.asarray(base.X.todense() if sparse else base.X), sw, True)
    # For X * scale the metric is scale^2 (c Xc^T W Xc) + lam2 I: in the
    # unscaled units the ridge is lam2 / scale^2 (0 to float64 at 1e160).
    M = 0.5 * (Xc * w[:, None]).T @ Xc + (base.lam2 / scale / scale) * np.eye(prob.p)
    if kind == "diagonal":
        M = np.diag(np.diagonal(M))
    rng = np.random.default_rng(3)
    g = rng.standard_normal(prob.size)
    d = prob.precondition(g * np.r_[np.full(prob.p * prob.k, scale), np.ones(prob.k)])
    gW, gb = base.split(g)
    expect_W = np.linalg.solve(M, gW - np.outer(base.mu, gb))
    dW, db = prob.split(d)
    # At 1e160 the ridge vanishes and the metric's floor (1e-10 of its mean
    # diagonal, which keeps M definite) takes its place: a relative change of
    # up to 1e-10 kappa(M), kappa ~ 1e3 here, hence 1e-6 there.
    rtol = 1e-10 if scale == 1.0 else 1e-6
    np.testing.assert_allclose(dW * scale, expect_W, rtol=rtol, atol=rtol * np.abs(expect_W).max())
    # the intercept: its own curvature c, then back to b = b_c - mu W
    np.testing.assert_allclose(db, gb / 0.5 - base.mu @ expect_W, rtol=1e3 * rtol, atol=1e-12)


def test_cholesky_metric_majorizes_the_hessian():
    # Bohning's bound: in the centred coordinates u = (W, b_c) the Hessian of
    # the smooth objective never exceeds the metric M_u (M for W, the bound c
    # for b_c), at any point: the eigenvalues of M_u^{-1} H are at most 1
    # (rounding: 1e-10). H is assembled from outer_hessian on the images of
    # the unit moves of u; M_u^{-1} from precondition, which works in the
    # original coordinates theta = T u (b = b_c - mu W), so
    # M_u^{-1} = T^{-1} P T^{-T}. Rejects the binary bound 1/4 used for the
    # softmax (eigenvalues up to 2) and a metric without the centring.
    prob, X, y, sw = _problem(multinomial=True, n=50, p=4, C=2.0)
    prob.build_metric("cholesky")
    N = prob.size
    T = np.eye(N)  # column i: the move of theta for the unit move i of u
    for i in range(prob.p * prob.k):
        dW, db = prob.split(T[:, i])
        db -= prob.mu @ dW
    U = np.stack([prob.image(T[:, i]) - prob.image(np.zeros(N)) for i in range(N)])
    P = np.column_stack([prob.precondition(e) for e in np.eye(N)])
    T_inv = np.linalg.inv(T)
    M_inv = T_inv @ P @ T_inv.T
    ridge = prob.lam2 * np.diag(np.r_[np.ones(prob.p * prob.k), np.zeros(prob.k)])
    rng = np.random.default_rng(4)
    tops = []
    for _ in range(5):
        z = rng.standard_normal(prob.n * prob.k) * 3.0
        H = prob.outer_hessian(prob.outer(z)[1], U) + ridge
        tops.append(np.max(np.real(np.linalg.eigvals(M_inv @ H))))
    assert max(tops) <= 1.0 + 1e-10
    assert max(tops) > 0.1  # the bound is not vacuous


def test_diagonal_metric_rebuilt_with_curvatures():
    # refresh(z) weights each sample by its current curvature (floored at
    # 1e-3 of the bound): the diagonal of Xc^T diag(w d) Xc + lam2. Rejects a
    # refresh that keeps the bound, or ignores the floor.
    prob, X, y, sw = _problem(sparse=True)
    prob.build_metric("diagonal")
    z = np.random.default_rng(5).standard_normal(prob.n) * 10.0
    prob.refresh(z)
    s = 1.0 / (1.0 + np.exp(-z))
    d = np.maximum(s * (1 - s), 1e-3 * 0.25)
    Xc, w = _centred_weighted(np.asarray(prob.X.todense()), sw, True)
    expected = (w * d) @ (Xc * Xc) + prob.lam2
    np.testing.assert_allclose(prob.metric.diagonal, expected, rtol=1e-10)
    assert prob.metric.b_curvature == pytest.approx(float(w @ d), rel=1e-12)


def test_prox_step_solves_the_proximal_problem():
    # x = argmin g.(x - theta) + ||x - theta||_M^2 / (2 t) + lam1 ||W||_1 in
    # the centred coordinates (W, b_c), checked coordinate by coordinate
    # against a brute-force grid search of each separable 1-D problem.
    # Rejects thresholds without the metric (t lam1 instead of t lam1 / m_j),
    # a thresholded intercept, and an intercept not re-centred after the
    # threshold.
    prob, X, y, sw = _problem(C=0.05, l1_ratio=1.0)
    prob.build_metric("diagonal")
    rng = np.random.default_rng(6)
    theta = rng.standard_normal(prob.size) * 0.1
    g = rng.standard_normal(prob.size) * 1e-2
    t = 0.7
    x = prob.prox_step(theta, g, t)
    m = prob.metric.diagonal
    W0, b0 = prob.split(theta)
    gW, gb = prob.split(g)
    gWc = gW - np.outer(prob.mu, gb)  # the gradient in W with b_c held fixed
    from scipy.optimize import minimize_scalar

    W, b = prob.split(x)
    for j in range(prob.p):
        def phi(v, j=j):
            return (gWc[j, 0] * (v - W0[j, 0]) + m[j] / (2 * t) * (v - W0[j, 0]) ** 2
                    + prob.lam1 * abs(v))
        reach = 10 * (abs(W0[j, 0]) + t * abs(gWc[j, 0]) / m[j]) + 1.0
        best = minimize_scalar(phi, bounds=(-reach, reach), method="bounded",
                               options=dict(xatol=1e-12 * reach))
        # a kink at 0 is where Brent's method is slowest: compare values too
        assert phi(W[j, 0]) <= min(best.fun, phi(0.0)) + 1e-12 * (1 + abs(best.fun))
        assert W[j, 0] == pytest.approx(best.x, abs=1e-6 * reach)
    assert np.any(W == 0.0) and np.any(W != 0.0)  # exact zeros, and not all
    bc0 = b0 + prob.mu @ W0
    bc = bc0 - t * gb / prob.metric.b_curvature
    np.testing.assert_allclose(b, bc - prob.mu @ W, rtol=1e-12)


def test_feature_moments_are_running_weighted_statistics():
    # Two batches added in turn give the diagonal metric of the two together
    # (about the first batch's mean): c * sum s (x - mu0)^2 / sum s + lam2,
    # written here with numpy. Rejects a metric from the last batch alone.
    rng = np.random.default_rng(7)
    X1, X2 = rng.standard_normal((30, 4)), rng.standard_normal((50, 4)) * 3 + 1
    X1[:, 2] = 0.0  # a feature that only varies in the second batch
    s1, s2 = rng.uniform(0.5, 2, 30), rng.uniform(0.5, 2, 50)
    mom = FeatureMoments(4).update(X1, s1, True).update(sp.csr_matrix(X2), s2, True)
    mu0 = s1 @ X1 / s1.sum()
    Xa, sa = np.vstack([X1, X2]), np.r_[s1, s2]
    var = sa @ (Xa - mu0) ** 2 / sa.sum()
    metric = mom.metric(0.25, 1e-3)
    np.testing.assert_allclose(metric.diagonal, 0.25 * var + 1e-3, rtol=1e-12)
    with pytest.raises(ValueError, match="Rescale the features"):
        FeatureMoments(4).update(X1 * 1e300, s1, True)


@pytest.mark.parametrize("kind", ["cholesky", "diagonal"])
def test_minibatch_gradient_in_whitened_coordinates(kind):
    # The stochastic solvers' gradient in [V, v_b] is the chain rule through
    # V = M^{1/2} W and v_b = sqrt(c) (b + mu W): its pairing with a move of
    # the whitened parameters is the directional derivative of the batch
    # objective, against central differences (1e-7, as above). Rejects a
    # gradient transformed by M^{1/2} instead of M^{-T/2}, and a centring
    # left out of the intercept's coordinate.
    prob, X, y, sw = _problem(multinomial=True)
    metric = prob.build_metric(kind)
    view = MiniBatchLogit(prob, metric, prob.mu)
    rng = np.random.default_rng(8)
    params = view.params(rng.standard_normal((3, prob.p)) * 0.2, rng.standard_normal(3))
    idx = np.arange(0, prob.n, 2)
    f, grads = view.loss_grad(params, idx)
    dirs = [rng.standard_normal(a.shape) for a in params]
    h = 1e-6
    fp = view.loss_grad([a + h * d for a, d in zip(params, dirs)], idx)[0]
    fm = view.loss_grad([a - h * d for a, d in zip(params, dirs)], idx)[0]
    assert sum(float(np.sum(g * d)) for g, d in zip(grads, dirs)) == pytest.approx(
        (fp - fm) / (2 * h), rel=1e-7)
    W, b = view.original(params)
    np.testing.assert_allclose(view.params(W.T, b)[0], params[0], rtol=1e-10, atol=1e-12)


def test_change_of_coordinates_transports_the_optimizer_state():
    # partial_fit refreshes the feature scales, V' = f V, without restarting
    # the optimizer. Adam's moments are statistics of gradients, and a
    # gradient in V' is the one in V divided by f: after the change they must
    # equal the moments of an Adam that saw those gradients in V' all along.
    # SGD's velocity is a displacement of the parameters: the same move of W
    # after the change, f v in V'. Rejects moments scaled like parameters
    # (f, f^2) and a velocity scaled like a gradient (1 / f).
    rng = np.random.default_rng(9)
    f = np.array([2.0, 0.5, 7.0])
    grads = [rng.standard_normal(3) for _ in range(6)]
    moved, reference = Adam([np.zeros(3)], 0.05), Adam([np.zeros(3)], 0.05)
    for g in grads:
        moved.update_params([np.zeros(3)], [g])
        reference.update_params([np.zeros(3)], [g / f])
    moved.change_coordinates([f])
    np.testing.assert_allclose(moved.ms[0], reference.ms[0], rtol=1e-14)
    np.testing.assert_allclose(moved.vs[0], reference.vs[0], rtol=1e-14)

    sgd = SGD([np.zeros(3)], 0.1, momentum=0.9, nesterov=False)
    V = np.zeros(3)
    for g in grads:
        sgd.update_params([V], [g])
    before = sgd.velocities[0] * 1.0  # the W-space move of a zero-gradient step (f = 1)
    sgd.change_coordinates([f])
    V2 = V * f
    sgd.update_params([V2], [np.zeros(3)])
    np.testing.assert_allclose((V2 - V * f) / f, 0.9 * before, rtol=1e-14)


def test_sparse_input_is_never_densified(monkeypatch):
    # A hashed bag-of-words of 2**18 columns: a dense copy (even a 4096-row
    # block) is gigabytes, a p x p metric 512 GiB. Dense conversions of a
    # sparse matrix are forbidden during the fit, and the peak of traced
    # memory must stay within a constant number of arrays of size p k.
    rng = np.random.default_rng(10)
    n, p, nnz_row = 1000, 2**18, 30
    rows = np.repeat(np.arange(n), nnz_row)
    cols = rng.integers(0, p, n * nnz_row)
    X = sp.csr_matrix((rng.random(n * nnz_row), (rows, cols)), shape=(n, p))
    y = rng.integers(0, 3, n)
    y[X[:, cols[0]].toarray().ravel() > 0] = 1

    def refuse(self, *args, **kwargs):
        raise AssertionError("a sparse input was densified")

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    for solver in ("gd", "sgd"):
        tracemalloc.start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = LogisticRegressionGD(solver=solver, max_iter=5).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert clf.metric_ == "diagonal"
        # The method's own arrays are O(p k): 9 remembered directions of
        # 'gd' and some 20 temporaries of size p k (6 MB each; measured peak
        # 139 MB for 'gd'): 32 p k floats. A dense block of these 1000 rows
        # would be 2 GiB, a p x p metric 512 GiB.
        assert peak < 32 * (p * 3 + 3) * 8


def test_float32_data_is_multiplied_in_float32():
    # A float32 X is never upcast to a float64 copy: the pullback takes the
    # gradient to float32, and the image widens 512 KB blocks of rows at a
    # time to accumulate in float64 (traced memory stays far below the
    # 32 MB a float64 copy of this X would take).
    rng = np.random.default_rng(11)
    X = rng.standard_normal((20000, 200)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    prob = LinearLogit(X, y, np.ones(20000), n_classes=2, C=1.0, l1_ratio=0.0,
                       fit_intercept=True)
    tracemalloc.start()
    z = prob.image(np.ones(prob.size))
    prob.pullback_theta(prob.outer(z)[1], np.ones(prob.size))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 20000 * 8
