"""The training engine alone, on problems with known minima."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skscratch._fullbatch import _wolfe_step, lbfgs, spectral_descent
from skscratch._stochastic import SGD, Adam, batches, run_epochs
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


def _lipschitz(prob):
    return np.max(np.linalg.eigvalsh(prob.A))


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


@pytest.mark.parametrize("lr_schedule", ["constant", "invscaling"])
@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)])
def test_sgd_steps_equal_scikit_learns(momentum, nesterov, lr_schedule):
    # scikit-learn's SGDOptimizer (the MLP's) as the oracle: fed the same
    # gradients, both must move the parameters identically, step for step,
    # schedule included. Rejects Nesterov dropped (plain momentum: off at the
    # first step by mu^2 eta g), Nesterov's look-ahead with the old velocity,
    # a velocity not carried between steps, and a wrong invscaling rate. Same
    # arithmetic in a different order: agreement to ~10 u per step,
    # accumulated over 40 steps of a contraction: 1e-12.
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    shapes = [(4, 3), (3,)]
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


def test_adam_steps_equal_scikit_learns():
    # scikit-learn's AdamOptimizer as the oracle, fed the same gradients of
    # scales 1e-3 .. 10. Rejects Adam without the bias correction (the first
    # step is then 3.2 eta instead of eta), the correction of the wrong
    # moment, epsilon inside the square root, and moments not carried
    # between steps. Rounding of a different grouping: ~10 u per step; the
    # steps are ~ eta = 1e-2: 1e-12 absolute on parameters of size ~1.
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    shapes = [(4, 3), (3,)]
    start = [np.random.default_rng(1).standard_normal(s) for s in shapes]
    ours, theirs = [p.copy() for p in start], [p.copy() for p in start]
    opt = Adam(ours, learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6)
    ref = AdamOptimizer(theirs, learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6)
    for grads in _gradient_stream(shapes, 60, seed=3):
        opt.update_params(ours, grads)
        ref.update_params(theirs, grads)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


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
# Full-batch spectral (Barzilai-Borwein) descent
# --------------------------------------------------------------------------


def _spectral(prob, params, **kw):
    L = _lipschitz(prob)
    opts = dict(max_iter=5000, tol=1e-24, rate=1.0 / L)
    opts.update(kw)
    return spectral_descent(prob, params, **opts)


def test_spectral_descent_reaches_the_minimum():
    prob = LeastSquares(cond=100.0, noise=1.0)
    params = [np.zeros(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        _spectral(prob, params)
    # Stopped at ||g||^2 <= 1e-24 f: the error in theta is at most about
    # ||g|| / lambda_min ~ 1e-12 * 1e4 = 1e-8 relative.
    assert prob.error(params) < 1e-7


def test_spectral_steps_beat_the_fixed_lipschitz_step():
    # Hessian condition number 1e4: the fixed step 1/L needs O(kappa)
    # iterations; the Barzilai-Borwein steps adapt to the flat directions.
    prob = LeastSquares(cond=100.0, noise=1.0)
    params = [np.zeros(5)]
    state = _spectral(prob, params, tol=1e-20)
    L = _lipschitz(prob)
    theta = np.zeros(5)
    steps = 0
    while prob.error([theta]) > prob.error(params) and steps < 100000:
        theta = theta - prob.loss_grad([theta], None)[1][0] / L
        steps += 1
    assert state.n_iter < steps / 20


def test_spectral_step_is_exact_on_an_isotropic_quadratic():
    # f = c/2 ||theta - theta*||^2 + const: s^T s / s^T y = 1/c after one
    # move, and the step 1/c lands on the minimum.
    class Isotropic:
        c, target = 7.0, np.array([1.0, -2.0, 3.0])

        def loss_grad(self, params, idx):
            d = params[0] - self.target
            return 0.5 * self.c * float(d @ d) + 1.0, [self.c * d]

    params = [np.zeros(3)]
    state = spectral_descent(Isotropic(), params, max_iter=10, tol=1e-28, rate=0.01)
    np.testing.assert_allclose(params[0], Isotropic.target, rtol=1e-14)
    assert state.n_iter == 2


def test_line_search_tames_a_step_far_too_large():
    # rate = 1e6 / L would diverge as a fixed step; the line search halves it.
    prob = LeastSquares(cond=10.0, noise=1.0)
    params = [np.zeros(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        _spectral(prob, params, rate=1e6)
    assert prob.error(params) < 1e-7


def test_spectral_descent_warns_at_max_iter():
    prob = LeastSquares(cond=100.0, noise=1.0)
    params = [np.zeros(5)]
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        state = _spectral(prob, params, max_iter=3, tol=0.0)
    assert state.n_iter == 3


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
