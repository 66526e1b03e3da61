"""Dense linear algebra for least squares, written from numpy's array primitives.

Everything here is built from array arithmetic, ufuncs, reductions, indexing and
the matrix product; no ``numpy.linalg`` or ``scipy.linalg``. The functions are
plain functions on float64 arrays so that each can be tested alone against a
LAPACK-backed oracle.

Storage convention
------------------
numpy arrays are row-major, while Householder QR works column by column. The
factorizations therefore work on the *transpose* of the matrix, ``At = A.T``,
held C-contiguous: column ``j`` of ``A`` is the contiguous row ``At[j]``, so
every reflection streams contiguous memory. The reflector vectors are stored
in place below the diagonal of ``A`` (to the right of the diagonal of ``At``),
with the implicit leading 1 that LAPACK's ``dgeqrf`` also uses.

Contents
--------
- :func:`householder_vector`   H x = beta e1 with H = I - tau v v^T (LAPACK's dlarfg)
- :func:`householder_qr`       blocked QR, compact WY form, recursive panels
- :func:`apply_qt`             Q^T B as matrix products, from householder_qr's blocks
- :func:`pivoted_qr`           rank-revealing QR with column pivoting (Businger-Golub)
- :func:`apply_reflectors`     Q B or Q^T B from stored reflectors, one at a time
- :func:`cholesky`             blocked Cholesky factorization A = R^T R
- :func:`solve_triangular`     blocked back- and forward-substitution
- :class:`GramCholesky`        R = chol(X^T X), R^{-1} and a condition bound, for the fast paths
- :class:`SemiNormal`          corrected semi-normal equations, the fastest path (kappa <= 1e5)
- :class:`CholeskyQR2`         CholeskyQR2, the fast path for kappa up to ~1e7
- :class:`HouseholderQR`       minimum-norm least squares by QR + pivoting + COD
- :func:`cholesky_drop`        Cholesky that drops (numerically) dependent columns
- :class:`GramCOD`             minimum-norm least squares for rank-deficient X from X^T X,
                               certified by the residual of the dropped columns
- :class:`MatrixOperator`      the products a Gram-based path needs, from a dense array
- :func:`lstsq`                the driver: choose the path, solve, refine once
- :func:`triangular_factor`    R only, of a tall block (local TSQR, panels on threads) or a stack
- :class:`CentredFactor`       weight, means and R of centred, weighted rows; merged exactly
"""

import contextlib
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_EPS = np.finfo(np.float64).eps
# Squares below this underflow to subnormals and lose digits; above _BIG
# they overflow. Between the two, x @ x gives the squared norm safely.
_TINY = np.sqrt(np.finfo(np.float64).tiny) * 4.0
_BIG = np.sqrt(np.finfo(np.float64).max) / 4.0
# Below this a reflection's beta is too close to the subnormal range for
# 1 / (alpha - beta) to be accurate (LAPACK's safmin / eps).
_SAFE_MIN = np.finfo(np.float64).tiny / _EPS


class SingularMatrixError(ArithmeticError):
    """A factorization met a pivot that is not positive (or a zero on a diagonal)."""


_BLAS_CONTROLLER = None
# One thread of the process holds the limit at a time (see one_blas_thread).
_LIMIT_LOCK = threading.Lock()
_LIMIT_HELD = False
# Loops over fewer entries than this run as they are: setting and restoring
# the limit costs about 50 us, more than the threads would lose them.
_LIMIT_ENTRIES = 2**15


@contextlib.contextmanager
def one_blas_thread():
    """Run the enclosed level-2 loops with BLAS limited to one thread.

    Pivoted QR, the active-set steps of NNLS, the panels of a tall QR and
    other column-at-a-time loops make thousands of small BLAS calls. A
    threaded BLAS wakes its threads for each, and on a machine whose cores
    are busy a call can wait for a descheduled thread: on a 2-core machine at
    load 4, pivoted QR of a 50 x 50 triangle took 28 ms with two BLAS threads
    and 15 ms with one (100 x 100: 42 and 32 ms); at load 7-8 the local TSQR
    of a 250000 x 51 block took 8.9 s with two and 0.74 s with one, and the
    Householder least-squares solver on it 13.5 s and 1.4 s. The limit is
    set and restored through threadpoolctl (a scikit-learn dependency); the
    controller is built once.

    Yields the number of BLAS threads allowed before the limit (1 when it
    could not be read), which a caller may spend on threads of its own.

    OpenBLAS's thread count is process-wide, so only one thread of the
    process sets and restores it: a thread that enters while another holds
    the limit runs under it (or, once it is lifted, with the threads the
    user allowed) and restores nothing. Were each to record and restore
    what it saw at entry, two overlapping calls from two threads (Dask's
    threaded scheduler, a thread pool over targets) could leave the process
    at one thread for good.
    """
    global _BLAS_CONTROLLER, _LIMIT_HELD
    with _LIMIT_LOCK:
        owner = not _LIMIT_HELD
        _LIMIT_HELD = True
    limiter, n_threads = contextlib.nullcontext(), 1
    try:
        if owner:
            try:
                if _BLAS_CONTROLLER is None:
                    from threadpoolctl import ThreadpoolController

                    _BLAS_CONTROLLER = ThreadpoolController()
                allowed = [lib["num_threads"] for lib in _BLAS_CONTROLLER.info()
                           if lib["user_api"] == "blas"]
                limiter = _BLAS_CONTROLLER.limit(limits=1, user_api="blas")
                n_threads = max(1, min(allowed, default=1))
            except Exception:  # no threadpoolctl, or a BLAS it cannot control: run as is
                pass
        with limiter:
            yield n_threads
    finally:
        if owner:
            with _LIMIT_LOCK:
                _LIMIT_HELD = False


# ---------------------------------------------------------------------------
# Norms and single reflections
# ---------------------------------------------------------------------------


def vector_norm(x):
    """Euclidean norm of a 1-D array without overflow or harmful underflow.

    ``sqrt(x @ x)`` is one fused pass and exact enough, but ``x @ x``
    overflows once entries pass ~1e154 and loses digits below ~1e-154. Only in
    those rare cases is the vector rescaled by its largest magnitude first.
    """
    if x.size == 0:
        return 0.0
    with np.errstate(over="ignore", under="ignore"):
        ss = float(x @ x)
    if _TINY < ss < _BIG * _BIG:  # the common case: no scaling needed
        return np.sqrt(ss)
    scale = float(np.max(np.abs(x)))
    if scale == 0.0:
        return 0.0
    y = x / scale
    return scale * np.sqrt(float(y @ y))


def householder_vector(x):
    """Reflection that maps ``x`` onto a multiple of the first unit vector.

    Returns ``(v_tail, tau, beta)`` such that ``H = I - tau v v^T`` with
    ``v = [1, v_tail]`` satisfies ``H x = beta e1`` and ``|beta| = ||x||``.

    The sign of ``beta`` is opposite to ``x[0]``: then ``x[0] - beta`` adds two
    numbers of the same sign and never cancels, which is what keeps ``v``
    accurate (choosing the other sign loses all digits when ``x`` is already
    nearly a multiple of e1). This is LAPACK's ``dlarfg``.
    """
    alpha = float(x[0])
    xnorm = vector_norm(x[1:])
    if xnorm == 0.0:
        # Already a multiple of e1: H = I.
        return np.zeros(x.shape[0] - 1), 0.0, alpha
    beta = -np.copysign(np.hypot(alpha, xnorm), alpha)
    if abs(beta) < _SAFE_MIN:
        # Subnormal territory: v and tau do not depend on the scale of x, so
        # compute them on an exactly scaled-up copy (dlarfg does the same).
        v_tail, tau, beta = householder_vector(x * 2.0**600)
        return v_tail, tau, beta * 2.0**-600
    tau = (beta - alpha) / beta
    v_tail = x[1:] / (alpha - beta)
    return v_tail, tau, beta


def _unit_vector(v_tail):
    v = np.empty(v_tail.shape[0] + 1)
    v[0] = 1.0
    v[1:] = v_tail
    return v


# ---------------------------------------------------------------------------
# Blocked Householder QR (compact WY)
# ---------------------------------------------------------------------------


def _reflector_top(At, j0, j1):
    """The leading k x k block ``V_1^T`` of the reflectors of columns j0..j1-1 (k = j1 - j0).

    In transposed storage the reflectors of a block are the rows
    ``V^T = [V_1^T | V_2^T]`` of ``At[j0:j1, j0:]``: ``V_2^T = At[j0:j1, j1:]``
    holds stored tails only and is used as a view, while ``V_1^T`` mixes R
    with the tails and is made explicit here: zeros before the diagonal, the
    implicit 1 on it, the stored tails after it (unit upper triangular). So
    no copy of the tall part of V is ever made (LAPACK's dlarfb splits V the
    same way).
    """
    V1t = np.triu(At[j0:j1, j0:j1], 1)
    V1t[np.diag_indices(j1 - j0)] = 1.0
    return V1t


def _t_factor(At, j0, j1, taus):
    """Triangular factor T with ``H_j0 ... H_{j1-1} = I - V T V^T`` (LAPACK's dlarft).

    Recurrence: ``T_k = [[T_{k-1}, -tau_k T_{k-1} V_{k-1}^T v_k], [0, tau_k]]``.
    The Gram matrix ``V^T V = V_1^T V_1 + V_2^T V_2`` is computed once, as
    matrix products on the split of :func:`_reflector_top`.
    """
    k = j1 - j0
    V1t = _reflector_top(At, j0, j1)
    V2t = At[j0:j1, j1:]
    S = V1t @ V1t.T + V2t @ V2t.T
    T = np.zeros((k, k))
    for i in range(k):
        T[:i, i] = -taus[j0 + i] * (T[:i, :i] @ S[:i, i])
        T[i, i] = taus[j0 + i]
    return T


def _apply_block_qt(At, j0, j1, T, Bt):
    """``B <- (I - V T V^T)^T B`` for the reflectors of columns j0..j1-1, in transposed storage.

    ``Bt`` holds the rows ``j0..`` of B as its columns (shape (r, n_rows - j0)).
    ``Bt <- Bt - (Bt V) T V^T``, with ``V^T = [V_1^T | V_2^T]`` split as in
    :func:`_reflector_top`: ``W = (B_1^T V_1 + B_2^T V_2) T``, then
    ``B_1^T -= W V_1^T`` and ``B_2^T -= W V_2^T``. Matrix products only: the
    trailing matrix is streamed once per block instead of once per column,
    which is what makes the blocked QR fast.
    """
    if Bt.shape[0] == 0:
        return
    k = j1 - j0
    V1t = _reflector_top(At, j0, j1)
    V2t = At[j0:j1, j1:]
    B1t, B2t = Bt[:, :k], Bt[:, k:]
    W = (B1t @ V1t.T + B2t @ V2t.T) @ T
    B1t -= W @ V1t
    B2t -= W @ V2t


def _reflect_in_place(x):
    """:func:`householder_vector` of ``x``, written over ``x``; returns tau.

    On return ``x[0] = beta`` and ``x[1:]`` holds the tail of v, as LAPACK
    stores them. The common case divides in place (no temporary); a norm
    outside the safe range goes through :func:`vector_norm`'s rescaling and
    a subnormal beta through :func:`householder_vector`.
    """
    alpha = float(x[0])
    tail = x[1:]
    with np.errstate(over="ignore", under="ignore"):  # caught by the range test below
        ss = float(tail @ tail)
    xnorm = math.sqrt(ss) if _TINY < ss < _BIG * _BIG else vector_norm(tail)
    if xnorm == 0.0:
        return 0.0  # already a multiple of e1 (its tail is exactly zero): H = I
    beta = -math.copysign(math.hypot(alpha, xnorm), alpha)
    if abs(beta) < _SAFE_MIN:
        v_tail, tau, beta = householder_vector(x)
        tail[:] = v_tail
    else:
        tau = (beta - alpha) / beta
        tail /= alpha - beta  # v = x / (alpha - beta): no cancellation (see householder_vector)
    x[0] = beta
    return tau


def _leaf_qr(At, j0, j1, taus):
    """Columns j0..j1-1 one at a time (LAPACK's dgeqr2), in place.

    Each reflection updates the later columns of the leaf at once:
    ``B <- H B = B - v (tau v^T B)``, a matrix-vector product and a rank-1
    update.
    """
    for j in range(j0, j1):
        x = At[j, j:]
        taus[j] = tau = _reflect_in_place(x)
        if tau != 0.0 and j + 1 < j1:
            beta = x[0]
            x[0] = 1.0  # x is now v = [1, tail] (LAPACK's trick: no copy of v)
            rows = At[j + 1:j1, j:]
            c = rows @ x
            c *= tau
            rows -= c[:, None] * x
            x[0] = beta


_LEAF = 8  # panel width below which the panel is factored column by column


def _panel_qr(At, j0, j1, taus, need_t=True):
    """Factor columns j0..j1-1 (rows j0.. of A) in place; return their T factor.

    Recursive (Elmroth & Gustavson 2000): factor the left half, update the
    right half with the left half's block reflector, factor the right half,
    then merge the T factors. Only leaves of width <= _LEAF work column by
    column, so almost all the work is matrix products even inside a panel.
    With ``need_t=False`` (nothing will apply this panel's Q) the T factor
    of the right half and the merge are skipped and None is returned.
    """
    w = j1 - j0
    if w <= _LEAF:
        _leaf_qr(At, j0, j1, taus)
        return _t_factor(At, j0, j1, taus) if need_t else None
    h = w // 2
    jm = j0 + h
    T1 = _panel_qr(At, j0, jm, taus)
    _apply_block_qt(At, j0, jm, T1, At[jm:j1, j0:])
    T2 = _panel_qr(At, jm, j1, taus, need_t)
    if not need_t:
        return None
    # I - V T V^T for V = [V1 V2]: T = [[T1, -T1 (V1^T V2) T2], [0, T2]].
    # V1^T V2 over rows jm.. (V2 is zero above): V1's rows there are stored
    # tails, At[j0:jm, jm:]; V2's are its unit top block, then its tails.
    V1t = At[j0:jm, jm:]
    C = V1t[:, :w - h] @ _reflector_top(At, jm, j1).T + V1t[:, w - h:] @ At[jm:j1, j1:].T
    T = np.zeros((w, w))
    T[:h, :h] = T1
    T[h:, h:] = T2
    T[:h, h:] = -(T1 @ C) @ T2
    return T


def householder_qr(At, block_size=64, keep_q=True):
    """Blocked Householder QR of ``A = At.T``, in place, in transposed storage.

    Parameters
    ----------
    At : ndarray of shape (n_cols, n_rows), C-contiguous float64
        The transpose of the matrix to factor. Overwritten: on return, for
        the factored columns ``j < k = min(n_cols, n_rows)``, ``At[j, :j+1]``
        holds column ``j`` of ``R`` and ``At[j, j+1:]`` the tail of reflector
        ``j``; the columns past ``k`` (wide matrices) hold ``Q^T`` applied to
        them, i.e. the rest of the upper trapezoid R.
    block_size : int, default=64
        Columns per block of the compact WY update.
    keep_q : bool, default=True
        Whether Q will be applied later. When only R is wanted, the T
        factor of the last block (the whole of it when ``n_cols <=
        block_size``) is never formed, and ``blocks`` is None.

    Returns
    -------
    taus : ndarray of shape (k,)
        Reflector scalars, ``k = min(n_cols, n_rows)``.
    blocks : list of (j0, j1, T)
        The compact WY factor ``T`` of each block of columns ``j0..j1-1``,
        kept so that ``Q^T`` can later be applied as matrix products
        (:func:`apply_qt`).

    Notes
    -----
    Backward stable for any rank: the computed R is the exact R of
    ``A + E`` with ``||E|| = O(u ||A||)`` (Higham, Thm 19.4). Blocking changes
    the order of operations, not this bound.

    Each block's panel is factored on one BLAS thread (it is hundreds of
    mid-sized products, see :func:`one_blas_thread`); the update of the
    columns to its right, three large products, runs on the BLAS threads
    the caller allows.
    """
    n_cols, m = At.shape
    k = min(n_cols, m)
    taus = np.zeros(k)
    blocks = []
    for j0 in range(0, k, block_size):
        j1 = min(j0 + block_size, k)
        # A panel is hundreds of mid-sized products: on one BLAS thread (see
        # one_blas_thread), unless it is too small for the limit to pay. The
        # trailing update is three large products, which BLAS threads speed up.
        limit = (j1 - j0) * (m - j0) >= _LIMIT_ENTRIES
        with one_blas_thread() if limit else contextlib.nullcontext():
            T = _panel_qr(At, j0, j1, taus, need_t=keep_q or j1 < n_cols)
        blocks.append((j0, j1, T))
        if j1 < n_cols:
            _apply_block_qt(At, j0, j1, T, At[j1:, j0:])
    return taus, (blocks if keep_q else None)


def apply_qt(At, blocks, Bt):
    """``B <- Q^T B`` for Q from :func:`householder_qr`, B in transposed storage.

    ``Bt`` has shape (n_rhs, n_rows) and is overwritten. One block of
    reflectors at a time, as three matrix products each.
    """
    for j0, j1, T in blocks:
        _apply_block_qt(At, j0, j1, T, Bt[:, j0:])
    return Bt


def apply_reflectors(At, taus, B, transpose):
    """Apply ``Q = H_1 ... H_k`` (or ``Q^T``) stored in ``At`` to ``B`` in place.

    ``B`` has shape (n_rows, n_rhs). One reflection at a time: meant for the
    small matrices of the rank-revealing stage, not for the tall bulk.
    """
    k = taus.shape[0]
    order = range(k) if transpose else range(k - 1, -1, -1)
    for j in order:
        if taus[j] == 0.0:
            continue
        v = _unit_vector(At[j, j + 1:])
        Bj = B[j:]
        Bj -= np.outer(v, taus[j] * (v @ Bj))
    return B


def upper_from_transposed(At, n_rows, n_cols):
    """The upper trapezoid R (n_rows x n_cols) stored in the rows of ``At``."""
    R = np.zeros((n_rows, n_cols))
    for j in range(n_cols):
        top = min(j + 1, n_rows)
        R[:top, j] = At[j, :top]
    return R


# ---------------------------------------------------------------------------
# Rank-revealing QR
# ---------------------------------------------------------------------------


def pivoted_qr(A, rcond):
    """Householder QR with column pivoting (see :func:`_pivoted_qr`), on one BLAS thread."""
    with one_blas_thread():
        return _pivoted_qr(A, rcond)


def _pivoted_qr(A, rcond):
    """Householder QR with column pivoting, stopped at the numerical rank.

    Factors ``A P = Q R`` choosing at each step the remaining column of
    largest norm (Businger & Golub 1965), so ``|R_00| >= |R_11| >= ...``.
    The factorization stops at the first step whose pivot column norm is at
    most ``rcond * |R_00|``: the rest of R is treated as zero and the number
    of steps taken is the numerical rank.

    Parameters
    ----------
    A : ndarray of shape (m, n)
    rcond : float
        Relative threshold on the diagonal of R.

    Returns
    -------
    At : ndarray of shape (n, m)
        Transposed storage of the factors of ``A P``: R in and above the
        diagonal, reflector tails after it (see :func:`householder_qr`).
    taus : ndarray of shape (rank,)
    perm : ndarray of shape (n,)
        Column ``i`` of ``A P`` is column ``perm[i]`` of ``A``.
    rank : int

    Notes
    -----
    Column norms are downdated after each step and recomputed when the
    downdate cancels too much (LAPACK's dlaqp2 criterion from Drmac &
    Bujanovic 2008), so pivots stay right at the cost of an occasional pass.
    This is level-2 work, one column at a time: callers first shrink a tall
    matrix to its square triangle so pivoting runs on a small matrix.
    """
    m, n = A.shape
    At = np.array(A.T, dtype=np.float64, order="C")
    perm = np.arange(n)
    norms = np.array([vector_norm(row) for row in At])
    ref_norms = norms.copy()
    tol_downdate = np.sqrt(_EPS)
    taus = np.zeros(min(m, n))
    rank = 0
    r00 = 0.0
    for j in range(min(m, n)):
        p = j + int(np.argmax(norms[j:]))
        if p != j:
            At[[j, p]] = At[[p, j]]
            perm[[j, p]] = perm[[p, j]]
            norms[[j, p]] = norms[[p, j]]
            ref_norms[[j, p]] = ref_norms[[p, j]]
        pivot_norm = vector_norm(At[j, j:])
        if j == 0:
            r00 = pivot_norm
        if pivot_norm == 0.0 or pivot_norm <= rcond * r00:
            break
        v_tail, tau, beta = householder_vector(At[j, j:])
        At[j, j] = beta
        At[j, j + 1:] = v_tail
        taus[j] = tau
        rank = j + 1
        if tau != 0.0:
            v = _unit_vector(v_tail)
            rest = At[j + 1:, j:]
            rest -= np.outer(tau * (rest @ v), v)
        # Downdate the remaining column norms: ||a_l[j+1:]||^2 = ||a_l[j:]||^2 - R_jl^2.
        if j + 1 < n:
            nl = norms[j + 1:]
            live = nl > 0.0
            ratio = np.zeros_like(nl)
            ratio[live] = np.abs(At[j + 1:, j][live]) / nl[live]
            shrink = np.maximum(0.0, (1.0 - ratio) * (1.0 + ratio))
            drift = np.zeros_like(nl)
            drift[live] = shrink[live] * (nl[live] / ref_norms[j + 1:][live]) ** 2
            recompute = live & (drift <= tol_downdate)
            nl[live] *= np.sqrt(shrink[live])
            for i in np.flatnonzero(recompute):
                nl[i] = vector_norm(At[j + 1 + i, j + 1:])
                ref_norms[j + 1 + i] = nl[i]
    return At, taus[:rank], perm, rank


# ---------------------------------------------------------------------------
# Triangular solves and Cholesky
# ---------------------------------------------------------------------------


def solve_triangular(T, B, lower=False, block_size=64):
    """Solve ``T X = B`` for triangular ``T`` by blocked substitution.

    Back-substitution (upper) goes from the last row up,
    ``x_i = (b_i - sum_{j>i} T_ij x_j) / T_ii``; forward substitution
    (lower) from the first row down. Rows are taken in blocks: each block's
    coupling to the already-solved rows is one matrix product, and only
    inside a block does the solve go row by row. To solve with ``T^T``, pass
    ``T.T`` and flip ``lower`` (a view, no copy).

    Triangular substitution is backward stable: the computed X solves
    ``(T + E) X = B`` with ``|E| <= n u |T|`` (Higham, Thm 8.5).
    """
    n = T.shape[0]
    X = np.array(B, dtype=np.float64, copy=True)
    vector = X.ndim == 1
    if vector:
        X = X.reshape(-1, 1)
    diag = np.diagonal(T)
    if np.any(diag == 0.0):
        raise SingularMatrixError("triangular matrix has a zero on its diagonal")
    starts = list(range(0, n, block_size))
    if not lower:
        starts.reverse()
    for s in starts:
        e = min(s + block_size, n)
        if lower:
            if s > 0:
                X[s:e] -= T[s:e, :s] @ X[:s]
            rows = range(s, e)
        else:
            if e < n:
                X[s:e] -= T[s:e, e:] @ X[e:]
            rows = range(e - 1, s - 1, -1)
        for i in rows:
            if lower:
                if i > s:
                    X[i] -= T[i, s:i] @ X[s:i]
            elif i + 1 < e:
                X[i] -= T[i, i + 1:e] @ X[i + 1:e]
            X[i] /= T[i, i]
    return X.ravel() if vector else X


def cholesky(A, block_size=64):
    """Upper Cholesky factor ``R`` with ``A = R^T R``, blocked, right-looking.

    Raises :class:`SingularMatrixError` when a pivot is not positive (``A`` is
    not numerically positive definite). For each diagonal block: factor it,
    solve for the block row to its right (``R_12 = R_11^{-T} A_12``), and
    update the trailing matrix ``A_22 -= R_12^T R_12`` as one matrix product.

    Cholesky needs no pivoting: for a positive definite matrix it is backward
    stable (Higham, Thm 10.3). Breakdown signals that ``A`` is indefinite to
    working precision, which callers use as a cheap ill-conditioning test.
    """
    n = A.shape[0]
    R = np.array(A, dtype=np.float64, copy=True)
    for s in range(0, n, block_size):
        e = min(s + block_size, n)
        for i in range(s, e):
            d = R[i, i]
            if not d > 0.0:  # also catches NaN
                raise SingularMatrixError(f"pivot {i} of the Cholesky factorization is not positive")
            r = np.sqrt(d)
            R[i, i] = r
            row = R[i, i + 1:e]
            row /= r
            R[i + 1:e, i + 1:e] -= row[:, None] * row
        if e < n:
            R11 = np.triu(R[s:e, s:e])
            R[s:e, e:] = solve_triangular(R11.T, R[s:e, e:], lower=True)
            R[e:, e:] -= R[s:e, e:].T @ R[s:e, e:]
    return np.triu(R)


# ---------------------------------------------------------------------------
# Least squares drivers
# ---------------------------------------------------------------------------


def default_rcond(n_samples, n_features):
    """Default rank threshold ``max(n_samples, n_features) * u``.

    The QR factorization's rounding error is a modest multiple of
    ``u ||A||`` that grows with the dimensions; a diagonal entry of R below
    this size is indistinguishable from zero (the same default as
    ``numpy.linalg.matrix_rank``).
    """
    return max(n_samples, n_features, 1) * _EPS


class GramCholesky:
    """``R = chol(X^T X)`` with ``R^{-1}`` and a bound on ``kappa(X)``: the fast paths' common step.

    R is the triangular factor of X's QR factorization (up to row signs),
    obtained from one symmetric matrix product instead of n reflections.
    ``kappa_F(R) = ||R||_F ||R^{-1}||_F`` bounds ``kappa_2(R) ~ kappa_2(X)``
    from above (within a factor ``p``); the fast paths use it to decide
    whether they are accurate enough, before any solve.
    """

    def __init__(self, R, R_inv, kappa_f):
        self.R, self.R_inv, self.kappa_f = R, R_inv, kappa_f

    @staticmethod
    def gram_matrix(X):
        """``X^T X`` of an array or operator, or ``None`` where it over- or underflows.

        Where squares of X's entries overflow or underflow, the Gram matrix
        is meaningless: refuse (any non-finite value means that).
        """
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            G = as_operator(X).gram()
        if not (np.all(np.isfinite(G)) and np.max(np.diagonal(G), initial=0.0) > _SAFE_MIN):
            return None
        return G

    @classmethod
    def factor(cls, X, G=None):
        """Factor tall ``X``, or return ``None`` when ``X^T X`` is not numerically definite."""
        if G is None:
            G = cls.gram_matrix(X)
            if G is None:
                return None
        p = G.shape[0]
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            try:
                R = cholesky(G)
            except SingularMatrixError:
                return None
            R_inv = solve_triangular(R, np.eye(p))
            kappa_f = np.sqrt(np.sum(R * R)) * np.sqrt(np.sum(R_inv * R_inv))
        if not np.isfinite(kappa_f):
            return None
        return cls(R, R_inv, kappa_f)


class SemiNormal:
    """Least squares by the corrected semi-normal equations (CSNE), the fastest path.

    The semi-normal equations ``R^T R theta = X^T Y`` use QR's R (from
    :class:`GramCholesky`) and X itself instead of Q:
    ``theta = R^{-1} R^{-T} X^T Y``. Alone they are as inaccurate as the
    normal equations (error ~ ``kappa^2 u``); one step of iterative
    refinement with the same R (what :func:`lstsq` does after every solve)
    makes them as accurate as a QR solution when ``kappa(X)^2 u`` is small
    (Bjorck 1987), for small and large residuals alike. :func:`lstsq` uses
    this path only when ``kappa_F(R) <= 1e5`` (``kappa^2 u <= 2e-6``).

    The cost is one Gram matrix and a few products of X with vectors: no
    n x p intermediate, no second pass over X with a p x p matrix.
    """

    name = "seminormal"
    max_kappa = 1e5

    def __init__(self, X, gram):
        self.X, self.gram = as_operator(X), gram
        self.rank = self.X.shape[1]

    def solve(self, Y):
        """``theta`` (p, k) minimizing ``||X theta - Y||`` for Y of shape (n, k)."""
        R_inv = self.gram.R_inv
        # R^T R theta = X^T Y; triangular inverses are applied as products.
        return R_inv @ (R_inv.T @ self.X.rmatmat(Y))


class CholeskyQR2:
    """Least squares by CholeskyQR2, the fast path for moderately ill-conditioned X.

    ``R1 = chol(X^T X)``, ``Q1 = X R1^{-1}``, ``R2 = chol(Q1^T Q1)``; then
    ``X = Q R`` with ``Q = Q1 R2^{-1}`` and ``R = R2 R1``, and
    ``R theta = Q^T Y = R2^{-T} (Q1^T Y)`` is solved by back-substitution,
    never forming Q. All the O(n p^2) work is three matrix products.

    One pass of Cholesky QR loses orthogonality like ``kappa(X)^2 u``; the
    second pass restores it to O(u) as long as ``kappa(X)`` is well below
    ``u^{-1/2}`` ~ 1e8 (Yamamoto, Nakatsukasa, Yanagisawa & Fukaya 2015).
    :meth:`factor` checks that rather than assuming it and returns ``None``
    (the caller falls back to Householder) when ``||Q1^T Q1 - I||_F >
    orth_tol`` (kappa(X)^2 u is then not small).
    """

    name = "cholesky_qr2"

    def __init__(self, Q1, R1, R2):
        self.Q1, self.R1, self.R2 = Q1, R1, R2
        self.rank = R1.shape[0]

    @classmethod
    def factor(cls, X, gram, orth_tol=1e-2):
        """Second pass on top of ``gram``, or ``None`` where the path is not safe."""
        p = X.shape[1]
        Q1 = X @ gram.R_inv
        G2 = Q1.T @ Q1
        off = G2 - np.eye(p)
        if not np.sqrt(np.sum(off * off)) <= orth_tol:
            return None
        try:
            R2 = cholesky(G2)
        except SingularMatrixError:
            return None
        return cls(Q1, gram.R, R2)

    def solve(self, Y):
        """``theta`` (p, k) minimizing ``||X theta - Y||`` for Y of shape (n, k)."""
        c = solve_triangular(self.R2.T, self.Q1.T @ Y, lower=True)  # Q^T Y
        # R theta = c with R = R2 R1: two back-substitutions, no product formed.
        return solve_triangular(self.R1, solve_triangular(self.R2, c))


class HouseholderQR:
    """Minimum-norm least-squares solver from a rank-revealing Householder factorization.

    1. Tall X (n >= p): blocked Householder QR reduces X to its p x p
       triangle R0. This step is backward stable whatever the rank, and the
       orthogonal ``Q0`` keeps column norms, so pivoting on R0 picks the same
       columns as pivoting on X would, on a matrix n/p times smaller.
    2. Pivoted QR of R0 (of X itself when n < p) reveals the rank r:
       ``R0 P = Q1 [S; 0]`` with S (r x p) upper trapezoidal.
    3. Complete orthogonal decomposition: QR of ``S^T = Z U`` gives
       ``S = U^T Z^T``. The solutions of ``S z = c`` are
       ``z = Z [U^{-T} c; w]`` for any w; the shortest has ``w = 0``: z lies
       in the row space of S, orthogonal to the null space. This is the
       minimum-norm solution that LAPACK's SVD-based gelsd also returns.
    """

    name = "householder"

    def __init__(self, X, rcond):
        n, p = X.shape
        self.n_features = p
        self.stage1 = None
        if n >= p:
            At = np.array(X.T, dtype=np.float64, order="C")
            _, blocks = householder_qr(At)
            self.stage1 = (At, blocks)
            X = upper_from_transposed(At, p, p)
        Pt, self.ptaus, self.perm, self.rank = pivoted_qr(X, rcond)
        self.Pt = Pt
        S = upper_from_transposed(Pt, self.rank, p)
        self.Zt = None
        if 0 < self.rank < p:
            self.Zt = np.array(S, order="C")  # transposed storage of S^T is S
            self.ztaus, _ = householder_qr(self.Zt)
            self.U = upper_from_transposed(self.Zt, self.rank, self.rank)
        else:
            self.U = S

    def solve(self, Y):
        """Minimum-norm ``theta`` (p, k) minimizing ``||X theta - Y||``."""
        p, r = self.n_features, self.rank
        if self.stage1 is not None:
            At, blocks = self.stage1
            Ct = apply_qt(At, blocks, np.array(Y.T, dtype=np.float64, order="C"))
            C = np.array(Ct[:, :p].T)  # Q0^T Y, first p rows
        else:
            C = np.array(Y, dtype=np.float64)
        apply_reflectors(self.Pt, self.ptaus, C, transpose=True)
        theta = np.zeros((p, Y.shape[1]))
        if r == 0:
            return theta
        if self.Zt is None:
            z = solve_triangular(self.U, C[:r])  # R theta = Q^T y
        else:
            z = np.zeros((p, Y.shape[1]))
            z[:r] = solve_triangular(self.U.T, C[:r], lower=True)  # U^T w = c
            apply_reflectors(self.Zt, self.ztaus, z, transpose=False)  # z = Z [w; 0]
        theta[self.perm] = z
        return theta


# ---------------------------------------------------------------------------
# Rank-deficient least squares from the Gram matrix
# ---------------------------------------------------------------------------


class MatrixOperator:
    """The products a Gram-based solver needs, for a dense array ``A``.

    Sparse data supplies the same four members (``shape``, ``matmat``,
    ``rmatmat``, ``gram``) with its centring and weights applied implicitly
    (:mod:`skscratch._lsq_sparse`), so the Gram-based solvers below run on
    either without a dense copy.
    """

    dense = True

    def __init__(self, A):
        self.A = A
        self.shape = A.shape

    def matmat(self, B):
        """``A @ B``."""
        return self.A @ B

    def rmatmat(self, B):
        """``A^T @ B``."""
        return self.A.T @ B

    def gram(self):
        """``A^T A`` (one symmetric product: BLAS syrk)."""
        return self.A.T @ self.A


def as_operator(X):
    """``X`` itself when it is an operator already, else a :class:`MatrixOperator`."""
    return MatrixOperator(X) if isinstance(X, np.ndarray) else X


def cholesky_drop(A, tau, block_size=64):
    """Cholesky factor of a semidefinite ``A``, dropping columns with negligible pivots.

    The blocked right-looking Cholesky of :func:`cholesky`, except that a
    pivot ``d_i <= tau * max(diag(A))`` does not stop the factorization: row
    ``i`` of R is set to zero and column ``i`` is marked dropped. The pivot
    ``d_i`` is the Schur complement's diagonal entry, i.e. the squared
    distance of column ``i`` of X (``A = X^T X``) from the span of the
    columns kept before it; a tiny pivot says that column is (numerically) a
    combination of those, which is what one-hot blocks beside an intercept
    or duplicated columns give.

    Returns ``(R, kept)``: R (p x p) upper triangular with zero rows at the
    dropped columns and ``A[kept][:, kept] = R11^T R11``, ``A[kept][:, ~kept]
    = R11^T R12`` up to rounding. Columns are taken in their given order (no
    pivoting): callers check the kept part's conditioning and the dropped
    columns' residuals afterwards, so a poor choice is detected, never
    trusted.
    """
    n = A.shape[0]
    R = np.array(A, dtype=np.float64, copy=True)
    kept = np.ones(n, dtype=bool)
    cutoff = tau * max(float(np.max(np.diagonal(A), initial=0.0)), 0.0)
    for s in range(0, n, block_size):
        e = min(s + block_size, n)
        for i in range(s, e):
            d = R[i, i]
            if not np.isfinite(d):
                raise SingularMatrixError(f"pivot {i} of the Cholesky factorization is not finite")
            if d <= cutoff:
                kept[i] = False
                R[i, i:] = 0.0  # a zero row: column i is expressed by the kept ones
                continue
            r = np.sqrt(d)
            R[i, i] = r
            row = R[i, i + 1:e]
            row /= r
            R[i + 1:e, i + 1:e] -= row[:, None] * row
        if e < n:
            k = np.flatnonzero(kept[s:e]) + s
            if k.size:
                # R_12 = R_11^{-T} A_12 over the kept rows; dropped rows stay 0.
                R11 = np.triu(R[np.ix_(k, k)])
                R[k, e:] = solve_triangular(R11.T, R[k, e:], lower=True)
                R[e:, e:] -= R[k, e:].T @ R[k, e:]
            R[s:e, e:][~kept[s:e]] = 0.0
    return np.triu(R), kept


class GramCOD:
    """Minimum-norm least squares for rank-deficient tall X, from ``X^T X``.

    1. :func:`cholesky_drop` on ``G = X^T X`` splits the columns into a kept
       set K (factor R11, condition bound ``kappa_F(R11) <= 1e5``) and a
       dropped set D: ``X_D ~= X_K W`` with ``W = R11^{-1} R12``.
    2. ``W`` is refined once as a consistent least-squares problem
       (corrected semi-normal equations: ``W += R11^{-1} R11^{-T} X_K^T E``,
       ``E = X_D - X_K W``), and the refined residual certifies the rank:
       every dropped column must lie within ``rcond * max_j ||x_j||`` of the
       span of the kept ones, the cutoff that pivoted QR applies to its
       diagonal. If not, :meth:`factor` returns ``None`` and the caller
       falls back to Householder QR.
    3. The null space of X is spanned by the columns of ``N = P [-W; I]``.
       A basic solution (zeros on D, semi-normal equations on K) is
       projected onto the orthogonal complement of ``N``, with an
       orthonormal basis of ``N`` from Householder QR of the small
       p x (p - r) matrix: the result is the minimum-norm solution, the one
       a complete orthogonal decomposition or an SVD (``gelsd``) gives.

    All O(n p^2) work is the one Gram product; the refinement and the
    certificate cost O(n p (p - r)), small when few columns are dependent.
    """

    name = "gram_cod"
    max_kappa = 1e5

    def __init__(self, X, kept, R11_inv, W, Nt, ntaus):
        self.X, self.kept = X, kept
        self.R11_inv, self.W = R11_inv, W
        self.Nt, self.ntaus = Nt, ntaus
        self.rank = int(np.count_nonzero(kept))

    @classmethod
    def factor(cls, X, G, rcond):
        """Factor, or ``None`` where the kept part is ill-conditioned or the rank not certified."""
        X = as_operator(X)
        p = G.shape[0]
        try:
            R, kept = cholesky_drop(G, tau=cls.max_kappa ** -2)
        except SingularMatrixError:
            return None
        r = int(np.count_nonzero(kept))
        if r == 0 or r == p:
            return None
        K, D = np.flatnonzero(kept), np.flatnonzero(~kept)
        R11, R12 = R[np.ix_(K, K)], R[np.ix_(K, D)]
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            R11_inv = solve_triangular(R11, np.eye(r))
            kappa_f = np.sqrt(np.sum(R11 * R11)) * np.sqrt(np.sum(R11_inv * R11_inv))
        if not (np.isfinite(kappa_f) and kappa_f <= cls.max_kappa and kappa_f * rcond < 1.0):
            return None
        W = R11_inv @ R12  # X_D ~= X_K W
        N = np.zeros((p, p - r))
        N[D, np.arange(p - r)] = 1.0
        N[K] = -W
        E = X.matmat(N)  # = X_D - X_K W, the dependent columns' residuals
        # One CSNE step on the consistent problem X_K W = X_D.
        W = W + R11_inv @ (R11_inv.T @ X.rmatmat(E)[K])
        N[K] = -W
        E = X.matmat(N)
        col_scale = np.sqrt(np.max(np.diagonal(G)))  # largest column norm ~ |R_00| of pivoted QR
        residuals = np.sqrt(np.sum(E * E, axis=0))
        if not np.all(residuals <= rcond * col_scale):
            return None
        # Orthonormal basis of null(X) = range(N): Householder QR of N (p x (p-r)).
        Nt = np.array(N.T, order="C")
        ntaus, _ = householder_qr(Nt)
        return cls(X, kept, R11_inv, W, Nt, ntaus)

    def project_out_null(self, T):
        """``(I - Q_N Q_N^T) T``: the component of T orthogonal to the null space."""
        C = apply_reflectors(self.Nt, self.ntaus, np.array(T, dtype=np.float64), transpose=True)
        C[: self.Nt.shape[0]] = 0.0
        return apply_reflectors(self.Nt, self.ntaus, C, transpose=False)

    def solve(self, Y):
        """Minimum-norm ``theta`` (p, k) minimizing ``||X theta - Y||``."""
        p = self.kept.shape[0]
        theta = np.zeros((p, Y.shape[1]))
        # Basic solution: R11^T R11 theta_K = X_K^T Y, theta_D = 0.
        theta[self.kept] = self.R11_inv @ (self.R11_inv.T @ self.X.rmatmat(Y)[self.kept])
        return self.project_out_null(theta)


def lstsq(X, Y, rcond=None, solver="auto", refine=1):
    """Minimum-norm least-squares solution of ``X theta ~= Y``.

    Parameters
    ----------
    X : ndarray of shape (n, p), float64, or an operator
        An operator (see :class:`MatrixOperator`) has no entries to factor
        by Householder QR: only the Gram-based paths run on it, and
        ``None`` is returned for theta where none of them applies.
    Y : ndarray of shape (n, k), float64
    rcond : float, default=None
        Rank threshold (see :func:`default_rcond`).
    solver : {'auto', 'householder'}
        ``'auto'`` on tall X: :class:`SemiNormal` when ``kappa_F(R) <= 1e5``;
        for a rank-deficient X whose independent part is that well
        conditioned, :class:`GramCOD`; for full-rank X up to about
        ``kappa = 1e7``, :class:`CholeskyQR2` when its orthogonality check
        passes; else :class:`HouseholderQR`, which also takes every wide
        problem.
    refine : int, default=1
        Steps of iterative refinement after the first solve.

    Returns
    -------
    theta : ndarray of shape (p, k)
    rank : int
    name : str
        The solver that produced theta.

    Notes
    -----
    After the first solve, one step of fixed-precision iterative refinement
    (``theta += solve(Y - X theta)``, Golub & Wilkinson 1966) with the same
    factorization. It costs one product with X and one solve, and removes
    most of the error the factorization's rounding put into theta: on small
    residual problems it brings the error from a few times LAPACK's down to
    LAPACK's (measured in the tests). The correction lies in the row space
    that theta lies in, so the minimum-norm property is kept.
    """
    op = as_operator(X)
    dense = getattr(op, "dense", False)
    n, p = op.shape
    if rcond is None:
        rcond = default_rcond(n, p)
    fac = None
    if (solver == "auto" or not dense) and n >= p > 0:
        G = GramCholesky.gram_matrix(op)
        gram = None if G is None else GramCholesky.factor(op, G)
        # kappa_F(R) bounds kappa_2(R) from above: when it clears the rank
        # threshold, so does every direction of R. (An exactly singular X can
        # still give a Cholesky factor, with a last pivot ~ sqrt(u) ||X||;
        # then kappa_F ~ 1e8 and the rank-deficient path below takes it.)
        if gram is not None and gram.kappa_f * rcond < 1.0 and gram.kappa_f <= SemiNormal.max_kappa:
            fac = SemiNormal(op, gram)
        elif G is not None:
            fac = GramCOD.factor(op, G, rcond)
            if fac is None and gram is not None and gram.kappa_f * rcond < 1.0 and dense:
                fac = CholeskyQR2.factor(X, gram)
    if fac is None:
        if not dense:
            return None, 0, None
        fac = HouseholderQR(X, rcond)
    theta = fac.solve(Y)
    for _ in range(refine):
        theta += fac.solve(Y - op.matmat(theta))
    return theta, fac.rank, fac.name


# ---------------------------------------------------------------------------
# Triangular factors of row blocks, and their exact merge (streaming, TSQR)
# ---------------------------------------------------------------------------


# Rows of a panel of the local TSQR (below): about this many entries, 8 MB of
# float64, so that a panel stays in cache while its reflections sweep it.
# Smaller panels lose more to the fixed cost of each panel's few hundred
# numpy calls than they gain in cache (measured from 2**15 to 2**21 entries
# at 250000 x 51: 2**20 and 2**21 were the fastest, 2**17 twice as slow).
_PANEL_ENTRIES = 2**20


def _panel_rows(q):
    """Rows per panel for q columns: about 8 MB, and at least 16 q.

    A panel of h rows costs ~2 h q^2 flops and adds q rows to the stack of
    R's, whose QR costs ~2 q^3 per panel: a merge overhead of q / h. At
    q = 500 (50000 rows) panels of 4 q took 3.3 s, of 16 q 2.0 s, the whole
    block at once 2.1 s (one BLAS thread).
    """
    return max(16 * q, _PANEL_ENTRIES // max(q, 1))


def _rows_factor(M, start, stop, shift=None, scale=None):
    """R of the rows ``scale_i (M_i - shift)``, i in start..stop-1, by one Householder QR.

    The transposed working copy is made first (one strided read of M) and
    centred and weighted in place: subtracting before transposing would
    write the block twice.
    """
    At = np.array(M[start:stop].T, dtype=np.float64, order="C")
    if shift is not None:
        At -= np.asarray(shift, dtype=np.float64)[:, None]  # (M_i - shift)^T
    if scale is not None:
        At *= scale[start:stop]  # column i of At times scale_i
    householder_qr(At, keep_q=False)
    q, n_rows = At.shape
    return upper_from_transposed(At, min(q, n_rows), q)


def triangular_factor(M, shift=None, scale=None):
    """The upper-trapezoidal R (``min(m, q) x q``) of ``M = Q R``, by Householder QR.

    Only R is kept. For a stacked matrix ``M = [R_1; R_2; ...]`` this is the
    combine step of TSQR (Demmel, Grigori, Hoemmen & Langou 2012): the R of
    the stack is an R of the rows the stacked factors came from, because
    ``M^T M = sum_i R_i^T R_i`` and QR is backward stable.

    With ``shift`` (q,) and ``scale`` (m,), the rows factored are
    ``scale_i (M_i - shift)``, formed one panel at a time: the centred,
    weighted copy of M is never held whole.

    A tall M (at least two panels of about 8 MB, :data:`_PANEL_ENTRIES`) is
    factored by that same TSQR, locally: each panel is reduced to its R
    while it stays in cache, and the stacked R's are factored once more.
    The bulk of the flops then runs on cache-resident data, about 3x faster
    than one sweep over the whole of a tall M (measured at 500000 x 51), and
    the transposed working copy is one panel per thread, not M. Each
    panel's QR and the final one are backward stable, so the result is as
    accurate as a single Householder QR (Demmel et al., Sec. 3); R is the
    same up to the signs of its rows.

    The panels are independent, so they are factored in parallel by as many
    threads as BLAS was allowed (numpy releases the GIL in its loops and
    products), each on a single-threaded BLAS: a panel's QR is hundreds of
    mid-sized products, which a threaded BLAS runs slower than one thread
    does on a busy machine (see :func:`one_blas_thread`). Each panel's R
    does not depend on the number of threads: same input, same bits.

    Peak memory above M and R: one transposed panel per thread, each under
    ``2 * rows * q`` entries (16 MB for q <= 256, ``256 q^2`` bytes above),
    or a transposed copy of M when it is shorter than two panels.
    """
    m, q = M.shape
    rows = _panel_rows(q)
    n_panels = m // rows
    if n_panels < 2:
        return _rows_factor(M, 0, m, shift, scale)
    bounds = [i * m // n_panels for i in range(n_panels + 1)]  # rows..2 rows - 1 each

    def panel(i):
        return _rows_factor(M, bounds[i], bounds[i + 1], shift, scale)

    with one_blas_thread() as n_threads, contextlib.ExitStack() as stack:
        workers = min(n_threads, n_panels, os.cpu_count() or 1)
        mapper = map
        if workers > 1:
            mapper = stack.enter_context(ThreadPoolExecutor(max_workers=workers)).map
        R = None
        for first in range(0, n_panels, _FOLD):  # keep the stack of R's small: fold it
            parts = list(mapper(panel, range(first, min(first + _FOLD, n_panels))))
            stacked = np.vstack(parts if R is None else [R] + parts)
            R = _rows_factor(stacked, 0, stacked.shape[0])
    return R


_FOLD = 64  # panels' R's stacked at most before they are merged


class CentredFactor:
    """Total weight, weighted means and centred triangular factor of a block of rows.

    For rows ``Z`` (n x q) with weights ``s``: ``weight = sum s``, ``mean =
    s^T Z / weight`` and R with ``R^T R = (Z - 1 mean^T)^T S (Z - 1 mean^T)``,
    the centred scatter matrix, from Householder QR of the centred, weighted
    rows (never from the scatter matrix itself). With ``centre=False`` the
    mean is held at zero and R factors ``Z^T S Z``.

    :meth:`merge` combines two factors into the factor of all their rows,
    exactly: the scatter of a union is the two scatters plus the between-
    block term (Chan, Golub & LeVeque 1979),

        C = C_a + C_b + (w_a w_b / w) (m_a - m_b)(m_a - m_b)^T,

    so the merged R is the R of ``[R_a; R_b; sqrt(w_a w_b / w) (m_a - m_b)^T]``
    (one extra row), a (2q + 1) x q QR. The means combine as
    ``m = m_a + (w_b / w)(m_b - m_a)``. Memory is O(q^2) whatever the number
    of rows merged; the order of merging changes only rounding. Merging is
    the combine step of a TSQR reduction tree, so a block-wise (distributed)
    fit can reuse it as it is.
    """

    def __init__(self, weight, mean, R, count, centre=True):
        self.weight, self.mean, self.R, self.count, self.centre = weight, mean, R, count, centre

    @classmethod
    def from_rows(cls, Z, sample_weight=None, centre=True):
        """The factor of the rows of dense ``Z`` (n x q)."""
        Z = np.asarray(Z, dtype=np.float64)
        n, q = Z.shape
        s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        weight = float(s.sum())
        count = int(np.count_nonzero(s))
        if weight <= 0.0:
            return cls(0.0, np.zeros(q), np.zeros((0, q)), 0, centre)
        mean = (s @ Z) / weight if centre else np.zeros(q)
        # R of diag(sqrt(s)) (Z - 1 mean^T), centred and weighted panel by panel
        R = triangular_factor(Z, shift=mean if centre else None,
                              scale=None if sample_weight is None else np.sqrt(s))
        return cls(weight, mean, R, count, centre)

    @classmethod
    def from_gram(cls, gram, weight, mean, count, centre=True):
        """The factor from a (centred, weighted) scatter matrix, for sparse rows.

        ``R = chol(C)`` is an R factor of the rows when C is definite; where
        it is not (fewer rows than columns, dependent columns) the columns
        with negligible pivots get zero rows (:func:`cholesky_drop`), which
        keeps ``R^T R = C`` to rounding. The relative error is that of the
        scatter matrix, ``kappa^2 u``: not QR-class, the price of not
        densifying sparse rows.
        """
        q = gram.shape[0]
        if weight <= 0.0:
            return cls(0.0, np.zeros(q), np.zeros((0, q)), 0, centre)
        R, _ = cholesky_drop(gram, tau=_EPS)
        return cls(float(weight), mean, R, count, centre)

    def merge(self, other):
        """The factor of the rows of ``self`` and ``other`` together."""
        if other.weight <= 0.0:
            return self
        if self.weight <= 0.0:
            return other
        weight = self.weight + other.weight
        blocks = [self.R, other.R]
        if self.centre:
            delta = other.mean - self.mean
            mean = self.mean + (other.weight / weight) * delta
            # sqrt(w_a w_b / w) (m_a - m_b): the between-block scatter as one row.
            blocks.append(np.sqrt(self.weight * other.weight / weight) * delta[None, :])
        else:
            mean = self.mean
        R = triangular_factor(np.vstack(blocks))
        return CentredFactor(weight, mean, R, self.count + other.count, self.centre)

    def square(self, q=None):
        """R padded with zero rows to a square q x q triangle."""
        q = self.R.shape[1] if q is None else q
        R = np.zeros((q, q))
        R[: self.R.shape[0]] = self.R
        return R
