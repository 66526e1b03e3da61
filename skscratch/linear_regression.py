"""Ordinary least squares by Householder QR: the scikit-learn estimator.

This module holds validation and scikit-learn conventions only; the numerics
are in :mod:`skscratch._linalg`.
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._base import densify, restore_on_failure
from ._linalg import lstsq


class LinearRegressionOLS(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Ordinary least squares solved by Householder QR and back-substitution.

    Minimizes ``sum_i s_i (y_i - x_i^T theta - b)^2`` (``s_i`` the sample
    weights) without forming the normal equations ``X^T X theta = X^T y``:
    with ``X = QR`` they become ``R theta = Q^T y``, solved by
    back-substitution. Rank-deficient and wide problems get the
    minimum-norm least-squares solution (rank-revealing QR with column
    pivoting and a complete orthogonal decomposition), the answer of
    :class:`sklearn.linear_model.LinearRegression` and of LAPACK's ``gelsd``
    (see ``tol`` for where the two rank cutoffs differ).

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept. If True, ``X`` and ``y`` are centred
        (with weighted means under ``sample_weight``) before the solve and
        the intercept is recovered as ``mean(y) - mean(X) @ coef_``.

    solver : {'auto', 'householder'}, default='auto'
        - ``'householder'``: blocked Householder QR (compact WY), then QR with
          column pivoting on the small triangle. The reference path, exact
          for any rank.
        - ``'auto'``: for tall ``X``, first ``R = chol(X^T X)`` (QR's R,
          from one matrix product) and a cheap upper bound ``kappa_F`` on
          the condition number. Then, by that bound: up to 1e5, the
          corrected semi-normal equations ``R^T R theta = X^T y`` (one
          correction step; as accurate as QR when ``kappa^2 u`` is small);
          beyond, CholeskyQR2 when its orthogonality check passes (up to
          about 1e7); otherwise, and for every rank-deficient or wide
          ``X``, ``'householder'``. Each fast path is taken only where it
          keeps QR-class accuracy. The path taken is stored in ``solver_``.

    tol : float in [0, 1), default=None
        Relative cutoff for the numerical rank, the concept of
        :class:`~sklearn.linear_model.LinearRegression`'s ``tol`` on dense
        data: a diagonal entry of the column-pivoted R with
        ``|R_kk| <= tol * |R_00|`` counts as zero (scikit-learn compares
        singular values instead; both rank-reveal the same exact
        deficiencies). ``None`` means ``max(n_samples, n_features) * eps``,
        the size of the factorization's own rounding error (the default of
        ``numpy.linalg.lstsq``; ``scipy.linalg.lstsq`` cuts at ``eps``). Note
        that scikit-learn >= 1.9 defaults to ``tol=1e-6``, which discards
        directions with singular values below 1e-6 of the largest; pass
        ``tol=1e-6`` to cut at about the same place.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Estimated coefficients; 2-D when ``y`` was 2-D.

    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; ``0.0`` when ``fit_intercept=False``.

    rank_ : int
        Numerical rank of the (centred, weighted) design matrix.

    solver_ : str
        The path that produced the solution: ``'seminormal'``,
        ``'cholesky_qr2'`` or ``'householder'``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.linear_model.LinearRegression : The scikit-learn estimator this
        one mirrors (SVD-based LAPACK ``gelsd``).

    Notes
    -----
    Computation is in float64 whatever the input dtype; float32 input gives
    float32 ``coef_`` and predictions, as scikit-learn's twin does. Sparse
    ``X`` is densified (refused with an error that names the size when the
    dense copy would not fit comfortably in memory).

    The derivation (normal equations, Householder reflections, blocking,
    R from the Gram matrix, the corrected semi-normal equations, CholeskyQR2,
    iterative refinement, pivoting and the minimum-norm solution) is in the
    documentation's "Linear regression" page.

    Examples
    --------
    >>> import numpy as np
    >>> from skscratch import LinearRegressionOLS
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> y = X @ np.array([1.0, 2.0]) + 3.0
    >>> reg = LinearRegressionOLS().fit(X, y)
    >>> reg.coef_.round(6)
    array([1., 2.])
    >>> round(float(reg.intercept_), 6)
    3.0
    >>> reg.predict(np.array([[3.0, 5.0]])).round(6)
    array([16.])
    >>> round(reg.score(X, y), 6)
    1.0
    """

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        "solver": [StrOptions({"auto", "householder"})],
        "tol": [Interval(Real, 0, 1, closed="left"), None],
    }

    def __init__(self, *, fit_intercept=True, solver="auto", tol=None):
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol

    @restore_on_failure
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the linear model by least squares.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, not all zero. An integer weight is the same
            as repeating the row; a zero weight the same as dropping it.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc", "coo"),
            dtype=[np.float64, np.float32],
            y_numeric=True,
            multi_output=True,
        )
        out_dtype = X.dtype
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        X = densify(X)
        n_samples, n_features = X.shape
        Y = np.asarray(y, dtype=np.float64)
        Y = Y.reshape(-1, 1) if y.ndim == 1 else Y

        # Centring removes the intercept column from the solve: the intercept
        # is then exact and unpenalized, and a column of ones beside features
        # with large means would worsen the conditioning (Part 1's "add a
        # column of ones" works, but centring is what real software does).
        X_owned = False
        if self.fit_intercept:
            if sample_weight is None:
                x_mean = X.mean(axis=0, dtype=np.float64)
                y_mean = Y.mean(axis=0)
            else:
                total = sample_weight.sum()
                x_mean = (sample_weight @ X) / total
                y_mean = (sample_weight @ Y) / total
            Xc = X - x_mean  # float64: a new array we own
            Yc = Y - y_mean
            X_owned = True
        else:
            x_mean = np.zeros(n_features)
            y_mean = np.zeros(Y.shape[1])
            Xc = X if X.dtype == np.float64 else X.astype(np.float64)
            X_owned = Xc is not X
            Yc = Y
        if sample_weight is not None:
            # Weighted least squares = ordinary least squares on rows scaled
            # by sqrt(s_i); a zero weight zeroes its row, i.e. drops it.
            sw = np.sqrt(sample_weight)
            if X_owned:
                Xc *= sw[:, None]
            else:
                Xc = Xc * sw[:, None]
            Yc = Yc * sw[:, None]

        theta, rank, solver_used = lstsq(Xc, Yc, rcond=self.tol, solver=self.solver)

        # y_mean - x_mean^T theta, per target (exactly 0 without an intercept,
        # where both means are zeros).
        intercept = y_mean - x_mean @ theta
        if y.ndim == 1:
            coef, intercept = theta[:, 0], float(intercept[0])
        else:
            coef = np.ascontiguousarray(theta.T)
            intercept = intercept.astype(out_dtype)

        self.coef_ = coef.astype(out_dtype, copy=False)
        self.intercept_ = intercept
        self.rank_ = int(rank)
        self.solver_ = solver_used
        return self

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            ``X @ coef_.T + intercept_``.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc", "coo"),
            dtype=[np.float64, np.float32],
            reset=False,
        )
        if sp.issparse(X):
            X = X.tocsr()
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
