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

from ._linalg import SingularMatrixError, cholesky, one_blas_thread, solve_triangular

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
    factor = _PassiveFactor(G)
    while n_iter < max_iter:
        candidates = np.flatnonzero(~passive & (w > tol))
        if candidates.size == 0:
            break  # KKT: w_Z <= tol
        j = candidates[np.argmax(w[candidates])]
        if not factor.append(j):
            # Column j is dependent on the passive ones to working precision:
            # freeing it cannot lower the objective. Not tried again until b
            # changes (the usual guard against cycling).
            w[j] = 0.0
            continue
        passive[j] = True
        first = True
        while True:
            n_iter += 1
            order = factor.order
            s_P = factor.solve(c)
            if first and s_P[-1] <= 0.0:
                # Rounding flipped the sign of the freed coefficient's step:
                # keep it at zero (same guard).
                factor.pop()
                passive[j] = False
                w[j] = 0.0
                break
            first = False
            if np.all(s_P > 0.0) or n_iter >= max_iter:
                b[:] = 0.0
                b[order] = np.maximum(s_P, 0.0)
                break
            # Step from b towards s as far as b stays feasible:
            # alpha = min over s_i <= 0 of b_i / (b_i - s_i).
            bP = b[order]
            ratios = np.full(order.size, np.inf)
            neg = s_P <= 0.0
            ratios[neg] = bP[neg] / (bP[neg] - s_P[neg])
            i_min = int(np.argmin(ratios))
            bP = bP + ratios[i_min] * (s_P - bP)
            bP[i_min] = 0.0
            drop = bP <= 10.0 * _EPS * float(np.max(np.abs(bP)))
            passive[order[drop]] = False
            b[:] = 0.0
            b[order[~drop]] = bP[~drop]
            factor.keep(~drop)
        if not first:
            w = c - G @ b
    return b, passive, n_iter


class _PassiveFactor:
    """``R^{-1}`` of the Cholesky factor of ``G[P, P]``, for the passive set in insertion order.

    Freeing a coefficient appends a row and column to the factor:
    ``G_PP = R^T R`` and the new column ``g = G[P, j]`` give
    ``r = R^{-T} g``, ``rho = sqrt(G_jj - r^T r)`` and
    ``R_new^{-1} = [[R^{-1}, -R^{-1} r / rho], [0, 1 / rho]]``, two matrix-vector
    products instead of a new factorization. Removing the last coefficient
    drops the last row and column (exact for a triangular inverse); removing
    others refactors (rare: only when a step hits the bound). With the
    inverse held explicitly, each solve is two matrix-vector products.
    """

    def __init__(self, G):
        self.G = G
        self.order = np.zeros(0, dtype=np.intp)
        self.R_inv = np.zeros((0, 0))

    def append(self, j):
        G, m = self.G, self.order.size
        r = self.R_inv.T @ G[self.order, j]
        d = G[j, j] - r @ r
        # A pivot below u * G_jj is rounding: column j is in the span of P.
        if not d > 4.0 * _EPS * G[j, j]:
            return False
        rho = np.sqrt(d)
        R_inv = np.zeros((m + 1, m + 1))
        R_inv[:m, :m] = self.R_inv
        R_inv[:m, m] = -(self.R_inv @ r) / rho
        R_inv[m, m] = 1.0 / rho
        self.R_inv = R_inv
        self.order = np.append(self.order, j)
        return True

    def pop(self):
        self.order = self.order[:-1]
        self.R_inv = self.R_inv[:-1, :-1]

    def keep(self, mask):
        """Keep the passive coefficients where ``mask`` holds (refactor if any is removed)."""
        if np.all(mask):
            return
        self.order = self.order[mask]
        try:
            R = cholesky(self.G[np.ix_(self.order, self.order)])
        except SingularMatrixError:
            R = None
        if R is None:
            # Rebuild by appends, skipping columns that became dependent.
            order, self.order, self.R_inv = self.order, np.zeros(0, dtype=np.intp), np.zeros((0, 0))
            for i in order:
                self.append(i)
            return
        self.R_inv = solve_triangular(R, np.eye(self.order.size))

    def solve(self, c):
        """``s = G_PP^{-1} c_P = R^{-1} R^{-T} c_P`` in the factor's order."""
        return self.R_inv @ (self.R_inv.T @ c[self.order])


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
        with one_blas_thread():  # p x p work in many small steps
            b, passive, n_iter[t] = nnls_gram(G, C[:, t], max_iter=max_iter)
        P = np.flatnonzero(passive)
        if P.size:
            # One corrected semi-normal step on the passive set with exact
            # products: b_P += G_PP^{-1} X_P^T (y - X b).
            g = X.T @ (Y[:, t] - X @ b)  # b is zero off P: no column copies of X
            delta = _passive_solve(G, g, P)
            if delta is not None:
                b_new = b.copy()
                b_new[P] += delta
                if np.all(b_new[P] >= 0.0):
                    b = b_new
        B[:, t] = b
    return B, n_iter
