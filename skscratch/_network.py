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
activations, deltas and gradients of one pass and writes into them at every
call (``out=`` everywhere a product or ufunc allows it). The gradient arrays it
returns are therefore overwritten by the next call; the optimizers in
:mod:`skscratch._optim` use them at once.
"""

import numpy as np
import scipy.sparse as sp

from ._losses import binary_loss_grad, multinomial_loss_grad, sigmoid, softmax

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
    """``delta *= f'(Z)`` in place, with ``f'`` written through ``A = f(Z)``."""
    if activation == "identity":
        return
    if activation == "relu":
        # relu'(z) = 1 for z > 0, else 0 (A > 0 exactly where z > 0)
        np.copyto(delta, 0, where=A <= 0)
    elif activation == "logistic":
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
    """Activations, deltas and gradients for one batch size, allocated once."""

    def __init__(self, n, layer_units, dtype):
        self.A = [np.empty((n, units), dtype=dtype) for units in layer_units[1:]]
        self.delta = [np.empty((n, units), dtype=dtype) for units in layer_units[1:]]


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

    The parameters are the list ``coefs + intercepts`` (scikit-learn's order
    in ``MLPClassifier``'s optimizers), in the dtype of ``X``.
    """

    def __init__(self, X, Y, sample_weight, layer_units, activation, out_activation, alpha):
        self.X, self.Y, self.sw = X, Y, sample_weight
        self.layer_units = list(layer_units)
        self.n_layers = len(layer_units) - 1  # weight layers
        self.activation = activation
        self.out_activation = out_activation
        self.alpha = alpha
        self.dtype = X.dtype
        self._loss = multinomial_loss_grad if out_activation == "softmax" else binary_loss_grad
        self._buffers = {}
        L = self.n_layers
        self._grads = (
            [np.empty((i, o), dtype=self.dtype) for i, o in zip(layer_units[:-1], layer_units[1:])]
            + [np.empty(o, dtype=self.dtype) for o in layer_units[1:]]
        )
        assert len(self._grads) == 2 * L

    def _buffers_for(self, n):
        buffers = self._buffers.get(n)
        if buffers is None:
            # A training run meets at most two batch sizes (the last batch may be short);
            # other sizes (full batches, validation) are kept too, they are few.
            buffers = self._buffers[n] = _Buffers(n, self.layer_units, self.dtype)
        return buffers

    def loss_grad(self, params, idx):
        """Objective on the rows ``idx`` (all rows for ``None``) and its gradient.

        Returns ``(loss, grads)`` with ``grads`` in the order of ``params``;
        the gradient arrays are reused by the next call.
        """
        L = self.n_layers
        coefs, intercepts = params[:L], params[L:]
        if idx is None:
            X, Y, sw = self.X, self.Y, self.sw
        else:
            X, Y = self.X[idx], self.Y[idx]
            sw = None if self.sw is None else self.sw[idx]
        n = X.shape[0]
        S = float(n) if sw is None else float(sw.sum())
        buf = self._buffers_for(n)

        # Forward: Z_l = A_{l-1} W_l + b_l, A_l = f(Z_l); the output layer keeps Z_L.
        A_prev = X
        for l in range(L):
            A = buf.A[l]
            if sp.issparse(A_prev):
                A[...] = A_prev @ coefs[l]
            else:
                np.matmul(A_prev, coefs[l], out=A)
            A += intercepts[l]
            if l < L - 1:
                ACTIVATIONS[self.activation](A)
            A_prev = A

        # delta_L = s (P - Y) / S, and the weighted mean loss
        loss, dZ = self._loss(Y, buf.A[-1], sw)
        inv_S = 1.0 / S if S > 0 else 0.0
        loss = float(loss) * inv_S
        delta = buf.delta[-1]
        np.multiply(dZ, inv_S, out=delta)
        penalty = self.alpha * inv_S
        if self.alpha:
            loss += 0.5 * penalty * sum(float(np.vdot(W, W)) for W in coefs)

        grads = self._grads
        for l in range(L - 1, -1, -1):
            A_in = X if l == 0 else buf.A[l - 1]
            gW = grads[l]
            # dJ/dW_l = A_{l-1}^T delta_l + (alpha / S) W_l
            if sp.issparse(A_in):
                gW[...] = A_in.T @ delta
            else:
                np.matmul(A_in.T, delta, out=gW)
            if self.alpha:
                gW += penalty * coefs[l]
            np.sum(delta, axis=0, out=grads[L + l])  # dJ/db_l
            if l > 0:
                # delta_{l-1} = (delta_l W_l^T) * f'(Z_{l-1})
                below = buf.delta[l - 1]
                np.matmul(delta, coefs[l].T, out=below)
                _scale_by_derivative(self.activation, buf.A[l - 1], below)
                delta = below
        return loss, grads

    def proba(self, X, params):
        L = self.n_layers
        return output_proba(forward(X, params[:L], params[L:], self.activation),
                            self.out_activation)
