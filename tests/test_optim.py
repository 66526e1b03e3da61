"""The training engine alone, on problems with known minima."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skscratch._fullbatch import (
    VectorLogits, _wolfe_step, lbfgs, proximal_descent, subspace_descent,
)
from skscratch._stochastic import SGD, Adam, RowSparseGradient, batches, run_epochs
from skscratch._training import DivergenceError, TrainingState


class LeastSquares:
    """f(theta) = 1/(2m) ||X_B theta - y_B||^2 on a batch B; minimum theta_star.

    Without noise y = X theta_star exactly, so every batch shares the
    minimizer: stochastic methods converge to it exactly (no gradient noise at
    the optimum). With noise, y gets a residual orthogonal to X's range: the
    full-batch minimizer is still theta_star and the minimum is positive.
    """

    def __init__(self, n=200, p=5, cond=10.0, seed=0, noise=0.0):
        rng = np.random.default_rng(seed)
        U = np.linalg.qr(rng.standard_normal((n, p)))[0]
        V = np.linalg.qr(rng.standard_normal((p, p)))[0]
        self.X = (U * np.geomspace(1.0, 1.0 / cond, p)) @ V.T * np.sqrt(n)
        self.theta_star = rng.standard_normal(p)
        z = rng.standard_normal(n)
        self.y = self.X @ self.theta_star + noise * (z - U @ (U.T @ z))
        self.A = self.X.T @ self.X / n  # Hessian of the full objective
        self.calls = 0

    def loss_grad(self, params, idx):
        X, y = (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])
        r = X @ params[0] - y
        self.calls += 1
        return 0.5 * float(r @ r) / len(y), [X.T @ r / len(y)]

    def error(self, params):
        return np.linalg.norm(params[0] - self.theta_star) / np.linalg.norm(self.theta_star)


def _fit(problem, optimizer, params, **kw):
    opts = dict(batch_size=20, max_iter=300, shuffle=True, rng=np.random.default_rng(0),
                tol=0.0, n_iter_no_change=10, early_stopping=False)
    opts.update(kw)
    return run_epochs(problem, optimizer, params, problem.X.shape[0], **opts)


@pytest.mark.parametrize("lr, momentum, nesterov", [(0.5, 0.0, False), (0.05, 0.9, False), (0.05, 0.9, True)])
def test_sgd_converges_to_the_minimum(lr, momentum, nesterov):
    # Hessian eigenvalues 1 .. 0.11; the effective step lr / (1 - momentum)
    # is 0.5 in each case: 3000 steps contract the error by ~e^-170.
    prob = LeastSquares(cond=3.0)
    params = [np.zeros(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _fit(prob, SGD(params, lr, momentum=momentum, nesterov=nesterov), params)
    # Interpolation regime: the error decays geometrically to rounding level.
    assert prob.error(params) < 1e-8


def test_momentum_speeds_up_sgd():
    # Hessian eigenvalues 1 .. 0.01 and lr = 0.1: along the shallow direction
    # plain steps contract by 1 - 1e-3 (1000 steps: e^-1), momentum 0.9 by
    # about 1 - 1e-2 (e^-10).
    errors = {}
    for momentum in (0.0, 0.9):
        prob = LeastSquares(cond=10.0)
        params = [np.zeros(5)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _fit(prob, SGD(params, 0.1, momentum=momentum, nesterov=False), params, max_iter=100)
        errors[momentum] = prob.error(params)
    assert errors[0.9] < 0.01 * errors[0.0]


def test_nesterov_step_formula():
    params = [np.array([1.0, -2.0])]
    opt = SGD(params, learning_rate_init=0.1, momentum=0.5, nesterov=True)
    g1, g2 = np.array([0.2, 0.4]), np.array([-1.0, 3.0])
    opt.update_params(params, [g1])
    v1 = -0.1 * g1
    expected = np.array([1.0, -2.0]) + 0.5 * v1 - 0.1 * g1
    np.testing.assert_allclose(params[0], expected, rtol=1e-15)
    opt.update_params(params, [g2])
    v2 = 0.5 * v1 - 0.1 * g2
    np.testing.assert_allclose(params[0], expected + 0.5 * v2 - 0.1 * g2, rtol=1e-15)


def _gradient_stream(shapes, steps, seed):
    """Gradients of varied scale and sign, the same for both optimizers."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) * 10.0 ** rng.uniform(-3, 1) for s in shapes]
            for _ in range(steps)]


# Parameter shapes: small (one stretch of the optimizers' update), and longer
# than a stretch (2**16 entries) by a part of one, as a first layer on hashed
# features is: rejects a stretch loop that drops the tail or mixes stretches.
SHAPES = [[(4, 3), (3,)], [(21851, 3), (5,)]]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("lr_schedule", ["constant", "invscaling"])
@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)])
def test_sgd_steps_equal_scikit_learns(momentum, nesterov, lr_schedule, shapes):
    # scikit-learn's SGDOptimizer (the MLP's) as the oracle: fed the same
    # gradients, both must move the parameters identically, step for step,
    # schedule included. Rejects Nesterov dropped (plain momentum: off at the
    # first step by mu^2 eta g), Nesterov's look-ahead with the old velocity,
    # a velocity not carried between steps, and a wrong invscaling rate. Same
    # arithmetic in a different order: agreement to ~10 u per step,
    # accumulated over 40 steps of a contraction: 1e-12.
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    start = [np.random.default_rng(1).standard_normal(s) for s in shapes]
    ours, theirs = [p.copy() for p in start], [p.copy() for p in start]
    opt = SGD(ours, 0.05, learning_rate=lr_schedule, momentum=momentum, nesterov=nesterov,
              power_t=0.5)
    ref = SGDOptimizer(theirs, 0.05, lr_schedule=lr_schedule, momentum=momentum,
                       nesterov=nesterov, power_t=0.5)
    for step, grads in enumerate(_gradient_stream(shapes, 40, seed=2)):
        opt.update_params(ours, grads)
        ref.update_params(theirs, grads)
        if step % 10 == 9:  # an epoch of 10 batches of 7 samples ends
            opt.iteration_ends(7 * (step + 1))
            ref.iteration_ends(7 * (step + 1))
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert opt.learning_rate == pytest.approx(ref.learning_rate, rel=1e-15)


@pytest.mark.parametrize("shapes", SHAPES)
def test_adam_steps_equal_scikit_learns(shapes):
    # scikit-learn's AdamOptimizer as the oracle, fed the same gradients of
    # scales 1e-3 .. 10. Rejects Adam without the bias correction (the first
    # step is then 3.2 eta instead of eta), the correction of the wrong
    # moment, epsilon inside the square root, and moments not carried
    # between steps. Rounding of a different grouping: ~10 u per step; the
    # steps are ~ eta = 1e-2: 1e-12 absolute on parameters of size ~1.
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    start = [np.random.default_rng(1).standard_normal(s) for s in shapes]
    ours, theirs = [p.copy() for p in start], [p.copy() for p in start]
    opt = Adam(ours, learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6)
    ref = AdamOptimizer(theirs, learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6)
    for grads in _gradient_stream(shapes, 60, seed=3):
        opt.update_params(ours, grads)
        ref.update_params(theirs, grads)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _row_sparse_gradient(theta, p, width, seed):
    """A RowSparseGradient on theta's leading p x width block, and its written-out twin."""
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal(theta.shape)  # the entries past the leading block
    rows = np.sort(rng.choice(p, size=p // 3, replace=False))
    rows[0], rows[-1] = 0, p - 1  # the first and last rows, on stretch edges
    values = rng.standard_normal((rows.shape[0], width)) * 10.0 ** rng.uniform(-3, 1)
    scale = 10.0 ** rng.uniform(-5, -2)
    written = dense.copy()
    written[:p * width] = scale * theta[:p * width]
    written[:p * width].reshape(p, width)[rows] += values
    return RowSparseGradient(dense, theta, p * width, width, scale, rows, values), written


@pytest.mark.parametrize("p, width", [(3000, 100), (5, 7)])
@pytest.mark.parametrize("make", [
    lambda ps: Adam(ps, learning_rate_init=0.01),
    lambda ps: SGD(ps, 0.05, momentum=0.9, nesterov=True),
])
def test_row_sparse_gradient_steps_equal_the_written_out_gradient(make, p, width):
    # A first layer on sparse input hands the optimizers its gradient as
    # ``scale * W + rows`` to be formed stretch by stretch; the steps must be
    # those of the written-out gradient, bit for bit (the same operations on
    # the same numbers). 3000 x 100 plus a tail is 4.6 stretches, whose
    # length (65500, whole rows of 100) does not divide 2**16; 5 x 7 is
    # within one stretch (the whole-array path). Rejects a stretch given the
    # rows of another (an off-by-one row offset), rows dropped at a stretch's
    # edge, the L2 term missing or applied to the entries past the block,
    # and a tail past the leading block not copied.
    theta = np.random.default_rng(0).standard_normal(p * width + 2 * width + 3)
    lazy_params, dense_params = [theta.copy()], [theta.copy()]
    lazy_opt, dense_opt = make(lazy_params), make(dense_params)
    for step in range(3):
        lazy, written = _row_sparse_gradient(lazy_params[0], p, width, seed=step)
        np.testing.assert_array_equal(written, _row_sparse_gradient(
            dense_params[0], p, width, seed=step)[1])
        lazy_opt.update_params(lazy_params, [lazy])
        dense_opt.update_params(dense_params, [written])
        np.testing.assert_array_equal(lazy_params[0], dense_params[0])
    # Written out whole (the path of short or strided parameters), at the
    # parameters it is taken at (it reads them: valid until they move).
    lazy, written = _row_sparse_gradient(theta, p, width, seed=7)
    np.testing.assert_array_equal(lazy.toarray(), written)


def test_adam_converges_with_decaying_steps():
    prob = LeastSquares()
    params = [np.zeros(5)]
    opt = Adam(params, learning_rate_init=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _fit(prob, opt, params, max_iter=300)
    # Adam's steps shrink with the gradient moments; at the interpolating
    # minimum the gradients vanish, so it settles there too.
    assert prob.error(params) < 1e-4


def test_adam_step_is_scale_free():
    # Per-coordinate normalization: the first step is eta in each coordinate,
    # whatever the gradient's scale (up to epsilon).
    params = [np.zeros(3)]
    Adam(params, learning_rate_init=0.01).update_params(params, [np.array([1e-3, 1.0, -1e3])])
    # epsilon enters as eps / sqrt(1 - beta_2) = 3.2e-7 against |g| = 1e-3.
    np.testing.assert_allclose(params[0], [-0.01, -0.01, 0.01], rtol=1e-3)


def test_stops_on_plateau_without_warning():
    prob = LeastSquares()
    params = [np.zeros(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        state = _fit(prob, SGD(params, 0.05), params, tol=1e-4, max_iter=1000)
    # The loss falls below tol quickly, then n_iter_no_change + 1 epochs
    # without an improvement of tol end the run long before max_iter.
    assert state.n_iter < 100
    assert state.no_improvement_count == 11


def test_max_iter_warns():
    prob = LeastSquares()
    params = [np.zeros(5)]
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        state = _fit(prob, SGD(params, 1e-4), params, max_iter=3)
    assert state.n_iter == 3
    assert len(state.loss_curve) == 3
    assert state.t == 3 * 200


def test_adaptive_rate_is_cut_by_five_then_stops():
    params = [np.zeros(1)]
    opt = SGD(params, 0.1, learning_rate="adaptive")
    assert opt.trigger_stopping("stalled", verbose=False) is False
    assert opt.learning_rate == pytest.approx(0.02)
    while not opt.trigger_stopping("stalled", verbose=False):
        pass
    assert opt.learning_rate <= 1e-6


def test_invscaling_schedule():
    opt = SGD([np.zeros(1)], 0.5, learning_rate="invscaling", power_t=0.25)
    opt.iteration_ends(80)
    assert opt.learning_rate == pytest.approx(0.5 / 81**0.25)


def test_divergence_is_reported_with_the_parameter_to_change():
    prob = LeastSquares()
    params = [np.zeros(5)]
    with pytest.raises(DivergenceError, match="learning_rate_init"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow on the way to inf
            _fit(prob, SGD(params, 1e3), params)


def test_incremental_runs_one_epoch():
    prob = LeastSquares()
    params = [np.zeros(5)]
    state = TrainingState()
    opt = SGD(params, 0.05)
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            _fit(prob, opt, params, state=state, incremental=True)
    assert state.n_iter == 3 and len(state.loss_curve) == 3


class PeakedValidation(LeastSquares):
    """Validation score rising until epoch 5, then falling: early stopping must keep epoch 5."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.snapshots = {}

    def validation_score(self, params):
        self.epoch += 1
        self.snapshots[self.epoch] = params[0].copy()
        return -abs(self.epoch - 5)


def test_early_stopping_restores_best_params():
    prob = PeakedValidation()
    params = [np.zeros(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        state = _fit(prob, SGD(params, 0.01), params, early_stopping=True,
                     n_iter_no_change=3, tol=0.0)
    assert state.validation_scores[:6] == [-4, -3, -2, -1, 0, -1]
    assert state.n_iter == 9  # epoch 5 best, then 4 epochs without improvement
    assert state.best_validation_score == 0
    np.testing.assert_array_equal(params[0], prob.snapshots[5])


def test_batches_cover_every_row_once():
    rng = np.random.default_rng(0)
    parts = batches(np.arange(103), 10, rng, shuffle=True)
    assert [len(b) for b in parts] == [10] * 10 + [3]
    assert sorted(np.concatenate(parts)) == list(range(103))
    assert np.array_equal(np.concatenate(batches(np.arange(7), 3, rng, shuffle=False)),
                          np.arange(7))


def test_batches_follow_scikit_learns_shuffle():
    # scikit-learn's MLP shuffles its running row order each epoch with
    # sklearn.utils.shuffle; the same RandomState must give the same batches.
    from sklearn.utils import shuffle as sk_shuffle

    ours, theirs = np.random.RandomState(3), np.random.RandomState(3)
    order, sk_order = np.arange(50), np.arange(50)
    for _ in range(3):
        parts = batches(order, 7, ours, shuffle=True)
        sk_order = sk_shuffle(sk_order, random_state=theirs)
        np.testing.assert_array_equal(np.concatenate(parts), sk_order)


# --------------------------------------------------------------------------
# Subspace descent and proximal descent, on composite problems phi(A theta)
# --------------------------------------------------------------------------


class Composite(VectorLogits):
    """``F(theta) = 1/(2n) ||A theta - y||^2 + lam/2 ||theta||^2_mask (+ lam1 ||theta_W||_1)``.

    The composite form the full-batch engine is written for: ``A`` the data,
    ``phi(z) = ||z - y||^2 / (2n)`` cheap given ``z = A theta``. The last
    coordinate plays the unpenalized intercept (mask 0). The metric is the
    diagonal of ``A^T A / n`` (a Jacobi preconditioner); ``passes`` counts
    products with ``A`` or ``A^T``.
    """

    def __init__(self, n=200, N=6, cond=100.0, lam2=1e-3, lam1=0.0, seed=0):
        rng = np.random.default_rng(seed)
        U = np.linalg.qr(rng.standard_normal((n, N)))[0]
        V = np.linalg.qr(rng.standard_normal((N, N)))[0]
        self.A = (U * np.geomspace(1.0, 1.0 / cond, N)) @ V.T * np.sqrt(n)
        self.A *= rng.uniform(0.1, 10.0, N)  # badly scaled columns
        self.y = rng.standard_normal(n)
        self.n, self.lam2, self.lam1 = n, lam2, lam1
        self.mask = np.ones(N)
        self.mask[-1] = 0.0
        self.diagonal = np.sum(self.A**2, axis=0) / n + lam2 * self.mask
        self.passes = 0

    def minimizer(self):
        """The ridge solution, by the normal equations (an independent oracle)."""
        H = self.A.T @ self.A / self.n + self.lam2 * np.diag(self.mask)
        return np.linalg.solve(H, self.A.T @ self.y / self.n)

    def objective(self, theta):
        r = self.A @ theta - self.y
        return (0.5 * r @ r / self.n + 0.5 * self.lam2 * np.sum(self.mask * theta**2)
                + self.lam1 * np.abs(theta[:-1]).sum())

    # the engine's interface
    def image(self, v):
        self.passes += 1
        return self.A @ v

    def outer(self, z):
        r = z - self.y
        return 0.5 * float(r @ r) / self.n, r / self.n

    def outer_hessian(self, gz, U):
        return U @ U.T / self.n

    def pullback_theta(self, gz, theta):
        self.passes += 1
        return self.A.T @ gz + self.lam2 * self.mask * theta

    def precondition(self, g):
        return g / self.diagonal

    def refresh(self, z):
        pass

    def ridge(self, v):
        return self.mask * v

    def metric_norm2(self, s):
        return float(np.sum(self.diagonal * s * s))

    def l1_norm(self, theta):
        return float(np.abs(theta[:-1]).sum())

    def prox_step(self, theta, g, step):
        x = theta - step * g / self.diagonal
        t = step * self.lam1 / self.diagonal[:-1]
        x[:-1] = np.sign(x[:-1]) * np.maximum(np.abs(x[:-1]) - t, 0.0)
        return x


def test_subspace_descent_reaches_the_ridge_solution():
    # Condition number 1e4 (times the column scaling): stopped at
    # g^T M^{-1} g <= 1e-26 F, the error in theta is ~ sqrt(1e-26 kappa) ~ 1e-11.
    prob = Composite()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        theta, state = subspace_descent(prob, np.zeros(6), max_iter=200, tol=1e-26)
    ref = prob.minimizer()
    assert np.linalg.norm(theta - ref) / np.linalg.norm(ref) < 1e-9
    assert state.loss_curve[-1] == pytest.approx(prob.objective(theta), rel=1e-12)


def test_subspace_descent_with_one_old_step_is_conjugate_gradients():
    # On a quadratic, exact minimization over span{M^{-1} g, last step} is
    # preconditioned conjugate gradients, which ends in at most N = 6
    # iterations in exact arithmetic. In floating point the search stops at
    # the rounding floor of the objective (a decrease below 8 ulps of F
    # cannot be told from noise), which leaves a parameter error up to
    # sqrt(16 u F / lambda_min) ~ 1e-5 in the flattest direction; measured
    # 2.5e-8 relative: 1e-6. Rejects a subspace without the old step
    # (steepest descent with exact line searches: at condition ~1e6 it is
    # nowhere near after 8 iterations) and an inexact minimization over the
    # span.
    prob = Composite(cond=1000.0)
    ref = prob.minimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cg, _ = subspace_descent(prob, np.zeros(6), max_iter=8, tol=0.0, memory=1)
        steepest, _ = subspace_descent(prob, np.zeros(6), max_iter=8, tol=0.0, memory=0)
    assert np.linalg.norm(cg - ref) / np.linalg.norm(ref) < 1e-6
    assert np.linalg.norm(steepest - ref) / np.linalg.norm(ref) > 1e-3


def test_subspace_descent_costs_two_passes_per_iteration():
    # The images of old steps are kept: one pass for A d, one for A^T G per
    # iteration, plus one of each at the start. Rejects an implementation
    # that recomputes the images of the remembered steps.
    prob = Composite()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, state = subspace_descent(prob, np.zeros(6), max_iter=5, tol=0.0)
    assert prob.passes == 2 + 2 * state.n_iter


def test_subspace_descent_warns_when_no_step_descends():
    # A problem whose logit gradient says that no move along the directions
    # descends, while its parameter gradient is far from zero: the search
    # finds no acceptable step. That must be reported as such, not as
    # convergence (the gradient test is far from met).
    class Flat(Composite):
        def outer(self, z):
            f, _ = super().outer(z)
            return f, np.zeros_like(z)

        def pullback_theta(self, gz, theta):
            return np.ones_like(theta)

    prob = Flat(lam2=0.0)
    with pytest.warns(ConvergenceWarning, match="no step along the search directions"):
        _, state = subspace_descent(prob, np.zeros(6), max_iter=50, tol=1e-10)
    assert state.n_iter == 0


def test_subspace_descent_warns_at_max_iter():
    prob = Composite()
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        _, state = subspace_descent(prob, np.zeros(6), max_iter=3, tol=0.0)
    assert state.n_iter == 3


def test_proximal_descent_solves_the_lasso():
    # F = least squares + ridge + L1 on all but the intercept. Oracle: scipy's
    # L-BFGS-B on the equivalent smooth problem with theta = u - v, u, v >= 0
    # (the standard split of the L1 norm), run to its own tight tolerance.
    # The support must agree and the objective to 1e-10 relative; rejects a
    # prox without the metric's scaling (thresholds t lam1 instead of
    # t lam1 / m_j land elsewhere) and a threshold on the intercept.
    from scipy.optimize import minimize

    prob = Composite(cond=10.0, lam1=0.05, lam2=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        theta, _ = proximal_descent(prob, np.zeros(6), max_iter=5000, tol=1e-24)
    N = 6

    def split_objective(uv):
        x = uv[:N] - uv[N:]
        r = prob.A @ x - prob.y
        f = 0.5 * r @ r / prob.n + 0.5 * prob.lam2 * np.sum(prob.mask * x**2)
        f += prob.lam1 * np.sum(uv[:N - 1] + uv[N:2 * N - 1])
        gx = prob.A.T @ r / prob.n + prob.lam2 * prob.mask * x
        l1 = np.r_[np.full(N - 1, prob.lam1), 0.0]
        return f, np.r_[gx + l1, -gx + l1]

    bounds = [(0, None)] * (N - 1) + [(None, None)] + [(0, None)] * (N - 1) + [(0, 0)]
    res = minimize(split_objective, np.zeros(2 * N), jac=True, method="L-BFGS-B", bounds=bounds,
                   options=dict(ftol=1e-15, gtol=1e-12, maxiter=10000))
    ref = res.x[:N] - res.x[N:]
    assert 0 < np.count_nonzero(theta[:-1]) < N - 1  # a genuinely sparse answer
    np.testing.assert_array_equal(theta[:-1] != 0, np.abs(ref[:-1]) > 1e-9)
    assert prob.objective(theta) == pytest.approx(prob.objective(ref), rel=1e-10)
    assert prob.objective(theta) <= prob.objective(ref) * (1 + 1e-12)


# --------------------------------------------------------------------------
# L-BFGS
# --------------------------------------------------------------------------


class Rosenbrock:
    """sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 (+ 1): minimum at all ones, a curved valley."""

    def loss_grad(self, params, idx):
        x = params[0]
        r = x[1:] - x[:-1] ** 2
        f = float(np.sum(100 * r**2 + (1 - x[:-1]) ** 2)) + 1.0
        g = np.zeros_like(x)
        g[:-1] = -400 * x[:-1] * r - 2 * (1 - x[:-1])
        g[1:] += 200 * r
        return f, [g]


@pytest.mark.parametrize("start", [[-1.2, 1.0], [-1.0] * 10])
def test_lbfgs_solves_rosenbrock(start):
    params = [np.array(start)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        state = lbfgs(Rosenbrock(), params, max_iter=500, gtol=1e-12, ftol=0.0)
    # Superlinear convergence near the minimum: to rounding level, in far
    # fewer iterations than gradient methods need on this valley (thousands).
    np.testing.assert_allclose(params[0], 1.0, atol=1e-9)
    assert state.n_iter < 150


def test_lbfgs_converges_on_an_ill_conditioned_quadratic():
    prob = LeastSquares(cond=100.0, noise=1.0)
    params = [np.zeros(5)]
    state = lbfgs(prob, params, max_iter=200, gtol=1e-12, ftol=0.0)
    assert prob.error(params) < 1e-7
    # Memory 10 >= dimension 5: L-BFGS is then BFGS, exact on a quadratic
    # within a few sweeps of the dimension.
    assert state.n_iter < 40


def test_wolfe_conditions_hold_on_accepted_steps():
    # phi(a) = (a - 3)^2: slope -6 at 0; the accepted step must satisfy both
    # strong Wolfe conditions.
    def phi(a):
        return (a - 3.0) ** 2, None, 2.0 * (a - 3.0)

    a, f, _ = _wolfe_step(phi, 9.0, -6.0, 1.0)
    assert f <= 9.0 + 1e-4 * a * -6.0
    assert abs(2.0 * (a - 3.0)) <= 0.9 * 6.0
