"""Plumbing shared by the estimators: input conventions that are not numerics."""

import functools
import os
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import unique_labels


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
