"""The gradient-descent engine: optimizers and training loops, model-agnostic.

The engine never sees a model. A *problem* is any object with

- ``loss_grad(params, idx)``: the objective (or its mini-batch estimate on
  the rows ``idx``; ``idx=None`` means all rows) at ``params``, a list of
  arrays, and its gradient as a list of arrays of the same shapes;
- ``validation_score(params)`` (only for early stopping): higher is better.

Optimizers are small classes with scikit-learn's interface
(``update_params(params, grads)``, ``iteration_ends(time_step)``,
``trigger_stopping(msg, verbose)``), so a network and a linear model share
them as they are. Two loops drive them:

- :func:`run_epochs`: mini-batches, shuffling, learning-rate schedules,
  convergence on the training loss or early stopping on a validation score
  with the best weights restored, loss history, divergence detection;
- :func:`spectral_descent`: full-batch gradient descent whose step size comes
  from the problem: the Lipschitz step first, then Barzilai-Borwein steps
  under a nonmonotone line search;
- :func:`lbfgs`: limited-memory BFGS with a strong Wolfe line search.
"""

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning

_EPS = np.finfo(np.float64).eps


# ---------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------


class SGD:
    """Mini-batch gradient descent with momentum or Nesterov momentum.

    Momentum keeps a velocity ``v``: ``v <- mu v - eta g``, ``theta <- theta + v``,
    a running average of past steps that damps oscillation across steep
    directions and accelerates along shallow ones. Nesterov's variant takes
    the gradient at the point momentum is about to reach; written in the
    variables actually stored (Sutskever et al. 2013) that is
    ``v <- mu v - eta g``, ``theta <- theta + mu v - eta g``.

    Parameters
    ----------
    params : list of ndarray
        Only their shapes and dtypes are used, for the velocities.
    learning_rate_init : float
    learning_rate : {'constant', 'invscaling', 'adaptive'}
        'invscaling': ``eta_t = eta_0 / t^power_t`` with t the number of
        samples seen; 'adaptive': divide by 5 each time training stalls
        (see :meth:`trigger_stopping`), stop below 1e-6.
    momentum : float in [0, 1]
    nesterov : bool
    power_t : float
    """

    def __init__(self, params, learning_rate_init=0.1, learning_rate="constant",
                 momentum=0.9, nesterov=True, power_t=0.5):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocities = [np.zeros_like(p) for p in params]

    def update_params(self, params, grads):
        """One step, in place: ``params`` and the velocities are updated."""
        mu, eta = self.momentum, self.learning_rate
        for p, v, g in zip(params, self.velocities, grads):
            v *= mu
            v -= eta * g  # v <- mu v - eta g
            if self.nesterov:
                p += mu * v - eta * g  # theta <- theta + mu v - eta g
            else:
                p += v

    def iteration_ends(self, time_step):
        """End of an epoch; ``time_step`` is the number of samples seen."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """Training stalled: return True to stop, or lower the rate and go on."""
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class Adam:
    """Adam (Kingma & Ba 2015): per-coordinate steps from gradient moments.

    ``m <- b1 m + (1 - b1) g``, ``s <- b2 s + (1 - b2) g^2``, and
    ``theta <- theta - eta_t m / (sqrt(s) + eps)`` with the bias correction
    folded into ``eta_t = eta sqrt(1 - b2^t) / (1 - b1^t)``. Dividing by the
    root mean square of recent gradients makes the step about ``eta`` in
    every coordinate, whatever the scale of the features.
    """

    def __init__(self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]

    def update_params(self, params, grads):
        """One step, in place."""
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        eta = self.learning_rate_init * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        self.learning_rate = eta
        for p, m, v, g in zip(params, self.ms, self.vs, grads):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            p -= eta * m / (np.sqrt(v) + self.epsilon)

    def iteration_ends(self, time_step):
        """Adam's rate needs no schedule."""

    def trigger_stopping(self, msg, verbose):
        if verbose:
            print(msg + " Stopping.")
        return True


# ---------------------------------------------------------------------------
# Mini-batch training loop
# ---------------------------------------------------------------------------


@dataclass
class TrainingState:
    """Everything a training run leaves behind, kept for warm starts and partial_fit."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = np.inf
    best_validation_score: float = -np.inf
    best_params: list = None
    no_improvement_count: int = 0
    t: int = 0  # samples seen
    n_iter: int = 0  # epochs run
    n_fun: int = 0  # objective evaluations (L-BFGS)


class DivergenceError(ValueError):
    """The loss became infinite or NaN: the step size is too large for the problem."""


def _check_finite(loss, epoch=None):
    """Raise DivergenceError on a non-finite loss (of an epoch, or of the first step)."""
    if not np.isfinite(loss):
        what = "the first iteration" if epoch is None else f"epoch {epoch}"
        raise DivergenceError(
            f"The training loss became {loss} during {what}: the optimization diverged. "
            "Lower learning_rate_init (or use the default solver, whose step size is "
            "derived from the problem)."
        )


def batches(order, batch_size, rng, shuffle):
    """Row indices of each mini-batch of one epoch (the last may be smaller).

    ``order`` (the previous epoch's row order, initially ``arange(n)``) is
    shuffled in place. Shuffling the running order rather than drawing a
    fresh permutation is what scikit-learn's ``MLPClassifier`` does; with the
    same ``RandomState`` the two visit the rows in the same batches.
    """
    if shuffle:
        rng.shuffle(order)
    return [order[i:i + batch_size] for i in range(0, order.shape[0], batch_size)]


def run_epochs(problem, optimizer, params, n_samples, *, batch_size, max_iter, shuffle,
               rng, tol, n_iter_no_change, early_stopping, state=None, verbose=False,
               incremental=False):
    """Train ``params`` in place by mini-batch steps of ``optimizer``.

    Each epoch visits every row once. The epoch's loss is the size-weighted
    mean of its batch losses. Training stops when, ``n_iter_no_change``
    epochs in a row, the loss fails to fall below the best by ``tol`` (or,
    with ``early_stopping``, the validation score fails to rise above the
    best by ``tol``): the optimizer then decides (an adaptive rate is cut
    by 5 instead). With early stopping the parameters of the best validation
    score are restored at the end.

    ``incremental=True`` runs exactly one epoch with no stopping test (the
    contract of scikit-learn's ``partial_fit``).

    Returns
    -------
    state : TrainingState
        Updated in place when given.

    Raises
    ------
    DivergenceError
        On a non-finite loss; ``params`` may then hold non-finite values and
        must be discarded by the caller.
    """
    state = TrainingState() if state is None else state
    epochs = 1 if incremental else max_iter
    stopped = False
    order = np.arange(n_samples)
    for _ in range(epochs):
        total = 0.0
        for idx in batches(order, batch_size, rng, shuffle):
            loss, grads = problem.loss_grad(params, idx)
            _check_finite(loss, state.n_iter + 1)
            total += loss * idx.shape[0]
            optimizer.update_params(params, grads)
        state.n_iter += 1
        state.t += n_samples
        loss = total / n_samples
        state.loss_curve.append(loss)
        if verbose:
            print(f"Iteration {state.n_iter}, loss = {loss:.8f}")
        _update_no_improvement(problem, params, state, tol, early_stopping, verbose)
        optimizer.iteration_ends(state.t)
        if incremental:
            break
        if state.no_improvement_count > n_iter_no_change:
            what = "Validation score" if early_stopping else "Training loss"
            msg = (f"{what} did not improve more than tol={tol:f} for "
                   f"{n_iter_no_change} consecutive epochs.")
            if optimizer.trigger_stopping(msg, verbose):
                stopped = True
                break
            state.no_improvement_count = 0
    if not incremental and not stopped:
        warnings.warn(
            f"Stochastic optimizer: maximum iterations ({max_iter}) reached and the "
            "optimization hasn't converged yet.",
            ConvergenceWarning,
        )
    if early_stopping and state.best_params is not None:
        for p, best in zip(params, state.best_params):
            p[...] = best
    return state


def _update_no_improvement(problem, params, state, tol, early_stopping, verbose):
    if early_stopping:
        score = problem.validation_score(params)
        state.validation_scores.append(score)
        if verbose:
            print(f"Validation score: {score:f}")
        if score < state.best_validation_score + tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        if score > state.best_validation_score:
            state.best_validation_score = score
            state.best_params = [p.copy() for p in params]
    else:
        loss = state.loss_curve[-1]
        if loss > state.best_loss - tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        state.best_loss = min(state.best_loss, loss)


# ---------------------------------------------------------------------------
# Full-batch methods: spectral (Barzilai-Borwein) descent and L-BFGS
# ---------------------------------------------------------------------------


class _Layout:
    """Shapes of a list of parameter arrays, to move between the list and one flat vector.

    Both full-batch methods work on one vector (a few array operations per
    step whatever the number of parameter arrays); the problem sees views.
    """

    def __init__(self, arrays):
        self.shapes = [a.shape for a in arrays]
        self.stops = np.cumsum([a.size for a in arrays]).tolist()

    def flat(self, arrays):
        """A new vector (never a view: problems may reuse their gradient arrays)."""
        if len(arrays) == 1:
            return np.array(arrays[0]).ravel()
        return np.concatenate([np.ravel(a) for a in arrays])

    def views(self, vector):
        starts = [0] + self.stops[:-1]
        return [vector[i:j].reshape(shape)
                for i, j, shape in zip(starts, self.stops, self.shapes)]


def _record(state, f, verbose):
    """Book-keeping of one accepted full-batch step."""
    state.n_iter += 1
    state.loss_curve.append(f)
    if verbose:
        print(f"Iteration {state.n_iter}, loss = {f:.8f}")


def _finish(params, x, f, state, converged, limit, method, budget="iterations"):
    """Write the final iterate into ``params``; warn if the budget ran out first."""
    if not converged:
        name = "max_fun" if budget == "function evaluations" else "max_iter"
        warnings.warn(
            f"{method}: maximum {budget} ({limit}) reached and the optimization "
            f"hasn't converged yet. Increase {name} or tol.",
            ConvergenceWarning,
        )
    for p, xi in zip(params, x):
        p[...] = xi
    state.best_loss = min(state.best_loss, f)
    return state


def spectral_descent(problem, params, *, max_iter, tol, rate=1.0, memory=10, state=None,
                     verbose=False, rescale_at=()):
    """Full-batch gradient descent with Barzilai-Borwein steps and a nonmonotone line search.

    Each step is ``theta <- theta - alpha g``. The first ``alpha`` is
    ``rate``: for a problem scaled so that its gradient is 1-Lipschitz, 1 is
    the classical safe step ``1/L``. After that the step is taken from the
    curvature along the last move (Barzilai & Borwein 1988): with
    ``s = theta_k - theta_{k-1}`` and ``y = g_k - g_{k-1}``, the two secant
    estimates of the inverse curvature ``s^T s / s^T y`` and
    ``s^T y / y^T y``, used in alternation (Dai & Fletcher 2005 found the
    alternation more robust than either). Along directions where the
    objective is flat the step grows, which a fixed ``1/L`` never does: on
    ill-conditioned problems this needs a fraction of the iterations of
    fixed-step or momentum methods.

    The BB step does not decrease the objective at every iteration, and must
    not be forced to. Global convergence comes from the nonmonotone Armijo
    rule of Grippo, Lampariello & Lucidi (1986), as Raydan (1997) applied it
    to BB: the step is halved until
    ``f(theta - a g) <= max(last `memory` values of f) - 1e-4 a ||g||^2``.

    Stops when ``||g||^2 <= tol * |f|`` (for a 1-Lipschitz gradient,
    ``||g||^2 / 2`` is the decrease a ``1/L`` step is guaranteed to make).

    At the iteration counts in ``rescale_at`` the problem may change the
    coordinates the descent moves in: ``params = problem.rescale(params)``
    (a change of variables; the objective is unchanged). The step-size
    memory then starts afresh from ``rate``, since old steps were measured
    in the old coordinates.

    Returns
    -------
    state : TrainingState
        ``loss_curve`` holds the objective at each iterate.
    """
    state = TrainingState() if state is None else state
    # The descent works on one flat vector (a handful of array operations per
    # step, whatever the number of parameter arrays); the problem sees views.
    layout = _Layout(params)

    def evaluate(vector):
        f_v, g_v = problem.loss_grad(layout.views(vector), None)
        return f_v, layout.flat(g_v)

    x = layout.flat(params)
    f, g = evaluate(x)
    _check_finite(f)
    recent = [f]
    alpha = rate
    converged = False
    rescale_at = set(rescale_at)
    for it in range(max_iter):
        if it in rescale_at:
            x = layout.flat(problem.rescale(layout.views(x)))
            f, g = evaluate(x)
            alpha = rate
        gg = float(g @ g)
        if gg <= tol * abs(f):
            converged = True
            break
        a = alpha
        reference = max(recent[-memory:])
        accepted = False
        # Halve until the nonmonotone Armijo condition holds, or until the
        # step no longer changes theta (the rounding floor: stop there).
        floor = _EPS * (1.0 + math.sqrt(float(x @ x))) / math.sqrt(gg)
        while a > floor:
            x_new = x - a * g
            f_new, g_new = evaluate(x_new)
            if np.isfinite(f_new) and f_new <= reference - 1e-4 * a * gg:
                accepted = True
                break
            a *= 0.5
        if not accepted:
            converged = True
            break
        s = x_new - x
        yv = g_new - g
        sy = float(s @ yv)
        if sy > 0.0:
            alpha = float(s @ s) / sy if it % 2 == 0 else sy / float(yv @ yv)
        else:
            alpha = rate  # no curvature information: back to the safe step
        x, f, g = x_new, f_new, g_new
        recent.append(f)
        _record(state, f, verbose)
    return _finish(params, layout.views(x), f, state, converged, max_iter, "Gradient descent")


# ---------------------------------------------------------------------------
# L-BFGS
# ---------------------------------------------------------------------------


def _wolfe_step(phi, f0, d0, step, c1=1e-4, c2=0.9, max_evals=40):
    """A step satisfying the strong Wolfe conditions (Nocedal & Wright, Alg. 3.5-3.6).

    ``phi(a)`` returns ``(f, g, slope)`` at ``theta + a d``; ``f0`` and ``d0``
    are the value and slope at ``a = 0`` (``d0 < 0``). Accepts ``a`` with
    sufficient decrease ``f(a) <= f0 + c1 a d0`` and small slope
    ``|slope(a)| <= c2 |d0|``. Phase one extrapolates until a bracket is
    found; phase two ("zoom") shrinks it by the minimizer of the quadratic
    through ``f(lo)``, ``slope(lo)`` and ``f(hi)``, kept inside the middle
    80% of the bracket. Returns ``(a, f, g)``, or ``None`` when no step was
    found within ``max_evals`` evaluations.
    """
    evals = 0

    def zoom(lo, f_lo, s_lo, hi, f_hi):
        nonlocal evals
        while evals < max_evals:
            width = hi - lo
            trial = lo + 0.5 * width
            curv = (f_hi - f_lo - s_lo * width) / (width * width) if width else 0.0
            if np.isfinite(curv) and curv > 0.0:
                trial = lo - s_lo / (2.0 * curv)
            left, right = min(lo, hi), max(lo, hi)
            a = min(max(trial, left + 0.1 * (right - left)), right - 0.1 * (right - left))
            f, g, s = phi(a)
            evals += 1
            if not np.isfinite(f) or f > f0 + c1 * a * d0 or f >= f_lo:
                hi, f_hi = a, f
            else:
                if abs(s) <= -c2 * d0:
                    return a, f, g
                if s * (hi - lo) >= 0.0:
                    hi, f_hi = lo, f_lo
                lo, f_lo, s_lo = a, f, s
        return None

    a_prev, f_prev, s_prev = 0.0, f0, d0
    a = step
    while evals < max_evals:
        f, g, s = phi(a)
        evals += 1
        if not np.isfinite(f) or f > f0 + c1 * a * d0 or (a_prev > 0.0 and f >= f_prev):
            return zoom(a_prev, f_prev, s_prev, a, f)
        if abs(s) <= -c2 * d0:
            return a, f, g
        if s >= 0.0:
            return zoom(a, f, s, a_prev, f_prev)
        a_prev, f_prev, s_prev = a, f, s
        a *= 2.0
    return None


def lbfgs(problem, params, *, max_iter, gtol, ftol=2.220446049250313e-09, max_fun=None,
          memory=10, state=None, verbose=False):
    """Limited-memory BFGS (Nocedal 1980) with a strong Wolfe line search.

    The direction is ``-H g`` where ``H`` approximates the inverse Hessian
    from the last ``memory`` pairs ``s = theta_{k+1} - theta_k``,
    ``y = g_{k+1} - g_k``, applied by the two-loop recursion without ever
    forming a matrix; the initial ``H_0 = (s^T y / y^T y) I`` scales it to
    the curvature along the last move (the first step uses ``H_0 = I``,
    the Lipschitz step of a problem whose gradient is 1-Lipschitz). The Wolfe
    curvature condition guarantees ``s^T y > 0``, which keeps ``H`` positive
    definite.

    Stops, as scipy's L-BFGS-B does on an unconstrained problem, when the
    largest gradient component is at most ``gtol``, or when a step lowers
    the objective by at most ``ftol * max(|f_k|, |f_{k+1}|, 1)`` (scipy's
    default ``ftol`` is the one here), or when no step along the direction
    makes progress (the rounding floor). Running out of ``max_iter``
    iterations or ``max_fun`` evaluations warns with a ``ConvergenceWarning``.

    ``problem.loss_grad`` may reuse its gradient arrays between calls; the
    gradients kept here are copied.
    """
    state = TrainingState() if state is None else state
    layout = _Layout(params)  # as in spectral_descent: one flat vector
    evals = 0

    def evaluate(vector):
        nonlocal evals
        evals += 1
        fa, ga = problem.loss_grad(layout.views(vector), None)
        return fa, layout.flat(ga)  # a copy

    x = layout.flat(params)
    f, g = evaluate(x)
    _check_finite(f)
    pairs = []
    converged = False
    budget = "iterations"
    for _ in range(max_iter):
        if (float(np.max(np.abs(g))) if g.size else 0.0) <= gtol:
            converged = True
            break
        if max_fun is not None and evals >= max_fun:
            budget = "function evaluations"
            break
        # Two-loop recursion: r = H g.
        q = g.copy()
        alphas = []
        for s, y, rho in reversed(pairs):
            a = rho * float(s @ q)
            alphas.append(a)
            q -= a * y
        gamma = 1.0
        if pairs:
            s, y, rho = pairs[-1]
            gamma = 1.0 / (rho * float(y @ y))  # s^T y / y^T y
        r = gamma * q
        for (s, y, rho), a in zip(pairs, reversed(alphas)):
            r += (a - rho * float(y @ r)) * s
        d = -r
        d0 = float(g @ d)
        if not d0 < 0.0:  # numerical loss of descent: restart from steepest descent
            pairs.clear()
            d, d0 = -g, -float(g @ g)

        def phi(a, _x=x, _d=d):
            fa, ga = evaluate(_x + a * _d)
            return fa, ga, float(ga @ _d)

        found = _wolfe_step(phi, f, d0, 1.0)
        if found is None:
            converged = True  # no step along d makes progress: the rounding floor
            break
        a, f_new, g_new = found
        x_new = x + a * d
        s = x_new - x
        y = g_new - g
        sy = float(s @ y)
        if sy > 0.0:
            pairs.append((s, y, 1.0 / sy))
            if len(pairs) > memory:
                pairs.pop(0)
        decrease = f - f_new
        x, f, g = x_new, f_new, g_new
        _record(state, f, verbose)
        if decrease <= ftol * max(abs(f + decrease), abs(f), 1.0):
            converged = True
            break
    state.n_fun += evals
    limit = max_fun if budget == "function evaluations" else max_iter
    return _finish(params, layout.views(x), f, state, converged, limit, "L-BFGS", budget)
