"""Unit tests of skscratch._linalg against LAPACK-backed oracles.

Every function of the module is checked against numpy.linalg / scipy.linalg
(which call LAPACK): norms, reflectors, blocked QR, pivoted QR, triangular
solves, Cholesky and the least-squares drivers.

Tolerances: u = 2.2e-16 is the unit roundoff. Each tolerance is stated next to
the assertion with its reason: a backward-stable factorization has relative
error about (modest multiple of n) * u * kappa, and the test matrices are
built with a known condition number kappa so that the bound can be evaluated.
Any algorithmic mistake (a wrong reflector, a wrong block coupling, a wrong
pivot) gives errors of order one, far above every tolerance used here.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_limits

from skscratch._linalg import (
    CholeskyQR2,
    GramCholesky,
    SemiNormal,
    SingularMatrixError,
    apply_qt,
    apply_reflectors,
    cholesky,
    default_rcond,
    householder_qr,
    householder_vector,
    lstsq,
    pivoted_qr,
    solve_triangular,
    upper_from_transposed,
    vector_norm,
)

EPS = np.finfo(np.float64).eps


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Run this module's BLAS/LAPACK calls on one thread.

    The matrices here are small (at most 1000 x 50); the LAPACK oracles (SVD,
    full QR) on them are long chains of small threaded BLAS calls, and on a
    busy 2-core machine every thread hand-off can wait a scheduler time
    slice: a 300 x 100 SVD measured 0.01 s on one thread and up to 1 s on
    two. Threads change no result these tests check.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _orthonormal(n, k, rng):
    """n x k matrix with orthonormal columns (Q of a Gaussian matrix)."""
    return scipy.linalg.qr(rng.standard_normal((n, k)), mode="economic")[0]


def _with_singular_values(m, n, s, rng):
    """m x n matrix U diag(s) V^T with random orthonormal U, V (len(s) <= min(m, n))."""
    k = len(s)
    return (_orthonormal(m, k, rng) * s) @ _orthonormal(n, k, rng).T


def _conditioned(m, n, rng, kappa=10.0):
    """Full-rank m x n matrix whose singular values are logspaced in [1/kappa, 1]."""
    k = min(m, n)
    return _with_singular_values(m, n, np.logspace(0, -np.log10(kappa), k), rng)


def _low_rank(m, n, r, rng):
    """m x n product of thin Gaussian factors: rank r with probability one."""
    return rng.standard_normal((m, r)) @ rng.standard_normal((r, n))


def _transposed(A):
    """Transposed, C-contiguous storage that householder_qr works on."""
    return np.array(A.T, dtype=np.float64, order="C")


def _row_signs(R):
    """+-1 per row making the diagonal of R non-negative (QR is unique up to these)."""
    d = np.sign(np.diag(R)).astype(float)
    d[d == 0] = 1.0
    return d


def _rel(a, b):
    """Max-entry error of a relative to the largest entry of b."""
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(float).tiny)


def _norm_by_power_of_two(x):
    """||x||_2 by numpy, after an exact rescaling by a power of two.

    np.linalg.norm itself overflows to inf on 1e200 entries (it forms x @ x);
    multiplying by 2**e is exact in floating point, so this oracle has the
    accuracy of np.linalg.norm on an ordinary vector.
    """
    top = np.max(np.abs(x))
    if top == 0.0:
        return 0.0
    e = np.frexp(top)[1]
    return float(np.ldexp(np.linalg.norm(np.ldexp(x, -e)), e))


def _assert_no_runtime_warning(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return func(*args, **kwargs)


# ---------------------------------------------------------------------------
# vector_norm
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0, 1e200, 1e-200, 1e-310])
@pytest.mark.parametrize("size", [1, 2, 10, 1000])
def test_vector_norm_matches_numpy(scale, size):
    rng = np.random.default_rng(size)
    x = rng.standard_normal(size) * scale
    # The overflow warning of the huge case is test_vector_norm_emits_no_warning's
    # concern; here only the value is checked.
    with np.errstate(over="ignore"):
        got = vector_norm(x)
    expected = _norm_by_power_of_two(x)
    # Both sides sum `size` squares whose roundings differ (x / max|x| is not
    # an exact scaling): a random walk of ~sqrt(size) roundings, so
    # 4 sqrt(size) u (1e-15 for 10 entries, 3e-14 for 1000; measured <= 2u).
    # A result in the subnormal range (the 1e-310 case) is itself rounded to
    # a multiple of the smallest subnormal, hence the absolute part. Any lost
    # scaling gives inf, 0 or an error of order one.
    tiny = np.finfo(np.float64).smallest_subnormal
    assert got == pytest.approx(expected, rel=4 * EPS * np.sqrt(size), abs=2 * tiny)
    if scale == 1.0:
        # The ordinary case is np.linalg.norm's own computation: one rounding
        # per operation in each, so they agree to a couple of ulps (4u).
        assert got == pytest.approx(np.linalg.norm(x), rel=4 * EPS, abs=0.0)


def test_vector_norm_mixed_magnitudes():
    # 1e200 dominates: the exact norm is 1e200 * sqrt(1 + 1e-400 + ...) = 1e200
    # to within u; 1e-200 squared underflows and must not poison the result.
    x = np.array([1e-200, -1e200, 1.0, 0.0])
    with np.errstate(over="ignore"):
        got = vector_norm(x)
    # One division by the scale and one sqrt: a couple of roundings (4u).
    assert got == pytest.approx(1e200, rel=4 * EPS, abs=0.0)


def test_vector_norm_zeros_and_empty():
    assert vector_norm(np.zeros(7)) == 0.0
    assert vector_norm(np.zeros(0)) == 0.0
    assert vector_norm(np.array([-0.0])) == 0.0


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_vector_norm_emits_no_warning(scale):
    # vector_norm promises a norm "without overflow"; getting the right value
    # after an internal overflow is fine only if the overflow stays internal.
    # A RuntimeWarning leaks it to every caller (and the project's pytest
    # configuration turns RuntimeWarnings raised in skscratch into errors).
    x = np.full(10, scale)
    got = _assert_no_runtime_warning(vector_norm, x)
    # sqrt(10) * scale up to the roundings of scale, divide, dot and sqrt (4u).
    assert got == pytest.approx(np.sqrt(10.0) * scale, rel=4 * EPS, abs=0.0)


# ---------------------------------------------------------------------------
# householder_vector
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0, 1e200, 1e-200])
@pytest.mark.parametrize("size", [2, 5, 50])
@pytest.mark.parametrize("first_sign", [1.0, -1.0])
def test_householder_vector_reflects_onto_e1(scale, size, first_sign):
    rng = np.random.default_rng(size)
    x = rng.standard_normal(size)
    x[0] = first_sign * abs(x[0])
    x *= scale
    with np.errstate(over="ignore"):  # the overflow warning is tested apart
        v_tail, tau, beta = householder_vector(x)
    v = np.concatenate([[1.0], v_tail])
    H = np.eye(size) - tau * np.outer(v, v)
    norm_x = _norm_by_power_of_two(x)
    # tau and v carry a few roundings each, so H is orthogonal to a few u
    # (entries of H^T H - I are sums of `size` terms): 20u covers size 50.
    assert np.max(np.abs(H.T @ H - np.eye(size))) < 20 * EPS
    # H x = beta e1: the tail vanishes to the rounding of the product H x,
    # about size * u * ||x||; 100u covers size 50 with margin.
    Hx = H @ x
    assert np.max(np.abs(Hx[1:])) < 100 * EPS * norm_x
    assert Hx[0] == pytest.approx(beta, rel=100 * EPS, abs=0.0)
    # |beta| = ||x||: hypot of two accurately computed numbers (4u).
    assert abs(beta) == pytest.approx(norm_x, rel=4 * EPS, abs=0.0)
    # The sign of beta is opposite to x[0], so x[0] - beta never cancels.
    assert np.sign(beta) == -np.sign(x[0])
    # tau = 1 - x[0]/beta lies in [1, 2] for this choice of sign (dlarfg).
    assert 1.0 <= tau <= 2.0


@pytest.mark.parametrize("scale", [1e-300, 1e-315])
def test_householder_vector_orthogonal_on_subnormal_input(scale):
    # Without dlarfg's rescaling, 1 / (alpha - beta) on subnormals keeps only
    # a few digits and H^T H - I grows to ~1e-9. With it, v and tau come from
    # an exactly scaled copy and H is orthogonal to working precision.
    x = np.random.default_rng(0).standard_normal(6) * scale
    v_tail, tau, beta = householder_vector(x)
    v = np.concatenate([[1.0], v_tail])
    H = np.eye(6) - tau * np.outer(v, v)
    assert np.max(np.abs(H.T @ H - np.eye(6))) < 20 * EPS
    assert np.sign(beta) == -np.sign(x[0])


@pytest.mark.parametrize("first", [3.0, -3.0, 0.0, 1e-200, -1e200])
@pytest.mark.parametrize("size", [1, 4])
def test_householder_vector_already_on_e1(first, size):
    x = np.zeros(size)
    x[0] = first
    v_tail, tau, beta = householder_vector(x)
    # Nothing to annihilate: H = I, beta is x[0] itself, exactly.
    assert tau == 0.0
    assert beta == first
    assert v_tail.shape == (size - 1,)
    assert np.all(v_tail == 0.0)


# ---------------------------------------------------------------------------
# householder_qr, apply_qt, apply_reflectors, upper_from_transposed
# ---------------------------------------------------------------------------

# (rows, cols, block_size): several blocks of 64 with recursive panels
# (width 64 > the leaf width 8), leaf-only blocks of 5, recursive panels of 20
# and 37 that split unevenly, tall, square, wide and degenerate shapes.
QR_SHAPES = [
    (300, 150, 64),
    (40, 23, 5),
    (40, 23, 20),
    (23, 40, 5),
    (50, 50, 64),
    (100, 90, 37),
    (90, 100, 37),
    (130, 130, 64),
    (7, 3, 64),
    (1, 5, 64),
    (5, 1, 64),
]


def _factor(A, block_size):
    At = _transposed(A)
    taus, blocks = householder_qr(At, block_size=block_size)
    return At, taus, blocks


@pytest.mark.parametrize("m, n, block_size", QR_SHAPES)
def test_householder_qr_R_matches_scipy(m, n, block_size):
    rng = np.random.default_rng(m + 1000 * n)
    A = _conditioned(m, n, rng, kappa=10.0)
    At, taus, blocks = _factor(A, block_size)
    k = min(m, n)
    assert taus.shape == (k,)
    assert blocks[0][0] == 0 and blocks[-1][1] == k
    R = upper_from_transposed(At, k, n)
    R_ref = scipy.linalg.qr(A, mode="r")[0][:k]
    # R is unique up to the signs of its rows; fix them by the diagonal.
    # QR is backward stable and R's condition number is kappa = 10, so R's
    # forward error is ~ n u kappa ~ 3e-13 in the worst case (n = 150),
    # ~ sqrt(n) u kappa ~ 3e-14 typically; 1e-12 is above the worst case.
    assert _rel(_row_signs(R)[:, None] * R, _row_signs(R_ref)[:, None] * R_ref) < 1e-12


@pytest.mark.parametrize("m, n, block_size", QR_SHAPES)
def test_householder_qr_Q_is_orthogonal_and_reconstructs(m, n, block_size):
    rng = np.random.default_rng(m + 1000 * n + 1)
    A = rng.standard_normal((m, n))
    At, taus, blocks = _factor(A, block_size)
    k = min(m, n)
    R = upper_from_transposed(At, k, n)
    Q = apply_reflectors(At, taus, np.eye(m), transpose=False)
    # A product of k reflectors is orthogonal to ~ k u; k <= 150 -> 3e-14,
    # 1e-13 leaves margin (measured ~1e-15).
    assert np.max(np.abs(Q.T @ Q - np.eye(m))) < 1e-13
    # Householder QR is backward stable with normwise error ~ n u ||A||
    # independent of kappa: <= 3e-14 for n = 150; 1e-13 as asked.
    assert np.linalg.norm(Q[:, :k] @ R - A) / np.linalg.norm(A) < 1e-13
    # The blocked route (apply_qt with the compact WY factors, on B = I in
    # transposed storage) builds the same Q as the one-reflector-at-a-time
    # route: both are k reflections of I, each ~ u, so they agree to ~ k u.
    # Bt = I is B = I in transposed storage; the result (Q^T I)^T is Q.
    Q_blocked = apply_qt(At, blocks, np.eye(m))
    assert np.max(np.abs(Q_blocked - Q)) < 1e-13
    # Transposing: Q^T applied one reflector at a time recovers the identity.
    QtQ = apply_reflectors(At, taus, Q.copy(), transpose=True)
    assert np.max(np.abs(QtQ - np.eye(m))) < 1e-13


@pytest.mark.parametrize("m, n, block_size", QR_SHAPES)
def test_apply_qt_matches_scipy_q(m, n, block_size):
    rng = np.random.default_rng(m + 1000 * n + 2)
    A = _conditioned(m, n, rng, kappa=10.0)
    B = rng.standard_normal((m, 3))
    At, taus, blocks = _factor(A, block_size)
    k = min(m, n)
    R = upper_from_transposed(At, k, n)
    Bt = np.array(B.T, order="C")
    C = apply_qt(At, blocks, Bt).T
    Q_ref, R_ref = scipy.linalg.qr(A)
    # Align the signs of the first k columns of the two Q factors.
    signs = _row_signs(R) * _row_signs(R_ref[:k])
    expected_top = signs[:, None] * (Q_ref[:, :k].T @ B)
    # Q's first k columns are as well conditioned as R (kappa = 10): their
    # forward error ~ n u kappa ~ 3e-13 worst case; relative to ||B||.
    assert np.max(np.abs(C[:k] - expected_top)) < 1e-12 * np.max(np.abs(B))
    if m > k:
        # The last m - k columns of Q are any basis of the complement of
        # range(A): only the norm of each projected column is determined.
        # Orthogonal transforms keep norms to ~ m u: 1e-12 relative.
        got = np.linalg.norm(C[k:], axis=0)
        ref = np.linalg.norm(Q_ref[:, k:].T @ B, axis=0)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("m, n, block_size", [(20, 30, 8), (12, 40, 5), (30, 31, 64), (7, 9, 2)])
def test_householder_qr_wide_applies_qt_to_trailing_columns(m, n, block_size):
    # A wide matrix: the first m columns are factored, the trailing n - m
    # columns receive Q^T and become the rest of the upper trapezoid R.
    # Rejects a factorization that skips the trailing update (C = A2) or
    # applies a stale block (wrong coupling: errors O(1)).
    rng = np.random.default_rng(m + n)
    A = _conditioned(m, n, rng, kappa=10.0)
    At = _transposed(A)
    taus, blocks = householder_qr(At, block_size=block_size)
    k = m
    assert taus.shape == (k,)
    M = At.T.copy()  # Q^T A: R in the first m columns, Q^T A2 after
    for j in range(k):
        M[j + 1:, j] = 0.0  # drop the reflector tails stored below R
    Q = apply_reflectors(At, taus, np.eye(m), transpose=False)
    # Backward stability, as in the full factorization: ~ n u ||A|| -> 1e-13.
    assert np.linalg.norm(Q @ M - A) / np.linalg.norm(A) < 1e-13
    Q_ref, R_ref = scipy.linalg.qr(A[:, :k])
    signs = _row_signs(M[:, :k]) * _row_signs(R_ref)
    # Condition of the factored columns <= 10: forward error ~ n u kappa, 1e-12.
    assert _rel(signs[:, None] * M[:, :k], R_ref) < 1e-12
    assert np.max(np.abs(signs[:, None] * M[:, k:] - Q_ref.T @ A[:, k:])) < 1e-12


# ---------------------------------------------------------------------------
# pivoted_qr
# ---------------------------------------------------------------------------


def _pivoted(A, rcond=None):
    m, n = A.shape
    if rcond is None:
        rcond = default_rcond(m, n)
    A0 = A.copy()
    Pt, taus, perm, rank = pivoted_qr(A, rcond)
    assert np.array_equal(A, A0)  # the input is never modified
    assert sorted(perm) == list(range(n))
    assert taus.shape == (rank,)
    return Pt, taus, perm, rank


def _distinct_norms(m, n, rng):
    """Gaussian matrix with column norms spread over three decades, in random order."""
    return rng.standard_normal((m, n)) * np.logspace(0, 3, n)[rng.permutation(n)]


@pytest.mark.parametrize("m, n", [(60, 20), (20, 60), (30, 30), (5, 1), (1, 5)])
@pytest.mark.parametrize("seed", range(3))
def test_pivoted_qr_matches_scipy(m, n, seed):
    rng = np.random.default_rng(seed)
    A = _distinct_norms(m, n, rng)
    Pt, taus, perm, rank = _pivoted(A)
    k = min(m, n)
    assert rank == k == np.linalg.matrix_rank(A)
    R = upper_from_transposed(Pt, k, n)
    Q_ref, R_ref, perm_ref = scipy.linalg.qr(A, pivoting=True)
    # Column norms differ at every step (random data), so the pivot order is
    # unique and must be LAPACK's dgeqp3 order exactly.
    assert np.array_equal(perm, perm_ref)
    d = np.abs(np.diag(R))
    # |R_jj| is the distance of pivot column j from the span of the earlier
    # ones. With the same pivot order, both backward-stable codes perturb it
    # by about the backward error, n u ||A|| <= n^1.5 u |R_00| = 5e-14 |R_00|
    # (||A|| <= sqrt(n) max column norm): 1e-12 (measured ~2e-16 |R_00|,
    # although kappa(A) reaches 2e5 on these column-scaled matrices).
    assert np.max(np.abs(d - np.abs(np.diag(R_ref)))) < 1e-12 * d[0]
    # Pivoting makes |diag R| non-increasing up to the error of the downdated
    # norm estimates, which dlaqp2's recomputation rule keeps below ~sqrt(u)
    # (1.5e-8) relative: 1e-7.
    assert np.all(d[1:] <= d[:-1] * (1 + 1e-7))
    # (A P)^T (A P) = R^T R: backward stability of R, ~ n u ||A||^2.
    AP = A[:, perm]
    assert np.max(np.abs(AP.T @ AP - R.T @ R)) < 1e-13 * np.linalg.norm(A, 2) ** 2
    # The stored reflectors give a Q with A P = Q R (same ~ n u ||A|| bound).
    Q = apply_reflectors(Pt, taus, np.eye(m), transpose=False)
    assert np.max(np.abs(Q.T @ Q - np.eye(m))) < 1e-13
    assert np.linalg.norm(Q[:, :k] @ R - AP) / np.linalg.norm(A) < 1e-13


@pytest.mark.parametrize("m, n", [(80, 30), (30, 80), (40, 40), (200, 20), (5, 50)])
@pytest.mark.parametrize("r", [0, 1, 2, 5, "min-1"])
def test_pivoted_qr_rank_of_products_of_thin_factors(m, n, r):
    if r == "min-1":
        r = min(m, n) - 1
    for seed in range(3):
        rng = np.random.default_rng(seed)
        A = _low_rank(m, n, r, rng)
        Pt, taus, perm, rank = _pivoted(A)
        # Exact rank r: s_r / s_1 >= 1e-3 while s_(r+1) / s_1 <= 2e-16 on
        # these matrices, on either side of the threshold max(m, n) u
        # (>= 1.1e-14) by 1e10 and by 50.
        assert rank == np.linalg.matrix_rank(A) == r
        d = np.abs(np.diag(upper_from_transposed(Pt, rank, n)))
        # Same non-increasing rule as above (downdated norms within ~sqrt(u)).
        assert np.all(d[1:] <= d[:-1] * (1 + 1e-7))


def test_pivoted_qr_duplicate_and_zero_columns():
    rng = np.random.default_rng(1)
    B = rng.standard_normal((30, 6))
    A = np.column_stack([B, B[:, 0], 2 * B[:, 1], np.zeros(30), B[:, 2] - B[:, 3], np.zeros(30)])
    Pt, taus, perm, rank = _pivoted(A)
    assert rank == np.linalg.matrix_rank(A) == 6
    # A zero column has the smallest norm at every step: never a pivot
    # before the rank is exhausted.
    assert not set(perm[:rank]) & {8, 10}
    # The first rank columns of A P span range(A): their least-squares fit
    # of every column of A leaves a residual at the rounding level (~ n u
    # ||A|| with kappa(B) ~ 3: 1e-12 relative).
    basis = A[:, perm[:rank]]
    coef = scipy.linalg.lstsq(basis, A)[0]
    assert np.linalg.norm(basis @ coef - A) < 1e-12 * np.linalg.norm(A)


@pytest.mark.parametrize("shape", [(1, 1), (7, 4), (4, 7)])
def test_pivoted_qr_zero_matrix(shape):
    Pt, taus, perm, rank = _pivoted(np.zeros(shape))
    assert rank == 0 == np.linalg.matrix_rank(np.zeros(shape))


@pytest.mark.parametrize("delta", [1e-10, 0.0])
@pytest.mark.parametrize("seed", range(4))
def test_pivoted_qr_norm_downdate_cancellation(delta, seed):
    """Nearly parallel columns: the downdated norm cancels and must be recomputed.

    Column 2 = 2.5 a + delta u is the first pivot; column 0 = 2 a keeps only
    ~ delta of its norm 2 after the first step. The downdate
    ||a_l||^2 - R_0l^2 then subtracts two numbers equal to ~16 digits and
    leaves rounding noise (~ sqrt(u) ||a_l|| = 3e-8, not ~ 1e-10), larger
    than the true remaining norms of the other columns (3e-9 and 6e-12):
    without recomputing the norm from the column, the pivot order and the
    rank (where the factorization stops) can come out wrong.
    """
    rng = np.random.default_rng(seed)
    m = 50
    a, u, w = _orthonormal(m, 3, rng).T
    z = rng.standard_normal(m)
    A = np.column_stack([2 * a, 3e-9 * w, 2.5 * a + delta * u, 1e-3 * a + 1e-12 * z])
    Pt, taus, perm, rank = _pivoted(A)
    Q_ref, R_ref, perm_ref = scipy.linalg.qr(A, pivoting=True)
    # The data force the recomputation branch: after the first step,
    # column 0 keeps less than sqrt(u) of its squared norm (measured in
    # LAPACK's factorization), which is where the downdate's drift test fires.
    col = list(perm_ref).index(0)
    remaining = np.linalg.norm(R_ref[1:, col]) / np.linalg.norm(A[:, 0])
    assert remaining**2 < np.sqrt(EPS)
    assert rank == np.linalg.matrix_rank(A)
    assert rank == (4 if delta else 3)
    assert np.array_equal(perm[:rank], perm_ref[:rank])
    # The small diagonal entries (down to ~6e-12) agree with LAPACK's to the
    # backward error of either code, ~ n u ||A|| ~ 3e-14 absolute: 1e-13.
    d = np.abs(np.diag(upper_from_transposed(Pt, rank, 4)))
    assert np.max(np.abs(d - np.abs(np.diag(R_ref))[:rank])) < 1e-13


# ---------------------------------------------------------------------------
# solve_triangular
# ---------------------------------------------------------------------------


def _upper(n, rng):
    """Well-conditioned upper triangle: strong diagonal of random sign (kappa ~ 10)."""
    T = np.triu(rng.standard_normal((n, n)))
    T[np.diag_indices(n)] = np.sqrt(n) * (1 + rng.random(n)) * rng.choice([-1.0, 1.0], n)
    return T


@pytest.mark.parametrize(
    "n, block_size", [(150, 64), (150, 7), (64, 64), (65, 64), (10, 3), (1, 64), (20, 1)]
)
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("ndim", [1, 2])
def test_solve_triangular_matches_scipy(n, block_size, lower, ndim):
    rng = np.random.default_rng(n + block_size)
    U = _upper(n, rng)
    T = np.array(U.T) if lower else U
    assert np.linalg.cond(T) < 30  # precondition for the tolerance below
    B = rng.standard_normal((n, 4)) if ndim == 2 else rng.standard_normal(n)
    X = solve_triangular(T, B, lower=lower, block_size=block_size)
    X_ref = scipy.linalg.solve_triangular(T, B, lower=lower)
    assert X.shape == B.shape
    # Substitution is backward stable, |E| <= n u |T|: forward error
    # <= n u kappa = 150 * 1.1e-16 * 30 = 5e-13 worst case; 1e-12.
    assert _rel(X, X_ref) < 1e-12
    # And the residual itself: |T X - B| <= n u |T| |X| entrywise (backward
    # error, plus the same again for forming T X here): 2 n u = 7e-14; 1e-12.
    assert np.all(np.abs(T @ X - B) <= 1e-12 * (np.abs(T) @ np.abs(X)))


@pytest.mark.parametrize("n, block_size", [(150, 64), (40, 6)])
def test_solve_triangular_transposed_view(n, block_size):
    # The idiom for T^T x = b: pass the transposed view and flip `lower`.
    rng = np.random.default_rng(n)
    U = _upper(n, rng)
    b = rng.standard_normal((n, 3))
    X = solve_triangular(U.T, b, lower=True, block_size=block_size)
    X_ref = scipy.linalg.solve_triangular(U, b, trans="T")
    # Same bound as the direct solve: n u kappa ~ 5e-13 worst case.
    assert _rel(X, X_ref) < 1e-12
    L = np.tril(rng.standard_normal((n, n))) + np.diag(np.full(n, np.sqrt(n)))
    X = solve_triangular(L.T, b, lower=False, block_size=block_size)
    X_ref = scipy.linalg.solve_triangular(L, b, lower=True, trans="T")
    assert _rel(X, X_ref) < 1e-12


@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("where", [0, 37, 69])
def test_solve_triangular_zero_diagonal_raises(lower, where):
    rng = np.random.default_rng(where)
    T = _upper(70, rng)
    if lower:
        T = np.array(T.T)
    T[where, where] = 0.0
    with pytest.raises(SingularMatrixError):
        solve_triangular(T, rng.standard_normal(70), lower=lower, block_size=16)


@pytest.mark.parametrize("lower", [False, True])
def test_solve_triangular_does_not_modify_inputs(lower):
    rng = np.random.default_rng(5)
    T = _upper(90, rng)
    if lower:
        T = np.array(T.T)
    right_hand_sides = (
        rng.standard_normal(90),
        rng.standard_normal((90, 3)),
        np.asfortranarray(rng.standard_normal((90, 2))),
    )
    for B in right_hand_sides:
        T0, B0 = T.copy(), B.copy()
        X = solve_triangular(T, B, lower=lower, block_size=32)
        assert np.array_equal(T, T0)
        assert np.array_equal(B, B0)
        assert not np.shares_memory(X, B)


# ---------------------------------------------------------------------------
# cholesky
# ---------------------------------------------------------------------------


def _spd(n, rng):
    """Gram matrix of a 2n x n Gaussian, scaled: kappa ~ ((sqrt 2 + 1)/(sqrt 2 - 1))^2 ~ 34."""
    G = rng.standard_normal((2 * n, n))
    return G.T @ G / (2 * n)


@pytest.mark.parametrize(
    "n, block_size", [(150, 64), (150, 5), (64, 64), (65, 64), (30, 1), (1, 64), (17, 4)]
)
def test_cholesky_matches_numpy(n, block_size):
    rng = np.random.default_rng(n + block_size)
    A = _spd(n, rng)
    A0 = A.copy()
    assert np.linalg.cond(A) < 100  # precondition for the tolerance below
    R = cholesky(A, block_size=block_size)
    assert np.array_equal(A, A0)
    assert np.all(np.tril(R, -1) == 0.0)
    assert np.all(np.diag(R) > 0)
    R_ref = np.linalg.cholesky(A).T
    # Cholesky is backward stable (~ n u |A|) and kappa(A) < 100 here, so
    # R's forward error <= n u kappa(A) ~ 150 * 1.1e-16 * 100 = 2e-12 worst
    # case, ~1e-15 measured; 1e-12 is at that worst case.
    assert _rel(R, R_ref) < 1e-12
    # R^T R = A: the backward error itself, ~ n u ||A|| = 2e-14; 1e-13.
    assert np.linalg.norm(R.T @ R - A) / np.linalg.norm(A) < 1e-13


@pytest.mark.parametrize("n, block_size", [(20, 64), (100, 16), (100, 64)])
@pytest.mark.parametrize("negative_at", [0, "last"])
def test_cholesky_indefinite_raises(n, block_size, negative_at):
    # A = V diag(lam) V^T has eigenvalue -1 while ||A|| <= 2. Were Cholesky to
    # finish, R^T R = A + E with ||E|| ~ n u ||A|| << 1 would be positive
    # semidefinite: impossible, so breakdown is guaranteed.
    rng = np.random.default_rng(n)
    lam = np.linspace(1.0, 2.0, n)
    lam[0 if negative_at == 0 else -1] = -1.0
    V = _orthonormal(n, n, rng)
    A = (V * lam) @ V.T
    A = (A + A.T) / 2
    assert np.min(np.linalg.eigvalsh(A)) < -0.9  # the oracle agrees it is indefinite
    A0 = A.copy()
    with pytest.raises(SingularMatrixError):
        cholesky(A, block_size=block_size)
    assert np.array_equal(A, A0)


@pytest.mark.parametrize(
    "A",
    [
        np.ones((5, 5)),  # rank one: the second pivot is 1 - 1*1 = 0 exactly
        np.diag([1.0, 0.0, 2.0]),  # a zero pivot
        np.diag([1.0, -1.0]),  # a negative pivot
        np.array([[1.0, np.nan], [np.nan, 1.0]]),  # NaN is not a positive pivot
    ],
    ids=["ones", "zero-pivot", "negative-pivot", "nan"],
)
def test_cholesky_exactly_singular_raises(A):
    with pytest.raises(SingularMatrixError):
        cholesky(A, block_size=2)


@pytest.mark.parametrize("n, r", [(30, 10), (80, 79), (100, 40)])
@pytest.mark.parametrize("seed", range(3))
def test_cholesky_rank_deficient_gram(n, r, seed):
    # A singular PSD Gram of rank r: in floating point the last n - r pivots
    # are rounding noise of either sign, so Cholesky may break down or may
    # finish (both happen among these seeds: (80, 79) mostly finishes, the
    # others break down). Each outcome has its own guarantee, asserted here.
    # Rejects: a wrong blocked trailing update or block-row solve (the
    # reconstruction fails, or a pivot among the first r turns non-positive
    # and the factorization gives up early), and a breakdown test that fires
    # before the rank is exhausted.
    G = np.random.default_rng(seed).standard_normal((n, r))
    A = G @ G.T
    try:
        R = cholesky(A, block_size=16)
    except SingularMatrixError as exc:
        # The leading r x r block is the Gram of r generic rows: positive
        # definite, its smallest pivot far above the rounding noise
        # n u ||A|| ~ 1e-12 ||A||. So the breakdown must come at a pivot i >= r.
        i = int(re.search(r"pivot (\d+)", str(exc)).group(1))
        assert r <= i < n
        return
    # Finished: R^T R reproduces A to the backward error ~ n u ||A|| (1e-13
    # relative), and the trailing pivots are square roots of rounding noise,
    # ~ sqrt(n u ||A||) (measured <= 9e-8 sqrt(||A||_2) at n = 80); 1e-6 is
    # a factor 10 above that, and far below the O(sqrt(||A||)) of a real pivot.
    assert np.linalg.norm(R.T @ R - A) / np.linalg.norm(A) < 1e-13
    assert np.max(np.abs(np.diag(R)[r:])) < 1e-6 * np.sqrt(np.linalg.norm(A, 2))


# ---------------------------------------------------------------------------
# CholeskyQR2
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n, p", [(200, 20), (1000, 50), (64, 64), (30, 1)])
def test_cholesky_qr2_solve_matches_scipy(n, p):
    rng = np.random.default_rng(n + p)
    X = _conditioned(n, p, rng, kappa=10.0)
    Y = rng.standard_normal((n, 3))
    fac = CholeskyQR2.factor(X, GramCholesky.factor(X))
    assert fac is not None
    assert fac.rank == p
    theta = fac.solve(Y)
    theta_ref = scipy.linalg.lstsq(X, Y)[0]
    # CholeskyQR2 is as stable as Householder QR for kappa << u^(-1/2):
    # LS forward error ~ u (kappa + kappa^2 ||r|| / (||X|| ||theta||)) with
    # kappa = 10 and ||r|| ~ ||Y||: ~ 1e-14; 1e-12 as asked.
    assert np.linalg.norm(theta - theta_ref) / np.linalg.norm(theta_ref) < 1e-12
    # Its factors: X = Q1 R1 and R2^T R2 = Q1^T Q1 (the second pass).
    assert np.linalg.norm(fac.Q1 @ fac.R1 - X) / np.linalg.norm(X) < 1e-13
    Q = scipy.linalg.solve_triangular(fac.R2, fac.Q1.T, trans="T").T  # Q = Q1 R2^-1
    # After two passes Q is orthogonal to O(u) (Yamamoto et al. 2015): p u ~ 1e-14.
    assert np.max(np.abs(Q.T @ Q - np.eye(p))) < 1e-13


@pytest.mark.parametrize("seed", range(3))
def test_cholesky_qr2_declines_ill_conditioned(seed):
    rng = np.random.default_rng(seed)
    X = _conditioned(200, 20, rng, kappa=1e10)
    # kappa^2 u = 1e4 >> 1: X^T X is numerically indefinite or Q1 is far from
    # orthogonal; either way the fast path must refuse.
    gram = GramCholesky.factor(X)
    assert gram is None or CholeskyQR2.factor(X, gram) is None


def _rank_deficient_tall(kind, rng):
    if kind == "product":
        return _low_rank(200, 20, 15, rng)
    X = rng.standard_normal((200, 20))
    if kind == "duplicate":
        X[:, 7] = X[:, 3]
    elif kind == "zero-column":
        X[:, 5] = 0.0
    elif kind == "combination":
        X[:, 0] = X[:, 1] - 3 * X[:, 2]
    return X


@pytest.mark.parametrize("kind", ["product", "duplicate", "zero-column", "combination"])
def test_cholesky_qr2_declines_rank_deficient(kind):
    for seed in range(3):
        X = _rank_deficient_tall(kind, np.random.default_rng(seed))
        # Neither fast path may accept: the Gram matrix is numerically
        # singular, or its Cholesky factor has a last pivot ~ sqrt(u) ||X||,
        # so kappa_F ~ 1e8 is beyond the semi-normal bound and CholeskyQR2's
        # orthogonality check (kappa^2 u ~ 1) or the rank threshold refuses.
        gram = GramCholesky.factor(X)
        if gram is not None:
            assert gram.kappa_f > SemiNormal.max_kappa
            assert gram.kappa_f * default_rcond(*X.shape) >= 1.0 or CholeskyQR2.factor(X, gram) is None
        # The rank-deficient Gram path takes them instead, certified.
        assert lstsq(X, np.ones((X.shape[0], 1)))[2] == "gram_cod"


# ---------------------------------------------------------------------------
# HouseholderQR and lstsq: minimum-norm least squares
# ---------------------------------------------------------------------------

# (n, p, r): rank-deficient tall / wide / square, multi-block stage 1, single
# row, single column, full row rank (wide), full column rank (tall).
LSTSQ_CASES = [
    (80, 20, 7),
    (20, 80, 7),
    (30, 30, 10),
    (300, 100, 60),
    (200, 20, 19),
    (1, 6, 1),
    (60, 1, 1),
    (12, 50, 12),
    (50, 12, 12),
]


@pytest.mark.parametrize("n, p, r", LSTSQ_CASES)
@pytest.mark.parametrize("solver", ["auto", "householder"])
def test_lstsq_minimum_norm_matches_pinv_and_gelsd(n, p, r, solver):
    rng = np.random.default_rng(n + 7 * p + r)
    # Nonzero singular values logspaced in [0.1, 1]: the effective condition
    # number is 10 however many zero singular values there are.
    X = _with_singular_values(n, p, np.logspace(0, -1, r), rng)
    Y = rng.standard_normal((n, 3))  # inconsistent: a residual of order ||Y||
    X0, Y0 = X.copy(), Y.copy()
    theta, rank, name = lstsq(X, Y, solver=solver)
    assert np.array_equal(X, X0) and np.array_equal(Y, Y0)
    assert theta.shape == (p, 3)
    assert rank == np.linalg.matrix_rank(X) == r
    # Minimum-norm LS is well posed once the rank is fixed; its forward error
    # ~ u (kappa + kappa^2 ||r|| / (||X|| ||theta||)) with kappa = 10 and the
    # residual of order ||Y||: ~ 1e-14 (measured <= 1e-14); 1e-12.
    assert _rel(theta, np.linalg.pinv(X) @ Y) < 1e-12
    assert _rel(theta, scipy.linalg.lstsq(X, Y, lapack_driver="gelsd")[0]) < 1e-12
    # Minimum norm <=> theta orthogonal to the null space of X. The null-space
    # components of theta are rounding: ~ p u ||theta||; 1e-13.
    N = scipy.linalg.null_space(X)
    assert N.shape[1] == p - r
    if N.size:
        assert np.max(np.abs(N.T @ theta)) < 1e-13 * np.linalg.norm(theta)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (1, 1), (1, 4), (40, 40)])
@pytest.mark.parametrize("solver", ["auto", "householder"])
def test_lstsq_all_zero_X(shape, solver):
    X = np.zeros(shape)
    Y = np.random.default_rng(0).standard_normal((shape[0], 2))
    theta, rank, name = lstsq(X, Y, solver=solver)
    assert rank == 0
    assert name == "householder"
    assert theta.shape == (shape[1], 2)
    # The minimum-norm solution of 0 theta ~= Y is exactly zero.
    assert np.all(theta == 0.0)


def test_lstsq_empty_dimensions():
    # No features: the solution is the empty (0, k) matrix; no samples: every
    # theta fits, the shortest is zero. pinv gives the same.
    theta, rank, _ = lstsq(np.zeros((5, 0)), np.ones((5, 2)))
    assert theta.shape == (0, 2) and rank == 0
    theta, rank, _ = lstsq(np.zeros((0, 3)), np.ones((0, 2)))
    assert rank == 0
    assert np.array_equal(theta, np.linalg.pinv(np.zeros((0, 3))) @ np.ones((0, 2)))


@pytest.mark.parametrize("n, p", [(200, 20), (100, 100), (500, 64), (65, 65)])
def test_lstsq_solvers_agree_on_well_conditioned(n, p):
    rng = np.random.default_rng(n * p)
    X = _conditioned(n, p, rng, kappa=10.0)
    Y = rng.standard_normal((n, 2))
    theta_auto, rank_auto, name_auto = lstsq(X, Y, solver="auto")
    theta_hh, rank_hh, name_hh = lstsq(X, Y, solver="householder")
    assert (name_auto, name_hh) == ("seminormal", "householder")
    assert rank_auto == rank_hh == p
    # Two backward-stable solvers on kappa = 10: each within ~1e-14 of the
    # exact solution (kappa^2 u ||r||/(||X|| ||theta||) ~ 1e-14); 1e-12.
    assert _rel(theta_auto, theta_hh) < 1e-12
    assert _rel(theta_hh, scipy.linalg.lstsq(X, Y)[0]) < 1e-12


def test_lstsq_solver_names():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((200, 1))
    good = _conditioned(200, 20, rng, kappa=10.0)
    assert lstsq(good, Y)[2] == "seminormal"
    assert lstsq(_conditioned(200, 20, rng, kappa=1e6), Y)[2] == "cholesky_qr2"
    assert lstsq(good, Y, solver="householder")[2] == "householder"
    assert lstsq(_conditioned(200, 20, rng, kappa=1e10), Y)[2] == "householder"
    assert lstsq(_low_rank(200, 20, 5, rng), Y)[2] == "gram_cod"
    assert lstsq(_low_rank(200, 20, 5, rng), Y, solver="householder")[2] == "householder"
    wide = _conditioned(20, 200, rng, kappa=10.0)  # n < p: never CholeskyQR2
    assert lstsq(wide, rng.standard_normal((20, 1)))[2] == "householder"


@pytest.mark.parametrize("n, p", [(100, 10), (10, 30)])
@pytest.mark.parametrize("solver", ["auto", "householder"])
@pytest.mark.parametrize("small, rcond", [(1e-9, 1e-6), (1e-6, 1e-3)])
def test_lstsq_rcond_sets_the_numerical_rank(n, p, solver, small, rcond):
    # Singular values 1..2 and three at `small` < rcond: rcond cuts the three.
    # With small = 1e-6, kappa^2 u = 1e-4 passes CholeskyQR2's orthogonality
    # check: only its rcond check can send the problem to the rank-revealing
    # path, as it must.
    rng = np.random.default_rng(n + p)
    k = min(n, p)
    s = np.concatenate([np.linspace(2, 1, k - 3), [small] * 3])
    X = _with_singular_values(n, p, s, rng)
    Y = rng.standard_normal((n, 2))
    theta, rank, name = lstsq(X, Y, rcond=rcond, solver=solver)
    assert rank == np.linalg.matrix_rank(X, tol=rcond * s[0]) == k - 3
    # Tall X with a well-conditioned kept part: the certified Gram path.
    assert name == ("gram_cod" if solver == "auto" and n >= p else "householder")
    # Truncated QR and truncated SVD drop slightly different subspaces: their
    # solutions differ by O(s_(r+1) / s_r) = `small` times modest factors
    # (measured <= 0.3 x small); 10 x small.
    assert _rel(theta, np.linalg.pinv(X, rtol=rcond) @ Y) < 10 * small


@pytest.mark.parametrize(
    "cond, expected_name", [(1e4, "seminormal"), (1e6, "cholesky_qr2"), (1e10, "householder")]
)
def test_lstsq_accuracy_ill_conditioned_consistent(cond, expected_name):
    ratios = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        X = _conditioned(200, 20, rng, kappa=cond)
        theta_true = rng.standard_normal((20, 1))
        y = X @ theta_true
        theta, rank, name = lstsq(X, y)
        assert name == expected_name
        assert rank == 20
        err = np.linalg.norm(theta - theta_true) / np.linalg.norm(theta_true)
        err_ref = np.linalg.norm(scipy.linalg.lstsq(X, y)[0] - theta_true) / np.linalg.norm(theta_true)
        ratios.append(err / err_ref)
    # Both are backward stable, error ~ kappa u up to constants; the constant
    # differs by a few (measured max 6.2 at 1e10 over 20 seeds): at most 10x.
    assert max(ratios) <= 10.0, ratios


def _lstsq_extended_precision(X, y):
    """Reference LS solution by the normal equations in long double.

    x87 long double has u = 5.4e-20; with kappa(X)^2 <= 1e10 its error is
    <= 1e10 * 5.4e-20 ~ 1e-9 relative, far below the float64 errors under
    test (>= 1e-14 * kappa^2 ||r|| / ...). Float64 references are no use for
    large residuals: their own error is of the size being measured.
    """
    Xl = X.astype(np.longdouble)
    G = Xl.T @ Xl
    b = Xl.T @ y.astype(np.longdouble)
    p = G.shape[0]
    L = np.zeros_like(G)
    for j in range(p):
        L[j, j] = np.sqrt(G[j, j] - L[j, :j] @ L[j, :j])
        L[j + 1:, j] = (G[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    z = np.zeros_like(b)
    for i in range(p):
        z[i] = (b[i] - L[i, :i] @ z[:i]) / L[i, i]
    x = np.zeros_like(b)
    for i in reversed(range(p)):
        x[i] = (z[i] - L[i + 1:, i] @ x[i + 1:]) / L[i, i]
    return x.astype(np.float64)


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="needs 80-bit long double")
@pytest.mark.parametrize(
    "cond, expected_name", [(10.0, "seminormal"), (1e4, "seminormal"), (1e6, "cholesky_qr2")]
)
def test_lstsq_accuracy_large_residual(cond, expected_name):
    # y = X theta + noise as large as X theta: the kappa^2 u ||r|| term of the
    # LS sensitivity dominates. Every path must stay within 10x of LAPACK's
    # error, measured against an extended-precision reference (measured:
    # within 2.5x; the semi-normal equations would be ~1e3x off without
    # their correction step).
    ratios = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        X = _conditioned(300, 20, rng, kappa=cond)
        signal = X @ rng.standard_normal(20)
        y = (signal + rng.standard_normal(300) * np.linalg.norm(signal) / np.sqrt(300))[:, None]
        exact = _lstsq_extended_precision(X, y)
        theta, rank, name = lstsq(X, y)
        assert name == expected_name
        err = np.linalg.norm(theta - exact) / np.linalg.norm(exact)
        err_ref = np.linalg.norm(scipy.linalg.lstsq(X, y)[0] - exact) / np.linalg.norm(exact)
        ratios.append(err / err_ref)
    assert max(ratios) <= 10.0, ratios


def test_normal_equations_fail_where_lstsq_does_not():
    # kappa(X^T X) = kappa(X)^2 = 1e20 > 1/u: the normal equations lose every
    # digit, while a QR-based solver keeps ~ kappa u = 1e-6 relative accuracy.
    for seed in range(10):
        rng = np.random.default_rng(seed)
        X = _conditioned(200, 20, rng, kappa=1e10)
        theta_true = rng.standard_normal((20, 1))
        y = X @ theta_true
        theta, _, _ = lstsq(X, y)
        normal = np.linalg.solve(X.T @ X, X.T @ y)

        def err(t):
            return np.linalg.norm(t - theta_true) / np.linalg.norm(theta_true)

        assert err(normal) > 1e-3
        assert err(theta) < 1e-5


@pytest.mark.parametrize("scale", [2.0**530, 2.0**-530], ids=["2**530", "2**-530"])
@pytest.mark.parametrize("solver", ["auto", "householder"])
def test_lstsq_extreme_scale_value(scale, solver):
    # Scaling X by a power of two is exact and scales theta by its inverse.
    # ~3.5e159 squares to inf, ~2.9e-160 to a subnormal: X^T X is unusable.
    rng = np.random.default_rng(0)
    X = _conditioned(50, 5, rng, kappa=10.0)
    Y = rng.standard_normal((50, 2))
    with np.errstate(all="ignore"):  # the warnings are tested apart
        theta, rank, _ = lstsq(X * scale, Y, solver=solver)
    assert rank == 5
    # kappa = 10, as in the unscaled comparisons: 1e-12.
    assert _rel(theta * scale, scipy.linalg.lstsq(X, Y)[0]) < 1e-12


@pytest.mark.parametrize("scale", [2.0**530, 2.0**-530], ids=["2**530", "2**-530"])
@pytest.mark.parametrize("solver", ["auto", "householder"])
def test_lstsq_extreme_scale_emits_no_warning(scale, solver):
    # Well-scaled data give no RuntimeWarning; badly scaled but perfectly
    # solvable data must not either (the fallback is meant to be silent).
    rng = np.random.default_rng(0)
    X = _conditioned(50, 5, rng, kappa=10.0) * scale
    Y = rng.standard_normal((50, 2))
    _assert_no_runtime_warning(lstsq, X, Y, solver=solver)
