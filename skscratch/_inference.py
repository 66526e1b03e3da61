"""Classical inference for (weighted) least squares, from a triangular factor.

The model is ``y_i = b + x_i^T theta + e_i`` with ``Var(e_i) = sigma^2 / s_i``
(weights ``s_i``). With ``A = diag(sqrt(s)) (X - 1 xbar^T)`` (centred with the
weighted means) and ``A P = Q R`` (QR with column pivoting, or the Cholesky
factor of ``A^T A`` for sparse X):

- ``(A^T A)^{-1} = P R^{-1} R^{-T} P^T``, never an inverse of ``A^T A``
  formed from it;
- centring makes the intercept's column ``sqrt(s)`` orthogonal to A, so in
  the parameters ``(b', theta)`` with ``b' = b + xbar^T theta`` the
  unscaled covariance is ``diag(1 / sum(s), (A^T A)^{-1})``; the map
  ``b = b' - xbar^T theta`` (a matrix T) carries any covariance C' of
  ``(b', theta)`` to ``T C' T^T``;
- nonrobust: ``C' = sigma^2 diag(1/W, (A^T A)^{-1})``,
  ``sigma^2 = SSR / (n - k)``, ``SSR = sum s_i e_i^2``;
- HC0-HC3 (White 1980; MacKinnon & White 1985): the sandwich
  ``C' = B M B`` with bread ``B = diag(1/W, (A^T A)^{-1})`` and meat
  ``M = Z^T diag(omega) Z``, ``Z = [sqrt(s), A]``, ``omega_i = s_i e_i^2``
  times 1, ``n / (n - k)``, ``1 / (1 - h_i)`` or ``1 / (1 - h_i)^2``;
  the leverages ``h_i = s_i / W + ||(A P R^{-1})_i||^2`` are the row norms
  of the thin Q, never the n x n hat matrix.

t tests use Student's t with ``n - k`` degrees of freedom for every
``cov_type``; the F statistic is the Wald statistic of ``theta = 0``,
``theta^T C_theta^{-1} theta / p`` (for the nonrobust covariance it equals
the ratio of mean squares). Tail probabilities and quantiles come from
:mod:`skscratch._distributions`. ``n`` counts the rows with a positive
weight (a zero weight drops a row).
"""

import numpy as np
import scipy.sparse as sp

from ._distributions import f_sf, t_isf_two_sided, t_two_sided
from ._linalg import (
    HouseholderQR,
    SingularMatrixError,
    cholesky,
    default_rcond,
    solve_triangular,
)
from ._lsq_sparse import CentredOperator

COV_TYPES = frozenset({"nonrobust", "HC0", "HC1", "HC2", "HC3"})
# Rows per block when leverages of sparse X are computed: the block of the
# thin Q is at most this many entries (32 MB).
_BLOCK_ENTRIES = 1 << 22


class OLSInference:
    """Estimates, standard errors, tests and fit statistics of a least-squares fit.

    Names follow statsmodels' ``RegressionResults``. The intercept, when
    fitted, is the first parameter.

    Attributes
    ----------
    params : ndarray of shape (k,)
        The estimates: intercept (if fitted) then coefficients.
    param_names : list of str
        Their names (feature names when the model saw them).
    cov_params : ndarray of shape (k, k)
        Covariance matrix of the estimates, of type ``cov_type``.
    bse : ndarray of shape (k,)
        Standard errors, ``sqrt(diag(cov_params))``.
    tvalues : ndarray of shape (k,)
        ``params / bse``.
    pvalues : ndarray of shape (k,)
        Two-sided p-values of ``t(df_resid)``.
    nobs : int
        Rows with a positive weight.
    df_model : int
        Number of coefficients, the intercept excluded.
    df_resid : int
        ``nobs - k``.
    ssr : float
        Weighted sum of squared residuals.
    scale : float
        ``ssr / df_resid``, the estimate of ``sigma^2``.
    rsquared, rsquared_adj : float
        R² (centred when an intercept is fitted, else uncentred) and its
        adjustment for degrees of freedom.
    fvalue, f_pvalue : float
        F statistic of all coefficients (not the intercept) being zero, and
        its p-value (``nan`` when there is no coefficient).
    llf, aic, bic : float
        Gaussian log-likelihood at the estimates and the information
        criteria ``-2 llf + 2 k`` and ``-2 llf + log(nobs) k``.
    cov_type : str
        Which covariance was used.
    """

    def __init__(self, params, cov, names, nobs, df_model, df_resid, ssr, tss, k_constant,
                 sum_log_weights, cov_type):
        self.params = params
        self.param_names = list(names)
        self.cov_params = cov
        self.cov_type = cov_type
        self.nobs = int(nobs)
        self.df_model = int(df_model)
        self.df_resid = int(df_resid)
        self.ssr = float(ssr)
        self.scale = self.ssr / self.df_resid
        self.bse = np.sqrt(np.diagonal(cov))
        self.tvalues = params / self.bse
        self.pvalues = np.array([t_two_sided(t, self.df_resid) for t in self.tvalues])
        self.rsquared = 1.0 - self.ssr / tss if tss > 0 else np.nan
        self.rsquared_adj = 1.0 - (self.nobs - k_constant) / self.df_resid * (1.0 - self.rsquared)
        theta = params[k_constant:]
        if theta.size:
            C = cov[k_constant:, k_constant:]
            try:
                L = cholesky(C)
                z = solve_triangular(L.T, theta, lower=True)  # theta^T C^{-1} theta = ||L^{-T} theta||^2
                self.fvalue = float(z @ z) / theta.size
            except SingularMatrixError:
                self.fvalue = np.nan
            self.f_pvalue = f_sf(self.fvalue, theta.size, self.df_resid) if np.isfinite(self.fvalue) else np.nan
        else:
            self.fvalue = self.f_pvalue = np.nan
        # Gaussian log-likelihood with sigma^2 = ssr / n concentrated out;
        # the weights enter through log det of the covariance (statsmodels' WLS).
        half = self.nobs / 2.0
        self.llf = -half * (np.log(2.0 * np.pi * self.ssr / self.nobs) + 1.0) + 0.5 * sum_log_weights
        k = self.df_model + k_constant
        self.aic = -2.0 * self.llf + 2.0 * k
        self.bic = -2.0 * self.llf + np.log(self.nobs) * k

    def conf_int(self, alpha=0.05):
        """Confidence intervals at level ``1 - alpha``: ``params -/+ t_{1-alpha/2} bse``.

        Parameters
        ----------
        alpha : float, default=0.05
            One minus the coverage.

        Returns
        -------
        intervals : ndarray of shape (k, 2)
            Lower and upper bounds.
        """
        q = t_isf_two_sided(alpha, self.df_resid)
        return np.column_stack([self.params - q * self.bse, self.params + q * self.bse])

    def summary(self, alpha=0.05):
        """A readable table of the estimates and fit statistics.

        Parameters
        ----------
        alpha : float, default=0.05
            One minus the coverage of the confidence intervals shown.

        Returns
        -------
        text : str
            The table.
        """
        ci = self.conf_int(alpha)
        width = max([len(n) for n in self.param_names] + [9])
        lo, hi = f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"
        lines = [
            "Least-squares regression results",
            f"  observations: {self.nobs}    df model: {self.df_model}    df resid: {self.df_resid}"
            f"    covariance: {self.cov_type}",
            f"  R-squared: {self.rsquared:.4f}    adj. R-squared: {self.rsquared_adj:.4f}",
            f"  F-statistic: {self.fvalue:.4g}    Prob (F-statistic): {self.f_pvalue:.3g}",
            f"  log-likelihood: {self.llf:.5g}    AIC: {self.aic:.5g}    BIC: {self.bic:.5g}",
            "",
            f"{'':<{width}} {'coef':>11} {'std err':>11} {'t':>9} {'P>|t|':>9} {lo:>11} {hi:>11}",
        ]
        for j, name in enumerate(self.param_names):
            lines.append(
                f"{name:<{width}} {self.params[j]:>11.4g} {self.bse[j]:>11.4g} "
                f"{self.tvalues[j]:>9.3f} {self.pvalues[j]:>9.3g} {ci[j, 0]:>11.4g} {ci[j, 1]:>11.4g}"
            )
        return "\n".join(lines)

    def __repr__(self):
        return self.summary()


def _undefined(message):
    return ValueError(f"inference is undefined here: {message}")


def _check_dof(nobs, k):
    if nobs - k <= 0:
        raise _undefined(
            f"{nobs} observations for {k} parameters leave no residual degrees of freedom."
        )


def _rank_error(rank, p):
    return _undefined(
        f"the design has rank {rank} < {p} features (collinear columns), so some coefficients "
        "are not identified. Drop the dependent columns (for one-hot encodings, one level per "
        "feature, e.g. OneHotEncoder(drop='first')) and refit."
    )


def _assemble(theta, intercept, M, Cprime_meat, x_mean, fit_intercept, W, scale):
    """Covariance of (b, theta): ``T C' T^T`` with ``C' = diag(1/W, M)`` (times scale) or a sandwich."""
    p = theta.shape[0]
    if Cprime_meat is None:
        Cp = np.zeros((p + 1, p + 1))
        Cp[0, 0] = 1.0 / W
        Cp[1:, 1:] = M
        Cp *= scale
    else:
        B = np.zeros((p + 1, p + 1))
        B[0, 0] = 1.0 / W
        B[1:, 1:] = M
        Cp = B @ Cprime_meat @ B
    if not fit_intercept:
        return np.r_[theta], Cp[1:, 1:]
    T = np.eye(p + 1)
    T[0, 1:] = -x_mean  # b = b' - xbar^T theta
    return np.r_[intercept, theta], T @ Cp @ T.T


def sum_log_weights(sample_weight):
    """``sum_i log s_i`` over the rows of positive weight: the weights' term of the log-likelihood.

    A row of zero weight is not an observation (it is dropped, not given a
    log-density of minus infinity); ``None`` (unit weights) gives 0.
    """
    if sample_weight is None:
        return 0.0
    s = np.asarray(sample_weight, dtype=np.float64)
    return float(np.sum(np.log(s[s > 0])))


def inference_from_data(X, y, sample_weight, fit_intercept, cov_type, names, tol=None):
    """Inference from the training rows (dense or sparse X, one target y)."""
    n_all, p = X.shape
    s = np.ones(n_all) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    rows = s > 0.0
    if not np.all(rows):
        X, y, s = X[rows], y[rows], s[rows]
    n = X.shape[0]
    k_constant = int(fit_intercept)
    _check_dof(n, p + k_constant)
    W = float(s.sum())
    sw = np.sqrt(s)
    x_mean = (np.asarray(X.T @ s).ravel() / W) if fit_intercept else np.zeros(p)
    y_mean = float(s @ y / W) if fit_intercept else 0.0
    yw = sw * (y - y_mean)
    rcond = tol if tol is not None else default_rcond(n, p)

    if sp.issparse(X):
        op = CentredOperator(X.tocsr(), x_mean, sw)
        try:
            R = cholesky(op.gram())
        except SingularMatrixError:
            raise _undefined(
                "the scatter matrix of X is singular (collinear columns): some coefficients are "
                "not identified. Drop the dependent columns and refit."
            ) from None
        perm = np.arange(p)
        R_inv = solve_triangular(R, np.eye(p))
        theta = R_inv @ (R_inv.T @ op.rmatmat(yw[:, None]))
        for _ in range(2):  # corrected semi-normal refinement with exact products
            theta += R_inv @ (R_inv.T @ op.rmatmat(yw[:, None] - op.matmat(theta)))
        theta = theta[:, 0]
        resid_w = yw - op.matmat(theta[:, None])[:, 0]
    else:
        A = np.asarray(X, dtype=np.float64)
        A = (A - x_mean) * sw[:, None]
        fac = HouseholderQR(A, rcond)
        if fac.rank < p:
            raise _rank_error(fac.rank, p)
        theta = fac.solve(yw[:, None])
        theta += fac.solve(yw[:, None] - A @ theta)
        theta = theta[:, 0]
        perm = fac.perm
        R_inv = solve_triangular(fac.U, np.eye(p))
        resid_w = yw - A @ theta
    # (A^T A)^{-1} = P R^{-1} R^{-T} P^T.
    M = np.empty((p, p))
    M[np.ix_(perm, perm)] = R_inv @ R_inv.T
    ssr = float(resid_w @ resid_w)
    df_resid = n - p - k_constant
    intercept = y_mean - x_mean @ theta

    meat = None
    if cov_type != "nonrobust":
        if cov_type in ("HC2", "HC3"):
            h = _leverages(X, x_mean, sw, perm, R_inv, None if sp.issparse(X) else A)
            if fit_intercept:
                h += s / W
            if np.any(h >= 1.0 - 1e-12):
                raise _undefined(f"{cov_type} divides by 1 - h_i, and some rows have leverage 1.")
            omega = resid_w**2 / ((1.0 - h) if cov_type == "HC2" else (1.0 - h) ** 2)
        else:
            omega = resid_w**2 * (n / df_resid if cov_type == "HC1" else 1.0)
        meat = _meat(X, x_mean, sw, omega, op if sp.issparse(X) else None,
                     None if sp.issparse(X) else A)

    params, cov = _assemble(theta, intercept, M, meat, x_mean, fit_intercept, W, ssr / df_resid)
    tss = float(s @ (y - y_mean) ** 2)
    return OLSInference(params, cov, names, n, p, df_resid, ssr, tss, k_constant,
                        sum_log_weights(s), cov_type)


def _leverages(X, x_mean, sw, perm, R_inv, A):
    """``||(A P R^{-1})_i||^2`` for every row: diagonal of the hat matrix of A."""
    if A is not None:
        Q = A[:, perm] @ R_inv
        return np.sum(Q * Q, axis=1)
    n, p = X.shape
    Xr = X.tocsr()
    h = np.empty(n)
    step = max(1, _BLOCK_ENTRIES // max(p, 1))
    RB = np.empty((p, p))
    RB[perm] = R_inv  # (X - xbar)[:, perm] R^{-1} = (X - xbar) RB
    shift = x_mean @ RB
    for i0 in range(0, n, step):
        i1 = min(i0 + step, n)
        Qb = np.asarray(Xr[i0:i1] @ RB) - shift
        Qb *= sw[i0:i1, None]
        h[i0:i1] = np.sum(Qb * Qb, axis=1)
    return h


def _meat(X, x_mean, sw, omega, op, A):
    """``Z^T diag(omega) Z`` with ``Z = [sqrt(s), A]`` ((p + 1) x (p + 1))."""
    p = X.shape[1]
    Mt = np.empty((p + 1, p + 1))
    Mt[0, 0] = float(omega @ (sw * sw))
    if A is not None:
        Aw = A * omega[:, None]
        Mt[1:, 1:] = A.T @ Aw
        Mt[1:, 0] = Aw.T @ sw
    else:
        # A^T diag(omega) A is the Gram of the operator with weights sqrt(s * omega).
        Mt[1:, 1:] = CentredOperator(X, x_mean, sw * np.sqrt(omega)).gram()
        Mt[1:, 0] = op.rmatmat((omega * sw)[:, None])[:, 0]
    Mt[0, 1:] = Mt[1:, 0]
    return Mt


def inference_from_factor(factor, n_features, fit_intercept, names, tol=None, sum_log_weights=0.0):
    """Nonrobust inference from the kept factor of ``[X | y]`` (after partial_fit)."""
    p = n_features
    n = factor.count
    k_constant = int(fit_intercept)
    _check_dof(n, p + k_constant)
    R = factor.square(p + 1)
    R_xx, c = R[:p, :p], R[:p, p]
    rcond = tol if tol is not None else default_rcond(n, p)
    fac = HouseholderQR(R_xx, rcond)
    if fac.rank < p:
        raise _rank_error(fac.rank, p)
    theta = fac.solve(c[:, None])
    theta += fac.solve(c[:, None] - R_xx @ theta)
    theta = theta[:, 0]
    # ||A theta - y||^2 = ||R_xx theta - c||^2 + R_yy^2.
    r_top = c - R_xx @ theta
    ssr = float(r_top @ r_top + R[p, p] ** 2)
    R_inv = solve_triangular(fac.U, np.eye(p))
    M = np.empty((p, p))
    M[np.ix_(fac.perm, fac.perm)] = R_inv @ R_inv.T
    x_mean, y_mean = factor.mean[:p], factor.mean[p]
    W = factor.weight
    df_resid = n - p - k_constant
    intercept = y_mean - x_mean @ theta
    params, cov = _assemble(theta, intercept, M, None, x_mean, fit_intercept, W, ssr / df_resid)
    # The centred total sum of squares of y is the (y, y) entry of the
    # scatter matrix: ||R[:, p]||^2; uncentred without an intercept.
    tss = float(R[:, p] @ R[:, p])
    return OLSInference(params, cov, names, n, p, df_resid, ssr, tss, k_constant,
                        sum_log_weights, "nonrobust")
