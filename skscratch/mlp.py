"""Multi-layer perceptron classifier trained by backpropagation (the series' Part 3)."""

import copy
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight, check_is_fitted, column_or_1d, validate_data,
)

from . import _dask
from ._base import (
    CallbackSupportMixin, FitTasks, InMemoryRows, batch_size, binarize, check_finite_params,
    class_sample_weight, partial_fit_classes, restore_on_failure,
)
from ._losses import log_sigmoid, log_softmax, sigmoid
from ._network import NetworkProblem, forward, glorot_init, output_proba
from ._fullbatch import lbfgs
from ._stochastic import SGD, Adam, run_epochs
from ._training import TrainingState

_STOCHASTIC = ("sgd", "adam")


def _stochastic(est):
    if est.solver not in _STOCHASTIC:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers; "
                             f"solver={est.solver!r}.")
    return True


class MLPClassifierScratch(_dask.DaskScoreMixin, CallbackSupportMixin, ClassifierMixin,
                           BaseEstimator):
    """Multi-layer perceptron classifier, trained by backpropagation written from scratch.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier`: the same
    parameters with the same defaults and meanings, the same fitted
    attributes, the same objective (mean cross-entropy plus
    ``alpha / (2 n) * sum ||W||^2``), and the same three solvers, here written
    on numpy: mini-batch SGD with momentum or Nesterov momentum, Adam, and
    L-BFGS with a strong Wolfe line search. Beyond it: ``class_weight``, and
    float32 input trains float32 weights with float32 arithmetic.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of units in the ith hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation of the hidden layers.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'lbfgs' is full-batch L-BFGS; 'sgd' and 'adam' train on mini-batches.
    alpha : float, default=0.0001
        Strength of the L2 penalty, ``alpha / (2 n) * sum ||W||^2`` with ``n``
        the (weighted) size of the batch.
    batch_size : int or 'auto', default='auto'
        Mini-batch size of 'sgd' and 'adam'; 'auto' is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Step-size schedule of 'sgd' (as in scikit-learn).
    learning_rate_init : float, default=0.001
        Initial step size of 'sgd' and 'adam'.
    power_t : float, default=0.5
        Exponent of 'invscaling'.
    max_iter : int, default=200
        Epochs for 'sgd' and 'adam', iterations for 'lbfgs'.
    shuffle : bool, default=True
        Shuffle the rows at each epoch ('sgd', 'adam').
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the early-stopping split.
    tol : float, default=1e-4
        Training stops when the loss (or, with early stopping, the validation
        score) has not improved by ``tol`` for ``n_iter_no_change`` epochs;
        for 'lbfgs', the largest gradient component it stops at.
    verbose : bool, default=False
        Print each epoch's loss (and validation score).
    warm_start : bool, default=False
        Start from the previous fit's weights.
    momentum : float, default=0.9
        Momentum of 'sgd'.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with 'sgd'.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified), stop when
        their accuracy stops improving, and keep the best weights ('sgd',
        'adam').
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decay rates and its denominator's guard.
    n_iter_no_change : int, default=10
        Patience, in epochs.
    max_fun : int, default=15000
        Budget of objective evaluations of 'lbfgs'.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, multiplied into ``sample_weight``
        (scikit-learn's ``MLPClassifier`` has no such parameter).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (the label columns' indices for multilabel
        targets).
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape ``(units of layer i, units of layer i + 1)``.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` has shape ``(units of layer i + 1,)``.
    loss_ : float
        The last epoch's mean loss ('sgd', 'adam'), or the final objective ('lbfgs').
    best_loss_ : float or None
        The lowest epoch loss; None with early stopping.
    loss_curve_ : list of float
        Each epoch's (or L-BFGS iteration's) loss.
    validation_scores_ : list of float or None
        Each epoch's validation accuracy, with early stopping.
    best_validation_score_ : float or None
        The best validation accuracy with early stopping, else None.
    t_ : int
        Number of training samples seen.
    n_iter_ : int
        Epochs ('sgd', 'adam') or iterations ('lbfgs') of the last call to
        ``fit`` or ``partial_fit``.
    n_layers_ : int
        Number of layers, the input and output layers included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        'softmax' for several classes, 'logistic' for two or for labels.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Only when X has string column names.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The twin.
    LogisticRegressionGD : The network with no hidden layer.

    Notes
    -----
    With scikit-learn >= 1.9 the estimator supports its callback API
    (``set_callbacks``; ``sklearn.callback.ProgressBar``,
    ``ScoringMonitor``, ...), which scikit-learn's ``MLPClassifier`` does
    not: the fit is a task with one subtask per epoch (or L-BFGS
    iteration), each with the network as it stands there; a callback whose
    ``on_fit_task_end`` returns True stops the training there.

    The derivation (forward pass, the chain rule, the delta recurrence,
    initialization, softmax with cross-entropy) is in the documentation's
    neural-network page; the code is in ``skscratch/_network.py`` and the
    optimizers in ``skscratch/_stochastic.py`` and ``skscratch/_fullbatch.py``, shared with
    :class:`LogisticRegressionGD`.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skscratch import MLPClassifierScratch
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> clf = MLPClassifierScratch(hidden_layer_sizes=(20,), learning_rate_init=0.01,
    ...                            random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.class_weight = class_weight

    # -- fitting -----------------------------------------------------------

    @restore_on_failure
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X``, ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a label indicator matrix (multilabel).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples, multiplied by the class weights; ``None``
            means all ones.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        # One fit for both homes of the data: the rows in memory, or the row
        # blocks of Dask collections (skscratch._dask.NetworkBlocks). The data
        # object validates, encodes and weighs them and builds the objective
        # and the mini-batches; every step below is the same for both.
        warm = self.warm_start and hasattr(self, "coefs_")
        data = (_dask.NetworkBlocks if _dask.is_dask(X, y, sample_weight) else _Rows)(
            self, X, y, sample_weight, reset=not warm)
        if warm:
            classes = data.classes()
            if classes is not None and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"warm_start can only be used where y has the same classes as in the "
                    f"previous call to fit: previously {self.classes_.tolist()}, now "
                    f"{classes.tolist()}."
                )
        else:
            self._binarizer = LabelBinarizer().fit(data.labels)
            self.classes_ = self._binarizer.classes_
        n_outputs = data.binarize(self._binarizer)
        data.weigh(self)
        rng = check_random_state(self.random_state)
        layer_units = [data.X.shape[1], *self._hidden_sizes(), n_outputs]
        if warm:
            previous = [c.shape[0] for c in self.coefs_] + [self.coefs_[-1].shape[1]]
            if previous != layer_units:
                raise ValueError(
                    f"warm_start needs the same layer sizes as the previous fit ({previous}); "
                    f"got {layer_units}. Set warm_start=False to start afresh."
                )
        out_activation = "softmax" if self._binarizer.y_type_ == "multiclass" else "logistic"

        if warm:
            # pack() copies: a fit that fails leaves the fitted weights untouched.
            start = self.coefs_ + self.intercepts_
            state = copy.deepcopy(self._state)
            state.no_improvement_count = 0
        else:
            coefs, intercepts = glorot_init(layer_units, self.activation, rng, data.X.dtype)
            start = coefs + intercepts
            state = TrainingState()

        early = self.early_stopping and self.solver in _STOCHASTIC
        if early:
            X_val, Y_val, sw_val = data.hold_out(self.validation_fraction, rng)
        X = data.X
        problem = data.network(layer_units, self.activation, out_activation, self.alpha)
        params = [problem.pack(start)]
        if early:
            problem.validation_score = lambda p: self._accuracy(
                problem.proba(X_val, p), Y_val, sw_val, out_activation)

        start_iter = state.n_iter
        tasks = FitTasks(self, *data.task_args, self.max_iter,
                         "iteration" if self.solver == "lbfgs" else "epoch")
        L = problem.n_layers

        def attributes(theta):
            """The fitted attributes of the network at ``theta``, for the callbacks (lazily)."""
            def build():
                arrays = [view.copy() for view in problem.unpack(theta)]
                return {"coefs_": arrays[:L], "intercepts_": arrays[L:], "n_layers_": L + 1,
                        "n_outputs_": arrays[L - 1].shape[1], "out_activation_": out_activation}
            return build

        tasks.begin(attributes(params[0]))
        if self.solver == "lbfgs":
            objective = data.full_batch(problem)
            lbfgs(objective, params, max_iter=self.max_iter, gtol=self.tol, max_fun=self.max_fun,
                  state=state, verbose=self.verbose,
                  callback=lambda n, p, f: tasks.step(attributes(p[0])))
            ran = state.n_iter > start_iter
            loss = state.loss_curve[-1] if ran else objective.loss_grad(params, None)[0]
            self._optimizer = None
        else:
            optimizer = self._make_optimizer(params)
            epochs, batch_order = data.mini_batches(problem)
            run_epochs(
                epochs, optimizer, params, X.shape[0],
                batch_size=batch_size(self.batch_size, X.shape[0]),
                max_iter=self.max_iter, shuffle=self.shuffle, rng=rng, tol=self.tol,
                n_iter_no_change=self.n_iter_no_change, early_stopping=early, state=state,
                verbose=self.verbose, batch_order=batch_order,
                callback=lambda n, p, f: tasks.step(attributes(p[0])),
            )
            loss = state.loss_curve[-1]
            self._optimizer = optimizer
        self._store(problem, params, state, start_iter, loss, out_activation, early)
        tasks.end()
        return self

    @available_if(_stochastic)
    @restore_on_failure
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of 'sgd' or 'adam' over ``X``, ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data of this call.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a label indicator matrix (multilabel).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples, multiplied by the class weights; ``None``
            means all ones.
        classes : array-like of shape (n_classes,), default=None
            All the classes that will ever be seen; required on the first
            call (except for multilabel targets). Later calls may omit it;
            classes that differ from ``classes_`` raise a ``ValueError``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        first = not hasattr(self, "coefs_")
        if _dask.is_dask(X, y, sample_weight):  # each row block in turn
            return _dask.partial_fit_blocks(self, X, y, first, sample_weight, classes=classes)
        if first:
            self._validate_params()
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True.")
        X, y, sample_weight = self._validate_xy(X, y, sample_weight, reset=first)
        if first and type_of_target(y).startswith("multilabel"):
            binarizer = LabelBinarizer().fit(y)
        elif first:
            binarizer = LabelBinarizer().fit(partial_fit_classes(self, classes, first))
        else:
            partial_fit_classes(self, classes, first)  # raises if they changed
            binarizer = self._binarizer
        if binarizer.y_type_ != "multilabel-indicator":
            unknown = np.setdiff1d(np.unique(y), binarizer.classes_)
            if unknown.size:
                raise ValueError(
                    f"y contains labels {unknown.tolist()} that are not in classes "
                    f"{binarizer.classes_.tolist()} given to the first call of partial_fit."
                )
        self._binarizer = binarizer
        self.classes_ = binarizer.classes_
        Y = self._binarize(y, X.dtype)
        sample_weight = self._class_weighted(y, sample_weight, X.dtype, partial=True)
        layer_units = [X.shape[1], *self._hidden_sizes(), Y.shape[1]]
        out_activation = "softmax" if binarizer.y_type_ == "multiclass" else "logistic"
        problem = NetworkProblem(X, Y, sample_weight, layer_units, self.activation,
                                 out_activation, self.alpha)
        rng = check_random_state(self.random_state)
        if first:
            coefs, intercepts = glorot_init(layer_units, self.activation, rng, X.dtype)
            params = [problem.pack(coefs + intercepts)]
            optimizer = self._make_optimizer(params)
            state = TrainingState()
        else:
            params = [problem.pack(self.coefs_ + self.intercepts_)]
            # Copies: a call that fails leaves the optimizer's moments untouched. A
            # model fitted by another solver (set_params since) starts a new optimizer.
            kind = SGD if self.solver == "sgd" else Adam
            previous = getattr(self, "_optimizer", None)
            optimizer = (copy.deepcopy(previous) if isinstance(previous, kind)
                         else self._make_optimizer(params))
            state = copy.deepcopy(self._state)
        start_iter = state.n_iter
        run_epochs(
            problem, optimizer, params, X.shape[0], batch_size=batch_size(self.batch_size, X.shape[0]),
            max_iter=1, shuffle=self.shuffle, rng=rng, tol=self.tol,
            n_iter_no_change=self.n_iter_no_change, early_stopping=False, state=state,
            verbose=self.verbose, incremental=True,
        )
        self._optimizer = optimizer
        self._store(problem, params, state, start_iter, state.loss_curve[-1], out_activation,
                    early=False)
        return self

    # -- prediction --------------------------------------------------------

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=[np.float64, np.float32], reset=False)
        return forward(X, self.coefs_, self.intercepts_, self.activation)

    def _output(self, X):
        return output_proba(self._logits(X), self.out_activation_)

    def predict(self, X):
        """Predicted classes (or label indicator rows, for multilabel targets).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``, or 0/1 indicator rows.
        """
        if _dask.is_dask(X):
            return _dask.predict(self, X, "predict")  # lazy, block by block
        P = self._output(X)
        if self.n_outputs_ == 1:
            P = P.ravel()
        return self._binarizer.inverse_transform(P)

    def predict_proba(self, X):
        """Class probabilities, in the order of ``classes_``.

        For two classes the columns are ``sigma(-z)`` and ``sigma(z)`` of
        the output logit (``1 - p`` and ``p``, the first without the
        cancellation of a subtraction); for multilabel targets, each label's
        own probability.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        if _dask.is_dask(X):
            return _dask.predict(self, X, "predict_proba")
        return self._proba_from_logits(self._logits(X))

    def _proba_from_logits(self, Z):
        if self.n_outputs_ == 1 and self._binarizer.y_type_ != "multilabel-indicator":
            # sigma(-z) rather than 1 - sigma(z): the first class keeps its
            # relative precision where the second is nearly certain
            return np.hstack([sigmoid(-Z), sigmoid(Z)])
        return output_proba(Z, self.out_activation_)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed from the output layer's logits.

        ``log softmax(Z)`` for multiclass targets, ``log sigma(+-z)`` for two
        classes and ``log sigma(Z)`` per label for multilabel targets, so that
        a confidently classified row keeps the full relative precision of its
        log-probabilities (the likely class's ``-1e-20`` is not rounded to 0,
        an unlikely class's ``-700`` is exact). Only where
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
        Z = self._logits(X)
        if self.out_activation_ == "softmax":
            L = log_softmax(Z)
        elif self.n_outputs_ == 1 and self._binarizer.y_type_ != "multilabel-indicator":
            L = np.hstack([log_sigmoid(-Z), log_sigmoid(Z)])  # classes 0 and 1
        else:
            L = log_sigmoid(Z)
        # Below the smallest float (p < 5e-324) predict_proba is 0: -inf keeps
        # scikit-learn's contract predict_log_proba == log(predict_proba) there.
        P = self._proba_from_logits(Z)
        L[P == 0] = -np.inf
        return L

    # -- helpers -----------------------------------------------------------

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(int(size) < 1 for size in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(size) for size in sizes]

    def _validate_xy(self, X, y, sample_weight, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=[np.float64, np.float32], reset=reset)
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # a column is a 1-d target, with a warning
        if sp.issparse(X):
            X = X.tocsr()  # row batches
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        return X, y, sample_weight

    def _binarize(self, y, dtype):
        return binarize(self._binarizer, y, dtype)

    def _check_class_weight(self):
        if self.class_weight is not None and self._binarizer.y_type_ == "multilabel-indicator":
            raise ValueError("class_weight is not supported for multilabel targets; "
                             "pass sample_weight instead.")

    def _class_weighted(self, y, sample_weight, dtype, partial=False):
        self._check_class_weight()
        if self.class_weight is None:
            return sample_weight
        weights = class_sample_weight(self.class_weight, self.classes_, y, sample_weight,
                                      partial=partial)
        return weights.astype(dtype, copy=False)

    def _make_optimizer(self, params):
        if self.solver == "sgd":
            return SGD(params, self.learning_rate_init, self.learning_rate, self.momentum,
                       self.nesterovs_momentum, self.power_t)
        return Adam(params, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)

    @staticmethod
    def _accuracy(P, Y, sample_weight, out_activation):
        if out_activation == "softmax":
            right = P.argmax(axis=1) == Y.argmax(axis=1)
        else:
            right = np.all((P > 0.5) == (Y > 0.5), axis=1)
        return float(np.average(right, weights=sample_weight))

    def _store(self, problem, params, state, start_iter, loss, out_activation, early):
        check_finite_params(params[0], name="weights")
        L = problem.n_layers
        arrays = [view.copy() for view in problem.unpack(params[0])]
        self.coefs_, self.intercepts_ = arrays[:L], arrays[L:]
        self.n_layers_ = L + 1
        self.n_outputs_ = self.coefs_[-1].shape[1]
        self.out_activation_ = out_activation
        self.loss_ = float(loss)
        self.loss_curve_ = list(state.loss_curve)
        self.best_loss_ = None if early else float(min(state.loss_curve, default=loss))
        self.validation_scores_ = list(state.validation_scores) if early else None
        self.best_validation_score_ = state.best_validation_score if early else None
        # As scikit-learn: n_iter_ counts this call's epochs (or iterations);
        # t_ and loss_curve_ run on across warm starts and partial_fit calls.
        self.n_iter_ = state.n_iter - start_iter
        self.t_ = state.t
        self._state = state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags


class _Rows(InMemoryRows):
    """The data of :meth:`MLPClassifierScratch.fit` in memory (on Dask: ``_dask.NetworkBlocks``)."""

    @property
    def labels(self):
        """What the label binarizer is fitted on: ``y`` itself."""
        return self.y

    def classes(self):
        """The sorted labels of a 1-d ``y``; None for a label indicator matrix."""
        return np.unique(self.y) if self.y.ndim == 1 else None

    def binarize(self, binarizer):
        """Encode ``y`` as the network's targets ``Y``; return their number of columns."""
        self.Y = binarize(binarizer, self.y, self.X.dtype)
        return self.Y.shape[1]

    def weigh(self, est):
        self.sample_weight = est._class_weighted(self.y, self.sample_weight, self.X.dtype)

    def hold_out(self, fraction, rng):
        """Split off a validation set for early stopping: ``(X_val, Y_val, sw_val)``."""
        # scikit-learn's split, so that a seed holds out the same rows: from the
        # same RandomState, stratified only for a single output column. y is
        # split with them (the rows are the same whatever is split along):
        # the callbacks see the training rows' X, y and weights.
        Y, sample_weight = self.Y, self.sample_weight
        arrays = (self.X, Y, self.y) if sample_weight is None else (self.X, Y, self.y,
                                                                      sample_weight)
        split = train_test_split(
            *arrays, test_size=fraction, stratify=Y if Y.shape[1] == 1 else None,
            random_state=rng,
        )
        self.X, X_val, self.Y, Y_val, self.y = split[:5]
        self.sample_weight, sw_val = (None, None) if sample_weight is None else split[6:]
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "validation_fraction or the size of your dataset.")
        return X_val, Y_val, sw_val

    def network(self, layer_units, activation, out_activation, alpha):
        """The network's objective on the rows: also its parameters' layout."""
        return NetworkProblem(self.X, self.Y, self.sample_weight, layer_units, activation,
                              out_activation, alpha)

    def full_batch(self, problem):
        return problem

    def mini_batches(self, problem):
        """``(epochs, batch_order)`` for :func:`run_epochs`: the problem, over all the rows."""
        return problem, None
