"""Logistic regression's objective, in the coordinates where gradient descent is well scaled.

Logistic regression is the network with no hidden layer: logits
``Z = X W + b``, a sigmoid or softmax link and the log-loss
(:mod:`skscratch._losses`). The objective, in the per-sample scale the
optimizers work in, is scikit-learn's ``C sum_i s_i loss_i + 1/2 ||W||^2``
divided by ``C S`` (``S = sum_i s_i``)::

    f(W, b) = (1/S) sum_i s_i loss(y_i, x_i W + b) + lam/2 ||W||^2,   lam = 1/(C S)

Why reparametrize
-----------------
The article centres and scales the features so that one step size suits
every coordinate. Here the same idea is taken to its end. The Hessian of the
log-loss is ``X^T D X / S`` with ``D = diag(sigma'(z))``, and
``sigma' <= 1/4`` (softmax: ``<= 1/2``, Bohning 1992), so everywhere::

    Hess f  <=  M = c Xc^T diag(s) Xc / S + lam I,        c = 1/4 or 1/2

(``Xc`` the centred features; centring decouples the intercept, whose bound
is ``c``). With ``M = R^T R`` (our Cholesky) and ``W = R^{-1} V``, the
objective as a function of ``V`` has Hessian ``<= I``: its gradient is
1-Lipschitz, so gradient descent in ``V`` with step 1 is guaranteed to
descend, from the data alone, on raw or scaled features alike. Centring and
scaling is the diagonal of this transform; whitening also removes the
correlations between features, which is what slows gradient descent on data
such as the breast-cancer set, where many features are near-collinear. The
L2 penalty is in the *original* feature space (as in scikit-learn), and is
part of M, so it never makes a stiff direction the step size cannot handle.

Parameters seen by the optimizers are ``[V, v_b]``; :meth:`coef` maps them
back to ``W`` and the intercept in the original feature space.
"""

import numpy as np
import scipy.sparse as sp

from ._linalg import cholesky, solve_triangular
from ._losses import binary_loss_grad, sigmoid, softmax, softmax_cross_entropy_labels

_CHUNK = 4096  # rows per block when accumulating the metric


class Metric:
    """Centring and whitening of a fitted :class:`WhitenedLogit`, without its data."""

    def __init__(self, mu, R, R_inv, b_scale):
        self.mu, self.R, self.R_inv, self.b_scale = mu, R, R_inv, b_scale


class WhitenedLogit:
    """The logistic objective in whitened coordinates, for the engines in :mod:`._fullbatch` and :mod:`._stochastic`.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
    Y : ndarray of shape (n, k)
        One-hot targets (k classes), or one column of 0/1 for two classes.
    sample_weight : ndarray of shape (n,)
    C : float
        Inverse penalty strength, ``np.inf`` for none.
    fit_intercept : bool
    multinomial : bool
        Softmax over k >= 3 columns, else a sigmoid on one column.
    """

    def __init__(self, X, Y, sample_weight, C, fit_intercept, multinomial, metric_from=None):
        self.X, self.Y, self.sw = X, Y, sample_weight
        # Softmax targets are one-hot: the loss reads them as class indices.
        self._targets = Y.argmax(axis=1) if multinomial else Y
        self.fit_intercept = fit_intercept
        self.multinomial = multinomial
        # (targets, logits, weights) -> (weighted sum of losses, its gradient in the logits);
        # the softmax's unchecked label path, its inputs being built here
        self._loss = softmax_cross_entropy_labels if multinomial else binary_loss_grad
        self.S = float(sample_weight.sum())
        # s_i / S: the loss and its gradient come out already divided by S.
        self.w = sample_weight / self.S if self.S > 0.0 else sample_weight
        self.lam = 0.0 if np.isinf(C) else 1.0 / (C * self.S)
        if metric_from is not None:
            # partial_fit: later batches keep the first batch's coordinates.
            self.mu, self.R, self.R_inv = metric_from.mu, metric_from.R, metric_from.R_inv
            self.b_scale = metric_from.b_scale
        else:
            self._build_metric()

    def _build_metric(self):
        p = self.X.shape[1]
        if self.fit_intercept:
            self.mu = np.asarray(self.X.T @ self.sw).ravel() / self.S
        else:
            self.mu = np.zeros(p)
        # Bohning's bound on the second derivative of the loss in the logits.
        self._whiten(0.5 if self.multinomial else 0.25)

    def _whiten(self, curvature):
        """Factor ``M = Xc^T diag(s d) Xc / S + lam I`` for per-sample curvatures ``d``.

        With the constant Bohning bound ``d = c`` this M majorizes the Hessian
        everywhere. The intercept's own curvature is ``sum(s d) / S``
        (centring decouples it from W).
        """
        p = self.X.shape[1]
        d = np.broadcast_to(np.asarray(curvature, dtype=np.float64), self.sw.shape)
        M = self._centred_gram(self.sw * d)
        # lam I keeps M a majorizer and makes it definite. Without a penalty
        # (C = inf) or with constant features, a floor relative to M's scale
        # keeps the factor well conditioned; a larger M still majorizes, it
        # only shortens the step in directions the data does not reach.
        floor = 1e-10 * max(float(np.mean(np.diagonal(M))), 1e-300)
        M[np.diag_indices(p)] += max(self.lam, floor)
        R = cholesky(M)
        self.R = R
        self.R_inv = solve_triangular(R, np.eye(p))  # W = R^{-1} V
        self.b_scale = 1.0 / np.sqrt(float(self.sw @ d) / self.S)  # b = v_b / sqrt(c)

    def rescale(self, params):
        """Re-whiten with the curvature at ``params``; return them in the new coordinates.

        The Bohning bound is tight only where predictions are uncertain; near
        the optimum of a well-separated problem most samples are confident and
        their true curvature ``sigma'(z)`` is far below 1/4, so the bound
        over-damps exactly the directions left to fit. Rebuilding the metric
        from the current curvatures (floored at 1e-3 of the bound, so no
        sample is ignored) restores steps of the right size. It is a change
        of variables: the objective and its minimizer are unchanged, only the
        coordinates the optimizer moves in. The new metric no longer majorizes
        the Hessian everywhere, so it needs a line-searched method
        (:func:`._fullbatch.spectral_descent`). For the softmax, the curvature of
        a sample is taken as ``max_j p_j (1 - p_j)``, a scalar per sample, so
        that one factor still serves every class.
        """
        coef, intercept = self.coef(params)
        Z = self.logits(self.X, params)
        bound = 0.5 if self.multinomial else 0.25
        if self.multinomial:
            P = softmax(Z)
            d = np.max(P * (1.0 - P), axis=1)
        else:
            d = sigmoid(Z[:, 0]) * sigmoid(-Z[:, 0])
        self._whiten(np.maximum(d, 1e-3 * bound))
        return self.initial_params(coef, intercept)

    def _centred_gram(self, weights):
        """``Xc^T diag(weights) Xc / S`` accumulated over row blocks (no n x p copy)."""
        X, mu = self.X, self.mu
        p = X.shape[1]
        A = np.zeros((p, p))
        for i in range(0, X.shape[0], _CHUNK):
            block = X[i:i + _CHUNK]
            block = block.toarray() if sp.issparse(block) else np.asarray(block, dtype=np.float64)
            block = block - mu  # centre before squaring: no cancellation
            A += (block * weights[i:i + _CHUNK, None]).T @ block
        return A / self.S

    def metric(self):
        """The coordinates alone (no data): what partial_fit keeps between calls."""
        return Metric(self.mu, self.R, self.R_inv, self.b_scale)

    # -- parameters --------------------------------------------------------

    def initial_params(self, coef=None, intercept=None):
        """``[V, v_b]`` for given original-space coefficients (zeros by default)."""
        k = self.Y.shape[1]
        p = self.X.shape[1]
        W = np.zeros((p, k)) if coef is None else np.asarray(coef, dtype=np.float64).T
        b = np.zeros(k) if intercept is None else np.asarray(intercept, dtype=np.float64)
        b_centred = b + self.mu @ W  # x W + b = (x - mu) W + (b + mu W)
        return [self.R @ W, b_centred / self.b_scale]

    def _original(self, params):
        """``(W (p, k), b (k,))`` in the original feature space, so that ``Z = X W + b``.

        ``W = R^{-1} V``; the intercept of the centred model is
        ``v_b / sqrt(c)``, and ``(x - mu) W + b_c = x W + (b_c - mu W)``.
        """
        V, vb = params
        W = self.R_inv @ V
        return W, vb * self.b_scale - self.mu @ W

    def coef(self, params):
        """``(coef (k, p), intercept (k,))`` in the original feature space."""
        W, b = self._original(params)
        return W.T, b

    # -- the engine's interface --------------------------------------------

    def logits(self, X, params):
        W, b = self._original(params)
        return _affine(X, W, b)

    def loss_grad(self, params, idx):
        """Objective (or its mini-batch estimate) and gradient in ``[V, v_b]``.

        Chain rule through ``W = R^{-1} V``: ``df/dV = R^{-T} df/dW``; through
        ``b = v_b / sqrt(c)``: ``df/dv_b = df/db / sqrt(c)``.
        """
        if idx is None:
            X, Y, w = self.X, self._targets, self.w
        else:
            X, Y, w = self.X[idx], self._targets[idx], self.sw[idx]
            S = float(w.sum())
            if S > 0.0:
                w = w / S
        W, b = self._original(params)
        loss, dZ = self._loss(Y, _affine(X, W, b), w)  # mean loss, d(mean loss)/dZ
        col = dZ.sum(axis=0)
        gW = np.asarray(X.T @ dZ)
        gW -= np.outer(self.mu, col)  # Xc^T dZ
        if self.lam:
            loss += 0.5 * self.lam * float(np.sum(W * W))
            gW += self.lam * W
        gb = col * self.b_scale if self.fit_intercept else np.zeros_like(col)
        return float(loss), [self.R_inv.T @ gW, gb]


def _affine(X, W, b):
    """``Z = X W + b``; for dense X computed as ``(W^T X^T)^T``, a Fortran-ordered
    result, so that the loss reads each class's logits contiguously."""
    if sp.issparse(X):
        return np.asarray(X @ W) + b
    Zt = W.T @ X.T
    Zt += b[:, None]
    return Zt.T


def predict_proba_from_logits(Z, multinomial):
    """Class probabilities (n, n_classes) from logits: softmax, or a sigmoid for two classes."""
    if multinomial:
        return softmax(Z)
    # sigma(-z) rather than 1 - sigma(z): full relative precision for both classes.
    return np.column_stack([sigmoid(-Z[:, 0]), sigmoid(Z[:, 0])])
