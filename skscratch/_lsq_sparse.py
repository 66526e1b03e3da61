"""Least squares on sparse X without densifying it.

Two paths; neither copies X densely. The iterative one holds O(n + p)
values per target beyond X, the exact one also a p x p Gram matrix:

- **Exact** (few features): the centred, weighted Gram matrix ``A^T A``
  (p x p) from sparse products, then the Gram-based solvers of
  :mod:`skscratch._linalg` (semi-normal equations with refinement, or the
  rank-deficient :class:`~skscratch._linalg.GramCOD`), which need only
  products of ``A`` and ``A^T`` with thin dense blocks.
- **Iterative** (many features): LSMR (Fong & Saunders 2011), a Krylov method
  on the Golub-Kahan bidiagonalization of ``A`` that minimizes
  ``||A^T r_k||`` over the Krylov subspace: its normal-equation residual
  decreases monotonically, so stopping on it is safe at any iteration.
  All targets run in lockstep: one sparse product per iteration serves every
  target (the recurrences differ only in scalars, kept as arrays).

``A`` is never formed: :class:`CentredOperator` applies the intercept's
centring and the weights' row scaling inside the products,
``A = diag(sqrt(s)) (X - 1 xbar^T)``.
"""

import numpy as np

from ._linalg import lstsq

# The exact path forms a dense p x p Gram matrix: up to this many features
# (a 12.5 MB matrix, a Cholesky factorization of ~0.2 s) it is cheap. Where
# its solvers do not certify the answer (full rank with kappa > 1e5, or an
# uncertified rank), LSMR runs instead.
MAX_EXACT_FEATURES = 1250


class CentredOperator:
    """``A = diag(sw) (X - 1 xbar^T)`` for sparse ``X``, applied without forming it.

    ``A B = sw * (X B - 1 (xbar^T B))`` and
    ``A^T R = X^T (sw * R) - xbar (1^T (sw * R))``: each is one sparse
    product plus rank-one corrections, O(nnz + n + p) per column of B.
    """

    dense = False

    def __init__(self, X, x_mean, sw):
        # float64 values (an O(nnz) copy for float32 input): the Gram matrix
        # and the products must not be accumulated in single precision.
        self.X = X.tocsr().astype(np.float64, copy=False)
        self.XT = self.X.T  # a CSC view of the same arrays, made once
        self.x_mean = x_mean
        self.sw = sw
        self.shape = X.shape

    def matmat(self, B):
        """``A @ B`` for a dense B of shape (p, k)."""
        out = self.X @ B
        out -= self.x_mean @ B  # broadcasts the row xbar^T B over the n rows
        if self.sw is not None:
            out *= self.sw[:, None]
        return out

    def rmatmat(self, R):
        """``A^T @ R`` for a dense R of shape (n, k)."""
        if self.sw is not None:
            R = R * self.sw[:, None]
        out = self.XT @ R
        out -= np.outer(self.x_mean, R.sum(axis=0))
        return out

    def gram(self):
        """``A^T A = X^T S X - xbar c^T - c xbar^T + (sum s) xbar xbar^T`` with ``c = X^T s`` (p x p, dense).

        (For the weighted mean ``xbar = c / sum s`` the three corrections
        collapse to ``-(sum s) xbar xbar^T``.) The centring enters as
        low-rank corrections of the sparse product. Where a column's mean is
        large against its spread they cancel digits (relative error
        ``u ||X^T S X|| / ||A^T A||``); the refinement steps of the solve,
        which use exact products with A, recover them.
        """
        n = self.X.shape[0]
        s = np.ones(n) if self.sw is None else self.sw * self.sw
        Xw = self.X if self.sw is None else self.X.multiply(self.sw[:, None]).tocsr()
        G = np.asarray((Xw.T @ Xw).toarray())
        c = np.asarray(self.X.T @ s).ravel()
        m = self.x_mean
        G -= np.outer(m, c) + np.outer(c, m) - float(s.sum()) * np.outer(m, m)
        return G


def lsmr(A, B, atol=1e-6, btol=1e-6, conlim=1e8, maxiter=None):
    """LSMR for ``min ||A x - b||`` on every column b of B, in lockstep.

    Parameters
    ----------
    A : operator with ``shape``, ``matmat`` and ``rmatmat``
    B : ndarray of shape (n, k)
    atol, btol : float
        Stopping tolerances, with the meaning of Fong & Saunders (and of
        ``scipy.sparse.linalg.lsmr``/``lsqr``): stop when
        ``||r|| <= btol ||b|| + atol ||A|| ||x||`` (a consistent system
        solved) or ``||A^T r|| <= atol ||A|| ||r||`` (the normal equations
        solved), with ``||A||`` the Frobenius norm estimated on the way.
    conlim : float
        Stop when the estimated condition number exceeds it.
    maxiter : int, default=None
        Iteration limit; ``2 * min(n, p)`` when None (in exact arithmetic
        the method ends within ``min(n, p)`` steps; rounding delays it).

    Returns
    -------
    X : ndarray of shape (p, k)
    n_iter : ndarray of shape (k,)
    converged : ndarray of shape (k,) of bool
        False where the iteration stopped at ``maxiter``.

    Notes
    -----
    From zero, the iterates lie in the Krylov space of ``A^T A`` started at
    ``A^T b``, inside the row space of A: on a rank-deficient problem the
    limit is the minimum-norm solution (up to the rounding that leaks into
    the null space, which the reorthogonalization-free recurrence does not
    remove).
    """
    n, p = A.shape
    k = B.shape[1]
    if maxiter is None:
        maxiter = 2 * min(n, p)
    X_out = np.zeros((p, k))
    n_iter = np.zeros(k, dtype=np.int64)
    converged = np.ones(k, dtype=bool)

    # Golub-Kahan start: beta_1 u_1 = b, alpha_1 v_1 = A^T u_1.
    U = np.array(B, dtype=np.float64)
    beta = np.sqrt(np.sum(U * U, axis=0))
    live = beta > 0.0
    act = np.flatnonzero(live)
    if act.size == 0:
        return X_out, n_iter, converged
    U = U[:, act] / beta[act]
    beta = beta[act]
    V = A.rmatmat(U)
    alpha = np.sqrt(np.sum(V * V, axis=0))
    nonzero = alpha > 0.0
    act, U, V, alpha, beta = act[nonzero], U[:, nonzero], V[:, nonzero], alpha[nonzero], beta[nonzero]
    if act.size == 0:
        return X_out, n_iter, converged  # A^T b = 0: x = 0 is a solution
    V /= alpha

    m = act.size
    zetabar = alpha * beta
    alphabar = alpha.copy()
    rho = np.ones(m)
    rhobar = np.ones(m)
    cbar = np.ones(m)
    sbar = np.zeros(m)
    H = V.copy()
    Hbar = np.zeros((p, m))
    Xk = np.zeros((p, m))
    # Quantities for the estimate of ||r|| (Fong & Saunders, section 5.3).
    betadd = beta.copy()
    betad = np.zeros(m)
    rhodold = np.ones(m)
    tautildeold = np.zeros(m)
    thetatilde = np.zeros(m)
    zeta = np.zeros(m)
    normA2 = alpha * alpha
    maxrbar = np.zeros(m)
    minrbar = np.full(m, 1e100)
    normb = beta.copy()
    ctol = 1.0 / conlim if conlim > 0 else 0.0

    single = m == 1
    # The norm of each column; with one target, the scalar form of the same norm
    reduce_to = "ij,ij->" if single else "ij,ij->j"

    def colnorms(M):
        return np.sqrt(np.einsum(reduce_to, M, M))

    if single:
        # One target: its recurrence scalars as numpy scalars rather than
        # arrays of length 1 (several times cheaper per operation; the
        # arithmetic is the same).
        (alpha, beta, zetabar, alphabar, rho, rhobar, cbar, sbar, betadd, betad, rhodold,
         tautildeold, thetatilde, zeta, normA2, maxrbar, minrbar, normb) = (
            a[0] for a in (alpha, beta, zetabar, alphabar, rho, rhobar, cbar, sbar, betadd, betad,
                           rhodold, tautildeold, thetatilde, zeta, normA2, maxrbar, minrbar, normb))

    itn = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        while act.size and itn < maxiter:
            itn += 1
            # Bidiagonalization: beta u = A v - alpha u, alpha v = A^T u - beta v.
            # (In place where possible: on large problems these passes over
            # n- and p-vectors are the only work besides the two products.)
            U *= -alpha
            U += A.matmat(V)
            beta = colnorms(U)
            U /= np.where(beta > 0.0, beta, 1.0)
            V *= -beta
            V += A.rmatmat(U)
            alpha = colnorms(V)
            V /= np.where(alpha > 0.0, alpha, 1.0)

            # Rotation P_k: eliminates beta below the diagonal (no damping).
            rhoold = rho
            rho = np.hypot(alphabar, beta)
            c = alphabar / rho
            s = beta / rho
            thetanew = s * alpha
            alphabar = c * alpha

            # Rotation Pbar_k: turns R_k^T into the second bidiagonal.
            rhobarold = rhobar
            zetaold = zeta
            thetabar = sbar * rho
            rhotemp = cbar * rho
            rhobar = np.hypot(rhotemp, thetanew)
            cbar = rhotemp / rhobar
            sbar = thetanew / rhobar
            zeta = cbar * zetabar
            zetabar = -sbar * zetabar

            # x_k = x_{k-1} + (zeta / (rho rhobar)) hbar_k.
            Hbar *= -(thetabar * rho / (rhoold * rhobarold))
            Hbar += H
            Xk += (zeta / (rho * rhobar)) * Hbar
            H *= -(thetanew / rho)
            H += V

            # ||r_k|| from the rotated right-hand side, O(1) per iteration.
            betaacute = betadd
            betahat = c * betaacute
            betadd = -s * betaacute
            thetatildeold = thetatilde
            rhotildeold = np.hypot(rhodold, thetabar)
            ctildeold = rhodold / rhotildeold
            stildeold = thetabar / rhotildeold
            thetatilde = stildeold * rhobar
            rhodold = ctildeold * rhobar
            betad = -stildeold * betad + ctildeold * betahat
            tautildeold = (zetaold - thetatildeold * tautildeold) / rhotildeold
            taud = (zeta - thetatilde * tautildeold) / rhodold
            normr = np.sqrt((betad - taud) ** 2 + betadd**2)

            # ||A||_F and cond(A) estimates from the bidiagonal.
            normA2 = normA2 + beta * beta
            normA = np.sqrt(normA2)
            normA2 = normA2 + alpha * alpha
            maxrbar = np.maximum(maxrbar, rhobarold)
            if itn > 1:
                minrbar = np.minimum(minrbar, rhobarold)
            condA = np.maximum(maxrbar, rhotemp) / np.minimum(minrbar, rhotemp)

            # ||A^T r_k|| = |zetabar|, monotonically decreasing (LSMR's point).
            normar = np.abs(zetabar)
            normx = colnorms(Xk)
            test1 = normr / normb
            test2 = normar / (normA * normr)
            test3 = 1.0 / condA
            rtol = btol + atol * normA * normx / normb
            done = (
                (test1 <= rtol)
                | (test2 <= atol)
                | ~(normA * normr > 0.0)
                | (test3 <= ctol)
                | (beta == 0.0)
                | (alpha == 0.0)
                | ~np.isfinite(normr)
            )
            if single:
                if done:
                    X_out[:, act] = Xk
                    n_iter[act] = itn
                    act = act[:0]
                continue
            if np.any(done):
                X_out[:, act[done]] = Xk[:, done]
                n_iter[act[done]] = itn
                keep = ~done
                act = act[keep]
                (U, V, H, Hbar, Xk) = (M[:, keep] for M in (U, V, H, Hbar, Xk))
                (alpha, beta, alphabar, rho, rhobar, cbar, sbar, zeta, zetabar, betadd, betad,
                 rhodold, tautildeold, thetatilde, normA2, maxrbar, minrbar, normb) = (
                    a[keep] for a in (alpha, beta, alphabar, rho, rhobar, cbar, sbar, zeta,
                                      zetabar, betadd, betad, rhodold, tautildeold, thetatilde,
                                      normA2, maxrbar, minrbar, normb))
    if act.size:
        X_out[:, act] = Xk
        n_iter[act] = itn
        converged[act] = False
    return X_out, n_iter, converged


def sparse_exact(A, Y, rcond=None):
    """The exact path for a :class:`CentredOperator` ``A``, or ``None`` where it does not apply.

    ``Y`` (n, k) must already be centred and weighted. Applies when
    ``p <= MAX_EXACT_FEATURES <= n`` and a Gram-based solver certifies its
    accuracy (:func:`skscratch._linalg.lstsq` on the operator); returns
    ``(theta, rank, name)``.
    """
    n, p = A.shape
    if not (0 < p <= MAX_EXACT_FEATURES and n >= p):
        return None
    # Two refinement steps: the Gram's rank-one centring may have cancelled
    # digits that the exact products with A restore.
    theta, rank, name = lstsq(A, Y, rcond=rcond, refine=2)
    if theta is None:
        return None
    return theta, rank, name
