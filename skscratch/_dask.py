"""Block-wise fits on Dask arrays: the three estimators beyond one machine's memory.

An estimator hands a Dask collection here before scikit-learn's validation
would gather it into one numpy array. The math stays the package's; Dask
provides the scheduling and the data movement, nothing else (no
``dask.array.linalg``, no solver): every block function below calls the
numerics of :mod:`skscratch._linalg`, :mod:`skscratch._linear_logit` or
:mod:`skscratch._network` on one row block, as numpy arrays, where the block
lives.

An estimator's ``fit`` is written once, for both homes of the data:
:class:`LogisticBlocks` and :class:`NetworkBlocks` answer what it asks of
the data (validation, class weights, the problem, the mini-batches) for row
blocks, as the estimator modules' in-memory twins answer it for arrays.

- Least squares (:func:`linear_factor`): TSQR. Each block's rows ``[X | y]``
  are reduced to their centred triangular factor on the worker that holds
  them (:class:`~skscratch._linalg.CentredFactor`), the factors are merged in
  a tree reduction on the workers, and the driver solves the final
  ``(p + k) x (p + k)`` triangle exactly as :meth:`partial_fit` does (rank
  revealing, minimum norm, or non-negative).
- Logistic regression, ``'gd'`` (:class:`DaskLinearLogit`): the full-batch
  engine of :mod:`skscratch._fullbatch` unchanged, on a problem whose logit
  vectors are Dask arrays chunked like X's rows. Products with X are
  per-block products summed by the scheduler; the engine's combinations and
  projections of logit vectors run block by block on the workers. The driver
  holds O(p k) and O(q^2) numbers.
- Stochastic solvers (:class:`StreamedBlocks`): row blocks are brought to the
  driver one at a time, in a random order each epoch, and their rows shuffled
  within the block; mini-batches never straddle two blocks.
- Prediction (:func:`predict`): ``map_blocks`` of the fitted estimator's own
  method (a copy that holds the fitted coefficients); lazy.

Dask itself is imported only when a Dask collection arrives
(:func:`require_dask`): the core package keeps its three dependencies.
"""

import copy
import functools

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names, _check_n_features, check_is_fitted

from ._base import binarize
from ._inference import sum_log_weights
from ._linalg import CentredFactor
from ._linear_logit import (
    _CURVATURE_FLOOR, CholeskyMetric, DiagonalMetric, FeatureMoments, LinearLogit,
    MiniBatchLogit, centred_gram, centred_squares, image_rows, logit_curvature, max_abs,
    subspace_hessian,
)
from ._losses import binary_loss_grad, softmax_cross_entropy_labels
from ._network import NetworkProblem
from ._stochastic import batches

INSTALL_HINT = "pip install 'skscratch[dask]'"


def is_dask(*objects):
    """Whether any of ``objects`` is a Dask collection (array, DataFrame, Series).

    Duck-typed on the collection protocol, so that nothing here imports
    Dask: a plain install without it never pays for it.
    """
    return any(obj is not None and hasattr(obj, "__dask_graph__") for obj in objects)


def require_dask():
    """Import ``dask.array``, or raise an ImportError that says what to install.

    Every entry point calls this first (through :func:`check_X`); the
    functions below then import ``dask.array`` where they use it.
    """
    try:
        import dask.array  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "A Dask collection was passed to a skscratch estimator, but dask.array cannot be "
            f"imported ({exc}). Install the Dask extra: {INSTALL_HINT}"
        ) from exc


def _compute(*collections):
    """``dask.compute`` of several collections in one pass over their shared blocks."""
    import dask

    return tuple(aligned(v) for v in dask.compute(*collections))


# ---------------------------------------------------------------------------
# Validation: rows in blocks, never gathered
# ---------------------------------------------------------------------------


def _as_array(obj, name):
    """A Dask array from a Dask array, DataFrame or Series (with their row lengths)."""
    if hasattr(obj, "to_dask_array"):
        # A Dask DataFrame does not know its partitions' lengths; computing
        # them is one cheap pass, and the blocks of X, y and the weights can
        # then be matched.
        return obj.to_dask_array(lengths=True)
    if not hasattr(obj, "chunks"):
        raise TypeError(f"{name} must be a Dask array or DataFrame here; got {type(obj).__name__}.")
    return obj


def _check_chunks(A, name):
    """Refuse what the block-wise paths cannot use, saying how to fix it."""
    if any(c != c for c in A.chunks[0]):  # NaN: unknown sizes
        raise ValueError(
            f"{name} has unknown chunk sizes (NaN), as an array made from a Dask DataFrame "
            "without lengths has. Call {name}.compute_chunk_sizes(), or convert with "
            "df.to_dask_array(lengths=True).".replace("{name}", name)
        )
    if A.ndim == 2 and len(A.chunks[1]) != 1:
        raise ValueError(
            f"{name} is chunked along its columns ({len(A.chunks[1])} column chunks); the "
            "block-wise fits need whole rows in every block. Rechunk it with "
            f"{name}.rechunk({{1: -1}})."
        )


def _meta(obj):
    return getattr(obj, "_meta", None)


def _check_features(est, X, reset):
    """``n_features_in_`` and ``feature_names_in_``, by scikit-learn's own checks, on no data.

    A Dask DataFrame's ``_meta`` is an empty pandas frame with its columns;
    a Dask array is checked through an empty array of its width.
    """
    meta = _meta(X)
    template = meta if hasattr(meta, "columns") else np.empty((0, X.shape[1]))
    _check_feature_names(est, template, reset=reset)
    _check_n_features(est, template, reset=reset)


def check_X(est, X, reset, name="X"):
    """Validate a Dask X: 2-D, numeric, rows in blocks of known size; float32 or float64.

    Finiteness is checked block by block where the blocks are first read
    (:func:`_finite`), never by an extra pass.
    """
    require_dask()
    import dask.array as da

    if getattr(X, "ndim", 2) != 2:
        raise ValueError(f"Expected a 2D array for {name}, got {X.ndim}D; reshape your data.")
    _check_features(est, X, reset)
    X = _as_array(X, name)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array for {name}, got {X.ndim}D; reshape your data.")
    _check_chunks(X, name)
    if sp.issparse(_meta(X)):
        raise TypeError(
            f"{name} is a Dask array of sparse blocks; the Dask paths take dense blocks only. "
            "Fit in memory on the scipy.sparse matrix, or densify the blocks "
            f"({name}.map_blocks(lambda b: b.toarray())) if they fit."
        )
    if X.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
    if X.shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    kind = np.dtype(X.dtype).kind
    if kind not in "biuf":
        raise ValueError(f"{name} has dtype {X.dtype}; a numeric array is needed.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return da.asarray(X)


def column(v, X, name, dtype=None, ndim=None):
    """``v`` (y or the weights) as a Dask array whose row blocks are X's.

    numpy input is split into X's row chunks (no data moves until it is
    used); a Dask input must already be chunked like X, or the error says how
    to rechunk it.
    """
    import dask.array as da

    if is_dask(v):
        v = _as_array(v, name)
    else:
        v = np.asarray(v)
        if v.ndim == 0:  # a scalar weight, for every row
            v = np.full(X.shape[0], v, dtype=np.float64)
        if v.shape[0] != X.shape[0]:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: X has "
                f"{X.shape[0]} rows and {name} {v.shape[0]}."
            )
        v = da.from_array(v, chunks=(X.chunks[0],) + v.shape[1:])
    _check_chunks(v, name)
    if v.ndim > 2 or v.ndim == 0 or (ndim is not None and v.ndim != ndim):
        raise ValueError(f"{name} has {v.ndim} dimensions; expected {ndim or '1 or 2'}.")
    if v.shape[0] != X.shape[0]:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: X has {X.shape[0]} "
            f"rows and {name} {v.shape[0]}."
        )
    if v.chunks[0] != X.chunks[0]:
        raise ValueError(
            f"{name} is chunked differently from X along the rows ({len(v.chunks[0])} blocks "
            f"vs {len(X.chunks[0])}); the blocks of X, y and sample_weight must hold the same "
            f"rows. Rechunk it with {name}.rechunk({{0: X.chunks[0]}})."
        )
    if dtype is not None and v.dtype != dtype:
        v = v.astype(dtype)
    return v


def _finite(block, name):
    """Refuse NaN and infinity in a block, as scikit-learn's validation does."""
    if not np.all(np.isfinite(block)):
        raise ValueError(f"Input {name} contains NaN or infinity.")
    return block


def _check_weights(block):
    _finite(block, "sample_weight")
    if np.any(block < 0):
        raise ValueError("Negative values in data passed to sample_weight")
    return block


def _rows(v):
    """A 1-D Dask array as a column, so that every row-aligned array is 2-D."""
    return v[:, None] if v.ndim == 1 else v


# ---------------------------------------------------------------------------
# The two block-wise shapes: per-row results, and sums over blocks
# ---------------------------------------------------------------------------


def aligned(block):
    """``block``, copied if its data is not aligned to its item size.

    Blocks that arrive from another process are unpickled wherever the
    message buffer puts them, at any byte offset (measured: 31 of 64, 9 of
    64, ...). numpy and BLAS then take other code paths, slower ones and,
    worse, ones that round differently: the same fit would give results
    that differ in the last bits from run to run. An aligned copy makes
    every block function see the same bytes the same way.
    """
    if isinstance(block, np.ndarray) and not block.flags.aligned:
        return np.array(block)
    return block


def _aligned_call(*blocks, block_function, **kwargs):
    return block_function(*[aligned(b) for b in blocks], **kwargs)


def map_rows(func, arrays, cols, *args, dtype=np.float64, **kwargs):
    """``func(*blocks, *args)`` on each row block: a Dask array (n, cols) chunked like the rows."""
    import dask.array as da

    return da.map_blocks(_aligned_call, *arrays, *args, block_function=func,
                         chunks=(arrays[0].chunks[0], (cols,)), dtype=dtype,
                         meta=np.empty((0, 0), dtype=dtype), **kwargs)


# Partial sums per reduction task: a flat sum of up to 64 blocks' partials, as
# long as they hold at most 64 MB together, and never fewer than Dask's
# default of 4 (a Gram matrix's partials are p^2 numbers each: at p = 2000,
# 32 MB, so 4 per task as before; the loss and gradient's, p k numbers, 64).
_SUM_FAN_IN = 64
_SUM_TASK_BYTES = 64 * 2**20


def sum_blocks(func, arrays, size, *args, **kwargs):
    """``sum_b func(*blocks_b, *args)`` as a lazy Dask vector (size,): partials summed in a tree.

    ``func`` returns a flat float64 vector of ``size`` entries for its block.
    The partials are summed by one task per :data:`_SUM_FAN_IN` blocks (fewer
    for large partials, see :data:`_SUM_TASK_BYTES`): each level of a
    reduction tree is a scheduler round trip (about 20 ms on a local cluster
    on two cores, measured), and Dask's default fan-in of 4 sums eight blocks
    in two levels where one does.
    """
    import dask.array as da

    nb = arrays[0].numblocks[0]
    parts = da.map_blocks(_as_row, *arrays, *args, block_function=func,
                          chunks=((1,) * nb, (size,)), dtype=np.float64, meta=np.empty((0, 0)),
                          **kwargs)
    fan_in = int(min(_SUM_FAN_IN, max(4, _SUM_TASK_BYTES // (8 * max(size, 1)))))
    return parts.sum(axis=0, split_every=fan_in)


def _as_row(*blocks, block_function, **kwargs):
    out = block_function(*[aligned(b) for b in blocks], **kwargs)
    return np.asarray(out, dtype=np.float64).reshape(1, -1)


# ---------------------------------------------------------------------------
# Least squares: TSQR
# ---------------------------------------------------------------------------


def _pack_factor(factor, sum_log_weights, q):
    """A factor as one float vector ``[weight, count, sum log s, mean, R]`` (3 + q + q^2)."""
    return np.concatenate([[factor.weight, factor.count, sum_log_weights], factor.mean,
                           factor.square(q).ravel()])


def _unpack_factor(v, q, centre):
    weight, count, log_w = float(v[0]), int(round(v[1])), float(v[2])
    mean = np.array(v[3:3 + q])
    R = np.array(v[3 + q:]).reshape(q, q)
    return CentredFactor(weight, mean, R, count, centre), log_w


def _ols_block(Xb, Yb, *weights, centre):
    """The packed centred factor of one block's ``[X | Y]`` rows (on the worker)."""
    Xb, Yb, weights = aligned(Xb), aligned(Yb), [aligned(w) for w in weights]
    _finite(Xb, "X")
    _finite(Yb, "y")
    s = _check_weights(weights[0][:, 0]) if weights else None
    Z = np.hstack([Xb.astype(np.float64, copy=False), Yb.astype(np.float64, copy=False)])
    factor = CentredFactor.from_rows(Z, s, centre=centre)
    return _pack_factor(factor, sum_log_weights(s), Z.shape[1]).reshape(1, -1)


def _merge_packed(parts, axis=None, keepdims=False, *, q, centre):
    """Merge packed factors (rows of ``parts``): the combine step of the reduction tree."""
    parts = aligned(np.atleast_2d(parts))
    merged, log_w = _unpack_factor(parts[0], q, centre)
    for row in parts[1:]:
        other, other_log_w = _unpack_factor(row, q, centre)
        merged = merged.merge(other)
        log_w += other_log_w
    out = _pack_factor(merged, log_w, q)
    return out.reshape(1, -1) if keepdims else out


def _identity_chunk(block, axis=None, keepdims=False):
    return block


def linear_factor(est, X, y, sample_weight, reset):
    """Validate ``(X, y, sample_weight)`` and reduce them to one merged factor.

    Returns ``(factor, sum_log_weights, n_features, y_ndim, x_dtype)``; only
    the factor, O((p + k)^2), reaches the driver.
    """
    require_dask()  # before any import of Dask: the error says what to install
    import dask.array as da

    X = check_X(est, X, reset=reset)
    Y = column(y, X, "y")
    if np.dtype(Y.dtype).kind not in "biuf":
        raise ValueError(f"y has dtype {Y.dtype}; regression needs numeric targets.")
    y_ndim = Y.ndim
    Y = _rows(Y)
    arrays = [X, Y]
    if sample_weight is not None:
        arrays.append(_rows(column(sample_weight, X, "sample_weight", dtype=np.float64, ndim=1)))
    q = X.shape[1] + Y.shape[1]
    packed = da.map_blocks(_ols_block, *arrays, centre=est.fit_intercept,
                           chunks=((1,) * X.numblocks[0], (3 + q + q * q,)),
                           dtype=np.float64, meta=np.empty((0, 0)))
    # The merge tree runs on the workers: fan-in 8, each node a few small QRs.
    merge = functools.partial(_merge_packed, q=q, centre=est.fit_intercept)
    total = da.reduction(packed, _identity_chunk, merge, combine=merge, axis=0,
                         split_every=8, dtype=np.float64, concatenate=True,
                         meta=np.empty((0,)))
    (vector,) = _compute(total)
    factor, log_w = _unpack_factor(np.asarray(vector).ravel(), q, est.fit_intercept)
    return factor, log_w, X.shape[1], y_ndim, X.dtype


# ---------------------------------------------------------------------------
# Prediction and scores: lazy, never gathering X
# ---------------------------------------------------------------------------


def _fitted_copy(est):
    """A shallow copy of the fitted estimator that predicts on numpy blocks.

    The copy drops ``feature_names_in_``: the blocks are numpy arrays, and the
    names were checked against the collection's columns already.
    """
    light = copy.copy(est)
    light.__dict__.pop("feature_names_in_", None)
    return light


def _call(block, method):
    return method(aligned(block))


def predict(est, X, method_name):
    """The lazy Dask result of ``est.<method_name>`` on a Dask X (map_blocks, one task per block).

    The blocks go through the estimator's own numpy method, with its fitted
    coefficients: the predictions are those of the in-memory estimator,
    block by block. A one-row probe on the driver gives the output's columns
    and dtype.
    """
    require_dask()  # before any import of Dask: the error says what to install
    import dask.array as da

    check_is_fitted(est)
    X = check_X(est, X, reset=False)
    light = _fitted_copy(est)
    method = {"predict": light.predict,
              "predict_proba": getattr(light, "predict_proba", None),
              "predict_log_proba": getattr(light, "predict_log_proba", None),
              "decision_function": getattr(light, "decision_function", None)}[method_name]
    probe = np.asarray(method(np.zeros((1, X.shape[1]), dtype=X.dtype)))
    if probe.ndim == 1:
        return da.map_blocks(_call, X, method=method, drop_axis=1, chunks=(X.chunks[0],),
                             dtype=probe.dtype, meta=np.empty((0,), dtype=probe.dtype))
    return da.map_blocks(_call, X, method=method, chunks=(X.chunks[0], (probe.shape[1],)),
                         dtype=probe.dtype, meta=np.empty((0, 0), dtype=probe.dtype))


def score(est, X, y, sample_weight=None):
    """``score`` of a Dask X: accuracy (classifiers) or R^2 (regressors), as a float.

    The predictions stay on the workers; the sums of the score come back.
    Same definitions as scikit-learn's ``accuracy_score`` and ``r2_score``
    (uniform average over targets, 1.0 or 0.0 for constant targets).
    """
    require_dask()  # before any import of Dask: the error says what to install
    import dask.array as da

    pred = predict(est, X, "predict")
    Xd = _as_array(X, "X")
    y = column(y, Xd, "y")
    w = None if sample_weight is None else column(sample_weight, Xd, "sample_weight",
                                                  dtype=np.float64, ndim=1)
    if is_classifier(est):
        right = (pred == y) if pred.ndim == 1 else da.all(pred == y, axis=1)
        right = right.astype(np.float64)
        if w is None:
            return float(right.mean().compute())
        hits, total = _compute((right * w).sum(), w.sum())
        return float(hits / total)
    Y = _rows(y).astype(np.float64)
    P = _rows(pred).astype(np.float64)
    W = da.ones((Xd.shape[0], 1), chunks=(Xd.chunks[0], 1)) if w is None else _rows(w)
    total, first = _compute(W.sum(), (W * Y).sum(axis=0))
    mean = first / total
    ss_res, ss_tot = _compute((W * (Y - P) ** 2).sum(axis=0), (W * (Y - mean) ** 2).sum(axis=0))
    # r2_score's force_finite: a constant target scores 1 if predicted exactly, else 0.
    r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                  np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(r2))


class DaskScoreMixin:
    """``score`` that takes Dask collections too; placed before scikit-learn's mixin."""

    def score(self, X, y, sample_weight=None):
        """The score of scikit-learn's mixin: R^2 for a regressor, mean accuracy for a classifier.

        On Dask collections the predictions stay on the workers and only the
        sums of the score are gathered (see :func:`skscratch._dask.score`);
        other input goes to scikit-learn's ``score``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask.array.Array} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True values (targets or labels) for ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            ``R^2`` of ``self.predict(X)`` against ``y`` (regressors), or the
            mean accuracy (classifiers).
        """
        if is_dask(X, y, sample_weight):
            return score(self, X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)


# ---------------------------------------------------------------------------
# Classification targets
# ---------------------------------------------------------------------------


def class_labels(y, X, name="y"):
    """``(y as a Dask column, its sorted classes)``: one pass over y for ``unique``."""
    import dask.array as da

    Y = column(y, X, name)
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if Y.ndim != 1:
        raise ValueError(f"{name} should be a 1d array, got an array of shape {Y.shape} instead.")
    (classes,) = _compute(da.unique(Y))
    check_classification_targets(classes)
    return Y, np.asarray(classes)


def _class_index(yb, classes):
    return np.searchsorted(classes, yb).reshape(-1, 1)


def class_indices(Y, classes):
    """The class index of each row, ``searchsorted(classes, y)``, as a (n, 1) Dask column."""
    return map_rows(_class_index, [Y[:, None]], 1, classes, dtype=np.intp)


def _weights_block(idx, *weights, class_w):
    s = np.ones(idx.shape[0]) if not weights else _check_weights(weights[0][:, 0])
    if class_w is not None:
        s = s * class_w[idx[:, 0]]
    return s.reshape(-1, 1)


def _class_counts_block(idx, s, n_classes):
    return np.concatenate([np.bincount(idx[:, 0], minlength=n_classes),
                           np.bincount(idx[:, 0], weights=s[:, 0], minlength=n_classes)])


def _class_weights(class_weight, classes, counts):
    """The weight of each class: ``'balanced'`` from the classes' row ``counts``, or a dict's.

    ``'balanced'`` weighs class c by ``n / (n_classes * count_c)``, as
    scikit-learn's ``compute_class_weight`` (0 for a class with no rows); a
    dict weighs the classes it does not name by 1.
    """
    if isinstance(class_weight, str):  # 'balanced'
        present = counts > 0
        K = classes.shape[0]
        return np.where(present, counts.sum() / (K * np.where(present, counts, 1.0)), 0.0)
    return np.array([float(class_weight.get(c, 1.0)) for c in classes])


def row_weights(class_weight, classes, idx, sample_weight, X):
    """Per-row weights (sample weights times class weights) and the class totals.

    Returns ``(s, counts, weighted)``: ``s`` a (n, 1) Dask column, persisted
    (it is read at every iteration); ``counts`` the rows and ``weighted`` the
    total weight of each class, from one pass. ``'balanced'`` weighs class c
    by ``n / (n_classes * count_c)``, as scikit-learn's ``compute_class_weight``.
    """
    K = classes.shape[0]
    sw = [] if sample_weight is None else [
        _rows(column(sample_weight, X, "sample_weight", dtype=np.float64, ndim=1))]
    plain = map_rows(_weights_block, [idx, *sw], 1, class_w=None)
    counts = sum_blocks(_class_counts_block, [idx, plain], 2 * K, K)
    (totals,) = _compute(counts)
    counts, weighted = totals[:K], totals[K:]
    if class_weight is None:
        return plain.persist(), counts, weighted
    class_w = _class_weights(class_weight, classes, counts)
    s = map_rows(_weights_block, [idx, *sw], 1, class_w=class_w).persist()
    return s, counts, weighted * class_w


# ---------------------------------------------------------------------------
# Logistic regression, full batch: the problem with distributed logits
# ---------------------------------------------------------------------------


def _image_block(Xb, W, b):
    """``X_b W + b`` (rows, k), accumulated in float64 for a float32 block too (see image_rows)."""
    Z = image_rows(Xb, W)
    Z += b
    return Z


def _outer_block(Zb, yb, wb, k):
    """The loss's gradient in the logits (rows, k), and the block's loss in one more column.

    The block's weighted loss sits in the first row of column k (zeros
    below), so that summing that column gives the objective.
    """
    w = wb[:, 0]
    if k == 1:
        loss, G = binary_loss_grad((yb == 1).astype(np.float64), Zb, w)
    else:
        loss, G = softmax_cross_entropy_labels(yb[:, 0], Zb, w)
    out = np.zeros((Zb.shape[0], k + 1))
    out[:, :k] = G
    if out.shape[0]:
        out[0, k] = float(loss)
    return out


def _pullback_block(Xb, LGb, k):
    """``[X_b^T G_b, sum_i G_b, loss_b]``: the gradient in W and in b, and the block's loss."""
    G = LGb[:, :k]
    XtG = np.asarray(Xb.T @ G.astype(Xb.dtype, copy=False), dtype=np.float64)
    loss = LGb[0, k] if LGb.shape[0] else 0.0  # the block's loss sits in column k's first row
    return np.concatenate([XtG.ravel(), G.sum(axis=0), [loss]])


def _weighted_sums_block(Xb, wb):
    """``[X_b^T w_b]``: the weighted column sums (the centring ``mu``), checking X."""
    _finite(Xb, "X")
    return np.asarray(Xb.T @ wb.astype(Xb.dtype, copy=False), dtype=np.float64).ravel()


def _combine_block(*blocks, c, with_z):
    """``z_b + sum_j c_j U_jb`` (or without ``z_b``)."""
    images = blocks[1:] if with_z else blocks
    out = blocks[0].copy() if with_z else np.zeros_like(images[0])
    for cj, Ub in zip(c, images):
        out += cj * Ub
    return out


def _class_major(blocks):
    """Row-major (rows, k) logit blocks as the rows of a (q, k rows) class-major matrix."""
    return np.stack([np.ascontiguousarray(b.T).ravel() for b in blocks])


def _project_block(LGb, *Ub, k):
    G = LGb[:, :k]
    return np.array([float(np.sum(U * G)) for U in Ub])


def _subspace_block(LGb, yb, wb, *Ub, k):
    """``[U g, U H U^T]`` of one block: the slope and curvature on the span (q + q^2)."""
    G = LGb[:, :k]
    U = _class_major(Ub)
    gz = np.ascontiguousarray(G.T).ravel()
    w = wb[:, 0]
    labels = (yb[:, 0] == 1).astype(np.float64) if k == 1 else yb[:, 0]
    H = subspace_hessian(gz, U, w, labels, k)
    return np.concatenate([U @ gz, H.ravel()])


def _curvature_block(Zb, multinomial):
    return logit_curvature(Zb, multinomial).reshape(-1, 1)


def _metric_weights_block(wb, *curvature, bound, floor):
    """``w_i d_i``: the bound, or the floored curvature, times the weights."""
    d = bound if not curvature else np.maximum(curvature[0], floor * bound)
    return wb * d


def _squares_block(Xb, vb, scale, mu_s):
    return centred_squares(Xb, vb[:, 0], scale, mu_s)


def _gram_block(Xb, vb, scale, mu_s):
    return centred_gram(Xb, vb[:, 0], scale, mu_s).ravel()


class DaskLinearLogit(LinearLogit):
    """:class:`~skscratch._linear_logit.LinearLogit` on Dask arrays: the data stays in row blocks.

    Every method that touches ``n``-sized data is replaced by a block-wise
    one: ``image`` (X W + b per block, persisted on the workers), ``outer``
    (the loss and its gradient per block; the gradient persisted, the loss
    summed), ``pullback_theta`` (``X^T G`` as a sum of per-block products),
    the metric's moments and Gram matrix (sums over blocks), and the engine's
    logit-space operations (:class:`~skscratch._fullbatch.VectorLogits`):
    combinations and projections of persisted logit arrays, one task per
    block. Everything on the parameters (splitting, the metric's solves,
    the proximal step) is inherited: it runs on the driver, on O(p k)
    numbers.

    Logit arrays are (n, k) Dask arrays chunked like X's rows (row-major in a
    block, where :class:`LinearLogit` keeps flat class-major vectors); the
    gradient carries the block's loss in one more column.

    Parameters
    ----------
    X : dask.array.Array of shape (n, p)
        Dense blocks of whole rows.
    idx : dask.array.Array of shape (n, 1)
        Class index of each row.
    s : dask.array.Array of shape (n, 1)
        Row weights (class weights folded in), persisted.
    class_totals : ndarray of shape (n_classes,)
        Total weight of each class (from the pass that made ``s``).
    n_classes, C, l1_ratio, fit_intercept
        As for :class:`LinearLogit`.
    """

    def __init__(self, X, idx, s, class_totals, *, n_classes, C, l1_ratio, fit_intercept):
        self.X = X
        self.sparse = False
        self.n, self.p = X.shape
        self.n_classes = n_classes
        self.multinomial = n_classes > 2
        self.k = n_classes if self.multinomial else 1
        self.y = idx
        self.sw = s
        self._class_totals = np.asarray(class_totals, dtype=np.float64)
        S = self.S = float(self._class_totals.sum())
        self.w = (s / S).persist()  # s_i / S: the loss comes out as a mean
        lam = 0.0 if np.isinf(C) else 1.0 / (C * S)
        self.lam2, self.lam1 = (1.0 - l1_ratio) * lam, l1_ratio * lam
        self.fit_intercept = fit_intercept
        # One pass: the weighted column means (the centring), X checked for
        # NaN on the way whether or not they are used, and the largest entry
        # of each column (the metrics' scaling, see LinearLogit._column_scale).
        import dask.array as da

        mu, scale = _compute(sum_blocks(_weighted_sums_block, [X, self.w], self.p),
                             da.max(da.abs(X), axis=0))
        self.mu = mu if fit_intercept else np.zeros(self.p)
        scale = np.asarray(scale, dtype=np.float64)
        scale[~(scale > 0)] = 1.0
        self._col_scale = scale
        self.size = self.p * self.k + self.k
        self._mask = np.zeros(self.size)  # 1 on the penalized entries (W), 0 on b
        self._mask[:self.p * self.k] = 1.0
        self.bound = 0.5 if self.multinomial else 0.25
        self.metric = None
        self._pending = (None, None)  # (gradient in the logits, its pullback X^T G)

    def class_totals(self):
        return self._class_totals

    # -- the data products, block by block ---------------------------------

    def image(self, theta):
        W, b = self.split(theta)
        return map_rows(_image_block, [self.X], self.k, W, b).persist()

    def logits(self, z):
        return z

    def outer(self, z):
        LG = map_rows(_outer_block, [z, self.y, self.w], self.k + 1, self.k).persist()
        # The engine asks for this gradient's pullback next whenever the
        # point is accepted (nearly always the first trial): compute it with
        # the loss, so that an accepted step costs one round trip to the
        # cluster, not two. A rejected trial wastes one pass over X. (On a
        # local cluster this saved 6 of 22 round trips in a 5-iteration fit
        # and no measurable time: the pullback already ran while the loss was
        # awaited. It counts where the scheduler is a network hop away.)
        (parts,) = _compute(self._gradient_sums(LG))
        self._pending = (LG, parts)
        return float(parts[self.size]), LG

    def _gradient_sums(self, LG):
        """``[X^T G, sum_i G, loss]`` over the blocks (size + 1), lazily."""
        return sum_blocks(_pullback_block, [self.X, LG], self.size + 1, self.k)

    def pullback_theta(self, gz, theta):
        W, _ = self.split(theta)
        if self._pending[0] is gz:
            parts = self._pending[1]
        else:
            (parts,) = _compute(self._gradient_sums(gz))
        self._pending = (None, None)
        g = np.empty(self.size)
        gW, gb = self.split(g)
        gW[...] = parts[:self.p * self.k].reshape(self.p, self.k)
        if self.lam2:
            gW += self.lam2 * W
        gb[...] = parts[self.p * self.k:self.size] if self.fit_intercept else 0.0
        return g

    def curvature(self, z):
        return map_rows(_curvature_block, [z], 1, self.multinomial)

    # -- logit-space operations (VectorLogits), on the workers --------------

    def new_images(self, q, image_size):
        return [None] * q

    def select_images(self, U, idx):
        return [U[i] for i in idx]

    def combine(self, c, U, z=None):
        arrays = list(U) if z is None else [z, *U]
        return map_rows(_combine_block, arrays, self.k, c=np.asarray(c, dtype=np.float64),
                        with_z=z is not None).persist()

    def project(self, U, gz):
        (out,) = _compute(sum_blocks(_project_block, [gz, *U], len(U), k=self.k))
        return out

    def subspace_model(self, gz, U):
        q = len(U)
        (out,) = _compute(sum_blocks(_subspace_block, [gz, self.y, self.w, *U], q + q * q,
                                     k=self.k))
        return out[:q], out[q:].reshape(q, q)

    def outer_hessian(self, gz, U):
        return self.subspace_model(gz, U)[1]

    # -- metrics -------------------------------------------------------------

    def build_metric(self, kind, curvature=None):
        extra = [] if curvature is None else [curvature]
        weights = map_rows(_metric_weights_block, [self.w, *extra], 1, bound=self.bound,
                           floor=_CURVATURE_FLOOR).persist()
        (b_curvature,) = _compute(weights.sum())
        scale = self._column_scale()
        if kind == "cholesky":
            self.metric = CholeskyMetric.build(self, weights, scale, float(b_curvature))
        else:
            self.metric = DiagonalMetric.build(self, weights, scale, float(b_curvature))
        return self.metric

    def scaled_moments(self, weights, scale):
        mu_s = self.mu / scale
        (out,) = _compute(sum_blocks(_squares_block, [self.X, weights], self.p, scale, mu_s))
        return out

    def scaled_gram(self, weights, scale):
        mu_s = self.mu / scale
        (out,) = _compute(sum_blocks(_gram_block, [self.X, weights], self.p * self.p, scale, mu_s))
        return out.reshape(self.p, self.p)


def _moments_block(Xb, sb):
    """``[sum s x, sum s x^2]`` per column of a block, checking its entries' size."""
    _finite(Xb, "X")
    FeatureMoments.check_scale(max_abs(Xb))
    B = Xb.astype(np.float64)
    s = sb[:, 0]
    return np.concatenate([B.T @ s, (B * B).T @ s])


def _power_block(Xb, wb, W, mu_W, bound):
    """``[X_b^T (c w z), sum c w z]`` with ``z = X_b W - mu W``: a Hessian-vector product's parts."""
    z = np.asarray(Xb @ W.astype(Xb.dtype, copy=False), dtype=np.float64) - mu_W
    u = bound * wb * z
    return np.concatenate([np.asarray(Xb.T @ u.astype(Xb.dtype, copy=False),
                                      dtype=np.float64).ravel(), u.sum(axis=0)])


class _DaskMiniBatchLogit(MiniBatchLogit):
    """The whitened view of a :class:`DaskLinearLogit`: parameters, prox and the curvature bound.

    Mini-batch gradients are taken on the blocks' own views (:class:`_BlockLogit`);
    this one converts parameters and estimates the curvature bound over all
    the rows, one pass per power iteration (two in memory: here the product
    and its transpose share the pass over each block).
    """

    def _bound_product(self, W):
        pb = self.problem
        (parts,) = _compute(sum_blocks(_power_block, [pb.X, pb.w], pb.p + 1, W,
                                       float(self.mu @ W[:, 0]), pb.bound))
        return parts[:pb.p, None] - np.outer(self.mu, parts[pb.p:])  # Xc^T (c w z)


class _BlockLogit:
    """One row block, in memory, as the mini-batch view reads a problem.

    The penalties and the loss are the whole problem's (``lam = 1/(C S)``
    with the total weight S, not the block's): a block is a part of one
    objective, not an objective of its own.
    """

    def __init__(self, whole, Xb, idxb, sb):
        self.X = Xb
        self.sw = sb[:, 0]
        y = idxb[:, 0]
        self.targets = y if whole.multinomial else (y == 1).astype(np.float64)[:, None]
        self._loss = softmax_cross_entropy_labels if whole.multinomial else binary_loss_grad
        self.lam2, self.lam1 = whole.lam2, whole.lam1
        self.fit_intercept, self.bound, self.p = whole.fit_intercept, whole.bound, whole.p


class StreamedBlocks:
    """A mini-batch problem over the row blocks of Dask arrays, one block in memory at a time.

    :meth:`batch_order` is the epoch's batches for :func:`~skscratch._stochastic.run_epochs`:
    the blocks in a random order (``rng.permutation``; in order without
    shuffling), each brought to the driver when its turn comes, its rows
    shuffled within it (the same in-place shuffle of the running order that
    the in-memory epoch does) and cut into batches. A batch never straddles
    two blocks, the last one of a block may be short, and only one block is
    held at a time. ``make_problem(*blocks)`` builds the block's mini-batch
    problem; :meth:`loss_grad` is that problem's.

    With the same ``random_state`` and the same chunking, the same batches
    are visited in the same order: the fit is reproducible. It is not the
    in-memory fit's sequence of batches (that one shuffles across all rows).
    """

    def __init__(self, arrays, make_problem):
        self.arrays = arrays
        self.make_problem = make_problem
        self.current = None
        self.n_blocks = arrays[0].numblocks[0]

    def batch_order(self, size, rng, shuffle):
        order = rng.permutation(self.n_blocks) if shuffle else np.arange(self.n_blocks)
        for b in order:
            self.current = None  # release the previous block before fetching the next
            blocks = [aligned(v) for v in _compute(*[a.blocks[int(b)] for a in self.arrays])]
            self.current = self.make_problem(*blocks)
            rows = blocks[0].shape[0]
            del blocks
            yield from batches(np.arange(rows), size, rng, shuffle)
        self.current = None

    def loss_grad(self, params, idx):
        return self.current.loss_grad(params, idx)


def _refuse_early_stopping(est):
    if est.early_stopping and est.solver in ("sgd", "adam"):
        raise ValueError(
            "early_stopping=True is not available on Dask arrays: the hold-out would have to be "
            "drawn across row blocks. Hold out a validation set yourself and stop on its score "
            "(partial_fit), or fit with early_stopping=False."
        )


class LogisticBlocks:
    """The row blocks of a Dask fit, in the shape :meth:`LogisticRegressionGD.fit` reads its data.

    The estimator runs one fit on this or on its rows in memory. Here 'gd'
    runs the full-batch engine on a :class:`DaskLinearLogit`: the same
    iterations as in memory, on sums over blocks; 'sgd' and 'adam' stream the
    row blocks (:class:`StreamedBlocks`) with the metric of all the rows.
    Early stopping is refused (the hold-out would straddle the blocks), and
    so is the row-space metric.

    Attributes
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        The validated rows.
    classes : ndarray of shape (n_classes,)
        The sorted labels of ``y`` (one pass over ``y``).
    row_space : bool
        False: 'auto' picks the row space for few, wide rows (n <= 4096),
        data that fits in memory anyway; on blocks the diagonal metric does
        the job without the n x n kernel matrix.
    """

    row_space = False

    def __init__(self, est, X, y, sample_weight):
        require_dask()  # before any import of Dask: the error says what to install
        self.X = check_X(est, X, reset=True)
        _refuse_early_stopping(est)
        self.Y, self.classes = class_labels(y, self.X)
        self.sample_weight = sample_weight
        # scikit-learn's callbacks see the Dask array, y and the weights as given
        self.task_args = (self.X, y, sample_weight)

    def check_row_space(self, est):
        raise ValueError(
            "metric='kernel' (the row space of the data) works on the n x n kernel matrix of "
            "the rows, in memory; it is not available on Dask arrays. Use metric='auto' or "
            "'diagonal', or fit on X.compute() if the rows fit in memory."
        )

    def weigh(self, est):
        """Class indices and row weights, persisted; refuse fewer than 2 weighted classes."""
        self.idx = class_indices(self.Y, self.classes).persist()
        self.s, _, self.weighted = row_weights(est.class_weight, self.classes, self.idx,
                                               self.sample_weight, self.X)
        est._check_two_weighted_classes(self.classes, self.weighted)

    def problem(self, est):
        return DaskLinearLogit(self.X, self.idx, self.s, self.weighted,
                               n_classes=self.classes.shape[0], C=est.C, l1_ratio=est.l1_ratio,
                               fit_intercept=est.fit_intercept)

    def feature_moments(self, problem, fit_intercept):
        """The :class:`FeatureMoments` of all the rows, from one pass of block sums."""
        p = self.X.shape[1]
        (sums,) = _compute(sum_blocks(_moments_block, [self.X, self.s], 2 * p))
        return FeatureMoments(p).add(problem.S, sums[:p], sums[p:], fit_intercept)

    def mini_batches(self, problem, metric, mu):
        """``(view, epochs, batch_order)``: the whole problem's view, and the streamed blocks."""
        view = _DaskMiniBatchLogit(problem, metric, mu)
        stream = StreamedBlocks(
            [self.X, self.idx, self.s],
            lambda Xb, ib, sb: MiniBatchLogit(_BlockLogit(problem, Xb, ib, sb), metric, mu))
        return view, stream, stream.batch_order


# ---------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------


def _labels(binarizer, yb):
    """A block's labels as the binarizer takes them: a 1-D vector, or the indicator rows."""
    return yb if binarizer.y_type_ == "multilabel-indicator" else yb[:, 0]


def _network_block(Xb, yb, *weights, theta, binarizer, layer_units, activation, out_activation):
    """``[sum s loss, sum s grad]`` of the unpenalized network objective on one block."""
    _finite(Xb, "X")
    sb = _check_weights(weights[0][:, 0]).astype(Xb.dtype) if weights else None
    Y = binarize(binarizer, _labels(binarizer, yb), Xb.dtype)
    block = NetworkProblem(Xb, Y, sb, layer_units, activation, out_activation, 0.0)
    loss, (grad,) = block.loss_grad([theta], None)
    S = float(Xb.shape[0]) if sb is None else float(sb.sum(dtype=np.float64))
    return np.concatenate([[loss * S], grad.astype(np.float64) * S])


class DaskNetwork:
    """The network's full-batch objective on Dask arrays: per-block sums of loss and gradient.

    ``J = (1/S) sum_b S_b J_b + alpha/(2 S) sum_l ||W_l||^2``: each block's
    unpenalized mean loss and gradient (:class:`~skscratch._network.NetworkProblem`
    on the worker) weighed by the block's weight ``S_b``, summed in a tree,
    and the penalty added on the driver with the total weight. L-BFGS sees
    the same objective as in memory.
    """

    def __init__(self, arrays, template, S, alpha, **block_args):
        self.arrays, self.template, self.S, self.alpha = arrays, template, S, alpha
        self.block_args = block_args

    def loss_grad(self, params, idx):
        theta = params[0]
        (parts,) = _compute(sum_blocks(_network_block, self.arrays, 1 + theta.shape[0],
                                       theta=theta, **self.block_args))
        loss = float(parts[0]) / self.S
        grad = (parts[1:] / self.S).astype(theta.dtype)
        if self.alpha:
            penalty = self.alpha / self.S  # alpha / (2 S) sum ||W||^2, gradient (alpha / S) W
            views, grads = self.template.unpack(theta), self.template.unpack(grad)
            for l in range(self.template.n_layers):
                loss += 0.5 * penalty * float(np.sum(views[l].astype(np.float64) ** 2))
                grads[l] += penalty * views[l]
        return loss, [grad]


def _network_weights_block(yb, *weights, classes, class_w):
    s = np.ones(yb.shape[0]) if not weights else _check_weights(weights[0][:, 0])
    if class_w is not None:
        s = s * class_w[np.searchsorted(classes, yb[:, 0])]
    return s.reshape(-1, 1)


class NetworkBlocks:
    """The row blocks of a Dask fit, in the shape :meth:`MLPClassifierScratch.fit` reads its data.

    The estimator runs one fit on this or on its rows in memory. Here
    'lbfgs' runs full batch on per-block sums (:class:`DaskNetwork`); 'sgd'
    and 'adam' stream the row blocks (:class:`StreamedBlocks`). Early
    stopping is refused (the hold-out would straddle the blocks).

    Attributes
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        The validated rows.
    labels : ndarray
        What the label binarizer is fitted on: the sorted classes of a 1-D
        ``y`` (one pass over ``y``), or two rows of 0 and 1 that make the
        binarizer see an indicator matrix of ``y``'s width.
    """

    def __init__(self, est, X, y, sample_weight, reset):
        require_dask()  # before any import of Dask: the error says what to install
        import dask.array as da

        self.X = check_X(est, X, reset=reset)
        _refuse_early_stopping(est)
        Y = column(y, self.X, "y")
        if Y.ndim == 2 and Y.shape[1] == 1:
            Y = Y[:, 0]
        if Y.ndim == 1:
            (classes,) = _compute(da.unique(Y))
            check_classification_targets(classes)
            self.labels = classes
        else:
            (values,) = _compute(da.unique(Y))
            if not np.all(np.isin(values, [0, 1])):
                raise ValueError("A 2-D y must be a label indicator matrix of 0 and 1 "
                                 "(multilabel).")
            # Two rows that make LabelBinarizer see an indicator matrix of this width.
            self.labels = np.vstack([np.zeros(Y.shape[1], dtype=int),
                                     np.ones(Y.shape[1], dtype=int)])
        self.Y, self.sample_weight = Y, sample_weight
        # scikit-learn's callbacks see the Dask array, y and the weights as given
        self.task_args = (self.X, y, sample_weight)

    def classes(self):
        """The sorted labels of a 1-D ``y``; None for a label indicator matrix."""
        return np.asarray(self.labels) if self.Y.ndim == 1 else None

    def binarize(self, binarizer):
        """Keep the binarizer for the blocks; return the number of output columns."""
        self.binarizer = binarizer
        return binarize(binarizer, np.asarray(self.labels)[:1], self.X.dtype).shape[1]

    def weigh(self, est):
        """The row weights (sample weights times class weights), persisted, and their total."""
        import dask.array as da

        est._check_class_weight()
        class_w = None
        if est.class_weight is not None:
            counts = None
            if isinstance(est.class_weight, str):
                K = est.classes_.shape[0]
                idx = class_indices(self.Y, est.classes_)
                (counts,) = _compute(sum_blocks(_class_counts_block,
                                                [idx, da.ones_like(idx, dtype=np.float64)],
                                                2 * K, K))
                counts = counts[:K]
            class_w = _class_weights(est.class_weight, est.classes_, counts)
        Ycol = _rows(self.Y)
        self.arrays = [self.X, Ycol]
        if self.sample_weight is not None or class_w is not None:
            sw = [] if self.sample_weight is None else [
                _rows(column(self.sample_weight, self.X, "sample_weight", dtype=np.float64,
                             ndim=1))]
            s = map_rows(_network_weights_block, [Ycol, *sw], 1, classes=est.classes_,
                         class_w=class_w).persist()
            self.arrays.append(s)
            (self.S,) = _compute(s.sum())
        else:
            self.S = float(self.X.shape[0])

    def network(self, layer_units, activation, out_activation, alpha):
        """A network on one row of zeros: the parameters' layout, not an objective."""
        return NetworkProblem(np.zeros((1, layer_units[0]), self.X.dtype),
                              np.zeros((1, layer_units[-1]), self.X.dtype), None, layer_units,
                              activation, out_activation, alpha)

    def full_batch(self, template):
        return DaskNetwork(self.arrays, template, float(self.S), template.alpha,
                           binarizer=self.binarizer, layer_units=template.layer_units,
                           activation=template.activation,
                           out_activation=template.out_activation)

    def mini_batches(self, template):
        """``(epochs, batch_order)`` for :func:`run_epochs`: the streamed blocks."""
        binarizer = self.binarizer

        def make_problem(Xb, yb, *weights):
            # No pass over X precedes the stream: each block is checked as it
            # arrives, so that a NaN is reported as bad input, not divergence.
            _finite(Xb, "X")
            return NetworkProblem(Xb, binarize(binarizer, _labels(binarizer, yb), Xb.dtype),
                                  weights[0][:, 0].astype(Xb.dtype) if weights else None,
                                  template.layer_units, template.activation,
                                  template.out_activation, template.alpha)

        stream = StreamedBlocks(self.arrays, make_problem)
        return stream, stream.batch_order


# ---------------------------------------------------------------------------
# partial_fit: the in-memory partial_fit, block after block
# ---------------------------------------------------------------------------


def partial_fit_blocks(est, X, y, first, sample_weight=None, **kwargs):
    """``partial_fit`` on a Dask array: the estimator's own ``partial_fit`` on each row block in turn.

    One block is brought to the driver at a time. The call is atomic (the
    estimator's ``restore_on_failure``): a block that fails leaves the model
    as it was before the call. Feature names (of a Dask DataFrame) are
    checked once here, against the whole collection.
    """
    require_dask()  # before any import of Dask: the error says what to install
    X = check_X(est, X, reset=first)
    names = est.__dict__.pop("feature_names_in_", None)
    Y = column(y, X, "y")
    arrays = [X, Y]
    if sample_weight is not None:
        arrays.append(column(sample_weight, X, "sample_weight", dtype=np.float64, ndim=1))
    for b in range(X.numblocks[0]):
        blocks = [aligned(v) for v in _compute(*[a.blocks[b] for a in arrays])]
        weights = blocks[2] if len(blocks) > 2 else None
        est.partial_fit(blocks[0], blocks[1], sample_weight=weights, **kwargs)
        del blocks
    if names is not None:
        est.feature_names_in_ = names
    return est
