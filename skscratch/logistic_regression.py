"""Logistic regression by gradient descent: the scikit-learn estimator.

Validation and scikit-learn conventions only; the objective, its metrics and
the data products are in :mod:`skscratch._linear_logit`, the optimizers in
:mod:`skscratch._fullbatch` and :mod:`skscratch._stochastic`.
"""

import copy
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _dask
from ._base import (
    CallbackSupportMixin, FitTasks, InMemoryRows, batch_size, check_finite_params,
    check_sample_weight, class_sample_weight, partial_fit_classes, restore_on_failure,
)
from ._fullbatch import proximal_descent, subspace_descent
from ._linear_logit import (
    FeatureMoments, LinearLogit, MiniBatchLogit, RowSpaceLogit, choose_metric,
    predict_proba_from_logits,
)
from ._losses import log_sigmoid, log_softmax
from ._stochastic import SGD, Adam, run_epochs
from ._training import TrainingState

# The stochastic solvers move in diagonally whitened coordinates (features
# centred and scaled by the curvature bound), where these rates hold on raw
# and scaled data alike; chosen on the shipped data sets (objective within a
# few percent of the optimum in <= 200 epochs).
_DEFAULT_RATE = {"sgd": 0.2, "adam": 0.05}
# Iterations at which 'gd' rebuilds its metric with the current curvature:
# gaps that double, so that the rebuilds stay a logarithmic share of the work.
_REFRESH_AT = tuple(10 * (2**k - 1) for k in range(1, 12))
# 'gd' counts iterations (two passes over the data each), the others epochs.
_DEFAULT_MAX_ITER = {"gd": 10000, "sgd": 200, "adam": 200}
# 'gd': stop when the squared gradient norm in the metric is below tol**2
# times the objective. 1e-8 resolves the coefficients to ~1e-8 relative:
# fits on weighted and on repeated rows agree to the 1e-7 that scikit-learn's
# sample-weight check asks of the probabilities, with a margin of 3 on its
# data (1e-7 misses it by a factor of 4 to 17, measured), at 5-20% more
# iterations than 1e-7 on the shipped data sets.
_DEFAULT_TOL = {"gd": 1e-8, "sgd": 1e-4, "adam": 1e-4}


def _stochastic(est):
    if est.solver not in ("sgd", "adam"):
        raise AttributeError(f"partial_fit is only available for the stochastic solvers "
                             f"'sgd' and 'adam'; solver={est.solver!r}.")
    return True


class LogisticRegressionGD(_dask.DaskScoreMixin, CallbackSupportMixin, ClassifierMixin,
                           BaseEstimator):
    """Logistic regression fitted by gradient descent, binary and multinomial, at any width.

    Minimizes scikit-learn's objective
    ``C * sum_i s_i * logloss(y_i, x_i) + (1 - r)/2 ||W||^2 + r ||W||_1``
    (``r`` the ``l1_ratio``, intercept not penalized, ``s_i`` the sample
    weights times the class weights), with a sigmoid for two classes and a
    softmax fitted jointly over all classes for three or more, by full-batch
    gradient descent (default), mini-batch SGD with (Nesterov) momentum, or
    Adam. Dense and sparse ``X`` of any width: sparse data is never
    densified, and nothing of size ``n_features^2`` is formed beyond 512
    features.

    Descent is preconditioned by a *metric* chosen from the data's shape
    (``metric_``): the Cholesky factor of a bound on the Hessian for up to
    512 features, which removes the correlations between features, and the
    per-feature curvature (the article's "centre and scale the features")
    beyond that, for sparse data and for every L1 penalty. Step sizes come
    from the problem, not from tuning, on raw and scaled data alike.

    Parameters
    ----------
    C : float, default=1.0
        Inverse of the penalty strength; ``np.inf`` means no penalty.

    l1_ratio : float in [0, 1], default=0.0
        The elastic-net mixing parameter, as in scikit-learn's
        ``LogisticRegression``: 0 is the L2 penalty, 1 the L1 penalty (sparse
        ``coef_`` with exact zeros), in between a mix. L1 terms are handled
        by proximal (soft-thresholding) steps.

    fit_intercept : bool, default=True
        Whether to fit an (unpenalized) intercept.

    class_weight : dict or 'balanced', default=None
        Weights of the classes, multiplying ``sample_weight``; 'balanced'
        uses ``n_samples / (n_classes * bincount(y))``.

    solver : {'gd', 'sgd', 'adam'}, default='gd'
        - 'gd': full-batch gradient descent with momentum whose coefficients
          are chosen by exact minimization over the span of the
          preconditioned gradient and the last 8 steps (sequential subspace
          optimization; for a quadratic it is the conjugate gradient
          method). A linear model makes that minimization cheap: the logits
          along the span are known without another pass over the data. Two
          passes over ``X`` per iteration. With an L1 term: proximal
          gradient descent with Barzilai-Borwein steps and a nonmonotone
          line search. The metric is rebuilt from the current curvature at
          iterations 10, 30, 70, ...
        - 'sgd': mini-batches with momentum or Nesterov momentum (the
          article's final classifier).
        - 'adam': mini-batches with Adam.

    metric : {'auto', 'cholesky', 'diagonal', 'kernel'}, default='auto'
        The preconditioner, chosen from the data's shape by 'auto':

        - 'kernel' for dense data with at least twice as many features as
          samples (and at most 4096 samples), a finite ``C`` and no L1
          term: the fit runs in the row space of the data, ``W = Xc^T A``,
          on the ``n x n`` Gram matrix (formed once, ``n^2 p`` flops);
        - 'cholesky' for at most 512 features (and no more features than
          samples) without an L1 term: the Cholesky factor of the bound on
          the Hessian;
        - 'diagonal' otherwise: the per-feature curvature, for any width
          and sparse data, and for every L1 term (whose proximal step needs
          it).

        The stochastic solvers use 'cholesky' or 'diagonal' by the same
        rule ('kernel' becomes 'diagonal'), and ``partial_fit`` always
        'diagonal'.

    learning_rate_init : float, default=None
        Step size of 'sgd' and 'adam' in the whitened coordinates; ``None``
        means 0.2 for 'sgd' and 0.05 for 'adam'. 'gd' takes its steps from
        the problem and ignores it.

    batch_size : int or 'auto', default='auto'
        Mini-batch size for 'sgd' and 'adam'; 'auto' is ``min(200, n_samples)``.

    momentum : float in [0, 1], default=0.9
        Momentum of 'sgd'.

    nesterovs_momentum : bool, default=True
        Whether 'sgd' uses Nesterov's momentum.

    beta_1 : float in [0, 1), default=0.9
        Adam's decay rate of the first moment.

    beta_2 : float in [0, 1), default=0.999
        Adam's decay rate of the second moment.

    epsilon : float, default=1e-8
        Adam's guard in the denominator.

    max_iter : int, default=None
        Iterations ('gd') or epochs ('sgd', 'adam'); ``None`` means 10000
        for 'gd' and 200 for the others.

    tol : float, default=None
        'gd' stops when the squared norm of the gradient (the proximal
        gradient with an L1 term) in the metric's inverse falls below
        ``tol**2`` times the objective. 'sgd'/'adam' stop when the epoch
        loss (or, with early stopping, the validation accuracy) has not
        improved by ``tol`` for ``n_iter_no_change`` epochs. ``None`` means
        1e-8 for 'gd' (coefficients to ~1e-8 relative; for
        float32 data, whose products are good to ~1e-7, ``sqrt(eps) =
        3.5e-4``) and 1e-4 for the others.

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
        Print the objective at each iteration or epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients in the original feature space: one row (the logit of
        ``classes_[1]``) for two classes, one row per class otherwise. A
        sparse matrix after :meth:`sparsify`.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts; zeros when ``fit_intercept=False``.
    n_iter_ : ndarray of shape (1,)
        Iterations ('gd') or epochs run by the last ``fit`` (an array, as
        scikit-learn's ``LogisticRegression`` reports it); after
        ``partial_fit``, the epochs run since the model started.
    metric_ : {'cholesky', 'diagonal', 'kernel'}
        The preconditioner (or, for 'kernel', the parametrization) the last
        fit used.
    loss_curve_ : list of float
        Objective per iteration or epoch, per unit of sample weight
        (``sum_i s_i loss_i / S`` plus the penalty divided by ``C S``).
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

    Notes
    -----
    The derivation (the loss and its gradient, the metrics and why they
    bound the Hessian, subspace descent, the proximal step, the stochastic
    solvers) is in the documentation's "Logistic regression" page.

    With scikit-learn >= 1.9 the estimator supports its callback API
    (``set_callbacks``; ``sklearn.callback.ProgressBar``,
    ``ScoringMonitor``, ...): the fit is a task with one subtask per
    iteration ('gd') or epoch, each with the model as it stands there, also
    inside ``Pipeline`` and ``GridSearchCV``; a callback whose
    ``on_fit_task_end`` returns True stops the fit there.

    Memory, for ``n`` samples, ``p`` features and ``k`` coefficient columns
    (1 for two classes, the number of classes otherwise): the data as given,
    plus O(n k + p k) (times the 8 remembered steps of 'gd'), plus ``p^2``
    for the 'cholesky' metric. The fitted model holds ``coef_``, the
    intercepts and, for ``partial_fit``, O(p k) of optimizer state.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skscratch import LogisticRegressionGD
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LogisticRegressionGD().fit(X, y)
    >>> clf.coef_.shape, clf.metric_
    ((1, 30), 'cholesky')
    >>> bool(clf.score(X, y) > 0.95)
    True
    >>> sparse = LogisticRegressionGD(l1_ratio=1.0, C=0.01).fit(X, y)
    >>> int((sparse.coef_ != 0).sum()) < 30
    True
    """

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "solver": [StrOptions({"gd", "sgd", "adam"})],
        "metric": [StrOptions({"auto", "cholesky", "diagonal", "kernel"})],
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

    def __init__(self, *, C=1.0, l1_ratio=0.0, fit_intercept=True, class_weight=None,
                 solver="gd", metric="auto", learning_rate_init=None, batch_size="auto",
                 momentum=0.9, nesterovs_momentum=True, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, max_iter=None, tol=None, n_iter_no_change=10,
                 early_stopping=False, validation_fraction=0.1, shuffle=True,
                 random_state=None, warm_start=False, verbose=0):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.metric = metric
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
            Training data; float32 stays float32 (``coef_`` too).
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
        # One fit for both homes of the data: the rows in memory, or the row
        # blocks of Dask collections (skscratch._dask.LogisticBlocks). The
        # data object validates them, weighs them and builds the problem and
        # the mini-batches; every step below is the same for both.
        data = (_dask.LogisticBlocks if _dask.is_dask(X, y, sample_weight) else _Rows)(
            self, X, y, sample_weight)
        classes = data.classes
        if classes.shape[0] < 2:
            raise ValueError(
                f"LogisticRegressionGD needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {classes[0]!r}."
            )
        warm = (self.warm_start and hasattr(self, "coef_")
                and np.array_equal(classes, self.classes_))
        start = (self._dense_coef(), self.intercept_) if warm else None
        self.classes_ = classes
        stochastic = self.solver in ("sgd", "adam")
        if self.metric in ("cholesky", "kernel") and self.l1_ratio > 0:
            raise ValueError(
                f"metric={self.metric!r} needs l1_ratio=0: the L1 penalty's proximal step "
                "needs a diagonal metric. Use metric='auto' or 'diagonal'."
            )
        if self.metric == "kernel":
            data.check_row_space(self)
        if self.early_stopping and not stochastic:
            raise ValueError("early_stopping=True needs solver='sgd' or 'adam'.")
        data.weigh(self)

        rng = check_random_state(self.random_state)
        if self.early_stopping:
            X_val, y_val = data.hold_out(self.validation_fraction, rng)
        X = data.X
        problem = data.problem(self)
        theta0 = problem.pack(*start) if warm else self._initial_theta(problem)
        state = TrainingState()
        kind = choose_metric(X, X.shape[1], self.l1_ratio, self.C, self.metric)
        tasks = FitTasks(self, *data.task_args, self._max_iter(),
                         "epoch" if stochastic else "iteration")

        def attributes(original):
            """The fitted attributes of the model at a state, for the callbacks (lazily)."""
            def build():
                W, b = original()
                # copies: W and b may be views of the iterate the solver
                # goes on updating in place (one class: W.T is contiguous)
                return {"coef_": np.array(W.T, dtype=X.dtype, order="C"),
                        "intercept_": np.array(b, dtype=X.dtype)}
            return build

        if kind == "kernel" and (stochastic or not data.row_space):
            kind = "diagonal"
        if stochastic:
            moments = None
            if kind == "cholesky":
                metric, mu = problem.build_metric(kind), problem.mu
            else:  # the running statistics partial_fit continues from
                moments = data.feature_moments(problem, self.fit_intercept)
                metric, mu = moments.metric(problem.bound, problem.lam2), moments.mu
            view, epochs, batch_order = data.mini_batches(problem, metric, mu)
            W0, b0 = problem.split(theta0)
            params = view.params(W0.T, b0)
            if self.early_stopping:
                view.validation_score = lambda p: float(
                    np.mean(self._labels(_scores(X_val, *view.original(p))) == y_val))
            optimizer = self._new_optimizer(params, view)
            tasks.begin(attributes(lambda: view.original(params)))
            run_epochs(
                epochs, optimizer, params, X.shape[0],
                batch_size=batch_size(self.batch_size, X.shape[0]),
                max_iter=self._max_iter(), shuffle=self.shuffle, rng=rng, tol=self._tol(),
                n_iter_no_change=self.n_iter_no_change, early_stopping=self.early_stopping,
                state=state, verbose=self.verbose,
                proximal=view.prox if problem.lam1 else None, batch_order=batch_order,
                callback=lambda n, p, f: tasks.step(attributes(lambda: view.original(p))),
            )
            W, b = view.original(params)
            self._optimizer_, self._moments = optimizer, moments
            self.metric_ = kind
        elif kind == "kernel":
            rows = RowSpaceLogit(problem)
            theta_A = np.zeros(rows.size)  # W = Xc^T A: a warm start has no exact A
            rows.split(theta_A)[1][...] = problem.split(theta0)[1] + problem.mu @ problem.split(theta0)[0]
            tasks.begin(attributes(lambda: rows.original(theta_A)))
            theta_A, state = subspace_descent(
                rows, theta_A, max_iter=self._max_iter(), tol=self._tol(X.dtype) ** 2,
                state=state, verbose=self.verbose,
                callback=lambda n, t, f: tasks.step(attributes(lambda: rows.original(t))),
            )
            W, b = rows.original(theta_A)
            self._optimizer_ = self._moments = None
            self.metric_ = "kernel"
        else:
            problem.build_metric(kind)
            descent = proximal_descent if problem.lam1 else subspace_descent
            tasks.begin(attributes(lambda: problem.split(theta0)))
            theta, state = descent(
                problem, theta0, max_iter=self._max_iter(), tol=self._tol(X.dtype) ** 2,
                state=state, verbose=self.verbose, refresh_at=_REFRESH_AT,
                callback=lambda n, t, f: tasks.step(attributes(lambda: problem.split(t))),
            )
            W, b = problem.split(theta)
            self._optimizer_ = self._moments = None
            self.metric_ = problem.metric.kind
        self._store(W, b, X.dtype, state, n_iter=state.n_iter)
        self._training, self._last_lam2 = state, problem.lam2
        tasks.end()
        return self

    @available_if(_stochastic)
    @restore_on_failure
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of 'sgd' or 'adam' over ``X``, ``y``.

        Continues from the current model, whether it came from earlier
        ``partial_fit`` calls or from ``fit`` with any solver; the optimizer's
        state (velocities, Adam's moments) carries over while the solver
        stays the same. The diagonal metric follows the data: the feature
        scales are running statistics of every batch seen, so a feature that
        only starts to vary in a later batch is scaled right from then on.
        A call that raises leaves the model and its optimizer as they were.

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

        Notes
        -----
        The penalty of each call is scaled by that call's total weight (the
        objective of one call is the mean loss of its batch plus
        ``||W||^2 / (2 C S_batch)``), so that calls of any size move the
        model by comparable amounts.
        """
        first = not hasattr(self, "coef_")
        if _dask.is_dask(X, y, sample_weight):  # each row block in turn
            return _dask.partial_fit_blocks(self, X, y, first, sample_weight, classes=classes)
        if first:
            self._validate_params()
        classes = partial_fit_classes(self, classes, first)
        X, y, sample_weight = self._validate_xy(X, y, sample_weight, reset=first)
        unknown = np.setdiff1d(np.unique(y), classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in classes "
                f"{classes.tolist()} given to the first call of partial_fit."
            )
        self.classes_ = classes
        sample_weight = class_sample_weight(self.class_weight, classes, y, sample_weight,
                                            partial=True)
        problem = self._problem(X, y, sample_weight)
        # Everything this call changes is a copy until the call succeeds.
        moments = getattr(self, "_moments", None)
        old_root = None
        if moments is None:
            moments = FeatureMoments(X.shape[1])
        else:
            moments = copy.deepcopy(moments)
            old_root = moments.metric(problem.bound, self._last_lam2).root
        moments.update(X, sample_weight, self.fit_intercept)
        metric = moments.metric(problem.bound, problem.lam2)
        view = MiniBatchLogit(problem, metric, moments.mu)
        if first:
            W0, b0 = problem.split(self._initial_theta(problem))
            params = view.params(W0.T, b0)
        else:
            params = view.params(self._dense_coef(), self.intercept_)
        kind = SGD if self.solver == "sgd" else Adam
        previous = getattr(self, "_optimizer_", None)
        if isinstance(previous, kind) and old_root is not None:
            # The diagonal metric moved with the new data: same model, new
            # coordinates, and the optimizer's state follows them exactly.
            optimizer = copy.deepcopy(previous)
            optimizer.change_coordinates([(metric.root / old_root)[:, None], np.ones(1)])
        else:
            # A first call, another solver, or a model fitted in other
            # coordinates (by 'gd', or with the Cholesky metric): a new optimizer.
            optimizer = self._new_optimizer(params, view)
        state = copy.deepcopy(getattr(self, "_training", None)) or TrainingState()
        run_epochs(
            view, optimizer, params, X.shape[0],
            batch_size=batch_size(self.batch_size, X.shape[0]), max_iter=1,
            shuffle=self.shuffle, rng=check_random_state(self.random_state), tol=self._tol(),
            n_iter_no_change=self.n_iter_no_change, early_stopping=False, state=state,
            verbose=self.verbose, incremental=True,
            proximal=view.prox if problem.lam1 else None,
        )
        W, b = view.original(params)
        self._store(W, b, X.dtype, state, n_iter=state.n_iter)
        self._optimizer_, self._moments, self._training = optimizer, moments, state
        self._last_lam2 = problem.lam2
        self.metric_ = "diagonal"
        return self

    # -- prediction --------------------------------------------------------

    def decision_function(self, X):
        """Logits: ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            One column (the logit of ``classes_[1]``) for two classes,
            returned 1-D; one per class otherwise.
        """
        check_is_fitted(self)
        if _dask.is_dask(X):
            return _dask.predict(self, X, "decision_function")  # lazy, block by block
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          reset=False)
        scores = _scores(X, self.coef_.T, self.intercept_)
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
            Predicted class labels.
        """
        if _dask.is_dask(X):
            return _dask.predict(self, X, "predict")
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
            Probabilities, each row summing to 1.
        """
        if _dask.is_dask(X):
            return _dask.predict(self, X, "predict_proba")
        scores = self.decision_function(X)
        Z = scores[:, None] if scores.ndim == 1 else scores
        return predict_proba_from_logits(Z, multinomial=scores.ndim == 2)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed from the logits.

        ``log sigma(+-z)`` for two classes and ``log softmax(Z)`` otherwise,
        so that a confidently classified row keeps the full relative
        precision of its log-probabilities (the likely class's ``-1e-20`` is
        not rounded to 0, an unlikely class's ``-700`` is exact). Only where
        :meth:`predict_proba` itself is 0 (a probability below the smallest
        float, ``log p < -744``) is the result ``-inf``, as the logarithm of
        that probability.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        if _dask.is_dask(X):
            return _dask.predict(self, X, "predict_log_proba")
        scores = self.decision_function(X)
        if scores.ndim == 2:
            L = log_softmax(scores)
        else:  # log sigma(-z), log sigma(z): the two classes of the binary model
            L = np.column_stack([log_sigmoid(-scores), log_sigmoid(scores)])
        # Below the smallest float (p < 5e-324) predict_proba is 0: -inf keeps
        # scikit-learn's contract predict_log_proba == log(predict_proba) there.
        Z = scores[:, None] if scores.ndim == 1 else scores
        L[predict_proba_from_logits(Z, multinomial=scores.ndim == 2) == 0] = -np.inf
        return L

    # -- sparse coefficients -----------------------------------------------

    def sparsify(self):
        """Convert ``coef_`` to a sparse (CSR) matrix, as scikit-learn's linear models do.

        Worth it when most coefficients are zero (an L1 penalty): memory and
        prediction time then scale with the non-zeros. ``intercept_`` stays
        dense; :meth:`densify` converts back.

        Returns
        -------
        self : object
            The estimator, with a sparse ``coef_``.
        """
        check_is_fitted(self, msg="Estimator, %(name)s, must be fitted before sparsifying.")
        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    def densify(self):
        """Convert ``coef_`` back to a dense array (a no-op if it is dense).

        Returns
        -------
        self : object
            The estimator, with a dense ``coef_``.
        """
        check_is_fitted(self, msg="Estimator, %(name)s, must be fitted before densifying.")
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

    # -- helpers -----------------------------------------------------------

    def _validate_xy(self, X, y, sample_weight, reset):
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             reset=reset)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        else:
            sample_weight = np.ones(X.shape[0])
        return X, y, sample_weight

    def _check_two_weighted_classes(self, y, sample_weight):
        weighted = np.unique(y[sample_weight > 0])
        if weighted.shape[0] < 2:
            # One class left: the log-likelihood has no maximizer (the
            # intercept runs off to infinity), so there is nothing to fit.
            left = f"only the class {weighted.tolist()[0]!r}" if weighted.shape[0] else "no class"
            raise ValueError(
                "LogisticRegressionGD needs samples of at least 2 classes with positive "
                f"weight, but sample_weight and class_weight leave {left}."
            )

    def _problem(self, X, y, sample_weight):
        return LinearLogit(
            X, np.searchsorted(self.classes_, y), sample_weight,
            n_classes=self.classes_.shape[0], C=self.C, l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept,
        )

    def _initial_theta(self, problem):
        """Zero coefficients and the intercept of the class frequencies alone.

        With ``W = 0`` the best intercept is the log-odds of the (weighted)
        class frequencies: the first iterate is then the best constant
        model, one step closer to the optimum than zeros.
        """
        theta = np.zeros(problem.size)
        if not self.fit_intercept:
            return theta
        counts = problem.class_totals()
        if np.all(counts > 0):
            _, b = problem.split(theta)
            logs = np.log(counts)
            b[...] = logs[1] - logs[0] if problem.k == 1 else logs - logs.mean()
        return theta

    def _dense_coef(self):
        return self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_

    def _labels(self, scores):
        """Class labels from logits: the sign of one column, else the largest."""
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]

    def _max_iter(self):
        return _DEFAULT_MAX_ITER[self.solver] if self.max_iter is None else self.max_iter

    def _tol(self, dtype=np.float64):
        if self.tol is not None:
            return self.tol
        if self.solver == "gd" and dtype == np.float32:
            # float32 products give gradients good to ~1e-7 relative, so the
            # float64 default is out of reach; sqrt(eps) puts the objective
            # within ~1e-7 of its minimum, what float32 data can tell apart.
            return float(np.sqrt(np.finfo(np.float32).eps))
        return _DEFAULT_TOL[self.solver]

    def _new_optimizer(self, params, view):
        """A new SGD or Adam for the coordinates of ``view``.

        SGD's step is the rate over ``L``, the curvature bound of the loss in
        the whitened coordinates (1 under the Cholesky metric; estimated,
        with a margin of 1.5, under the diagonal one): the rate then means
        the same thing on any data. Adam scales its steps by itself.
        """
        rate = _DEFAULT_RATE[self.solver] if self.learning_rate_init is None \
            else self.learning_rate_init
        if self.solver == "sgd":
            L = 1.0 if view.metric.kind == "cholesky" else max(1.0, 1.5 * view.curvature_bound())
            return SGD(params, rate / L, momentum=self.momentum,
                       nesterov=self.nesterovs_momentum)
        return Adam(params, rate, self.beta_1, self.beta_2, self.epsilon)

    def _store(self, W, b, dtype, state, n_iter):
        check_finite_params(W, b, advice="lower learning_rate_init, or rescale the features")
        self.coef_ = np.ascontiguousarray(W.T, dtype=dtype)  # float32 in, float32 out
        self.intercept_ = np.asarray(b, dtype=dtype)
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        self.loss_curve_ = list(state.loss_curve)
        self.validation_scores_ = list(state.validation_scores) if self.early_stopping else None
        self.best_validation_score_ = (state.best_validation_score if self.early_stopping
                                       else None)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _Rows(InMemoryRows):
    """The data of :meth:`LogisticRegressionGD.fit` in memory (on Dask: ``_dask.LogisticBlocks``).

    ``classes`` are the sorted labels of ``y``; ``row_space`` says that the
    row-space metric (``'kernel'``, on the ``n x n`` kernel matrix) can be used.
    """

    row_space = True

    def __init__(self, est, X, y, sample_weight):
        super().__init__(est, X, y, sample_weight)
        self.classes = np.unique(self.y)

    def check_row_space(self, est):
        """Refuse ``metric='kernel'`` where the minimizer need not be in the row space."""
        if sp.issparse(self.X) or np.isinf(est.C):
            raise ValueError(
                "metric='kernel' (the row space of the data) needs dense X and a finite C: "
                "without a ridge the minimizer need not lie in the row space. Use "
                "metric='auto' or 'diagonal'."
            )

    def weigh(self, est):
        """Fold the class weights into the sample weights; refuse fewer than 2 weighted classes."""
        self.sample_weight = class_sample_weight(est.class_weight, self.classes, self.y,
                                                 self.sample_weight)
        est._check_two_weighted_classes(self.y, self.sample_weight)

    def hold_out(self, fraction, rng):
        """Split off a stratified validation set for early stopping: ``(X_val, y_val)``."""
        self.X, X_val, self.y, y_val, self.sample_weight, _ = train_test_split(
            self.X, self.y, self.sample_weight, test_size=fraction, stratify=self.y,
            random_state=rng.randint(np.iinfo(np.int32).max),
        )
        return X_val, y_val

    def problem(self, est):
        return est._problem(self.X, self.y, self.sample_weight)

    def feature_moments(self, problem, fit_intercept):
        return FeatureMoments(self.X.shape[1]).update(self.X, self.sample_weight, fit_intercept)

    def mini_batches(self, problem, metric, mu):
        """``(view, epochs, batch_order)``: the mini-batch view, and what :func:`run_epochs` runs."""
        view = MiniBatchLogit(problem, metric, mu)
        return view, view, None


def _scores(X, W, b):
    """``X W + b`` as a dense array, for dense or sparse ``X`` and ``W``."""
    Z = X @ W
    Z = Z.toarray() if sp.issparse(Z) else np.asarray(Z)
    return Z + b
