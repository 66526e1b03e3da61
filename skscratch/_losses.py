"""Link functions and log-losses, with their gradients, computed stably from numpy ufuncs.

Logistic regression is a network with no hidden layer, so both
``LogisticRegressionGD`` and the multilayer perceptron's output layer end in
the same place: logits ``Z``, a link (sigmoid or softmax) that maps them to
probabilities, and the log-loss of those probabilities. Everything here is a
plain function on arrays, testable alone against ``scipy.special``.

Numerical conventions
---------------------
- **No overflow, ever.** The textbook formulas ``1 / (1 + exp(-z))`` and
  ``exp(z) / sum(exp(z))`` overflow once ``|z|`` passes ~88 (float32) or ~709
  (float64). Every exponential here is taken of a non-positive number
  (``-|z|``, or ``z - max(z)``), so it lies in ``[0, 1]``; at worst it
  underflows to 0, which is then the correctly rounded answer.
- **Relative accuracy in the tails.** A confident, correct prediction has a
  tiny loss and a tiny gradient, and both are returned with full relative
  precision (``sigma(40) - 1 = -4.2e-18``, not 0), because differences such
  as ``sigma(z) - 1`` and ``log(1 + e)`` are never formed by subtraction from 1.
  This matters in float32, where a margin of 17 already makes
  ``1 - sigma(z)`` round to 0.
- **dtype in, dtype out.** float32 stays float32 and float64 stays float64;
  integer and boolean input becomes float64. Labels and sample weights are cast
  to the logits' dtype so that they never upcast the computation.
- **One exponential per entry.** The loss-and-gradient functions evaluate
  ``exp`` once per logit and reuse it for the loss and for the probabilities,
  since they run once per mini-batch.

Logits must be finite (``+-inf`` gives ``nan`` in the losses).

Contents
--------
- :func:`sigmoid`                 sigma(z) = 1 / (1 + e^-z)
- :func:`log_sigmoid`             log sigma(z) = -log(1 + e^-z)
- :func:`softmax`                 softmax(z)_j = e^z_j / sum_k e^z_k, row-wise
- :func:`log_softmax`             z_j - logsumexp(z), row-wise
- :func:`binary_loss_grad`        sum of weighted binary log-losses and d/dZ
- :func:`softmax_cross_entropy_labels`  sum of weighted multinomial log-losses
  of class indices, and d/dZ
"""

import numpy as np

__all__ = [
    "binary_loss_grad",
    "log_sigmoid",
    "log_softmax",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy_labels",
]


def _as_float(a):
    """``a`` as an array of a floating dtype: floats keep theirs, others become float64."""
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    return a


def _targets_and_weights(Y, Z, sample_weight, ndims):
    """Validate the shapes; cast targets and weights to the logits' dtype.

    Returns ``Y``, ``Z`` and the weights shaped to broadcast over the rows of
    ``Z`` (``None`` when ``sample_weight`` is ``None``).
    """
    Z = _as_float(Z)
    if Z.ndim not in ndims:
        raise ValueError(f"Z must have {' or '.join(map(str, ndims))} dimensions, got shape {Z.shape}.")
    Y = np.asarray(Y, dtype=Z.dtype)
    if Y.shape != Z.shape:
        raise ValueError(f"Y and Z must have the same shape, got {Y.shape} and {Z.shape}.")
    if sample_weight is None:
        return Y, Z, None
    s = np.asarray(sample_weight, dtype=Z.dtype)
    if s.shape != Z.shape[:1]:
        raise ValueError(f"sample_weight must have shape ({Z.shape[0]},), got {s.shape}.")
    return Y, Z, s.reshape(s.shape + (1,) * (Z.ndim - 1))


def _shifted_exp(Z):
    """Exponentials of 2-D logits shifted by their row maximum, the maximum's 1 kept apart.

    Works on ``Zt = Z.T``, classes along axis 0, so that the per-sample
    maximum and sums are elementwise operations across ``k`` contiguous rows
    of length ``n`` rather than reductions over rows of length ``k`` (several
    times faster for the few classes of a classifier; free when ``Z`` is
    Fortran-ordered, as ``(W^T X^T)^T`` is).

    Returns ``(Et, S_rest, m)``: ``m`` (shape (n,)) the row maxima,
    ``Et = exp(Z - m).T`` (shape (k, n), C-ordered) and ``S_rest`` the row sum
    of ``exp(Z - m)`` without the maximum's own term, which is exactly 1.
    Then ``sum(exp(Z - m)) = 1 + S_rest``, and keeping the 1 apart lets
    ``log1p(S_rest)`` and ``1 - p_max = S_rest / (1 + S_rest)`` keep their
    relative precision when one logit dominates. Entries equal to the
    maximum (ties) are 1; each one after the first is counted in ``S_rest``.
    """
    Et = np.array(Z.T, order="C")  # a copy, C-ordered whatever Z's order
    m = Et.max(axis=0)
    # Z - m <= 0, so exp lies in [0, 1]: it cannot overflow. The difference itself
    # overflows to -inf only for logits of opposite signs near the largest float,
    # and exp(-inf) = 0 is then the right answer; underflow to 0 is also right.
    with np.errstate(over="ignore", under="ignore"):
        Et -= m
        np.exp(Et, out=Et)
    below = Et < 1
    S_rest = np.where(below, Et, 0).sum(axis=0)
    S_rest += (Et.shape[0] - 1 - below.sum(axis=0)).astype(Et.dtype)
    return Et, S_rest, m


def sigmoid(z, out=None):
    """Logistic sigmoid, elementwise, without overflow.

    ``sigma(z) = 1 / (1 + e^-z)``.

    Parameters
    ----------
    z : array-like
        Logits, of any shape.
    out : ndarray, optional
        Where to write the result (may be ``z`` itself, for an in-place update).

    Returns
    -------
    p : ndarray
        ``sigma(z)``, with the shape and floating dtype of ``z``.

    Notes
    -----
    Why it is stable: with ``e = exp(-|z|)``, which lies in ``(0, 1]`` and
    cannot overflow,

    - ``sigma(z) = 1 / (1 + e)`` for ``z >= 0``,
    - ``sigma(z) = e / (1 + e)`` for ``z < 0`` (numerator and denominator of
      the textbook formula multiplied by ``e^z``).

    Neither branch subtracts, so the result has a small relative error over the
    whole range, down to the smallest normal float.

    Examples
    --------
    >>> import numpy as np
    >>> from skscratch._losses import sigmoid
    >>> sigmoid(np.array([-1e4, -1.0, 0.0, 1.0, 1e4]))
    array([0.        , 0.26894142, 0.5       , 0.73105858, 1.        ])
    >>> sigmoid(np.array([0.0, 50.0], dtype=np.float32)).dtype
    dtype('float32')
    """
    z = _as_float(z)
    if out is None:
        out = np.empty_like(z)
    nonneg = z >= 0  # taken first: out may be z
    # e = e^{-|z|} in (0, 1]
    with np.errstate(under="ignore"):
        np.abs(z, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)
    denominator = out + 1  # 1 + e
    np.copyto(out, 1, where=nonneg)  # numerator: 1 if z >= 0, e if z < 0
    out /= denominator
    return out


def log_sigmoid(z):
    """Logarithm of the logistic sigmoid, elementwise, without overflow.

    ``log sigma(z) = -log(1 + e^-z)``.

    Parameters
    ----------
    z : array-like
        Logits, of any shape.

    Returns
    -------
    log_p : ndarray
        ``log sigma(z)``, with the shape and floating dtype of ``z``.

    Notes
    -----
    Why it is stable: ``log(1 + e^-z) = logaddexp(0, -z)``, and numpy's
    ``logaddexp(a, b) = max(a, b) + log1p(e^{-|a - b|})`` only exponentiates a
    non-positive number. ``log1p`` keeps the relative precision of
    ``log sigma(z) ~ -e^-z`` for large positive ``z``; for large negative
    ``z`` the result is ``~ z``.

    Examples
    --------
    >>> import numpy as np
    >>> from skscratch._losses import log_sigmoid
    >>> log_sigmoid(np.array([-1e4, 0.0, 40.0]))
    array([-1.00000000e+04, -6.93147181e-01, -4.24835426e-18])
    """
    z = _as_float(z)
    # log sigma(z) = -logaddexp(0, -z)
    out = np.negative(z)
    with np.errstate(under="ignore"):
        np.logaddexp(0, out, out=out)
    return np.negative(out, out=out)


def softmax(Z, out=None):
    """Softmax over the last axis (each row of a 2-D array), without overflow.

    ``softmax(z)_j = e^{z_j} / sum_k e^{z_k}``.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_classes)
        Logits; any number of leading dimensions is accepted.
    out : ndarray, optional
        Where to write the result (may be ``Z`` itself).

    Returns
    -------
    P : ndarray
        Probabilities, each row summing to 1, with the shape and floating
        dtype of ``Z``.

    Notes
    -----
    Why it is stable: softmax is unchanged by subtracting a constant from a
    row, and with ``m = max_k z_k`` every ``e^{z_j - m}`` lies in ``[0, 1]``
    while the row sum lies in ``[1, n_classes]``. Each probability is one
    quotient of positive numbers, so it has a small relative error.

    Examples
    --------
    >>> import numpy as np
    >>> from skscratch._losses import softmax
    >>> softmax(np.array([[1e4, 1e4, -1e4], [0.0, np.log(3.0), 0.0]]))
    array([[0.5, 0.5, 0. ],
           [0.2, 0.6, 0.2]])
    """
    Z = _as_float(Z)
    m = Z.max(axis=-1, keepdims=True)
    # e^{z - m}: see _shifted_exp for why the errors ignored here are harmless.
    with np.errstate(over="ignore", under="ignore"):
        out = np.subtract(Z, m, out=out)
        np.exp(out, out=out)
    # p_j = e^{z_j - m} / sum_k e^{z_k - m}
    out /= out.sum(axis=-1, keepdims=True)
    return out


def log_softmax(Z):
    """Logarithm of the softmax over the last axis, without overflow.

    ``log softmax(z)_j = z_j - logsumexp(z) = z_j - m - log sum_k e^{z_k - m}``.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_classes)
        Logits; any number of leading dimensions is accepted.

    Returns
    -------
    log_P : ndarray
        Log-probabilities, with the shape and floating dtype of ``Z``.

    Notes
    -----
    Why it is stable: as for :func:`softmax`, the exponentials are taken of
    ``z - m <= 0`` with ``m`` the row maximum. The maximum's own term is
    exactly 1 and is kept apart, ``sum_k e^{z_k - m} = 1 + S`` with ``S`` the
    sum over the other entries, so ``log(1 + S) = log1p(S)`` keeps its
    relative precision: the log-probability of a dominant class is
    ``~ -S``, not a rounded 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skscratch._losses import log_softmax
    >>> log_softmax(np.array([[1e4, 0.0], [0.0, 0.0]]))
    array([[ 0.00000000e+00, -1.00000000e+04],
           [-6.93147181e-01, -6.93147181e-01]])
    """
    Z = _as_float(Z)
    Z2 = Z.reshape(-1, Z.shape[-1])  # rows of the last axis
    Et, S_rest, m = _shifted_exp(Z2)
    # log p_j = (z_j - m) - log1p(S)
    out = np.subtract(Z2.T, m, out=Et)
    out -= np.log1p(S_rest)
    return out.T.reshape(Z.shape)


def binary_loss_grad(Y, Z, sample_weight=None):
    """Weighted sum of binary log-losses of independent outputs, and its gradient.

    For targets ``Y`` and logits ``Z`` of shape (n_samples, n_outputs)
    (one output for binary classification, several for independent
    multilabel outputs) and sample weights ``s``::

        loss = sum_i s_i sum_j [log(1 + e^{Z_ij}) - Y_ij Z_ij]
        dZ   = s * (sigma(Z) - Y)                       (= d loss / d Z)

    The per-entry term is ``-[y log sigma(z) + (1 - y) log(1 - sigma(z))]``,
    the cross-entropy of the prediction ``sigma(z)``.

    Parameters
    ----------
    Y : array-like of shape (n_samples, n_outputs) or (n_samples,)
        Targets in {0, 1} (probabilities in [0, 1] are also accepted).
    Z : array-like of the same shape as ``Y``
        Logits.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each row; ``None`` means all ones.

    Returns
    -------
    loss : numpy floating scalar
        The weighted **sum** (not the mean) of the losses, in the dtype of
        ``Z``; the caller divides by what it wants (``n_samples``, the total
        weight).
    dZ : ndarray of the shape and floating dtype of ``Z``
        Gradient of ``loss`` with respect to ``Z``.

    Notes
    -----
    Why it is stable: with ``e = exp(-|z|)`` in ``(0, 1]``, the one
    exponential per entry,

    - ``log(1 + e^z) - y z = max(z, 0) - y z + log1p(e)``, with no overflow and
      full relative precision for a confident correct prediction
      (``y = 1, z = 40`` gives ``4.2e-18``);
    - ``sigma(z) - y = (1 - y) sigma(z) - y sigma(-z)``, with
      ``sigma(z), sigma(-z) = 1/(1+e), e/(1+e)`` for ``z >= 0`` and the other
      way round for ``z < 0``; written so, ``sigma(40) - 1 = -4.2e-18`` is not
      rounded to 0 (the same form as scikit-learn's ``HalfBinomialLoss``).

    Examples
    --------
    >>> import numpy as np
    >>> from skscratch._losses import binary_loss_grad
    >>> Y = np.array([[1.0], [0.0], [1.0]])
    >>> Z = np.array([[0.0], [1e4], [40.0]])
    >>> loss, dZ = binary_loss_grad(Y, Z)
    >>> round(float(loss), 9)           # log(2) + 1e4 + 4.2e-18
    10000.693147181
    >>> dZ
    array([[-5.00000000e-01],
           [ 1.00000000e+00],
           [-4.24835426e-18]])
    """
    Y, Z, s = _targets_and_weights(Y, Z, sample_weight, ndims=(1, 2))
    negative = Z < 0
    with np.errstate(under="ignore"):
        e = np.abs(Z)
        np.negative(e, out=e)
        np.exp(e, out=e)  # e = e^{-|z|}, the one exponential per entry

    # loss_ij = [max(z, 0) - y z] + log1p(e), in this order: the bracket is exact
    # for y in {0, 1} (0, z or -z), so a tiny log1p(e) is not lost against |z|
    L = np.maximum(Z, 0)
    dZ = np.multiply(Y, Z)  # dZ is scratch space until the gradient below
    L -= dZ
    L += np.log1p(e, out=dZ)
    if s is not None:
        L *= s
    loss = L.sum()  # pairwise summation

    # dZ = [(1 - y) sigma(z) - y sigma(-z)], with (1 + e) sigma(z) = 1 or e and
    # (1 + e) sigma(-z) = e or 1, for z >= 0 or z < 0
    np.subtract(1, Y, out=dZ)
    np.multiply(dZ, e, out=dZ, where=negative)  # (1 - y) (1 + e) sigma(z)
    denominator = np.add(e, 1, out=L)  # 1 + e
    np.multiply(Y, e, out=e)
    np.copyto(e, Y, where=negative)  # y (1 + e) sigma(-z)
    dZ -= e
    dZ /= denominator
    if s is not None:
        dZ *= s  # dZ = s (sigma(z) - y)
    return loss, dZ


def softmax_cross_entropy_labels(y, Z, s=None):
    """Weighted sum of multinomial (softmax cross-entropy) losses, and its gradient.

    For integer class indices ``y``, logits ``Z`` of shape (n_samples,
    n_classes) and sample weights ``s``::

        loss = sum_i s_i [logsumexp(Z_i) - Z_{i, y_i}]
        dZ   = s * (softmax(Z) - onehot(y))             (= d loss / d Z)

    The term of a row is ``-log softmax(Z_i)_{y_i}``. The targets are read at
    one entry per row, never as a one-hot matrix. The inputs are not checked:
    the callers build them (:mod:`skscratch._linear_logit`,
    :mod:`skscratch._network`), once per mini-batch.

    Parameters
    ----------
    y : ndarray of int of shape (n_samples,)
        Class index of each row, in ``[0, n_classes)``.
    Z : ndarray of shape (n_samples, n_classes)
        Logits, float32 or float64.
    s : ndarray of shape (n_samples,), default=None
        Weight of each row, in the dtype of ``Z``; ``None`` means all ones.

    Returns
    -------
    loss : numpy floating scalar
        The weighted **sum** (not the mean) of the losses, in the dtype of
        ``Z``; the caller divides by what it wants.
    dZ : ndarray of shape (n_samples, n_classes)
        Gradient of ``loss`` with respect to ``Z``, in the dtype of ``Z`` (a
        transposed view of a C-ordered (n_classes, n_samples) array).

    Notes
    -----
    Why it is stable: with ``m`` the row maximum (at column ``t``) and
    ``e_j = exp(z_j - m)`` in ``[0, 1]``, the one exponential per entry, and
    ``S = sum_{j != t} e_j`` (the term ``e_t = 1`` kept apart, see
    ``_shifted_exp``),

    - ``logsumexp(z) - z_y = [m - z_y] + log1p(S)``, in this order: the
      bracket is exactly 0 when the label is the maximum, and ``log1p(S)``
      then keeps its full relative precision;
    - ``softmax(z)_j - [j = y] = e_j / (1 + S)`` away from the label (no
      subtraction), and ``p_y - 1 = [(e_y - 1) - S] / (1 + S)`` at it:
      exactly ``-S / (1 + S)`` when the label is the maximum (``e_y = 1``),
      so that ``1 - p_y`` is not rounded to 0, and free of cancellation
      otherwise (``e_y <= 1 <= 1 + S``).

    Examples
    --------
    >>> import numpy as np
    >>> from skscratch._losses import softmax_cross_entropy_labels
    >>> y = np.array([0, 2])
    >>> Z = np.array([[0.0, 0.0, 0.0], [1e4, 0.0, 0.0]])
    >>> loss, dZ = softmax_cross_entropy_labels(y, Z)
    >>> round(float(loss), 9)           # log(3) + 1e4
    10001.098612289
    >>> dZ
    array([[-0.66666667,  0.33333333,  0.33333333],
           [ 1.        ,  0.        , -1.        ]])
    """
    at_label = (y, np.arange(Z.shape[0]))  # entries (y_i, i) of the (k, n) arrays
    Et, S_rest, m = _shifted_exp(Z)
    # loss_i = [m_i - z_{i y_i}] + log1p(S_i)
    row_loss = m - Z.T[at_label]
    row_loss += np.log1p(S_rest)
    # dZ = e / (1 + S), and [(e_y - 1) - S] / (1 + S) at the label
    denominator = S_rest + 1
    e_y = Et[at_label]
    Et /= denominator
    Et[at_label] = ((e_y - 1) - S_rest) / denominator
    if s is not None:
        row_loss *= s
        Et *= s  # dZ = s (softmax(z) - onehot(y))
    return row_loss.sum(), Et.T
