"""Non-negative least squares: ``min ||X b - y||`` subject to ``b >= 0``.

The active-set method of Lawson & Hanson (1974, ch. 23), the algorithm of
``scipy.optimize.nnls``, run on the small p x p problem instead of the
n x p data: with ``X = Q R``,

    ||X b - y||^2 = ||R b - Q^T y||^2 + ||(I - Q Q^T) y||^2,

and the constant does not depend on b. Each step only needs products with
``G = R^T R = X^T X`` and ``c = R^T Q^T y = X^T y`` (the form of Bro & de
Jong 1997), so the O(n p^2) work is one factorization shared by every target
and every active-set step costs O(p^3) at most.

Accuracy: the passive-set subproblems are solved through ``G`` (relative
error ~ ``kappa(X_P)^2 u``), then the final passive set's solution gets one
step of corrected semi-normal refinement with exact products of X, which
brings it to QR accuracy when ``kappa(X_P)^2 u`` is small (Bjorck 1987), the
argument of :class:`skscratch._linalg.SemiNormal`.
"""

import numpy as np

from ._linalg import SingularMatrixError, cholesky, solve_triangular

_EPS = np.finfo(np.float64).eps


def _passive_solve(G, c, P):
    """``s_P = G_PP^{-1} c_P`` by Cholesky, ``None`` if ``G_PP`` is not definite."""
    try:
        R = cholesky(G[np.ix_(P, P)])
    except SingularMatrixError:
        return None
    return solve_triangular(R, solve_triangular(R.T, c[P], lower=True))


def nnls_gram(G, c, max_iter=None, tol=None):
    """Lawson-Hanson NNLS for ``min b^T G b - 2 c^T b`` over ``b >= 0``.

    ``G = X^T X`` (p x p, positive semidefinite) and ``c = X^T y``: the same
    minimizer as ``min ||X b - y||``, b >= 0.

    Returns ``(b, passive, n_iter)``; ``passive`` is the boolean mask of the
    free (positive) coefficients at the solution.

    The algorithm keeps a passive set P (free coefficients) and the rest at
    zero. Outer loop: the gradient's negative ``w = c - G b`` says which zero
    coefficient would most reduce the objective if freed; free it. Inner
    loop: solve the unconstrained problem on P; if some entry is not
    positive, step from b towards that solution only as far as feasibility
    allows (the largest ``alpha`` keeping every entry >= 0), move the entries
    that hit zero back to the active set, and solve again. It stops when no
    zero coefficient has ``w_j > tol``: the Karush-Kuhn-Tucker conditions
    ``w_P = 0, w_Z <= 0, b >= 0`` hold to ``tol``.
    """
    p = G.shape[0]
    if max_iter is None:
        max_iter = 3 * p
    if tol is None:
        # w = c - G b is a difference of terms of size ~ max|c|, each with
        # rounding ~ p u max|c|: below 10 p u max|c| the sign of w_j is noise.
        tol = 10.0 * max(p, 1) * _EPS * float(np.max(np.abs(c), initial=0.0))
    b = np.zeros(p)
    passive = np.zeros(p, dtype=bool)
    w = c.copy()
    n_iter = 0
    while n_iter < max_iter:
        candidates = np.flatnonzero(~passive & (w > tol))
        if candidates.size == 0:
            break  # KKT: w_Z <= tol
        j = candidates[np.argmax(w[candidates])]
        passive[j] = True
        first = True
        while True:
            n_iter += 1
            P = np.flatnonzero(passive)
            s_P = _passive_solve(G, c, P)
            if first and (s_P is None or s_P[np.searchsorted(P, j)] <= 0.0):
                # Freeing j does not help to working precision (it is
                # dependent on the passive columns, or rounding flipped the
                # sign of its step): keep it at zero and do not try it again
                # until b changes. This is the usual guard against cycling.
                passive[j] = False
                w[j] = 0.0
                break
            first = False
            if s_P is None:
                break
            if np.all(s_P > 0.0) or n_iter >= max_iter:
                b[:] = 0.0
                b[P] = np.maximum(s_P, 0.0)
                break
            # Step from b towards s as far as b stays feasible:
            # alpha = min over s_i <= 0 of b_i / (b_i - s_i).
            bP = b[P]
            ratios = np.full(P.size, np.inf)
            neg = s_P <= 0.0
            ratios[neg] = bP[neg] / (bP[neg] - s_P[neg])
            i_min = int(np.argmin(ratios))
            bP = bP + ratios[i_min] * (s_P - bP)
            bP[i_min] = 0.0
            drop = bP <= 10.0 * _EPS * float(np.max(np.abs(bP)))
            passive[P[drop]] = False
            b[:] = 0.0
            b[P[~drop]] = bP[~drop]
        if not first:
            w = c - G @ b
    return b, passive, n_iter


def nnls(X, Y, max_iter=None):
    """Non-negative least squares for every column of ``Y`` (n x k) on dense ``X`` (n x p).

    Returns ``(B, n_iter)`` with ``B`` of shape (p, k).
    """
    p = X.shape[1]
    G = X.T @ X
    C = X.T @ Y
    B = np.zeros((p, Y.shape[1]))
    n_iter = np.zeros(Y.shape[1], dtype=np.int64)
    for t in range(Y.shape[1]):
        b, passive, n_iter[t] = nnls_gram(G, C[:, t], max_iter=max_iter)
        P = np.flatnonzero(passive)
        if P.size:
            # One corrected semi-normal step on the passive set with exact
            # products: b_P += G_PP^{-1} X_P^T (y - X b).
            r = Y[:, t] - X[:, P] @ b[P]
            g = np.zeros(p)
            g[P] = X[:, P].T @ r
            delta = _passive_solve(G, g, P)
            if delta is not None:
                b_new = b.copy()
                b_new[P] += delta
                if np.all(b_new[P] >= 0.0):
                    b = b_new
        B[:, t] = b
    return B, n_iter
