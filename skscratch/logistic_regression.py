"""Logistic regression by gradient descent: the scikit-learn estimator.

Validation and scikit-learn conventions only; the objective is in
:mod:`skscratch._linear_logit`, the optimizers in :mod:`skscratch._fullbatch` and :mod:`skscratch._stochastic`.
"""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._base import partial_fit_classes, restore_on_failure
from ._linear_logit import WhitenedLogit, predict_proba_from_logits
from ._losses import log_sigmoid, log_softmax
from ._fullbatch import spectral_descent
from ._stochastic import SGD, Adam, run_epochs
from ._training import TrainingState

# In whitened coordinates the gradient is 1-Lipschitz, so these hold on raw
# and scaled data alike; the stochastic ones were chosen on the shipped data
# sets (objective within a few percent of the optimum in <= 200 epochs).
_DEFAULT_RATE = {"gd": 1.0, "sgd": 0.2, "adam": 0.05}
# Iterations at which 'gd' re-whitens with the current curvature: gaps that
# double, so the O(n p^2) refreshes stay a logarithmic share of the work.
_RESCALE_AT = tuple(10 * (2**k - 1) for k in range(1, 12))
# 'gd' counts iterations (cheap: one gradient each), the others epochs.
_DEFAULT_MAX_ITER = {"gd": 10000, "sgd": 200, "adam": 200}
# 'gd': the squared whitened gradient below tol**2 of the objective. 1e-7 puts
# the objective within ~1e-10 relative of its minimum and the test
# probabilities within 1e-4 of scikit-learn's Newton solution on every shipped
# data set, raw or standardized (worst: raw load_digits, 6e-5); 1e-6 left raw
# load_digits 3e-4 off (its flattest directions barely move the objective but
# do move the test probabilities).
_DEFAULT_TOL = {"gd": 1e-7, "sgd": 1e-4, "adam": 1e-4}


def _stochastic(est):
    return est.solver in ("sgd", "adam")


class LogisticRegressionGD(ClassifierMixin, BaseEstimator):
    """Logistic regression fitted by gradient descent, binary and multinomial.

    Minimizes scikit-learn's L2-penalized objective
    ``C * sum_i s_i * logloss(y_i, x_i) + 1/2 ||W||^2`` (intercept not
    penalized; ``s_i`` the sample weights times the class weights), with a
    sigmoid for two classes and a softmax fitted jointly over all classes for
    three or more, by full-batch gradient descent (default), mini-batch SGD
    with (Nesterov) momentum, or Adam.

    The optimizers work in whitened coordinates: the features are centred
    and transformed by the Cholesky factor of a bound on the Hessian, which
    generalizes the article's "centre and scale the features" so that the
    gradient is 1-Lipschitz. Step sizes then come from the problem rather
    than from tuning, on raw and scaled data alike; ``coef_`` is reported in
    the original feature space.

    Parameters
    ----------
    C : float, default=1.0
        Inverse of the L2 penalty strength; ``np.inf`` means no penalty.

    fit_intercept : bool, default=True
        Whether to fit an (unpenalized) intercept.

    class_weight : dict or 'balanced', default=None
        Weights of the classes, multiplying ``sample_weight``; 'balanced'
        uses ``n_samples / (n_classes * bincount(y))``.

    solver : {'gd', 'sgd', 'adam'}, default='gd'
        - 'gd': full-batch gradient descent. The first step is the Lipschitz
          step 1; later steps are Barzilai-Borwein steps (the inverse
          curvature along the last move) under a nonmonotone backtracking
          line search, which keeps it globally convergent. At iterations 10,
          30, 70, ... the whitening is rebuilt from the current curvature
          of the loss (a change of variables), since the bound it starts
          from over-damps the confidently classified samples.
        - 'sgd': mini-batches with momentum or Nesterov momentum (the
          article's final classifier).
        - 'adam': mini-batches with Adam.

    learning_rate_init : float, default=None
        Step size in the whitened coordinates. ``None``: 1.0 for 'gd' (its
        first step, the Lipschitz step), 0.2 for 'sgd', 0.05 for 'adam'.

    batch_size : int or 'auto', default='auto'
        Mini-batch size for 'sgd' and 'adam'; 'auto' is ``min(200, n_samples)``.

    momentum : float in [0, 1], default=0.9
        Momentum of 'sgd'.

    nesterovs_momentum : bool, default=True
        Whether 'sgd' uses Nesterov's momentum.

    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decay rates and its denominator's guard.

    max_iter : int, default=None
        Iterations ('gd') or epochs ('sgd', 'adam'); ``None`` means 10000
        for 'gd' and 200 for the others.

    tol : float, default=None
        'gd' stops when the squared norm of the whitened gradient (twice the
        decrease a step is guaranteed to make) falls below ``tol**2`` times
        the objective. 'sgd'/'adam' stop when the epoch loss (or, with early
        stopping, the validation accuracy) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs. ``None`` means 1e-7 for 'gd' (the
        objective within ~1e-10 of its minimum) and 1e-4 for the others.

    n_iter_no_change : int, default=10
        Patience of the stopping rule of 'sgd' and 'adam'.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified),
        stop when its accuracy stops improving, and keep the best weights
        ('sgd' and 'adam').

    validation_fraction : float in (0, 1), default=0.1
        Size of the early-stopping hold-out.

    shuffle : bool, default=True
        Shuffle the rows every epoch ('sgd', 'adam').

    random_state : int, RandomState instance or None, default=None
        Seeds shuffling and the early-stopping split.

    warm_start : bool, default=False
        Start from the previous fit's coefficients.

    verbose : int, default=0
        Print the loss at each iteration or epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients in the original feature space: one row (the logit of
        ``classes_[1]``) for two classes, one row per class otherwise.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts; zeros when ``fit_intercept=False``.
    n_iter_ : int
        Iterations ('gd') or epochs run by the last fit.
    loss_curve_ : list of float
        Objective per iteration or epoch, per unit of sample weight
        (``sum_i s_i loss_i / S + ||W||^2 / (2 C S)``).
    validation_scores_ : list of float or None
        Validation accuracy per epoch with early stopping, else None.
    best_validation_score_ : float or None
        The best validation accuracy with early stopping, else None.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The same objective, fitted by
        L-BFGS by default.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skscratch import LogisticRegressionGD
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LogisticRegressionGD().fit(X, y)
    >>> clf.coef_.shape
    (1, 30)
    >>> bool(clf.score(X, y) > 0.95)
    True
    """

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "solver": [StrOptions({"gd", "sgd", "adam"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(self, *, C=1.0, fit_intercept=True, class_weight=None, solver="gd",
                 learning_rate_init=None, batch_size="auto", momentum=0.9,
                 nesterovs_momentum=True, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 max_iter=None, tol=None, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, shuffle=True, random_state=None,
                 warm_start=False, verbose=0):
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # -- fitting -----------------------------------------------------------

    @restore_on_failure
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X``, ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples, multiplied by the class weights; ``None``
            means all ones.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y, sample_weight, dtype = self._validate_xy(X, y, sample_weight, reset=True)
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(
                f"LogisticRegressionGD needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {classes[0]!r}."
            )
        warm = self.warm_start and hasattr(self, "coef_") and np.array_equal(classes, self.classes_)
        self.classes_ = classes
        rng = check_random_state(self.random_state)
        sample_weight = self._class_weighted(y, sample_weight)
        weighted = np.unique(y[sample_weight > 0])
        if weighted.shape[0] < 2:
            # One class left: the log-likelihood has no maximizer (the
            # intercept runs off to infinity), so there is nothing to fit.
            left = f"only the class {weighted.tolist()[0]!r}" if weighted.shape[0] else "no class"
            raise ValueError(
                "LogisticRegressionGD needs samples of at least 2 classes with positive "
                f"weight, but sample_weight and class_weight leave {left}."
            )

        X_val = y_val = None
        if self.early_stopping:
            if self.solver == "gd":
                raise ValueError("early_stopping=True needs solver='sgd' or 'adam'.")
            X, X_val, y, y_val, sample_weight, _ = train_test_split(
                X, y, sample_weight, test_size=self.validation_fraction, stratify=y,
                random_state=rng.randint(np.iinfo(np.int32).max),
            )
        problem = self._problem(X, y, sample_weight)
        if X_val is not None:
            problem.validation_score = lambda params: float(
                np.mean(self._labels(problem.logits(X_val, params)) == y_val)
            )
        params = problem.initial_params(*((self.coef_, self.intercept_) if warm else (None, None)))
        state = TrainingState()
        if self.solver == "gd":
            spectral_descent(
                problem, params, max_iter=self._max_iter(), tol=self._tol()**2,
                rate=self._rate(), state=state, verbose=self.verbose,
                rescale_at=_RESCALE_AT,
            )
        else:
            optimizer = self._optimizer(params)
            run_epochs(
                problem, optimizer, params, X.shape[0], batch_size=self._batch(X.shape[0]),
                max_iter=self._max_iter(), shuffle=self.shuffle, rng=rng, tol=self._tol(),
                n_iter_no_change=self.n_iter_no_change, early_stopping=self.early_stopping,
                state=state, verbose=self.verbose,
            )
            self._optimizer_ = optimizer
        self._store(problem, params, state, dtype)
        return self

    @available_if(_stochastic)
    @restore_on_failure
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of 'sgd' or 'adam' over ``X``, ``y``.

        The first call needs ``classes`` (all the classes that will ever be
        seen) and fixes the whitening coordinates from its batch.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data of this call.
        y : array-like of shape (n_samples,)
            Target labels, each one of ``classes``.
        classes : array-like of shape (n_classes,), default=None
            All the classes that will ever be seen; required on the first
            call. Later calls may omit it; classes that differ from
            ``classes_`` raise a ``ValueError``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples; ``None`` means all ones.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        first = not hasattr(self, "classes_") or not hasattr(self, "_problem_metric")
        if first:
            self._validate_params()
        classes = partial_fit_classes(self, classes, first)
        X, y, sample_weight, dtype = self._validate_xy(X, y, sample_weight, reset=first)
        self.classes_ = classes
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in classes "
                f"{self.classes_.tolist()} given to the first call of partial_fit."
            )
        sample_weight = self._class_weighted(y, sample_weight)
        metric = None if first else self._problem_metric
        problem = self._problem(X, y, sample_weight, metric_from=metric)
        if first:
            params = problem.initial_params()
            self._optimizer_ = self._optimizer(params)
            self._state = TrainingState()
        else:
            params = problem.initial_params(self.coef_, self.intercept_)
        run_epochs(
            problem, self._optimizer_, params, X.shape[0], batch_size=self._batch(X.shape[0]),
            max_iter=1, shuffle=self.shuffle, rng=check_random_state(self.random_state),
            tol=self._tol(), n_iter_no_change=self.n_iter_no_change, early_stopping=False,
            state=self._state, verbose=self.verbose, incremental=True,
        )
        self._store(problem, params, self._state, dtype)
        return self

    # -- prediction --------------------------------------------------------

    def decision_function(self, X):
        """Logits: ``X @ coef_.T + intercept_``, shape (n,) for two classes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The logit of ``classes_[1]`` for two classes, else one per class.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False)
        scores = np.asarray(X @ self.coef_.T) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        return self._labels(self.decision_function(X))

    def predict_proba(self, X):
        """Class probabilities, in the order of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Each row sums to 1.
        """
        scores = self.decision_function(X)
        Z = scores[:, None] if scores.ndim == 1 else scores
        return predict_proba_from_logits(Z, multinomial=scores.ndim == 2)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed from the logits.

        ``log sigma(+-z)`` for two classes and ``log softmax(Z)`` otherwise,
        so that a confidently classified row gets the log-probability of its
        unlikely classes (about minus its margin), not the ``-inf`` of the
        logarithm of a probability rounded to 0.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 2:
            return log_softmax(scores)
        # log sigma(-z), log sigma(z): the two classes of the binary model
        return np.column_stack([log_sigmoid(-scores), log_sigmoid(scores)])

    # -- helpers -----------------------------------------------------------

    def _validate_xy(self, X, y, sample_weight, reset):
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             reset=reset)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                 ensure_non_negative=True)
        else:
            sample_weight = np.ones(X.shape[0])
        dtype = X.dtype  # float32 input gives float32 coefficients
        X = X.astype(np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        return X, y, sample_weight, dtype

    def _class_weighted(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y) \
            if self.class_weight == "balanced" else \
            np.array([self.class_weight.get(c, 1.0) for c in self.classes_], dtype=np.float64)
        return sample_weight * weights[np.searchsorted(self.classes_, y)]

    def _problem(self, X, y, sample_weight, metric_from=None):
        multinomial = self.classes_.shape[0] > 2
        idx = np.searchsorted(self.classes_, y)
        if multinomial:
            Y = np.zeros((X.shape[0], self.classes_.shape[0]))
            Y[np.arange(X.shape[0]), idx] = 1.0
        else:
            Y = (idx == 1).astype(np.float64)[:, None]
        return WhitenedLogit(X, Y, sample_weight, self.C, self.fit_intercept, multinomial,
                             metric_from=metric_from)

    def _labels(self, scores):
        """Class labels from logits: the sign of one column, else the largest."""
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]

    def _rate(self):
        return _DEFAULT_RATE[self.solver] if self.learning_rate_init is None else self.learning_rate_init

    def _max_iter(self):
        return _DEFAULT_MAX_ITER[self.solver] if self.max_iter is None else self.max_iter

    def _tol(self):
        return _DEFAULT_TOL[self.solver] if self.tol is None else self.tol

    def _batch(self, n_samples):
        return min(200, n_samples) if self.batch_size == "auto" else min(self.batch_size, n_samples)

    def _optimizer(self, params):
        if self.solver == "sgd":
            return SGD(params, self._rate(), momentum=self.momentum,
                       nesterov=self.nesterovs_momentum)
        return Adam(params, self._rate(), self.beta_1, self.beta_2, self.epsilon)

    def _store(self, problem, params, state, dtype):
        coef, intercept = problem.coef(params)
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise ValueError("The fit produced non-finite coefficients; lower learning_rate_init.")
        self.coef_ = coef.astype(dtype)  # validate_data gave float32 or float64
        self.intercept_ = intercept.astype(dtype)
        self.n_iter_ = state.n_iter
        self.loss_curve_ = list(state.loss_curve)
        self.validation_scores_ = list(state.validation_scores) if self.early_stopping else None
        self.best_validation_score_ = state.best_validation_score if self.early_stopping else None
        self._problem_metric = problem.metric()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
