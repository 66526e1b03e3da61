"""Plumbing shared by the estimators: input conventions that are not numerics."""

import functools
import os
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import _check_sample_weight


def restore_on_failure(method):
    """Decorate ``fit``-like methods so that a failed call leaves ``self`` as it was.

    scikit-learn's ``validate_data(reset=True)`` records ``n_features_in_`` and
    ``feature_names_in_`` before it has finished checking the data, so a fit
    that raises on bad input would otherwise leave an already fitted model
    half-updated. The attribute dictionary is shallow-copied before the call and
    put back if anything raises; fitted arrays are replaced, never modified in
    place, so a shallow copy is enough.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return wrapper


def partial_fit_classes(estimator, classes, first):
    """The classes of a ``partial_fit`` call: set by the first call, checked by the later ones.

    scikit-learn's contract for ``partial_fit`` (as its
    ``_check_partial_fit_first_call`` enforces it): the first call must name
    every class that will ever be seen; a later call may omit ``classes``,
    but classes that differ from the fitted ``classes_`` are an error, not
    silently ignored.

    Parameters
    ----------
    estimator : object
        The classifier; on a later call its ``classes_`` are the reference.
    classes : array-like of shape (n_classes,) or None
        The ``classes`` argument of the call.
    first : bool
        Whether this call starts the model.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        The sorted classes of the model.
    """
    if not first:
        if classes is not None and not np.array_equal(estimator.classes_, unique_labels(classes)):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                f"was: {estimator.classes_!r}"
            )
        return estimator.classes_
    if classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    classes = unique_labels(classes)
    if classes.shape[0] < 2:
        raise ValueError("partial_fit needs at least 2 classes in `classes`.")
    return classes


def _available_memory_bytes():
    """Physical memory currently available, or None where the OS does not say."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def densify(X, dtype=np.float64, max_fraction=0.25):
    """Dense float copy of a sparse matrix, refused when it would not fit comfortably.

    The dense solvers need the whole matrix. A dense copy is made only when it
    takes at most ``max_fraction`` of the available memory (the solvers need a
    few more arrays of the same size); otherwise a ``MemoryError``-like
    ``ValueError`` names the size so the user can decide what to do.
    """
    if not sp.issparse(X):
        return X
    n, p = X.shape
    need = n * p * np.dtype(dtype).itemsize
    avail = _available_memory_bytes()
    if avail is not None and need > max_fraction * avail:
        raise ValueError(
            f"X is a sparse matrix of shape {X.shape}; the dense solver needs it as a "
            f"dense array of {need / 2**30:.2f} GiB, more than {max_fraction:.0%} of the "
            f"{avail / 2**30:.2f} GiB of memory available. Reduce the number of samples "
            f"or features (for example with feature selection), or fit on a subsample."
        )
    return X.toarray().astype(dtype, copy=False)


def check_sample_weight(sample_weight, X):
    """``sample_weight`` validated as scikit-learn does: float64, one per row, non-negative, not all zero.

    scikit-learn >= 1.9 refuses all-zero weights in its own check; the same
    error is raised here on the versions before it.
    """
    sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                         ensure_non_negative=True)
    if sample_weight.shape[0] and not sample_weight.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def class_sample_weight(class_weight, classes, y, sample_weight, partial=False):
    """Per-row weights: ``sample_weight`` (or ones) times the weight of each row's class.

    ``class_weight`` is ``None``, a dict ``{class: weight}`` (classes not
    named weigh 1) or ``'balanced'``: ``n / (n_classes * count(class))``, as
    scikit-learn's ``compute_class_weight`` gives it. 'balanced' needs the
    counts of all the data, which an incremental call does not see; as in
    scikit-learn's ``SGDClassifier``, ``partial=True`` refuses it.
    """
    if class_weight is None:
        return sample_weight
    if isinstance(class_weight, str):
        if partial:
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: the class "
                "frequencies of all the data are not known to a single call. Pass the "
                "weights as a dict, for example from "
                "sklearn.utils.class_weight.compute_class_weight on all the labels."
            )
        weights = compute_class_weight(class_weight, classes=classes, y=y)
    else:
        weights = np.array([float(class_weight.get(c, 1.0)) for c in classes])
    per_row = weights[np.searchsorted(classes, y)]
    if sample_weight is None:
        return per_row
    return sample_weight * per_row.astype(sample_weight.dtype, copy=False)


def binarize(binarizer, y, dtype):
    """The targets of a fitted ``LabelBinarizer`` as a dense array of ``dtype`` (n, n_outputs)."""
    Y = binarizer.transform(y)
    if sp.issparse(Y):
        Y = Y.toarray()
    return np.asarray(Y, dtype=dtype)


def batch_size(requested, n_samples):
    """The mini-batch size: 'auto' is ``min(200, n)``; a larger request is clipped, with a warning."""
    if requested == "auto":
        return min(200, n_samples)
    if requested > n_samples:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                      "going to be clipped", UserWarning)
    return min(requested, n_samples)


def check_finite_params(*arrays, name="coefficients", advice="lower learning_rate_init"):
    """Refuse non-finite fitted parameters with a message that says what to do."""
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError(f"The fit produced non-finite {name}; {advice}.")


class InMemoryRows:
    """The rows of an in-memory fit, validated by the estimator's ``_validate_xy``.

    The estimators with a Dask path run one fit on either home of the data;
    each has a subclass of this for the rows in memory and a twin in
    :mod:`skscratch._dask` for row blocks, both answering what its fit asks
    of the data (validation, weighting, the problem, the mini-batches).
    """

    def __init__(self, est, X, y, sample_weight, reset=True):
        self.X, self.y, self.sample_weight = est._validate_xy(X, y, sample_weight, reset=reset)

    @property
    def task_args(self):
        """``(X, y, sample_weight)`` of the training rows, for the callbacks."""
        return self.X, self.y, self.sample_weight


# ---------------------------------------------------------------------------
# scikit-learn's callback API (scikit-learn >= 1.9), and nothing before it
# ---------------------------------------------------------------------------

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9: no callback API, nothing to support
    class CallbackSupportMixin:
        """Stand-in for scikit-learn's ``CallbackSupportMixin`` where it does not exist."""


class FitTasks:
    """The callback tasks of one fit: the fit itself, and one subtask per iteration or epoch.

    scikit-learn's callbacks (``sklearn.callback``: ``ProgressBar``,
    ``ScoringMonitor``, ...) see a fit as a tree of tasks, each opened by
    ``on_fit_task_begin`` and closed by ``on_fit_task_end``. Here the root
    task is the fit and its subtasks are the iterations (full-batch solvers)
    or the epochs (mini-batch solvers), as scikit-learn's own L-BFGS bridge
    in ``LogisticRegression`` lays them out: the next subtask begins when
    the previous one ends, and the one left open when the solver returns is
    closed empty. Each hook can get a ``fitted_estimator`` that predicts as
    the model stands at that moment; it is built only if a callback asks for
    it (``reconstruct`` is called lazily). A callback whose
    ``on_fit_task_end`` returns True stops the training at that iteration,
    which the protocol specifies.

    With no callback set (or on scikit-learn < 1.9) every method is a no-op
    costing one attribute test, so that small fits pay nothing.
    """

    def __init__(self, estimator, X, y, sample_weight, max_subtasks, task_name):
        self.estimator = estimator
        self.active = bool(getattr(estimator, "_skl_callbacks", None))
        if not self.active:
            return
        self.kwargs = dict(X=X, y=y, metadata=(None if sample_weight is None
                                                else {"sample_weight": sample_weight}))
        self.task_name = task_name
        self.root = estimator._init_callback_context(max_subtasks=max_subtasks + 1)
        self.root.call_on_fit_task_begin(estimator=estimator, **self.kwargs)
        self.current = None

    def begin(self, reconstruct):
        """Open the first subtask, at the starting point ``reconstruct()``."""
        if self.active:
            self._open(reconstruct)

    def _open(self, reconstruct):
        self.current = self.root.subcontext(task_name=self.task_name)
        self.current.call_on_fit_task_begin(estimator=self.estimator,
                                            reconstruction_attributes=reconstruct,
                                            **self.kwargs)

    def step(self, reconstruct):
        """Close the current subtask at ``reconstruct()`` and open the next; True to stop."""
        if not self.active:
            return False
        stop = self.current.call_on_fit_task_end(estimator=self.estimator,
                                                 reconstruction_attributes=reconstruct,
                                                 **self.kwargs)
        self._open(reconstruct)
        return bool(stop)

    def end(self):
        """Close the subtask left open (empty) and the fit's task (at the fitted model)."""
        if not self.active:
            return
        self.current.call_on_fit_task_end(estimator=self.estimator)
        self.root.call_on_fit_task_end(estimator=self.estimator, reconstruction_attributes={},
                                       **self.kwargs)
