"""Ordinary least squares by Householder QR: the scikit-learn estimator.

This module holds validation and scikit-learn conventions only; the numerics
are in :mod:`skscratch._linalg` (dense factorizations, factor merging),
:mod:`skscratch._lsq_sparse` (sparse X), :mod:`skscratch._nnls`
(``positive=True``) and :mod:`skscratch._inference` (:meth:`inference`).
"""

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _dask
from ._base import check_sample_weight, densify, restore_on_failure
from ._inference import COV_TYPES, inference_from_data, inference_from_factor, sum_log_weights
from ._linalg import CentredFactor, HouseholderQR, MatrixOperator, default_rcond, lstsq
from ._lsq_sparse import MAX_EXACT_FEATURES, CentredOperator, lsmr, sparse_exact
from ._nnls import nnls


class LinearRegressionOLS(_dask.DaskScoreMixin, MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Ordinary least squares solved by Householder QR and back-substitution.

    Minimizes ``sum_i s_i (y_i - x_i^T theta - b)^2`` (``s_i`` the sample
    weights) without forming the normal equations ``X^T X theta = X^T y``:
    with ``X = QR`` they become ``R theta = Q^T y``, solved by
    back-substitution. Rank-deficient and wide problems get the
    minimum-norm least-squares solution (rank-revealing QR with column
    pivoting and a complete orthogonal decomposition), the answer of
    :class:`sklearn.linear_model.LinearRegression` and of LAPACK's ``gelsd``
    (see ``tol`` for where the two rank cutoffs differ). Sparse ``X`` is
    never densified, ``positive=True`` gives non-negative least squares,
    :meth:`partial_fit` streams row batches exactly, and :meth:`inference`
    gives standard errors, tests and fit statistics on request.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept. If True, ``X`` and ``y`` are centred
        (with weighted means under ``sample_weight``) before the solve and
        the intercept is recovered as ``mean(y) - mean(X) @ coef_``. Sparse
        ``X`` is centred implicitly, inside the products.

    copy_X : bool, default=True
        If True, ``X`` is never modified. If False, a dense float64 ``X`` may
        be centred (and scaled by ``sqrt(sample_weight)``) in place, as
        scikit-learn's twin does, which saves the one n x p copy a fit makes:
        measured with ``tracemalloc`` at 100000 x 200, the memory a fit
        allocates beyond X peaks at 1.02 ``X.nbytes`` by default and at
        0.02 ``X.nbytes`` with ``copy_X=False`` (scikit-learn: 2.01 and
        1.01). Other dtypes and sparse ``X`` are never overwritten.

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
        ``tol=1e-6`` to cut at about the same place. When LSMR runs (sparse
        X with many features, or ``solver='lsmr'``), ``tol`` is also its
        ``atol`` and ``btol``, as scikit-learn's ``tol`` is for its LSQR;
        ``None`` there means 1e-7, a tenth of scikit-learn's default: on
        the same test LSMR stops earlier than LSQR, and at 1e-7 its answer
        is measured more accurate than LSQR's at 1e-6.

    n_jobs : int, default=None
        Number of targets solved in parallel (threads) where the work is per
        target: ``positive=True`` and LSMR with several targets, the cases
        where scikit-learn's ``n_jobs`` applies. ``None`` means 1, ``-1``
        all processors. Without it, LSMR already advances all targets with
        one sparse product per iteration.

    positive : bool, default=False
        When True, the coefficients are constrained to be non-negative:
        Lawson-Hanson's active-set method on the Gram matrix of the centred
        data, refined on the final free set with exact products. Dense X
        only, as in scikit-learn (sparse X raises ``TypeError``).

    solver : {'auto', 'householder', 'lsmr'}, default='auto'
        - ``'householder'``: blocked Householder QR (compact WY), then QR with
          column pivoting on the small triangle. The reference path, exact
          for any rank (it densifies sparse X, refusing when that would not
          fit in memory).
        - ``'auto'``: for tall ``X``, first ``R = chol(X^T X)`` (QR's R,
          from one matrix product) and a cheap upper bound ``kappa_F`` on
          the condition number. Then, by that bound: up to 1e5, the
          corrected semi-normal equations ``R^T R theta = X^T y`` (one
          correction step; as accurate as QR when ``kappa^2 u`` is small).
          Rank-deficient X whose independent columns are that well
          conditioned (one-hot blocks beside the intercept, duplicated
          columns): a Cholesky factorization that drops the dependent
          columns, then a null-space projection to the minimum-norm answer,
          taken only when the dropped columns' residuals certify the rank
          (``'gram_cod'``). Full rank beyond 1e5: CholeskyQR2 when its
          orthogonality check passes (up to about 1e7); otherwise, and for
          wide ``X``, ``'householder'``. Sparse X: the same Gram paths
          (centring inside the products) when ``n_features <= 1250``,
          otherwise LSMR. The path taken is stored in ``solver_``.
        - ``'lsmr'``: LSMR (Fong & Saunders), the iterative path, always.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Estimated coefficients; 2-D when ``y`` was 2-D.

    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; ``0.0`` when ``fit_intercept=False``.

    rank_ : int or None
        Numerical rank of the (centred, weighted) design matrix; ``None``
        where the path does not reveal it (LSMR, ``positive=True``).

    solver_ : str
        The path that produced the solution: ``'seminormal'``,
        ``'gram_cod'``, ``'cholesky_qr2'``, ``'householder'``, ``'lsmr'``,
        ``'nnls'`` or ``'streaming_qr'`` (after :meth:`partial_fit`).

    n_iter_ : ndarray of shape (n_targets,) or None
        Iterations per target of LSMR, or active-set steps of NNLS; ``None``
        for the direct paths.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.linear_model.LinearRegression : The scikit-learn estimator this
        one mirrors (SVD-based LAPACK ``gelsd``; LSQR on sparse X).

    Notes
    -----
    Computation is in float64 whatever the input dtype; float32 input gives
    float32 ``coef_`` and predictions, as scikit-learn's twin does.

    Memory beyond the input: the dense paths hold the centred copy of X
    (none with ``copy_X=False``) and p x p factors. Sparse X is never
    copied: the LSMR path holds a few n- and p-vectors per target (measured
    with ``tracemalloc`` on 200000 x 20000 at density 1e-3, whose CSR
    arrays take 46.5 MiB: a peak of 6.4 MiB, 7.9 MiB with sample weights;
    scikit-learn's LSQR path 8.7 and 56.8 MiB), the exact path one p x p
    Gram matrix besides.

    The derivations (normal equations, Householder reflections, blocking,
    R from the Gram matrix, the corrected semi-normal equations, CholeskyQR2,
    iterative refinement, pivoting and the minimum-norm solution, the
    rank-deficient Gram path, LSMR, NNLS, the factor merge and the inference
    formulas) are in the documentation's "Linear regression" page.

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

    Standard errors and tests, computed only when asked for:

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2))
    >>> y = X @ np.array([1.0, -2.0]) + 0.5 + rng.normal(size=100)
    >>> result = LinearRegressionOLS().fit(X, y).inference(X, y)
    >>> result.params.round(3)  # intercept first
    array([ 0.337,  0.892, -1.825])
    >>> result.bse.round(3)
    array([0.113, 0.116, 0.119])

    Streaming the same rows in batches gives the same fit:

    >>> stream = LinearRegressionOLS()
    >>> for rows in np.array_split(np.arange(100), 4):
    ...     stream = stream.partial_fit(X[rows], y[rows])
    >>> bool(np.allclose(stream.coef_, result.params[1:], rtol=1e-10))
    True
    """

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "tol": [Interval(Real, 0, 1, closed="left"), None],
        "n_jobs": [None, Integral],
        "positive": ["boolean"],
        "solver": [StrOptions({"auto", "householder", "lsmr"})],
    }

    def __init__(
        self, *, fit_intercept=True, copy_X=True, tol=None, n_jobs=None, positive=False, solver="auto"
    ):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive
        self.solver = solver

    def _validate_fit_data(self, X, y, sample_weight, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=False if self.positive else ("csr", "csc", "coo"),
            dtype=[np.float64, np.float32],
            y_numeric=True,
            multi_output=True,
            reset=reset,
        )
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        return X, y, sample_weight

    @restore_on_failure
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the linear model by least squares.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse X is never densified (see ``solver``); it
            is refused with ``positive=True``, as scikit-learn does.

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
        if _dask.is_dask(X, y, sample_weight):
            # TSQR on the workers; the driver solves the merged triangle.
            factor, _, n_features, y_ndim, dtype = _dask.linear_factor(
                self, X, y, sample_weight, reset=True)
            self._solve_factor(factor, n_features, y_ndim, dtype, ("tsqr", "tsqr_nnls"))
            self.__dict__.pop("_stream", None)
            return self
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight, reset=True)
        out_dtype = X.dtype
        if sp.issparse(X) and X.dtype != np.float64:
            # The means, the Gram matrix and the products are accumulated in
            # float64: an O(nnz) copy of the values (exact in float64).
            X = X.astype(np.float64)
        Y = np.asarray(y, dtype=np.float64)
        Y = Y.reshape(-1, 1) if y.ndim == 1 else Y
        n_features = X.shape[1]
        sw = None if sample_weight is None else np.sqrt(sample_weight)

        if self.fit_intercept:
            x_mean = _weighted_mean(X, sample_weight)
            y_mean = _weighted_mean(Y, sample_weight)
            Yc = Y - y_mean
        else:
            x_mean, y_mean = np.zeros(n_features), np.zeros(Y.shape[1])
            Yc = Y.copy()
        if sw is not None:
            Yc *= sw[:, None]  # weighted least squares: rows scaled by sqrt(s_i)

        n_iter = None
        if sp.issparse(X) and self.solver != "householder":
            rcond, atol = _sparse_tolerances(self.tol, self.solver)
            theta, rank, solver_used, n_iter = self._solve_sparse(
                X, Yc, x_mean if self.fit_intercept else None, sw, rcond, atol
            )
        else:
            Xc = self._centred_dense(densify(X), x_mean, sw)
            if self.positive:
                theta, n_iter = _by_target_blocks(lambda Yb: nnls(Xc, Yb), Yc, self.n_jobs)
                rank, solver_used = None, "nnls"
            elif self.solver == "lsmr":
                atol = _sparse_tolerances(self.tol, "lsmr")[1]
                op = MatrixOperator(Xc)
                theta, n_iter = _by_target_blocks(
                    lambda Yb: _lsmr_checked(op, Yb, atol), Yc, self.n_jobs
                )
                rank, solver_used = None, "lsmr"
            else:
                theta, rank, solver_used = lstsq(Xc, Yc, rcond=self.tol, solver=self.solver)

        # y_mean - x_mean^T theta, per target (exactly 0 without an intercept,
        # where both means are zeros).
        intercept = y_mean - x_mean @ theta
        self._set_coefficients(theta, intercept, y.ndim, out_dtype)
        self.rank_ = None if rank is None else int(rank)
        self.solver_ = solver_used
        self.n_iter_ = n_iter
        # A new fit ends any stream of partial_fit calls.
        self.__dict__.pop("_stream", None)
        return self

    def _centred_dense(self, X, x_mean, sw):
        """``diag(sqrt(s)) (X - 1 xbar^T)`` as float64, in place when ``copy_X=False`` allows.

        In place only for a writeable float64 array that validation did not
        already copy: then the caller's X is overwritten, as scikit-learn
        does with ``copy_X=False``, and no n x p copy is made.
        """
        in_place = (not self.copy_X) and X.dtype == np.float64 and X.flags.writeable
        if not self.fit_intercept and sw is None:
            return X if X.dtype == np.float64 else X.astype(np.float64)
        if in_place:
            Xc = X
            if self.fit_intercept:
                Xc -= x_mean
        elif self.fit_intercept:
            Xc = X - x_mean  # float64: a new array we own
        else:
            Xc = X.astype(np.float64, copy=True)
        if sw is not None:
            Xc *= sw[:, None]
        return Xc

    def _solve_sparse(self, X, Yc, x_mean, sw, rcond, atol):
        """Sparse X: the exact Gram path when p is small, else LSMR; never a dense copy of X."""
        x_mean = np.zeros(X.shape[1]) if x_mean is None else x_mean
        op = CentredOperator(X, x_mean, sw)
        if self.solver == "auto":
            exact = sparse_exact(op, Yc, rcond=rcond)
            if exact is not None:
                return (*exact, None)
        theta, n_iter = _by_target_blocks(lambda Yb: _lsmr_checked(op, Yb, atol), Yc, self.n_jobs)
        return theta, None, "lsmr", n_iter

    def _set_coefficients(self, theta, intercept, y_ndim, out_dtype):
        if y_ndim == 1:
            coef, intercept = theta[:, 0], float(intercept[0])
        else:
            coef = np.ascontiguousarray(theta.T)
            intercept = intercept.astype(out_dtype)
        self.coef_ = coef.astype(out_dtype, copy=False)
        self.intercept_ = intercept

    @restore_on_failure
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the least-squares fit with a batch of rows, exactly.

        After any sequence of batches, ``coef_`` and ``intercept_`` are those
        of one :meth:`fit` on all the rows seen (to rounding): the fit keeps
        the triangular factor R of the centred, weighted ``[X | y]`` rows
        seen so far, with their total weight and means, and merges each
        batch's factor into it (:class:`~skscratch._linalg.CentredFactor`).
        Memory is O((n_features + n_targets)^2) whatever the number of rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A batch of training rows. A sparse batch is factored through its
            scatter matrix (no dense copy; accuracy ``kappa^2 u`` instead of
            QR's ``kappa u`` for that batch).

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets of the batch; the same number of targets every call.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch's rows.

        Returns
        -------
        self : object
            The updated estimator.

        Notes
        -----
        The first call, and the first after :meth:`fit`, starts a new
        stream. ``solver='lsmr'`` is not used here. ``solver_`` is
        ``'streaming_qr'`` and ``rank_`` the numerical rank of the merged
        factor; with ``positive=True``, ``'streaming_nnls'``: the active-set
        method runs on the merged triangle, whose objective is the data's.
        """
        stream = self.__dict__.get("_stream")
        first = stream is None
        if _dask.is_dask(X, y, sample_weight):
            block, log_w, n_features, y_ndim, x_dtype = _dask.linear_factor(
                self, X, y, sample_weight, reset=first)
            n_targets = block.mean.shape[0] - n_features
        else:
            X, y, sample_weight = self._validate_fit_data(X, y, sample_weight, reset=first)
            x_dtype = X.dtype  # float32 in, float32 out, though accumulated in float64
            if sp.issparse(X) and X.dtype != np.float64:
                X = X.astype(np.float64)  # means and scatter accumulated in float64
            Y = np.asarray(y, dtype=np.float64)
            Y = Y.reshape(-1, 1) if y.ndim == 1 else Y
            n_features, n_targets, y_ndim = X.shape[1], Y.shape[1], y.ndim
            block = None
        if not first and (n_targets != stream.n_targets or y_ndim != stream.y_ndim):
            raise ValueError(
                f"y has {n_targets} target(s) (ndim {y_ndim}); the previous partial_fit calls "
                f"had {stream.n_targets} (ndim {stream.y_ndim}). Pass the same targets every call."
            )
        if block is None:
            block = _batch_factor(X, Y, sample_weight, self.fit_intercept)
            log_w = sum_log_weights(sample_weight)
        out_dtype = x_dtype if first else self.coef_.dtype
        factor = block if first else stream.factor.merge(block)
        self._solve_factor(factor, n_features, y_ndim, out_dtype,
                           ("streaming_qr", "streaming_nnls"))
        self._stream = _Stream(factor, n_targets, y_ndim,
                               log_w + (0.0 if first else stream.sum_log_weights))
        return self

    def _solve_factor(self, factor, n_features, y_ndim, out_dtype, names):
        """Coefficients from the merged factor of the centred ``[X | Y]`` rows (streaming, TSQR)."""
        rcond = self.tol if self.tol is not None else default_rcond(max(factor.count, 1), n_features)
        R = factor.square()
        R_xx, C = R[:n_features, :n_features], R[:n_features, n_features:]
        # ||Xc theta - Yc||^2 = ||R_xx theta - C||^2 + ||R_yy||^2: the
        # minimum-norm solution of the small triangular problem is the fit's,
        # and so is the non-negative one (the same objective, constrained).
        if self.positive:
            theta, n_iter = _by_target_blocks(lambda Cb: nnls(R_xx, Cb), C, self.n_jobs)
            rank, solver_used = None, names[1]
        else:
            fac = HouseholderQR(R_xx, rcond)
            theta = fac.solve(C)
            theta += fac.solve(C - R_xx @ theta)
            rank, solver_used, n_iter = int(fac.rank), names[0], None
        x_mean, y_mean = factor.mean[:n_features], factor.mean[n_features:]
        intercept = y_mean - x_mean @ theta
        self._set_coefficients(theta, intercept, y_ndim, out_dtype)
        self.rank_ = rank
        self.solver_ = solver_used
        self.n_iter_ = n_iter

    def inference(self, X=None, y=None, sample_weight=None, cov_type="nonrobust"):
        """Classical inference for the least-squares coefficients: standard errors, tests, fit statistics.

        Nothing of this is computed by :meth:`fit`: the factorization of the
        given rows is done here, on request.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
            The rows the model was fitted on: the estimates are recomputed
            from their QR factorization (to rounding, ``coef_`` and
            ``intercept_`` when these are the training rows). ``None`` after
            :meth:`partial_fit`: the kept triangular factor is used (only
            ``cov_type='nonrobust'``, which needs no per-row residuals).

        y : array-like of shape (n_samples,), default=None
            Their targets (one target).

        sample_weight : array-like of shape (n_samples,), default=None
            The weights of the fit (weighted least squares).

        cov_type : {'nonrobust', 'HC0', 'HC1', 'HC2', 'HC3'}, default='nonrobust'
            The covariance of the estimates: classical, or heteroskedasticity-
            consistent (White's HC0 and its corrections HC1-HC3), as in
            statsmodels.

        Returns
        -------
        result : OLSInference
            ``params``, ``bse``, ``tvalues``, ``pvalues``, ``conf_int(alpha)``,
            ``rsquared``, ``rsquared_adj``, ``fvalue``, ``f_pvalue``, ``llf``,
            ``aic``, ``bic``, ``df_model``, ``df_resid``, ``summary()``.
            The intercept, when fitted, is the first parameter.

        Raises
        ------
        ValueError
            When inference is undefined: a rank-deficient design, no residual
            degrees of freedom, sparse X wider than it is tall, more than
            one target, or a model fitted with ``positive=True``.
        """
        check_is_fitted(self)
        if self.positive:
            raise ValueError(
                "inference is the classical theory of unconstrained least squares; with "
                "positive=True the estimates are constrained and its standard errors and tests "
                "do not apply. Fit with positive=False for inference."
            )
        if cov_type not in COV_TYPES:
            raise ValueError(f"cov_type must be one of {sorted(COV_TYPES)}; got {cov_type!r}.")
        names = _parameter_names(self)
        if _dask.is_dask(X, y, sample_weight):
            if cov_type != "nonrobust":
                raise ValueError(
                    f"cov_type={cov_type!r} needs each row's residual; on Dask arrays only the "
                    "nonrobust covariance is computed (from the merged factor)."
                )
            factor, log_w, n_features, _, _ = _dask.linear_factor(self, X, y, sample_weight,
                                                                  reset=False)
            if factor.mean.shape[0] - n_features != 1:
                raise ValueError("inference is for one target at a time; y has "
                                 f"{factor.mean.shape[0] - n_features}.")
            return inference_from_factor(factor, self.n_features_in_, self.fit_intercept,
                                         names, self.tol, log_w)
        if X is None:
            stream = self.__dict__.get("_stream")
            if stream is None:
                raise ValueError(
                    "inference needs the training rows X and y, or a model fitted by partial_fit "
                    "(whose kept factor replaces them)."
                )
            if cov_type != "nonrobust":
                raise ValueError(
                    f"cov_type={cov_type!r} needs each row's residual: pass X and y. The kept "
                    "factor of partial_fit gives only the nonrobust covariance."
                )
            if stream.n_targets != 1:
                raise ValueError("inference is for one target; the stream has "
                                 f"{stream.n_targets}. Fit one target at a time.")
            return inference_from_factor(stream.factor, self.n_features_in_, self.fit_intercept,
                                         names, self.tol, stream.sum_log_weights)
        if y is None:
            raise ValueError("inference needs y together with X.")
        X = validate_data(self, X, accept_sparse=("csr", "csc", "coo"),
                          dtype=np.float64, reset=False)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"inference is for one target at a time; y has shape {y.shape}.")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows and y {y.shape[0]}: they must match.")
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        if sp.issparse(X):
            if X.shape[0] < X.shape[1]:
                raise ValueError(
                    f"inference is undefined for X of shape {X.shape}: more features than rows."
                )
            if X.shape[1] > MAX_EXACT_FEATURES:
                raise ValueError(
                    f"inference on sparse X needs a dense p x p factor; {X.shape[1]} features is "
                    f"more than {MAX_EXACT_FEATURES}. Select features first."
                )
        return inference_from_data(X, y, sample_weight, self.fit_intercept, cov_type, names,
                                   self.tol)

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
        if _dask.is_dask(X):
            return _dask.predict(self, X, "predict")  # lazy, block by block
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
        tags.input_tags.sparse = not self.positive
        return tags


class _Stream:
    """What partial_fit keeps between calls: the merged factor and the targets' shape."""

    def __init__(self, factor, n_targets, y_ndim, sum_log_weights):
        self.factor, self.n_targets, self.y_ndim = factor, n_targets, y_ndim
        # sum of log s_i over the rows seen: the weights' term of the log-likelihood
        self.sum_log_weights = sum_log_weights


def _weighted_mean(A, sample_weight):
    """Column means of dense or sparse ``A``, weighted by ``sample_weight`` when given."""
    if sp.issparse(A):
        # As a product with X^T: scipy's sparse mean copies the values first
        # (a second X in memory), and with dtype=float64 sums float32 data in
        # float32.
        s = np.ones(A.shape[0]) if sample_weight is None else sample_weight
        return np.asarray(A.T @ s).ravel() / s.sum()
    if sample_weight is None:
        return np.asarray(A.mean(axis=0, dtype=np.float64)).ravel()
    return (sample_weight @ A) / sample_weight.sum()


def _batch_factor(X, Y, sample_weight, centre):
    """The centred factor of one batch of ``[X | Y]`` rows (dense QR, or sparse scatter)."""
    if not sp.issparse(X):
        return CentredFactor.from_rows(np.hstack([X.astype(np.float64, copy=False), Y]),
                                       sample_weight, centre=centre)
    n = X.shape[0]
    s = np.ones(n) if sample_weight is None else sample_weight
    weight = float(s.sum())
    count = int(np.count_nonzero(s))
    if weight <= 0.0:
        return CentredFactor.from_rows(np.zeros((0, X.shape[1] + Y.shape[1])), None, centre)
    x_mean = _weighted_mean(X, s) if centre else np.zeros(X.shape[1])
    y_mean = (s @ Y) / weight if centre else np.zeros(Y.shape[1])
    sw = np.sqrt(s)
    op = CentredOperator(X, x_mean, sw)
    Yc = (Y - y_mean) * sw[:, None]
    G_xy = op.rmatmat(Yc)
    q = X.shape[1] + Y.shape[1]
    G = np.empty((q, q))
    p = X.shape[1]
    G[:p, :p] = op.gram()
    G[:p, p:] = G_xy
    G[p:, :p] = G_xy.T
    G[p:, p:] = Yc.T @ Yc
    return CentredFactor.from_gram(G, weight, np.r_[x_mean, y_mean], count, centre)


# LSMR's atol = btol when tol is None. At scikit-learn's 1e-6, LSMR stops
# earlier than LSQR does on the same test (measured coefficient errors 1.4x
# and 4x LSQR's on the sparse benchmark cases); at 1e-7 they are 4.5x and
# 2.5x smaller than LSQR's at 1e-6, for one to two more iterations.
LSMR_DEFAULT_TOL = 1e-7


def _sparse_tolerances(tol, solver):
    """``(rcond, atol)`` for sparse X: ``tol`` is the rank cutoff of the exact path and,
    as scikit-learn's ``tol`` is for its LSQR, the stopping tolerance of LSMR."""
    return tol, (LSMR_DEFAULT_TOL if tol is None or tol == 0.0 else tol)


def _lsmr_checked(op, Y, atol):
    theta, n_iter, converged = lsmr(op, Y, atol=atol, btol=atol)
    return theta, _warn_unconverged(n_iter, converged)


def _warn_unconverged(n_iter, converged):
    if not np.all(converged):
        warnings.warn(
            f"LSMR stopped at its iteration limit ({int(np.max(n_iter))}) before reaching tol "
            "for some target; the coefficients may be inaccurate. Scale the features or raise tol.",
            ConvergenceWarning,
        )
    return n_iter


def _by_target_blocks(solve, Y, n_jobs):
    """``solve(Y_block) -> (theta_block, n_iter_block)`` over column blocks of Y.

    ``n_jobs`` has scikit-learn's meaning: how many targets are solved in
    parallel (threads; None means 1, -1 all processors). One block per job.
    """
    k = Y.shape[1]
    jobs = 1 if n_jobs is None else (os.cpu_count() or 1) if n_jobs < 0 else n_jobs
    jobs = max(1, min(jobs, k))
    if jobs == 1:
        return solve(Y)
    blocks = np.array_split(np.arange(k), jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda idx: solve(np.ascontiguousarray(Y[:, idx])), blocks))
    theta = np.hstack([r[0] for r in results])
    n_iter = np.concatenate([np.atleast_1d(r[1]) for r in results])
    return theta, n_iter


def _parameter_names(estimator):
    """Names of the parameters of inference: the intercept first, then the features."""
    names = getattr(estimator, "feature_names_in_", None)
    features = [str(n) for n in names] if names is not None else [
        f"x{j}" for j in range(estimator.n_features_in_)
    ]
    return (["intercept"] if estimator.fit_intercept else []) + features
