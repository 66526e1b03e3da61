"""Logistic regression's objective, at any width: data products, metrics, mini-batch view.

Logistic regression is the network with no hidden layer: logits
``Z = X W + b``, a sigmoid or softmax link and the log-loss
(:mod:`skscratch._losses`). The objective, in the per-sample scale the
optimizers work in, is scikit-learn's
``C sum_i s_i loss_i + (1 - r)/2 ||W||^2 + r ||W||_1`` divided by ``C S``
(``S = sum_i s_i``, ``r`` the ``l1_ratio``)::

    F(W, b) = (1/S) sum_i s_i loss(y_i, x_i W + b) + lam2/2 ||W||^2 + lam1 ||W||_1
    lam = 1/(C S),   lam2 = (1 - r) lam,   lam1 = r lam

Data products
-------------
``X`` is only ever touched through two products, one pass over the data
each: the *image* ``Z = X W + b`` of a point (or of a direction), and the
*pullback* ``X^T G`` of a gradient in the logits. Everything else (the loss,
its gradient and curvature in the logits, the penalty) costs O(n k) or
O(p k). ``X`` keeps its dtype (float32 input is multiplied in float32, half
the memory traffic) and its format (a sparse matrix is never densified, not
even in row blocks); the parameters, the logits and the loss are float64.
Centring the features (below) is never done on ``X``: ``(X - 1 mu) W`` is
``X W - 1 (mu W)``.

Metrics
-------
Gradient descent is fast when every direction has about the same curvature.
The article centres and scales the features; here that idea is a *metric*
``M``, a positive definite matrix that approximates the Hessian: the descent
direction is ``-M^{-1} grad`` (gradient descent in the coordinates ``V = M^{1/2} W``).
The Hessian of the loss part is ``X^T D X / S`` with ``D`` the per-sample
curvature ``s_i sigma'(z_i)``, and ``sigma' <= 1/4`` (softmax: ``<= 1/2``,
Bohning 1992), so with ``Xc`` the centred features::

    Hess F  <=  M = c Xc^T diag(s) Xc / S + lam2 I,      c = 1/4 or 1/2

Centring decouples the intercept, whose own curvature is ``c``. Two metrics
are built from this bound, chosen by the data's shape:

- :class:`CholeskyMetric`: ``M`` itself, factored ``M = R^T R`` (after a
  Jacobi scaling of the columns). It removes the correlations between
  features, which is what slows descent on data such as the breast-cancer
  set, but costs ``n p^2`` to build and ``p^2`` memory: it is kept for
  ``p <= 512`` (and ``p <= n``).
- :class:`DiagonalMetric`: the diagonal of ``M``, i.e. the variance of each
  centred feature times ``c`` plus ``lam2``: the article's "centre and scale",
  exactly. O(p) memory and one pass to build, for any width and for sparse
  data, and the only metric under which the L1 penalty's proximal step
  stays separable.

Both can be rebuilt with the current per-sample curvatures in place of the
bound (:meth:`LinearLogit.refresh`): the bound over-damps the confidently
classified samples, whose true curvature is far below ``c``.
"""

import numpy as np
import scipy.sparse as sp

from ._fullbatch import VectorLogits
from ._linalg import SingularMatrixError, cholesky, solve_triangular
from ._losses import binary_loss_grad, sigmoid, softmax, softmax_cross_entropy_labels
from ._prox import soft_threshold

# Metric 'auto': the Cholesky factor up to this many features (p^2 doubles,
# n p^2 flops per rebuild); the diagonal beyond, and for every L1 penalty.
CHOLESKY_MAX_FEATURES = 512
# Metric 'auto': wide dense data (p >= 2 n) with a ridge and at most this many
# samples is fitted in its row space (an n x n Gram matrix, 128 MB at 4096).
KERNEL_MAX_SAMPLES = 4096
# Dense rows are read in blocks of about this many entries when building a
# metric (a float64 block of 2^21 entries is 16 MB).
_BLOCK_ENTRIES = 2**21
# A float32 X is widened to float64 for a product in blocks of this many
# entries (512 KB): see image_rows.
_WIDEN_ENTRIES = 2**16
# Per-sample curvatures are floored at this fraction of the bound when the
# metric is rebuilt, so that no sample is ignored.
_CURVATURE_FLOOR = 1e-3


def row_blocks(X, entries=_BLOCK_ENTRIES):
    """``(start, rows)`` blocks of X: dense blocks of about ``entries`` entries, or all of a sparse X."""
    if sp.issparse(X):
        yield 0, X
        return
    rows = max(1, entries // max(X.shape[1], 1))
    for start in range(0, X.shape[0], rows):
        yield start, X[start:start + rows]


def image_rows(X, W):
    """``X W`` (n, k) in float64, for dense X of either dtype, without a copy of X.

    A float32 X is multiplied one block of rows at a time, each block
    widened to float64 (512 KB, cache-sized, so that the widening costs no
    extra trip to memory): the products accumulate in float64.
    The logits of the search directions need that: a direction's change of
    the intercept cancels most of ``X dW`` (``db = ... - mu dW``), and a
    float32 sum loses ``eps32 sum_j |x_ij dW_j|`` to rounding, which on
    uncentred features is far more than what is left of ``X dW + db``. The
    subspace step then minimizes a model with wrong images, and the fit
    stopped 2e-3 (relative) above the optimum on a float32 copy of data that
    float64 fits to 1e-12 (measured; with float64 accumulation, 1e-9).
    """
    if X.dtype == np.float64:
        return np.asarray(X @ W)
    Z = np.empty((X.shape[0], W.shape[1]))
    for start, block in row_blocks(X, entries=_WIDEN_ENTRIES):
        Z[start:start + block.shape[0]] = block.astype(np.float64) @ W
    return Z


def max_abs(X):
    """Largest ``|x_ij|`` (0 for an empty X), without a temporary copy of a dense X."""
    if X.shape[0] == 0 or X.shape[1] == 0:
        return 0.0
    if sp.issparse(X):
        return float(np.max(np.abs(X.data))) if X.nnz else 0.0
    return max(float(np.max(np.abs(block))) for _, block in row_blocks(X))


def logit_curvature(Z, multinomial):
    """Per-sample curvature of logits ``Z`` (n, k): ``sigma'(z)``, or ``max_j p_j (1 - p_j)``."""
    if multinomial:
        P = softmax(Z)
        return np.max(P * (1.0 - P), axis=1)
    return sigmoid(Z[:, 0]) * sigmoid(-Z[:, 0])


def subspace_hessian(gz, U, w, labels, k):
    """``U (d^2 mean / dz^2) U^T`` (q, q) for flat class-major ``gz`` and directions ``U`` (q, n k).

    ``w`` (n,) are the weights ``s_i / S``, ``labels`` the 0/1 targets
    (``k = 1``, a sigmoid) or the class indices (a softmax over ``k``
    classes). The curvature is read off the gradient, with no exponential:
    for the sigmoid ``g_i = w_i (sigma_i - y_i)``, so ``w_i sigma'_i =
    w_i sigma_i (1 - sigma_i) = (g_i + w_i y_i)(w_i (1 - y_i) - g_i) / w_i``,
    each factor a quantity the loss computed without cancellation. For the
    softmax ``g_ic = w_i (p_ic - [c = y_i])``, so ``w_i p_ic = g_ic +
    w_i [c = y_i]``, and the Hessian of a sample in its logits is
    ``diag(p) - p p^T``::

        H = sum_i w_i [sum_c p_ic U_ic U_ic^T - (sum_c p_ic U_ic)(sum_c p_ic U_ic)^T]

    Products of thin matrices: O(n k q^2). A sum over samples, so the
    Hessian of row blocks is the sum of the blocks' (:mod:`skscratch._dask`).
    """
    n = w.shape[0]
    safe_w = np.where(w > 0, w, 1.0)
    if k == 1:
        h = (gz + w * labels) * (w * (1.0 - labels) - gz) / safe_w  # w sigma (1 - sigma)
        return (U * h) @ U.T
    q = U.shape[0]
    wP = gz.reshape(k, n).copy()
    wP[labels, np.arange(n)] += w  # w_i p_ic
    U3 = U.reshape(q, k, n)
    T = U3 * wP  # w_i p_ic U_ic
    H = T.reshape(q, -1) @ U.T
    PU = T.sum(axis=1)  # w_i (p_i . U_i), shape (q, n)
    H -= (PU / safe_w) @ PU.T
    return H


def centred_squares(block, weights, scale, mu_s):
    """``sum_i v_i ((x_ij / scale_j) - mu_s_j)^2`` per column, for a dense block of rows."""
    B = (np.asarray(block, dtype=np.float64) / scale) - mu_s
    return weights @ (B * B)


def centred_gram(block, weights, scale, mu_s):
    """``Bs^T diag(v) Bs`` (p, p) for a dense block, ``Bs = block / scale - mu_s``."""
    B = (np.asarray(block, dtype=np.float64) / scale) - mu_s
    return (B * weights[:, None]).T @ B


class LinearLogit(VectorLogits):
    """The logistic objective on ``(X, y)`` and the data products the optimizers need.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n, p), float32 or float64
        Kept as it is: never copied, centred or densified.
    y : ndarray of int of shape (n,)
        Class index of each row, in ``range(n_classes)``.
    sample_weight : ndarray of shape (n,)
        Non-negative weights (class weights folded in), not all zero.
    n_classes : int
        Two classes give one logit column (a sigmoid), more give one per
        class (a softmax).
    C : float
        Inverse penalty strength; ``np.inf`` for none.
    l1_ratio : float in [0, 1]
        Share of the penalty on ``||W||_1``.
    fit_intercept : bool

    Notes
    -----
    The full-batch methods see the parameters as one flat vector
    ``theta = [W.ravel(), b]`` (``W`` of shape (p, k), C order).
    """

    def __init__(self, X, y, sample_weight, *, n_classes, C, l1_ratio, fit_intercept):
        self.X = X
        self.sparse = sp.issparse(X)
        self.n, self.p = X.shape
        self.n_classes = n_classes
        self.multinomial = n_classes > 2
        self.k = n_classes if self.multinomial else 1
        self.y = np.asarray(y)
        # the loss functions' targets: class indices (softmax) or a 0/1 column
        self.targets = self.y if self.multinomial else (self.y == 1).astype(np.float64)[:, None]
        self._loss = softmax_cross_entropy_labels if self.multinomial else binary_loss_grad
        self.sw = np.asarray(sample_weight, dtype=np.float64)
        self.S = float(self.sw.sum())
        self.w = self.sw / self.S  # s_i / S: losses and gradients come out as means
        lam = 0.0 if np.isinf(C) else 1.0 / (C * self.S)
        self.lam2, self.lam1 = (1.0 - l1_ratio) * lam, l1_ratio * lam
        self.fit_intercept = fit_intercept
        self.mu = self.pullback(self.w[:, None])[:, 0] if fit_intercept else np.zeros(self.p)
        self.size = self.p * self.k + self.k
        self._mask = np.zeros(self.size)  # 1 on the penalized entries (W), 0 on b
        self._mask[:self.p * self.k] = 1.0
        self.bound = 0.5 if self.multinomial else 0.25
        self.metric = None
        self._col_scale = None
        self._squares = None

    def class_totals(self):
        """The total weight of each class, ``sum_{i: y_i = c} s_i`` (n_classes,)."""
        return np.bincount(self.y, weights=self.sw, minlength=self.n_classes)

    # -- parameters ------------------------------------------------------------

    def ridge(self, v):
        """``Q v`` for the ridge ``lam2/2 theta^T Q theta = lam2/2 ||W||^2``: W's entries of ``v``."""
        return self._mask * v

    def split(self, theta):
        """Views ``(W (p, k), b (k,))`` of the flat vector."""
        return theta[:self.p * self.k].reshape(self.p, self.k), theta[self.p * self.k:]

    def pack(self, coef=None, intercept=None):
        """The flat vector of ``coef (k, p)`` and ``intercept (k,)`` (zeros by default)."""
        theta = np.zeros(self.size)
        W, b = self.split(theta)
        if coef is not None:
            W[...] = np.asarray(coef, dtype=np.float64).T
        if intercept is not None and self.fit_intercept:
            b[...] = intercept
        return theta

    def unpack(self, theta):
        """``(coef (k, p), intercept (k,))`` of the flat vector (copies)."""
        W, b = self.split(theta)
        return np.array(W.T), np.array(b)

    # -- the two data products --------------------------------------------------
    #
    # Logits travel as flat float64 vectors in class-major order: z[c * n + i]
    # is the logit of class c for sample i, i.e. z = Z.T.ravel(). That is the
    # layout in which the dense product (W^T X^T) comes out and in which the
    # softmax loss reads each class contiguously; the full-batch engine only
    # adds and scales such vectors.

    def image(self, theta):
        """``z = (X W + b)`` as a flat class-major vector: one pass over X.

        Linear in ``theta``, so it also maps a direction to the change it
        makes in the logits. A dense float32 X is never copied whole: its
        blocks are widened to float64 one at a time (:func:`image_rows`). A
        sparse X is multiplied by ``W`` cast to its dtype; the result is
        widened to float64 for the loss.
        """
        W, b = self.split(theta)
        # X W, then one transposing copy of the (n, k) result: BLAS multiplies
        # a C-ordered X by a thin W several times faster than it forms the
        # transposed product W^T X^T directly.
        if self.sparse:
            Wx = W.astype(self.X.dtype, copy=False)
            Zt = np.array(np.asarray(self.X @ Wx).T, dtype=np.float64, order="C")
        else:  # float64 accumulation for a float32 X too (see image_rows)
            Zt = np.array(image_rows(self.X, W).T, order="C")
        Zt += b[:, None]
        return Zt.ravel()

    def logits(self, z):
        """The (n, k) view of a flat class-major logit vector."""
        return z.reshape(self.k, self.n).T

    def pullback(self, G):
        """``X^T G`` (p, k) in float64 for ``G`` (n, k): one pass over X."""
        Gx = G.astype(self.X.dtype, copy=False)
        return np.asarray(self.X.T @ Gx, dtype=np.float64)

    # -- the loss in the logits ------------------------------------------------

    def outer(self, z):
        """Mean loss at logits ``z`` and its gradient ``d mean / dz`` (flat, class-major)."""
        loss, G = self._loss(self.targets, self.logits(z), self.w)
        return float(loss), np.ascontiguousarray(G.T).ravel()

    def curvature(self, z):
        """Per-sample curvature ``sigma'(z)`` (sigmoid), ``max_j p_j (1 - p_j)`` (softmax)."""
        return logit_curvature(self.logits(z), self.multinomial)

    def outer_hessian(self, gz, U):
        """``U (d^2 mean / dz^2) U^T`` (q, q) for directions ``U`` (q, n k), from the gradient ``gz``.

        See :func:`subspace_hessian`: O(n k q^2), no exponential.
        """
        labels = self.y if self.multinomial else self.targets[:, 0]
        return subspace_hessian(gz, U, self.w, labels, self.k)

    # -- gradient, metric, proximal step ----------------------------------------

    def pullback_theta(self, gz, theta):
        """Gradient of the smooth part ``mean loss + lam2/2 ||W||^2`` in ``theta``.

        ``gz`` is the loss's gradient in the flat logits (see :meth:`outer`).
        """
        W, _ = self.split(theta)
        G = self.logits(gz)
        g = np.empty(self.size)
        gW, gb = self.split(g)
        gW[...] = self.pullback(G)
        if self.lam2:
            gW += self.lam2 * W
        gb[...] = G.sum(axis=0) if self.fit_intercept else 0.0
        return g

    def precondition(self, g):
        """``M^{-1} g`` in the centred coordinates, returned in the original ones.

        With ``b_c = b + mu W`` (so that ``Z = Xc W + b_c``), the gradient in
        ``W`` is ``g_W - mu g_b`` and the one in ``b_c`` is ``g_b``; the metric
        acts on those, and a move ``(dW, db_c)`` is ``(dW, db_c - mu dW)`` in
        ``(W, b)``. Hence ``g . precondition(g) = ||g||^2_{M^{-1}}`` in any
        coordinates.
        """
        gW, gb = self.split(g)
        d = np.empty(self.size)
        dW, db = self.split(d)
        dW[...] = self.metric.solve(gW - np.outer(self.mu, gb))
        if self.fit_intercept:
            db[...] = gb / self.metric.b_curvature - self.mu @ dW
        else:
            db[...] = 0.0
        return d

    def metric_norm2(self, s):
        """``||s||_M^2`` of a move ``s`` (original coordinates)."""
        sW, sb = self.split(s)
        total = self.metric.norm2(sW)
        if self.fit_intercept:
            sbc = sb + self.mu @ sW
            total += self.metric.b_curvature * float(sbc @ sbc)
        return total

    def prox_step(self, theta, g, step):
        """``argmin_x g.(x - theta) + ||x - theta||_M^2 / (2 step) + lam1 ||W||_1``.

        A gradient step in the metric, then soft-thresholding of ``W`` at
        ``step lam1 / m_j`` (:mod:`skscratch._prox`); the intercept is not
        penalized. Needs a diagonal metric (``m_j`` its entries).
        """
        d = self.precondition(g)
        x = theta - step * d
        W, b = self.split(x)
        if self.fit_intercept:
            b_centred = b + self.mu @ W  # the intercept's own step, in b_c
        soft_threshold(W, step * self.lam1 / self.metric.diagonal[:, None], out=W)
        if self.fit_intercept:
            b[...] = b_centred - self.mu @ W
        return x

    def l1_norm(self, theta):
        W, _ = self.split(theta)
        return float(np.abs(W).sum())

    def build_metric(self, kind, curvature=None):
        """Build (or rebuild) the metric ``M`` from per-sample curvatures.

        ``curvature=None`` uses Bohning's bound ``c`` for every sample (a
        majorizer of the Hessian); otherwise ``max(curvature, 1e-3 c)``.
        """
        if curvature is None:
            d = np.full(self.n, self.bound)
        else:
            d = np.maximum(curvature, _CURVATURE_FLOOR * self.bound)
        weights = self.w * d
        b_curvature = float(weights.sum())
        scale = self._column_scale()
        if kind == "cholesky":
            self.metric = CholeskyMetric.build(self, weights, scale, b_curvature)
        else:
            self.metric = DiagonalMetric.build(self, weights, scale, b_curvature)
        return self.metric

    def refresh(self, z):
        """Rebuild the metric of the same kind with the curvatures at logits ``z``."""
        self.build_metric(self.metric.kind, self.curvature(z))

    def _column_scale(self):
        """Largest ``|x_ij|`` of each column (1 for zero columns), computed once.

        Metrics are built on ``X / scale``: squares of raw entries overflow
        past 1e154, and the Jacobi scaling also makes the Cholesky factor of
        a badly scaled Gram matrix well conditioned.
        """
        if self._col_scale is None:
            if self.sparse:
                scale = np.zeros(self.p)
                np.maximum.at(scale, self.X.indices, np.abs(self.X.data))
            else:
                scale = np.zeros(self.p)
                for _, block in row_blocks(self.X):
                    np.maximum(scale, np.max(np.abs(block), axis=0), out=scale)
            scale[~(scale > 0)] = 1.0
            self._col_scale = scale
        return self._col_scale

    def scaled_moments(self, weights, scale):
        """``sum_i v_i ((x_ij - mu_j) / scale_j)^2`` for every column j, in one pass.

        Dense X: exactly centred, block by block. Sparse X: from
        ``sum v x^2 - 2 mu sum v x + mu^2 sum v`` on the stored entries only;
        the difference loses digits only for a feature whose mean dwarfs its
        spread by ~1e7, and a metric needs a few digits, not sixteen.
        """
        mu_s = self.mu / scale
        if self.sparse:
            if self._squares is None:  # (x / scale)^2 on the stored entries, once
                squares = self.X.copy().astype(np.float64)
                squares.data /= scale[squares.indices]
                squares.data *= squares.data
                self._squares = squares
            second = np.asarray(self._squares.T @ weights).ravel()
            first = self.pullback(weights[:, None])[:, 0] / scale
            out = second - 2.0 * mu_s * first + mu_s * mu_s * float(weights.sum())
            return np.maximum(out, 0.0)
        out = np.zeros(self.p)
        for start, block in row_blocks(self.X):
            out += centred_squares(block, weights[start:start + block.shape[0]], scale, mu_s)
        return out

    def scaled_gram(self, weights, scale):
        """``Xs^T diag(v) Xs`` (p, p) for the centred, column-scaled ``Xs = (X - mu) / scale``."""
        mu_s = self.mu / scale
        if self.sparse:
            Xs = self.X.astype(np.float64)
            Xs = Xs @ sp.diags(1.0 / scale)
            A = np.asarray((Xs.T @ Xs.multiply(weights[:, None]).tocsr()).toarray())
            first = np.asarray(Xs.T @ weights).ravel()
            A -= np.outer(mu_s, first)
            A -= np.outer(first, mu_s)
            A += float(weights.sum()) * np.outer(mu_s, mu_s)
            return A
        A = np.zeros((self.p, self.p))
        for start, block in row_blocks(self.X):
            A += centred_gram(block, weights[start:start + block.shape[0]], scale, mu_s)
        return A


class DiagonalMetric:
    """``M = diag(m)``: the variance of each centred feature times the curvature, plus ``lam2``.

    Kept as ``root = sqrt(m)`` (finite even where ``m`` would overflow) and
    applied as two divisions by the root.
    """

    kind = "diagonal"

    def __init__(self, root, b_curvature):
        self.root = root
        self.b_curvature = b_curvature

    @classmethod
    def build(cls, problem, weights, scale, b_curvature):
        m_s = problem.scaled_moments(weights, scale)  # m_j / scale_j^2
        # lam2 keeps M definite; without a penalty (C = inf) or for a constant
        # feature, a floor relative to the metric's scale does (a larger m_j
        # only shortens the step along a direction the data does not reach).
        floor = 1e-10 * max(float(np.mean(m_s)), 1e-300)
        m_s = np.maximum(m_s + (problem.lam2 / scale) / scale, floor)
        return cls(np.sqrt(m_s) * scale, b_curvature)

    @property
    def diagonal(self):
        return self.root * self.root

    def solve(self, gW):
        """``M^{-1} gW`` for ``gW`` of shape (p, k)."""
        r = self.root[:, None]
        return (gW / r) / r

    def norm2(self, sW):
        t = sW * self.root[:, None]
        return float(np.sum(t * t))

    # The whitened coordinates V = M^{1/2} W of the stochastic solvers.

    def whiten(self, W):
        return W * self.root[:, None]

    def unwhiten(self, V):
        return V / self.root[:, None]

    def whiten_gradient(self, gW):
        return gW / self.root[:, None]


class CholeskyMetric:
    """``M = C R^T R C``: the Cholesky factor of the column-scaled metric (``C = diag(scale)``).

    ``M^{-1} g = C^{-1} R^{-1} R^{-T} C^{-1} g``, as products with the
    explicit inverse ``R^{-1}`` (two matrix products per application).
    """

    kind = "cholesky"

    def __init__(self, R, R_inv, scale, b_curvature):
        self.R, self.R_inv, self.scale, self.b_curvature = R, R_inv, scale, b_curvature

    @classmethod
    def build(cls, problem, weights, scale, b_curvature):
        A = problem.scaled_gram(weights, scale)
        diag = np.diagonal(A)
        # As for the diagonal metric: lam2 I (in scaled coordinates lam2 / scale^2),
        # floored so that the factor exists and is well conditioned.
        floor = 1e-10 * max(float(np.mean(diag)), 1e-300)
        A[np.diag_indices(problem.p)] += np.maximum((problem.lam2 / scale) / scale, floor)
        try:
            R = cholesky(A)
        except SingularMatrixError:
            # Rounding made the scaled Gram matrix indefinite (a rank-deficient
            # design near the floor): the diagonal metric never fails.
            return DiagonalMetric.build(problem, weights, scale, b_curvature)
        R_inv = solve_triangular(R, np.eye(problem.p))
        return cls(R, R_inv, scale, b_curvature)

    def solve(self, gW):
        c = self.scale[:, None]
        return (self.R_inv @ (self.R_inv.T @ (gW / c))) / c

    def norm2(self, sW):
        t = self.R @ (sW * self.scale[:, None])
        return float(np.sum(t * t))

    # The whitened coordinates V = R C W of the stochastic solvers, in which
    # the Bohning bound makes the loss's Hessian at most the identity.

    def whiten(self, W):
        return self.R @ (W * self.scale[:, None])

    def unwhiten(self, V):
        return (self.R_inv @ V) / self.scale[:, None]

    def whiten_gradient(self, gW):
        return self.R_inv.T @ (gW / self.scale[:, None])


class RowSpaceLogit(VectorLogits):
    """The L2-penalized objective of a wide dense problem, in the row space of the data.

    With ``n < p`` and a ridge, the minimizer lies in the row space of the
    centred data: the gradient in ``W`` is ``Xc^T G + lam2 W``, so at the
    optimum ``W = -Xc^T G / lam2`` (the representer theorem). Writing
    ``W = Xc^T A`` with ``A`` of shape (n, k) loses nothing, and then::

        Z = Xc W + b_c = K A + b_c,     ||W||^2 = tr(A^T K A),     K = Xc Xc^T (n x n)

    so the whole fit lives in ``n k`` unknowns: an image or a gradient costs
    ``n^2 k`` instead of ``n p k`` (10 times less at p = 10 n), after one
    product ``X X^T`` of ``n^2 p`` flops, done by BLAS at its matrix-product
    speed (several times faster per flop than the matrix-vector products of
    the passes it replaces). This is the ``'kernel'`` metric of the
    estimator: chosen for dense data with ``p >= 2 n``, ``n <= 4096``, a ridge
    and no L1 term.

    The direction of descent is the gradient of ``W``, mapped back: in
    ``A`` it is ``r = G + lam2 A`` (``grad_W = Xc^T r``), divided by ``m``,
    the largest curvature of Bohning's bound in the row space (so that
    ``g . M^{-1} g = ||grad_W||^2 / m`` is twice a decrease a step is sure
    to make, as under the Cholesky metric). The subspace descent chooses
    the step lengths, so nothing else is needed.

    Parameters
    ----------
    problem : LinearLogit
        The data (dense, float32 or float64), targets, weights and ridge.
    """

    def __init__(self, problem):
        self.base = problem
        X, mu = problem.X, problem.mu
        self.n, self.p, self.k = problem.n, problem.p, problem.k
        # K = (X - 1 mu^T)(X - 1 mu^T)^T = X X^T - v 1^T - 1 v^T + (mu.mu) 1 1^T, v = X mu
        K = np.asarray(X @ X.T, dtype=np.float64)  # BLAS's symmetric rank-k update
        v = np.asarray(X @ mu.astype(X.dtype, copy=False), dtype=np.float64)
        K -= v[:, None]
        K -= v[None, :]
        K += float(mu @ mu)
        self.K = K
        self.lam2, self.lam1 = problem.lam2, 0.0
        self.size = self.n * self.k + self.k
        self.fit_intercept = problem.fit_intercept
        # The scalar metric: the largest curvature of the Bohning bound in the
        # row space, c lambda_max(W^1/2 K W^1/2) + lam2 (by power iteration on
        # the n x n matrix, n^2 per step). A majorizer, so that a step of
        # -g / m is sure to lower the objective by g.M^{-1}g / 2 and the
        # stopping rule can always be met before rounding hides the decrease.
        root_w = np.sqrt(problem.w)
        v = np.random.RandomState(0).standard_normal(self.n)
        top = 0.0
        for _ in range(50):
            v /= np.sqrt(float(v @ v))
            Kv = root_w * (K @ (root_w * v))
            top_new = float(v @ Kv)
            v = Kv
            if top_new <= top * (1 + 1e-4):
                top = max(top, top_new)
                break
            top = top_new
        self.m_bar = problem.bound * 1.05 * top + problem.lam2
        self.metric = DiagonalMetric(np.full(1, np.sqrt(self.m_bar)), problem.bound)
        self.metric.kind = "kernel"
        self._r = self._g = self._Kr = None

    def split(self, theta):
        return theta[:self.n * self.k].reshape(self.n, self.k), theta[self.n * self.k:]

    def ridge(self, v):
        """``Q v`` for ``||W||^2 = tr(A^T K A)``: ``K`` on ``A``, 0 on the intercepts."""
        A, _ = self.split(v)
        out = np.zeros_like(v)
        out[:self.n * self.k] = (self.K @ A).ravel()
        return out

    def ridge_from_image(self, v, Uv):
        """``Q v`` read off the image ``Uv = K A + b`` of ``v``: no product with K."""
        _, b = self.split(v)
        out = np.zeros_like(v)
        out[:self.n * self.k] = (Uv.reshape(self.k, self.n) - b[:, None]).T.ravel()
        return out

    def image(self, theta):
        A, b = self.split(theta)
        Zt = np.array((self.K @ A).T, order="C")
        Zt += b[:, None]
        return Zt.ravel()

    def image_of_direction(self, d):
        """The image of the descent direction ``-r / m``, from ``K r`` of the gradient."""
        _, db = self.split(d)
        Zt = np.array(self._Kr.T, order="C")
        Zt /= -self.m_bar
        Zt += db[:, None]
        return Zt.ravel()

    def outer(self, z):
        return self.base.outer(z)

    def outer_hessian(self, gz, U):
        return self.base.outer_hessian(gz, U)

    def pullback_theta(self, gz, theta):
        """``[K (G + lam2 A), 1^T G]``; the residual ``r = G + lam2 A`` is kept for the direction."""
        A, _ = self.split(theta)
        G = self.base.logits(gz)
        r = G + self.lam2 * A
        g = np.empty(self.size)
        gA, gb = self.split(g)
        self._Kr = self.K @ r
        gA[...] = self._Kr
        gb[...] = G.sum(axis=0) if self.fit_intercept else 0.0
        self._r, self._g = r, g
        return g

    def precondition(self, g):
        if g is not self._g:  # pragma: no cover - the engine preconditions the last gradient
            raise ValueError("RowSpaceLogit preconditions only the gradient it computed last.")
        d = np.empty(self.size)
        dA, db = self.split(d)
        dA[...] = self._r / self.m_bar
        _, gb = self.split(g)
        db[...] = gb / self.base.bound if self.fit_intercept else 0.0
        return d

    def refresh(self, z):
        """The row-space problem keeps its scalar metric (no rebuild)."""

    def original(self, theta):
        """``(W (p, k), b (k,))``: ``W = Xc^T A`` (one pass over X), ``b = b_c - mu W``."""
        A, b_c = self.split(theta)
        pb = self.base
        W = pb.pullback(A) - np.outer(pb.mu, A.sum(axis=0))
        return W, b_c - pb.mu @ W


class FeatureMoments:
    """Weighted running sums of each feature (``sum s``, ``sum s x``, ``sum s x^2``): O(p).

    The stochastic solvers' metric is diagonal and built from these, so that
    it can follow the data as :meth:`~LogisticRegressionGD.partial_fit`
    brings new batches: a feature that was constant so far gets its scale as
    soon as it varies. ``mu`` (the centring) is fixed by the first data seen;
    the spread is measured about it.
    """

    # Squares of entries beyond this overflow float64 sums.
    MAX_ABS = 1e150

    def __init__(self, n_features):
        self.weight = 0.0
        self.first = np.zeros(n_features)
        self.second = np.zeros(n_features)
        self.mu = None

    @classmethod
    def check_scale(cls, largest):
        """Refuse entries whose squares would overflow the sums (``largest`` is ``max |x|``)."""
        if not largest <= cls.MAX_ABS:
            raise ValueError(
                f"X has entries of magnitude {largest:.3g}; the stochastic solvers need "
                f"|x| <= {cls.MAX_ABS:.0e} to keep the squared feature scales finite. "
                "Rescale the features (for example with MaxAbsScaler or StandardScaler)."
            )

    def update(self, X, sample_weight, fit_intercept):
        """Add the rows of ``X`` (dense or CSR) with their weights; return ``self``."""
        self.check_scale(max_abs(X))
        s = np.asarray(sample_weight, dtype=np.float64)
        first = np.zeros(X.shape[1])
        second = np.zeros(X.shape[1])
        for start, block in row_blocks(X):
            B = block.astype(np.float64)
            sb = s[start:start + B.shape[0]]
            first += np.asarray(B.T @ sb).ravel()
            second += np.asarray(B.multiply(B).T @ sb if sp.issparse(B) else (B * B).T @ sb).ravel()
        return self.add(float(s.sum()), first, second, fit_intercept)

    def add(self, weight, first, second, fit_intercept):
        """Add the sums ``sum s``, ``sum s x`` and ``sum s x^2`` of new rows; return ``self``.

        The first rows added fix the centring ``mu``: their weighted mean
        (zeros without an intercept).
        """
        if self.mu is None:
            self.mu = first / weight if (fit_intercept and weight > 0) else np.zeros_like(first)
        self.weight += weight
        self.first += first
        self.second += second
        return self

    def metric(self, curvature, lam2):
        """The :class:`DiagonalMetric` ``c var_j + lam2``, with the variance about ``mu``."""
        mu = self.mu
        var = (self.second - 2.0 * mu * self.first) / self.weight + mu * mu
        m = curvature * np.maximum(var, 0.0) + lam2
        floor = 1e-10 * max(float(np.mean(m)), 1e-300)
        return DiagonalMetric(np.sqrt(np.maximum(m, floor)), curvature)


class MiniBatchLogit:
    """The objective on mini-batches, in whitened, centred coordinates.

    The parameters the stochastic optimizers see are ``[V, v_b]`` with
    ``V = M^{1/2} W`` (the metric's whitening: ``root * W`` for the diagonal
    metric, ``R C W`` for the Cholesky one) and ``v_b = sqrt(c) (b + mu W)``:
    the article's "centre and scale the features", taken as far as the
    metric goes, so that one learning rate suits every coordinate, on raw or
    scaled data. The gradients follow by the chain rule:
    ``dF/dV = M^{-T/2} dF/dW``, ``dF/dv_b = dF/db_c / sqrt(c)``.

    Parameters
    ----------
    problem : LinearLogit
        The data, targets, weights and penalties.
    metric : DiagonalMetric or CholeskyMetric
        The whitening.
    mu : ndarray of shape (p,)
        The centring.
    """

    def __init__(self, problem, metric, mu):
        self.problem = problem
        self.metric = metric
        self.mu = mu
        self.b_root = np.sqrt(problem.bound)

    def params(self, coef, intercept):
        """``[V, v_b]`` of ``coef (k, p)`` and ``intercept (k,)``."""
        W = np.asarray(coef, dtype=np.float64).T
        b = np.asarray(intercept, dtype=np.float64)
        return [self.metric.whiten(W), (b + self.mu @ W) * self.b_root]

    def original(self, params):
        """``(W (p, k), b (k,))`` of ``[V, v_b]``."""
        V, vb = params
        W = self.metric.unwhiten(V)
        b = vb / self.b_root - self.mu @ W
        if not self.problem.fit_intercept:
            b = np.zeros_like(b)
        return W, b

    def loss_grad(self, params, idx):
        """Mini-batch estimate of the objective and the smooth part's gradient in ``[V, v_b]``.

        The loss is the batch's mean loss plus the whole penalty (the ridge
        and, for the reported value, the L1 term), so that its mean over an
        epoch estimates the full objective.
        """
        pb = self.problem
        if idx is None:
            X, targets, w = pb.X, pb.targets, pb.w
        else:
            X, targets, w = pb.X[idx], pb.targets[idx], pb.sw[idx]
            total = float(w.sum())
            if total > 0.0:
                w = w / total
        W, b = self.original(params)
        Wx = W.astype(X.dtype, copy=False)
        Z = np.asarray(X @ Wx, dtype=np.float64) + b
        loss, G = pb._loss(targets, Z, w)
        col = G.sum(axis=0)
        gW = np.asarray(X.T @ G.astype(X.dtype, copy=False), dtype=np.float64)
        gW -= np.outer(self.mu, col)  # Xc^T G
        loss = float(loss)
        if pb.lam2:
            loss += 0.5 * pb.lam2 * float(np.sum(W * W))
            gW += pb.lam2 * W
        if pb.lam1:
            loss += pb.lam1 * float(np.abs(W).sum())
        gb = col / self.b_root if pb.fit_intercept else np.zeros_like(col)
        return loss, [self.metric.whiten_gradient(gW), gb]

    def curvature_bound(self, n_iter=10, seed=0):
        """Estimate ``L``, the largest curvature of the (bounded) loss in ``V`` coordinates.

        Under the Cholesky metric the Bohning bound makes it at most 1. Under
        the diagonal one it is the largest eigenvalue of the features'
        (curvature-weighted) correlation matrix, between 1 and ``p``: up to
        ~13 on the breast-cancer set, whose features are near-collinear, and
        a step size that ignores it makes SGD with momentum oscillate. Power
        iteration on ``v -> M^{-1/2} (c Xc^T diag(w) Xc) M^{-1/2} v`` (two
        passes over X each) gives it from below; the caller adds a margin.
        """
        pb = self.problem
        if self.metric.kind == "cholesky":
            return 1.0
        v = np.random.RandomState(seed).standard_normal((pb.p, 1))
        estimate = 1.0
        for _ in range(n_iter):
            v /= np.sqrt(float(np.sum(v * v)))
            W = self.metric.unwhiten(v)
            Hv = self.metric.whiten_gradient(self._bound_product(W) + pb.lam2 * W)
            estimate = float(np.sum(v * Hv))
            v = Hv
        return max(estimate, 1e-12)

    def _bound_product(self, W):
        """``Xc^T diag(c w) Xc W`` for one column ``W``: two passes over X."""
        pb = self.problem
        z = np.asarray(pb.X @ W.astype(pb.X.dtype, copy=False), dtype=np.float64)
        z -= float(self.mu @ W[:, 0])  # Xc W
        Hv = pb.pullback(pb.bound * pb.w[:, None] * z)
        return Hv - np.outer(self.mu, pb.bound * float(pb.w @ z[:, 0]))  # Xc^T (c w z)

    def prox(self, params, steps):
        """Soft-threshold ``V`` after an optimizer step: the L1 penalty's proximal map.

        With a diagonal metric ``lam1 ||W||_1 = lam1 sum_j |V_j| / root_j``, so
        with the step sizes ``t`` the optimizer just took (per coordinate,
        for Adam) each ``V_j`` shrinks by ``t lam1 / root_j``.
        """
        threshold = steps[0] * (self.problem.lam1 / self.metric.root[:, None])
        soft_threshold(params[0], threshold, out=params[0])


def choose_metric(X, n_features, l1_ratio, C, requested="auto"):
    """The metric for a problem's shape: ``'cholesky'``, ``'diagonal'`` or ``'kernel'``."""
    if requested != "auto":
        return requested
    n_samples = X.shape[0]
    if (not sp.issparse(X) and l1_ratio == 0 and np.isfinite(C)
            and n_features >= 2 * n_samples and n_samples <= KERNEL_MAX_SAMPLES):
        return "kernel"
    if l1_ratio > 0 or n_features > CHOLESKY_MAX_FEATURES or n_features > n_samples:
        return "diagonal"
    return "cholesky"


def predict_proba_from_logits(Z, multinomial):
    """Class probabilities (n, n_classes) from logits: softmax, or a sigmoid for two classes."""
    if multinomial:
        return softmax(Z)
    # sigma(-z) rather than 1 - sigma(z): full relative precision for both classes.
    return np.column_stack([sigmoid(-Z[:, 0]), sigmoid(Z[:, 0])])
