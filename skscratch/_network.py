"""A dense feed-forward network: forward pass, backpropagation, and the training problem.

Layer ``l`` computes ``Z_l = A_{l-1} W_l + b_l`` and ``A_l = f(Z_l)``, with
``A_0 = X``; the last layer's link is the softmax (several classes) or the
sigmoid (two classes, or several labels), and its log-loss is the one of
:mod:`skscratch._losses`. Backpropagation is the chain rule applied from the
output down (Rumelhart, Hinton & Williams 1986)::

    delta_L     = dJ/dZ_L = s (P - Y) / S             (softmax or sigmoid with log-loss)
    dJ/dW_l     = A_{l-1}^T delta_l + (alpha / S) W_l
    dJ/db_l     = sum_i delta_l[i]
    delta_{l-1} = (delta_l W_l^T) * f'(Z_{l-1})

where ``s`` are the sample weights and ``S`` their sum. Each step is one matrix
product or one elementwise pass over a mini-batch; nothing loops over samples.
The derivative ``f'`` is computed from the activation ``A = f(Z)`` itself
(``sigma' = A (1 - A)``, ``tanh' = 1 - A^2``, ``relu' = [A > 0]``), so the
forward pass need not keep ``Z``.

The objective is scikit-learn's ``MLPClassifier``'s::

    J = (1/S) sum_i s_i loss(y_i, x_i) + alpha / (2 S) sum_l ||W_l||^2

on each mini-batch (``S`` the batch's total weight), with the intercepts
unpenalized.

Buffers
-------
A :class:`NetworkProblem` keeps, for each batch size it meets, the
activations and deltas of one pass, and one gradient vector, and writes into
them at every call (``out=`` everywhere a product or ufunc allows it). The
gradient it returns is therefore overwritten by the next call; the optimizers
in :mod:`skscratch._stochastic` and :mod:`skscratch._fullbatch` use it at once (L-BFGS copies what it keeps).
"""

import numpy as np
import scipy.sparse as sp

from ._losses import binary_loss_grad, sigmoid, softmax, softmax_cross_entropy_labels
from ._stochastic import RowSparseGradient

__all__ = ["ACTIVATIONS", "NetworkProblem", "forward", "glorot_init"]


# ---------------------------------------------------------------------------
# Activations, in place, and their derivatives from the activation value
# ---------------------------------------------------------------------------


def _identity(Z):
    return Z


def _logistic(Z):
    return sigmoid(Z, out=Z)


def _tanh(Z):
    return np.tanh(Z, out=Z)


def _relu(Z):
    return np.maximum(Z, 0, out=Z)


ACTIVATIONS = {"identity": _identity, "logistic": _logistic, "tanh": _tanh, "relu": _relu}


def _scale_by_derivative(activation, A, delta):
    """``delta *= f'(Z)`` in place, with ``f'`` written through ``A = f(Z)``.

    Not for relu: its derivative ``[z > 0]`` is the mask the forward pass
    keeps (see :meth:`NetworkProblem.loss_grad`).
    """
    if activation == "identity":
        return
    if activation == "logistic":
        delta *= A
        delta *= 1 - A  # sigma' = sigma (1 - sigma)
    elif activation == "tanh":
        delta *= 1 - A * A  # tanh' = 1 - tanh^2
    else:  # pragma: no cover - the estimator validates the name
        raise ValueError(f"unknown activation {activation!r}")


def glorot_init(layer_units, activation, rng, dtype):
    """Weights and intercepts drawn as scikit-learn's ``MLPClassifier`` draws them.

    Glorot & Bengio (2010): ``U(-r, r)`` with ``r = sqrt(6 / (fan_in + fan_out))``
    keeps the variance of activations and of backpropagated gradients about
    equal from layer to layer for tanh-like units; for the logistic sigmoid,
    whose slope at 0 is 1/4, scikit-learn takes ``r = sqrt(2 / (fan_in +
    fan_out))``. The intercepts are drawn from the same interval. Random,
    not equal, starting weights are what break the symmetry between the units
    of a layer: units that start equal receive equal gradients and stay
    equal. Draws happen layer by layer, weights before intercepts, from
    ``rng`` (a ``RandomState``), so a seed gives scikit-learn's start.
    """
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype, copy=False))
    return coefs, intercepts


def forward(X, coefs, intercepts, activation):
    """The output layer's logits ``Z_L`` for the rows of ``X`` (no buffers kept)."""
    A = X
    last = len(coefs) - 1
    for layer, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = np.asarray(A @ W)
        Z += b
        A = Z if layer == last else ACTIVATIONS[activation](Z)
    return A


def output_proba(Z, out_activation):
    """Probabilities from the output logits: softmax, or the sigmoid of each column."""
    return softmax(Z) if out_activation == "softmax" else sigmoid(Z)


# ---------------------------------------------------------------------------
# The training problem seen by the engine
# ---------------------------------------------------------------------------


class _Buffers:
    """A batch's rows, activations, deltas and relu masks for one batch size, allocated once."""

    def __init__(self, n, layer_units, dtype):
        self.X = self.Y = None  # a mini-batch's rows, allocated at the first mini-batch
        self.A = [np.empty((n, units), dtype=dtype) for units in layer_units[1:]]
        self.delta = [np.empty((n, units), dtype=dtype) for units in layer_units[1:]]
        self.mask = [np.empty((n, units), dtype=bool) for units in layer_units[1:-1]]
        # sum_i delta[i] as the product ones^T delta: a matrix-vector product
        # is several times faster than numpy's column sums on a short batch
        self.ones = np.ones(n, dtype=dtype)


def _column_compressed(X):
    """The columns present in the CSR matrix ``X``, and ``X`` restricted to them.

    Returns ``(present, Xc)``: the sorted indices of the columns with a
    stored entry and the CSR matrix of those columns alone (the same rows,
    data and row pointers; column indices renumbered), so that
    ``(X^T D)[present] = Xc^T D`` and the other rows of ``X^T D`` are zero.
    """
    X = X.tocsr()  # the rows of a fit are CSR already (no copy then)
    present, renumbered = np.unique(X.indices, return_inverse=True)
    Xc = sp.csr_matrix((X.data, renumbered.reshape(-1), X.indptr),
                       shape=(X.shape[0], present.shape[0]))
    return present, Xc


class NetworkProblem:
    """The network's objective on ``(X, Y)``, in the engine's interface.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
    Y : ndarray of shape (n, k)
        One-hot targets (softmax), or 0/1 columns (sigmoid outputs).
    sample_weight : ndarray of shape (n,) or None
    layer_units : list of int
        ``[p, hidden..., k]``.
    activation : {'identity', 'logistic', 'tanh', 'relu'}
    out_activation : {'softmax', 'logistic'}
    alpha : float
        L2 penalty, scaled by ``1 / (2 S)`` as in scikit-learn.

    The engine sees one parameter array, ``theta``: every weight matrix and
    intercept vector laid end to end in the dtype of ``X``, layer by layer,
    each intercept right after its weights, so that ``[W_l; b_l]`` is one
    ``(u_{l-1} + 1) x u_l`` block: the series' "constant-1 column" form of the
    affine map. :meth:`unpack` gives the arrays back as views, in
    scikit-learn's order ``coefs + intercepts``. One flat array lets the
    optimizers update all layers in a dozen array operations rather than a
    dozen per layer, and L-BFGS work on a vector.
    """

    def __init__(self, X, Y, sample_weight, layer_units, activation, out_activation, alpha):
        self.X, self.Y, self.sw = X, Y, sample_weight
        self.layer_units = list(layer_units)
        self.n_layers = len(layer_units) - 1  # weight layers
        self.activation = activation
        self.out_activation = out_activation
        self.alpha = alpha
        self.dtype = X.dtype
        # (targets, logits, weights) -> (weighted sum of losses, its gradient in the logits)
        self._loss = (softmax_cross_entropy_labels if out_activation == "softmax"
                      else binary_loss_grad)
        # Softmax targets are one-hot: the loss reads them as class indices,
        # one entry per row instead of passes over an (n, k) matrix.
        self._targets = Y.argmax(axis=1) if out_activation == "softmax" else Y
        self._buffers = {}
        # theta = [W_1, b_1, W_2, b_2, ...]; the stretches of the weights, for the penalty
        self._blocks, start = [], 0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            self._blocks.append((start, fan_in, fan_out))
            start += (fan_in + 1) * fan_out
        self.size = start
        self._sparse = sp.issparse(X)
        self._grad = np.empty(self.size, dtype=self.dtype)
        self._grad_views = self.unpack(self._grad)
        self._grad_first = self._augmented(self._grad)
        self._theta, self._theta_views, self._theta_first = None, None, None

    def unpack(self, theta):
        """Views ``coefs + intercepts`` into the flat parameter vector."""
        coefs, intercepts = [], []
        for start, fan_in, fan_out in self._blocks:
            block = self._block(theta, start, fan_in, fan_out)
            coefs.append(block[:fan_in])
            intercepts.append(block[fan_in])
        return coefs + intercepts

    @staticmethod
    def _block(theta, start, fan_in, fan_out):
        return theta[start:start + (fan_in + 1) * fan_out].reshape(fan_in + 1, fan_out)

    def _augmented(self, theta):
        """``[W_1; b_1]``, the first layer's weights with the intercept as a last row."""
        return self._block(theta, *self._blocks[0])

    def pack(self, arrays):
        """The flat parameter vector of ``coefs + intercepts`` (a new array)."""
        theta = np.empty(self.size, dtype=self.dtype)
        for view, array in zip(self.unpack(theta), arrays, strict=True):
            view[...] = array
        return theta

    def _views(self, theta):
        if theta is not self._theta:  # the optimizers update one array in place
            self._theta, self._theta_views = theta, self.unpack(theta)
            self._theta_first = self._augmented(theta)
        return self._theta_views

    def _buffers_for(self, n):
        buffers = self._buffers.get(n)
        if buffers is None:
            # A training run meets at most two batch sizes (the last batch may be
            # short), plus the full size for L-BFGS.
            buffers = self._buffers[n] = _Buffers(n, self.layer_units, self.dtype)
        return buffers

    def loss_grad(self, params, idx):
        """Objective on the rows ``idx`` (all rows for ``None``) and its gradient.

        ``params`` is ``[theta]``; returns ``(loss, [gradient])``, the gradient
        a flat array that the next call overwrites.
        """
        L = self.n_layers
        theta = params[0]
        views = self._views(theta)
        coefs, intercepts = views[:L], views[L:]
        n = self.X.shape[0] if idx is None else idx.shape[0]
        buf = self._buffers_for(n)
        # A gathered dense batch sits in a buffer whose last column is 1, and
        # [x_i, 1] [W_1; b_1] = x_i W_1 + b_1: the first layer's intercept rides
        # in the matrix product, forward and backward (its gradient is the last
        # row of [X, 1]^T delta_1). Full data and sparse batches add it apart.
        augmented = idx is not None and not self._sparse
        if idx is None:
            X, Y, sw = self.X, self._targets, self.sw
        else:
            if buf.Y is None:
                buf.Y = np.empty((n,) + self._targets.shape[1:], self._targets.dtype)
                if augmented:
                    buf.X = np.ones((n, self.X.shape[1] + 1), self.dtype)
            if augmented:
                X = buf.X
                np.take(self.X, idx, axis=0, out=X[:, :-1])
            else:
                X = self.X[idx]
            Y = np.take(self._targets, idx, axis=0, out=buf.Y)
            sw = None if self.sw is None else self.sw[idx]
        S = float(n) if sw is None else float(sw.sum())
        if sw is not None:
            sw = sw.astype(self.dtype, copy=False)
        relu = self.activation == "relu"

        # Forward: Z_l = A_{l-1} W_l + b_l, A_l = f(Z_l); the output layer keeps Z_L.
        if augmented:
            np.matmul(X, self._theta_first, out=buf.A[0])
        elif self._sparse:
            buf.A[0][...] = X @ coefs[0]
            buf.A[0] += intercepts[0]
        else:
            np.matmul(X, coefs[0], out=buf.A[0])
            buf.A[0] += intercepts[0]
        for l in range(L):
            A = buf.A[l]
            if l:
                np.matmul(buf.A[l - 1], coefs[l], out=A)
                A += intercepts[l]
            if l < L - 1:
                if relu:
                    # relu(z) = z [z > 0]; the mask is relu'(z), kept for the backward pass
                    np.greater(A, 0, out=buf.mask[l])
                    A *= buf.mask[l]
                else:
                    ACTIVATIONS[self.activation](A)

        # delta_L = s (P - Y) / S, and the weighted mean loss
        loss, dZ = self._loss(Y, buf.A[-1], sw)
        inv_S = 1.0 / S if S > 0 else 0.0
        loss = float(loss) * inv_S
        delta = buf.delta[-1]
        np.multiply(dZ, inv_S, out=delta)

        grads = self._grad_views
        for l in range(L - 1, 0, -1):
            # dJ/dW_l = A_{l-1}^T delta_l (+ the penalty's term, below), dJ/db_l = sum_i delta_l[i]
            np.matmul(buf.A[l - 1].T, delta, out=grads[l])
            np.matmul(buf.ones, delta, out=grads[L + l])
            # delta_{l-1} = (delta_l W_l^T) * f'(Z_{l-1})
            below = buf.delta[l - 1]
            np.matmul(delta, coefs[l].T, out=below)
            if relu:
                below *= buf.mask[l - 1]
            else:
                _scale_by_derivative(self.activation, buf.A[l - 1], below)
            delta = below
        penalty = self.alpha * inv_S
        if augmented:
            np.matmul(X.T, delta, out=self._grad_first)  # [dJ/dW_1; dJ/db_1]
        elif self._sparse:
            # X^T delta_1 has non-zero rows only for the features present in
            # the batch (a few thousand of 2**18 hashed columns): it is
            # computed on those columns alone. On a mini-batch the optimizer
            # forms [penalty W_1 + X^T delta_1] stretch by stretch as it uses
            # it (RowSparseGradient: the (p, u_1) block is never written);
            # on all the rows (L-BFGS) it is written out here, the same sums.
            present, compact = _column_compressed(X)
            data_term = compact.T @ delta
            np.matmul(buf.ones, delta, out=grads[L])
            if idx is None:
                np.multiply(coefs[0], penalty, out=grads[0])
                grads[0][present] += data_term
        else:
            np.matmul(X.T, delta, out=grads[0])
            np.matmul(buf.ones, delta, out=grads[L])

        if self.alpha:
            # alpha / (2 S) sum ||W_l||^2 and its gradient (alpha / S) W_l
            for l, (start, fan_in, fan_out) in enumerate(self._blocks):
                if l or augmented or not self._sparse:
                    W = theta[start:start + fan_in * fan_out]
                    self._grad[start:start + fan_in * fan_out] += penalty * W
            loss += 0.5 * penalty * self._squares(theta)
        if self._sparse and idx is not None:
            fan_in, fan_out = self._blocks[0][1:]
            return loss, [RowSparseGradient(self._grad, theta, fan_in * fan_out, fan_out,
                                            penalty, present, data_term)]
        return loss, [self._grad]

    def _squares(self, theta):
        """``sum_l ||W_l||^2``, the weights' squared norm (intercepts excluded)."""
        return sum(float(np.dot(theta[start:start + fan_in * fan_out],
                                theta[start:start + fan_in * fan_out]))
                   for start, fan_in, fan_out in self._blocks)

    def proba(self, X, params):
        """Output probabilities for the rows of ``X`` at ``params = [theta]``."""
        views = self.unpack(params[0])
        L = self.n_layers
        return output_proba(forward(X, views[:L], views[L:], self.activation),
                            self.out_activation)
