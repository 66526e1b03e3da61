"""Full-batch optimization: methods that see the whole objective at every step, model-agnostic.

- :func:`spectral_descent`: gradient descent whose step size comes from the
  problem: the Lipschitz step first, then Barzilai-Borwein steps under a
  nonmonotone line search;
- :func:`lbfgs`: limited-memory BFGS with a strong Wolfe line search.

A problem is an object with ``loss_grad(params, None)`` (see
:mod:`skscratch._stochastic`).
"""

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._training import TrainingState, check_finite

_EPS = np.finfo(np.float64).eps


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
    check_finite(f)
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
    check_finite(f)
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
