"""Full-batch optimization: methods that see the whole objective at every step, model-agnostic.

- :func:`subspace_descent`: gradient descent with momentum whose
  coefficients are chosen by exact minimization over the span of the
  preconditioned gradient and the last steps (sequential subspace
  optimization), for objectives ``phi(A theta) + ridge`` whose cost is in
  the products with ``A``: logistic regression's;
- :func:`proximal_descent`: proximal gradient descent with Barzilai-Borwein
  steps under a nonmonotone line search (SpaRSA), for the same objectives
  plus an L1 penalty;
- :func:`lbfgs`: limited-memory BFGS with a strong Wolfe line search, for
  any smooth objective given by ``loss_grad(params, None)`` (see
  :mod:`skscratch._stochastic`): the neural network's.
"""

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._training import TrainingState, check_finite



# ---------------------------------------------------------------------------
# Shared by the full-batch methods
# ---------------------------------------------------------------------------


class _Layout:
    """Shapes of a list of parameter arrays, to move between the list and one flat vector.

    L-BFGS works on one vector (a few array operations per step whatever the
    number of parameter arrays); the problem sees views.
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


def _finish(params, x, f, state, outcome, limit, method):
    """Write the final iterate into ``params``; warn unless the method converged."""
    _warn_unless_done(outcome, limit, method)
    for p, xi in zip(params, x):
        p[...] = xi
    state.best_loss = min(state.best_loss, f)
    return state


def _warn_unless_done(outcome, limit, method, gd=None, tol=None, f=None):
    """A ``ConvergenceWarning`` for every way a method can stop short of its tolerance."""
    if outcome in ("max_iter", "max_fun"):
        budget = "function evaluations" if outcome == "max_fun" else "iterations"
        warnings.warn(
            f"{method}: maximum {budget} ({limit}) reached and the optimization "
            f"hasn't converged yet. Increase {outcome} or tol.",
            ConvergenceWarning,
        )
    elif outcome == "stalled":
        where = ("" if gd is None else
                 f" (squared gradient norm {gd:.3g}, asked for {tol * abs(f):.3g})")
        warnings.warn(
            f"{method}: stopped before convergence: no step along the search directions "
            f"lowered the objective{where}. The objective is at the limit of "
            "floating-point precision for this data; increase tol.",
            ConvergenceWarning,
        )


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
          memory=10, state=None, verbose=False, callback=None):
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
    default ``ftol`` is the one here). Running out of ``max_iter``
    iterations or ``max_fun`` evaluations warns with a ``ConvergenceWarning``,
    and so does a line search that finds no acceptable step (the rounding
    floor, or a poor direction: scipy's abnormal termination).
    ``callback(n_iter, params, f)`` after each iteration may return True to
    stop there.

    ``problem.loss_grad`` may reuse its gradient arrays between calls; the
    gradients kept here are copied.
    """
    state = TrainingState() if state is None else state
    layout = _Layout(params)  # one flat vector: a few array operations per step
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
    outcome = "max_iter"
    for _ in range(max_iter):
        if (float(np.max(np.abs(g))) if g.size else 0.0) <= gtol:
            outcome = "converged"
            break
        if max_fun is not None and evals >= max_fun:
            outcome = "max_fun"
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
            # No step along d satisfies the Wolfe conditions: the rounding floor,
            # or a poor direction; scipy's L-BFGS-B calls it an abnormal end.
            outcome = "stalled"
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
            outcome = "converged"
            break
        if callback is not None and callback(state.n_iter, layout.views(x), f):
            outcome = "callback"
            break
    state.n_fun += evals
    limit = max_fun if outcome == "max_fun" else max_iter
    return _finish(params, layout.views(x), f, state, outcome, limit, "L-BFGS")


# ---------------------------------------------------------------------------
# Sequential subspace descent, for objectives of the form phi(A theta) + ridge
# ---------------------------------------------------------------------------


_EPS = np.finfo(np.float64).eps
# Recompute the logits from the parameters every this many iterations: one
# extra pass per 16, 3% of the passes.
_RESYNC_EVERY = 16


def _penalty(lam, ridge, theta):
    """``lam/2 theta^T Q theta``, with ``ridge(v) = Q v`` the ridge's quadratic form."""
    return 0.5 * lam * float(theta @ ridge(theta)) if lam else 0.0


def _cholesky_solve_small(H, r):
    """``H^{-1} r`` by Cholesky on Python floats, or ``None`` if a pivot is not positive.

    The subspace systems are at most ``memory + 1`` (9) unknowns: at that
    size the ~q^3/6 multiply-adds cost less in plain Python than the calls
    into numpy of a vectorized factorization would.
    """
    q = len(r)
    L = [[0.0] * q for _ in range(q)]
    sqrt = math.sqrt
    for i in range(q):
        Li, Hi = L[i], H[i]
        for j in range(i):
            Lj = L[j]
            acc = Hi[j]
            for t in range(j):
                acc -= Li[t] * Lj[t]
            Li[j] = acc / Lj[j]
        acc = Hi[i]
        for t in range(i):
            acc -= Li[t] * Li[t]
        if not acc > 0.0:
            return None
        Li[i] = sqrt(acc)
    x = list(r)
    for i in range(q):  # L y = r
        Li = L[i]
        acc = x[i]
        for t in range(i):
            acc -= Li[t] * x[t]
        x[i] = acc / Li[i]
    for i in range(q - 1, -1, -1):  # L^T x = y
        acc = x[i]
        for t in range(i + 1, q):
            acc -= L[t][i] * x[t]
        x[i] = acc / L[i][i]
    return x


def _spd_solve(H, r):
    """``H^{-1} r`` for a small symmetric positive semi-definite ``H``, damped if singular.

    The directions of a subspace step can be nearly dependent (a gradient
    that points along an old step), which makes ``H`` singular to working
    precision; a Levenberg-Marquardt shift ``delta I``, grown until the
    Cholesky factorization exists, then picks the shortest step among the
    near-minimizers instead of an arbitrary huge one.
    """
    Hl, rl = H.tolist(), r.tolist()
    scale = max(max(abs(Hl[i][i]) for i in range(len(rl))), 1e-300)
    shift = 0.0
    for _ in range(12):
        if shift:
            Hl = H.tolist()
            for i in range(len(rl)):
                Hl[i][i] += shift
        x = _cholesky_solve_small(Hl, rl)
        if x is not None:
            return np.array(x)
        shift = 1e-12 * scale if shift == 0.0 else 100.0 * shift
    return r / scale  # pragma: no cover - H is not even nearly semi-definite


class VectorLogits:
    """The logit-space operations of :func:`subspace_descent`, on numpy vectors.

    The engine never does arithmetic on logit vectors itself (``n k``
    entries: the data's size, where everything else is the parameters'
    ``p k``): it asks the problem, whose numpy version is this mixin, and a
    problem that keeps its logits elsewhere (distributed in row blocks, see
    :mod:`skscratch._dask`) overrides these five methods. Images of the
    search directions ``U`` are held in a store made by :meth:`new_images`,
    ``U[j] = v`` sets one.
    """

    def new_images(self, q, image_size):
        """A store for ``q`` logit vectors of ``image_size`` entries (the images of the directions)."""
        return np.zeros((q, image_size))

    def select_images(self, U, idx):
        """The images ``idx`` of the store, as a ``U`` for the methods below."""
        return U[idx]

    def combine(self, c, U, z=None):
        """``z + c U`` (``c U`` without ``z``): a move in the logits."""
        return c @ U if z is None else z + c @ U

    def project(self, U, gz):
        """``U gz`` (q,): the slopes along the directions."""
        return U @ gz

    def subspace_model(self, gz, U):
        """``(U gz, U (d^2 phi / dz^2) U^T)``: the objective's slope and curvature on the span."""
        return U @ gz, self.outer_hessian(gz, U)


_CONVERGED = "converged"


def _minimize_in_span(problem, z, f, gz, U, DD, Dt, theta_pen, lam, small=0.0):
    """One safeguarded Newton step on the coefficients ``c`` of the subspace.

    Minimizes (approximately) ``phi(z + c U) + lam/2 (theta + c D)^T Q (theta + c D)``,
    ``U`` (q, n k) holding the images in the logits of the directions ``D``;
    the penalty enters through ``DD = D Q D^T``, ``Dt = D Q theta`` and
    ``theta_pen = theta^T Q theta``. The step costs O(n k q^2) and no pass
    over the data: the objective on the subspace is known from ``z`` and
    ``U`` alone. One Newton step from ``c = 0`` is exact for a quadratic and
    was measured to need no more outer iterations than a full minimization
    over the subspace, at a third of the cost.

    Returns ``(c, f, gz, z_new)``; ``_CONVERGED`` when the Newton step
    predicts a decrease of at most ``small`` (nothing left to gain at the
    asked accuracy); ``None`` when no step decreased the objective. The step is halved until it satisfies Armijo's condition or,
    the objective being convex, until its slope along the step is still not
    positive (then the objective did not increase anywhere on the way) while
    the computed objective rose by no more than a few ulps: the second test
    keeps working where differences of objective values are lost to
    rounding, without letting rounding noise walk the iterate uphill.
    """
    grad, H = problem.subspace_model(gz, U)
    grad = grad + lam * Dt
    H = H + lam * DD
    step = -_spd_solve(H, grad)
    slope = float(grad @ step)
    if not slope < 0.0:  # rounding spoiled the Newton step: the steepest descent's
        step, slope = -grad, -float(grad @ grad)
        if not slope < 0.0:
            return None
    if -0.5 * slope <= small:
        return _CONVERGED
    if -0.5 * slope <= _EPS * abs(f):
        # The predicted decrease is below the rounding of the objective: no
        # step can be told apart from noise by its value, and taking them
        # anyway walks the iterate at random (uphill, measured, over
        # thousands of steps). The gradient is still accurate there (it is
        # a sum of terms, not a difference of nearly equal values), so the
        # Newton step is taken when it shrinks the gradient on the subspace
        # by half, as a Newton step near the optimum does (quadratically);
        # noise does not. This is what resolves the coefficients beyond
        # sqrt(eps) of the objective's scale.
        c = step
        z_t = problem.combine(c, U, z)
        f_t, gz_t = problem.outer(z_t)
        f_t += 0.5 * lam * (theta_pen + 2.0 * float(c @ Dt) + float(c @ DD @ c))
        grad_t = problem.project(U, gz_t) + lam * (Dt + DD @ c)
        if (np.isfinite(f_t) and f_t <= f + 4.0 * _EPS * abs(f)
                and float(grad_t @ grad_t) <= 0.25 * float(grad @ grad)):
            return c, f_t, gz_t, z_t
        return None
    t = 1.0
    while t > 1e-10:
        c = t * step
        z_t = problem.combine(c, U, z)
        f_t, gz_t = problem.outer(z_t)
        # lam/2 ||theta + c D||^2 = lam/2 (theta_pen + 2 c.Dt + c DD c)
        f_t += 0.5 * lam * (theta_pen + 2.0 * float(c @ Dt) + float(c @ DD @ c))
        if np.isfinite(f_t):
            if f_t <= f + 1e-4 * t * slope:
                return c, f_t, gz_t, z_t
            # At the rounding floor: still downhill by the slope, and no
            # measurable increase of the objective (a few ulps).
            if (f_t <= f + 4.0 * _EPS * abs(f)
                    and float((problem.project(U, gz_t) + lam * (Dt + DD @ c)) @ step) <= 0.0):
                return c, f_t, gz_t, z_t
        t *= 0.5
    return None


class _Subspace:
    """The directions of a subspace step and their images, in ring buffers.

    Slot ``j`` holds a direction ``D[j]`` (a move of theta) and its image
    ``U[j] = A D[j]``. The Gram matrix of the ridge ``DD = D Q D^T`` and the
    products ``Dt = D Q theta`` (the penalty on the subspace) are kept up
    to date: a new direction or step costs one row of inner products,
    ``q`` products of length ``N`` each, never the whole Gram matrix. The
    rows are computed from the vectors themselves, not from the coefficients
    of the combination (``s . D[i] = (c DD)[i]`` would be cheaper, but its
    rounding compounds from step to step, and over thousands of iterations
    the Gram matrix drifts away from positive semi-definite).
    """

    def __init__(self, memory, size, image_size, ridge, ridge_from_image=None, logits=None):
        q = memory + 1
        # the problem's logit-space operations (VectorLogits): U[j], the
        # image of D[j], is kept where the problem keeps its logits
        self.logits = VectorLogits() if logits is None else logits
        self.D = np.zeros((q, size))
        self.U = self.logits.new_images(q, image_size)
        self.DD = np.zeros((q, q))
        self.Dt = np.zeros(q)
        self.ridge = ridge
        # ridge_from_image(v, A v) = Q v, for problems whose Q v is a part of
        # the image A v (the row-space problem) and would cost a product anew
        self.ridge_from_image = ridge_from_image
        self.active = np.zeros(q, dtype=bool)
        self.slot = 0  # where the next gradient direction goes (the oldest step)
        self.capacity = q

    def _set(self, j, d, Ud, theta):
        self.D[j] = d
        self.U[j] = Ud
        self.active[j] = True
        md = self.ridge(d) if self.ridge_from_image is None else self.ridge_from_image(d, Ud)
        row = self.D @ md
        self.DD[j, :] = row
        self.DD[:, j] = row
        self.Dt[j] = float(md @ theta)
        return row

    def add_direction(self, d, Ud, theta):
        self._set(self.slot, d, Ud, theta)

    def take_step(self, c_active, theta):
        """Replace the gradient direction's slot by the step ``s = c D``; return ``s``.

        ``theta`` is the point before the step; the products ``Dt`` follow
        ``theta + s``.
        """
        idx = np.flatnonzero(self.active)
        s = c_active @ self.D[idx]
        Us = self.logits.combine(c_active, self._images(idx))
        row = self._set(self.slot, s, Us, theta)
        self.Dt += row  # theta <- theta + s: D[i] . theta grows by D[i] . s
        self.slot = (self.slot + 1) % self.capacity
        return s

    def _images(self, idx):
        return self.U if idx.shape[0] == self.capacity else self.logits.select_images(self.U, idx)

    def view(self):
        idx = np.flatnonzero(self.active)
        if idx.shape[0] == self.capacity:
            return self.U, self.DD, self.Dt
        return self._images(idx), self.DD[np.ix_(idx, idx)], self.Dt[idx]


def subspace_descent(problem, theta, *, max_iter, tol, memory=8, state=None, verbose=False,
                     refresh_at=(), callback=None):
    """Gradient descent with momentum, whose coefficients are chosen by exact minimization.

    For objectives ``F(theta) = phi(A theta) + lam/2 theta^T Q theta`` where
    the products with ``A`` are the expensive part (a linear model: ``A`` is
    the data) and ``phi`` is cheap given ``A theta``. Each iteration takes the
    preconditioned gradient ``d = -M^{-1} g`` and the last ``memory`` steps
    ``s_1, ...`` (the momentum of the heavy ball and of Nesterov, kept for
    several steps), and moves by the best combination of them::

        theta <- theta + c_0 d + c_1 s_1 + ... + c_m s_m,   c = argmin F(theta + [d, s] c)

    This is sequential subspace optimization (Narkiss & Zibulevsky 2005;
    with one old step and a quadratic ``F`` it is the conjugate gradient
    method). The minimization over ``c`` is cheap because ``A`` is linear:
    the logits along the subspace are ``A theta + [A d, A s] c``, and the
    images ``A s`` of old steps are kept, so only ``A d`` costs a pass. Per
    iteration: one pass for ``A d``, one for the gradient ``A^T G``, and a
    Newton step on the ``m + 1`` coefficients (O(n k m^2), no pass).

    The problem provides ``image(v) = A v`` (a flat vector), ``outer(z) ->
    (phi, dphi/dz)``, ``outer_hessian(gz, U)``, ``pullback_theta(gz, theta)``
    (the gradient of ``phi(A theta)`` plus the ridge's), ``precondition(g)``,
    the ridge ``lam2`` and its quadratic form ``ridge(v) = Q v`` (for a
    linear model, 1 on the coefficients and 0 on the intercepts), and
    ``refresh(z)`` (rebuild the
    metric, at the iterations in ``refresh_at``; old steps stay valid, they
    are moves in ``theta``). Arithmetic on logit vectors (combinations
    ``z + c U``, projections ``U g``) also goes through the problem
    (:class:`VectorLogits`, which numpy problems inherit), so that a problem
    may keep its logits where its data is.

    Stops when ``g^T M^{-1} g <= tol |F|``, or when the Newton step on the
    subspace predicts a decrease of at most ``tol |F| / 2`` (the same
    quantity where ``M`` is the Hessian: the rule that still holds where the
    metric underestimates the curvature, as a diagonal one does on
    correlated features); warns with a ``ConvergenceWarning`` when
    ``max_iter`` runs out or when no combination lowers ``F`` first.
    ``callback(n_iter, theta, F)``, called after each iteration, may return
    True to stop there.

    Returns
    -------
    theta : ndarray
        The final iterate (a new array).
    state : TrainingState
    """
    state = TrainingState() if state is None else state
    lam, ridge = problem.lam2, problem.ridge
    theta = np.array(theta, dtype=np.float64)
    z = problem.image(theta)
    f, gz = problem.outer(z)
    f += _penalty(lam, ridge, theta)
    check_finite(f)
    g = problem.pullback_theta(gz, theta)
    space = _Subspace(memory, theta.shape[0], z.shape[0], ridge,
                      getattr(problem, "ridge_from_image", None), problem)
    # A d of the descent direction: a pass, unless the problem has it at hand
    image_direction = getattr(problem, "image_of_direction", problem.image)
    theta_pen = float(theta @ ridge(theta)) if lam else 0.0
    refresh_at = set(refresh_at)
    outcome = "max_iter"
    gd = np.inf
    for it in range(max_iter):
        if it in refresh_at:
            problem.refresh(z)
        d = problem.precondition(g)
        gd = float(g @ d)  # ||g||^2 in the metric's inverse
        if gd <= tol * abs(f):
            outcome = "converged"
            break
        d = -d
        space.add_direction(d, image_direction(d), theta)
        U, DD, Dt = space.view()
        found = _minimize_in_span(problem, z, f, gz, U, DD, Dt, theta_pen, lam,
                                  small=0.5 * tol * abs(f))
        if found is _CONVERGED:
            outcome = "converged"
            break
        if found is None:
            outcome = "stalled"
            break
        c, f, gz, z = found
        # theta^T Q theta after the step, from the subspace's Gram matrix
        theta_pen += 2.0 * float(c @ Dt) + float(c @ DD @ c)
        theta += space.take_step(c, theta)
        if (it + 1) % _RESYNC_EVERY == 0:
            theta_pen = float(theta @ ridge(theta)) if lam else 0.0
            # z is carried along as z + U c; its rounding drifts apart from
            # that of theta + D^T c, and at the rounding floor the search
            # would follow the drift (an objective that falls only on paper);
            # the same for theta^T Q theta, carried along from the Gram matrix.
            z = problem.image(theta)
            f, gz = problem.outer(z)
            f += _penalty(lam, ridge, theta)
        check_finite(f)
        g = problem.pullback_theta(gz, theta)
        _record(state, f, verbose)
        if callback is not None and callback(state.n_iter, theta, f):
            outcome = "callback"
            break
    _warn_unless_done(outcome, max_iter, "Gradient descent", gd, tol, f)
    state.best_loss = min(state.best_loss, f)
    return theta, state


# ---------------------------------------------------------------------------
# Proximal gradient descent with spectral steps, for an L1 penalty
# ---------------------------------------------------------------------------


def proximal_descent(problem, theta, *, max_iter, tol, memory=10, state=None, verbose=False,
                     refresh_at=(), callback=None):
    """Proximal gradient descent with Barzilai-Borwein steps (SpaRSA) for a smooth loss + L1.

    ``F = f + h`` with ``f`` smooth (the loss and the ridge) and
    ``h = lam1 ||W||_1``. Each step is a gradient step on ``f`` in the
    problem's (diagonal) metric followed by the proximal map of ``h``,
    soft-thresholding (``problem.prox_step``), which sets coordinates exactly
    to zero::

        theta+ = prox_{a h}(theta - a M^{-1} grad f(theta))

    The step ``a`` is the Barzilai-Borwein estimate of the inverse curvature
    along the last move, ``s^T M s / s^T y``, accepted under the nonmonotone
    condition ``F(theta+) <= max(last `memory` F) - 1e-4 ||theta+ - theta||_M^2 / (2 a)``
    and halved until it holds (Wright, Nowak & Figueiredo 2009). Stops when
    the proximal gradient ``||theta+ - theta||_M / a``, squared, is at most
    ``tol |F|`` (it is ``g^T M^{-1} g`` when ``h = 0``, the rule of
    :func:`subspace_descent`). Each iteration costs one pass for the image of
    ``theta+`` and one for its gradient, plus one per halving.

    Returns
    -------
    theta : ndarray
    state : TrainingState
    """
    state = TrainingState() if state is None else state
    lam, lam1 = problem.lam2, problem.lam1
    theta = np.array(theta, dtype=np.float64)

    def value(z, x):
        f_x, gz_x = problem.outer(z)
        return f_x + _penalty(lam, problem.ridge, x) + lam1 * problem.l1_norm(x), gz_x

    Z = problem.image(theta)
    F, G = value(Z, theta)
    check_finite(F)
    g = problem.pullback_theta(G, theta)
    recent = [F]
    a = 1.0
    refresh_at = set(refresh_at)
    outcome = "max_iter"
    gd = np.inf
    for it in range(max_iter):
        if it in refresh_at:
            problem.refresh(Z)
            a = 1.0
        reference = max(recent[-memory:])
        accepted = False
        while a > 1e-20:
            x = problem.prox_step(theta, g, a)
            s = x - theta
            sMs = problem.metric_norm2(s)
            gd = sMs / (a * a)  # the proximal gradient, squared, in the metric
            if gd <= tol * abs(F):
                outcome = "converged"
                break
            Z_x = problem.image(x)
            F_x, G_x = value(Z_x, x)
            if np.isfinite(F_x) and F_x <= reference - 1e-4 * sMs / (2.0 * a):
                accepted = True
                break
            a *= 0.5
        if outcome == "converged":
            break
        if not accepted:
            outcome = "stalled"
            break
        g_x = problem.pullback_theta(G_x, x)
        y = g_x - g
        sy = float(s @ y)
        # BB step in the metric: s^T M s / s^T y (the inverse curvature along s)
        a = sMs / sy if sy > 0.0 else 1.0
        theta, Z, F, G, g = x, Z_x, F_x, G_x, g_x
        recent.append(F)
        _record(state, F, verbose)
        if callback is not None and callback(state.n_iter, theta, F):
            outcome = "callback"
            break
    _warn_unless_done(outcome, max_iter, "Proximal gradient descent", gd, tol, F)
    state.best_loss = min(state.best_loss, F)
    return theta, state
