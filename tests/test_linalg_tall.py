"""The R-only factorization of tall blocks: local TSQR over panels, in parallel.

``triangular_factor`` (and ``CentredFactor.from_rows`` on top of it) splits a
tall block into panels, factors them on threads with a single-threaded BLAS
and merges the stacked R's. Here the panel size is shrunk (monkeypatched) so
that small matrices take every path: several panels, the periodic fold of
the stacked R's, the thread pool, centring and weighting done on the
transposed copy.

Oracles: LAPACK's R (``scipy.linalg.qr``, unique up to the signs of its
rows), LAPACK's singular values, and the explicitly centred and weighted
matrix. u = 2.2e-16.
"""

import threading
import warnings

import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_info, threadpool_limits

import skscratch._linalg as la
from skscratch._linalg import CentredFactor, householder_qr, one_blas_thread, triangular_factor

EPS = np.finfo(np.float64).eps


def _signs(R):
    d = np.sign(np.diag(R)).astype(float)
    d[d == 0] = 1.0
    return d[:, None]


def _rel(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(float).tiny)


def _with_singular_values(m, s, rng):
    """m x len(s) matrix U diag(s) V^T with random orthonormal U, V."""
    q = len(s)
    U = scipy.linalg.qr(rng.standard_normal((m, q)), mode="economic")[0]
    V = scipy.linalg.qr(rng.standard_normal((q, q)))[0]
    return (U * s) @ V.T


@pytest.fixture
def small_panels(monkeypatch):
    """Panels of max(16 q, 4096 // q) rows, and a fold every 3 panels."""
    monkeypatch.setattr(la, "_PANEL_ENTRIES", 2**12)
    monkeypatch.setattr(la, "_FOLD", 3)


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


# (rows, columns): 5000 x 7 is 8 panels of 625 rows (three folds); 3000 x 20
# is 9 panels of 333 rows; 3000 x 70 is 2 panels of 1500 rows, wider than one
# block of householder_qr (the trailing update with T runs, the last T not).
TALL = [(5000, 7), (3000, 20), (3000, 70)]


@pytest.mark.parametrize("m, q", TALL)
def test_panels_give_lapacks_r(small_panels, m, q):
    # kappa = 10: R's forward error ~ q u kappa per entry (tests/test_linalg.py
    # uses the same 1e-12 for householder_qr). Rejects a panel left out of the
    # merge or factored twice (bounds off by one panel: R^T R off by a
    # panel's scatter, O(1)), a fold that drops the R carried over (O(1)), and
    # a wrong reflector anywhere (O(1)).
    rng = np.random.default_rng(m + q)
    A = _with_singular_values(m, np.logspace(0, -1, q), rng)
    R = triangular_factor(A)
    ref = scipy.linalg.qr(A, mode="r")[0][:q]
    assert R.shape == (q, q)
    assert np.all(R[np.tril_indices(q, -1)] == 0.0)
    assert _rel(_signs(R) * R, _signs(ref) * ref) < 1e-12


@pytest.mark.parametrize("m, q", TALL)
def test_panels_are_backward_stable_at_any_condition(small_panels, m, q):
    # kappa = 1e12. A backward-stable R is the exact R of A + E with
    # ||E|| ~ u ||A||, so (Weyl) every singular value of R is within ~u ||A||
    # of A's, the smallest (1e-12) included: bar 1e-13 ||A|| (~450 u), with
    # LAPACK's SVD, itself backward stable, as the oracle. And
    # ||R^T R - A^T A|| <= ~2 ||E|| ||A||: 1e-13 ||A||^2 as well.
    # Rejects R from the normal equations (Cholesky of A^T A, also "CholeskyQR"):
    # A^T A rounded at u ||A||^2 = 2e-16 swamps sigma_min^2 = 1e-24, so
    # sigma_min(R) is off by ~1e-8 or the Cholesky breaks down.
    rng = np.random.default_rng(m * q)
    s = np.logspace(0, -12, q)
    A = _with_singular_values(m, s, rng)
    R = triangular_factor(A)
    sv_ref = scipy.linalg.svdvals(A)
    sv = scipy.linalg.svdvals(R)
    assert np.max(np.abs(sv - sv_ref)) < 1e-13 * sv_ref[0]
    assert np.max(np.abs(R.T @ R - A.T @ A)) < 1e-13 * sv_ref[0] ** 2


@pytest.mark.parametrize("weighted", [False, True])
def test_panels_centre_and_weight_each_row(small_panels, weighted):
    # The rows factored are scale_i (M_i - shift), panel by panel on the
    # transposed copy; the oracle forms the whole matrix first. Columns with
    # means far from zero (1e3) and a kappa ~ 10 centred part: 1e-12 relative
    # (forward error q u kappa; the centring itself is exact to u |mean|,
    # i.e. 1e-13 of R's entries). Rejects weighting before centring
    # (s_i M_i - shift: O(1)), every panel weighted with the first panel's
    # weights (O(1)), and centring skipped after the first panel (O(1e3)).
    rng = np.random.default_rng(7)
    m, q = 4000, 9
    M = rng.standard_normal((m, q)) * rng.uniform(1, 3, q) + rng.uniform(-1e3, 1e3, q)
    shift = M.mean(axis=0)
    scale = rng.uniform(0.1, 2.0, m) if weighted else None
    R = triangular_factor(M, shift=shift, scale=scale)
    explicit = (M - shift) * (scale[:, None] if weighted else 1.0)
    ref = scipy.linalg.qr(explicit, mode="r")[0][:q]
    assert _rel(_signs(R) * R, _signs(ref) * ref) < 1e-12


def test_centred_factor_from_rows_over_panels(small_panels):
    # CentredFactor.from_rows on a multi-panel block: weight, weighted mean
    # and R of sqrt(s) (Z - mean) against the explicit matrix; kappa ~ 10:
    # 1e-12. Rejects centring with the unweighted mean (O(1) here: weights
    # correlate with the rows) and sqrt dropped from the weights (O(1)).
    rng = np.random.default_rng(8)
    Z = rng.standard_normal((3000, 6)) + np.linspace(0, 5, 3000)[:, None]
    s = np.linspace(0.1, 3.0, 3000)
    f = CentredFactor.from_rows(Z, s)
    mean = s @ Z / s.sum()
    ref = scipy.linalg.qr(np.sqrt(s)[:, None] * (Z - mean), mode="r")[0][:6]
    np.testing.assert_allclose(f.mean, mean, rtol=1e-13)
    assert f.weight == pytest.approx(s.sum(), rel=1e-14) and f.count == 3000
    assert _rel(_signs(f.R) * f.R, _signs(ref) * ref) < 1e-12


def test_float32_rows_are_widened_before_centring(small_panels):
    # float32 rows are converted exactly to float64 on the panel's copy, and
    # centred there: the result is the float64 input's, bit for bit.
    # Rejects centring in float32 (M32 - shift rounded to float32 first:
    # differences ~1e-7 relative).
    rng = np.random.default_rng(9)
    M32 = (rng.standard_normal((3000, 5)) + 100).astype(np.float32)
    M64 = M32.astype(np.float64)
    shift = M64.mean(axis=0)
    assert np.array_equal(triangular_factor(M32, shift=shift), triangular_factor(M64, shift=shift))


class _CountingPool(la.ThreadPoolExecutor):
    made = []

    def __init__(self, max_workers):
        type(self).made.append(max_workers)
        super().__init__(max_workers=max_workers)


def test_threaded_panels_give_the_serial_bits(small_panels, monkeypatch):
    # With two BLAS threads allowed, the panels run on a pool of two threads
    # (each on a one-thread BLAS); with one allowed, serially. Each panel's R
    # and the merge order do not depend on which thread ran it: the two
    # results are bit for bit the same. Rejects merging the panels' R's in
    # completion order, or any mix-up of a panel's rows with another's.
    # The BLAS limit is lifted afterwards. (Two CPUs are claimed so that the
    # pool runs on any machine.)
    monkeypatch.setattr(la, "ThreadPoolExecutor", _CountingPool)
    monkeypatch.setattr(la.os, "cpu_count", lambda: 2)
    _CountingPool.made.clear()
    rng = np.random.default_rng(10)
    A = rng.standard_normal((6000, 12)) + 3.0
    with threadpool_limits(limits=1, user_api="blas"):
        serial = triangular_factor(A, shift=np.full(12, 3.0))
    assert _CountingPool.made == []
    with threadpool_limits(limits=2, user_api="blas"):
        if min(_blas_threads()) < 2:
            pytest.skip("this BLAS cannot run two threads")
        pooled = triangular_factor(A, shift=np.full(12, 3.0))
        assert min(_blas_threads()) == 2  # restored after the call
    assert _CountingPool.made == [2]
    assert np.array_equal(serial, pooled)


def test_one_blas_thread_restores_the_limit_after_overlapping_threads():
    # Thread A limits BLAS to one thread; thread B enters while A holds the
    # limit, A leaves, then B leaves. The process must be back at the
    # original count, and B (not the owner) is told it has one thread.
    # Rejects the limiter that records and restores what each caller saw at
    # entry: B saw 1 and would leave the process at 1 thread for good.
    # (The default count is used: a threadpool_limits held by this thread
    # would make threadpoolctl ignore the other threads' limits.)
    original = _blas_threads()
    if not original or min(original) < 2:
        pytest.skip("BLAS runs one thread here")
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with one_blas_thread() as n:
            seen["a"], seen["a_inside"] = n, max(_blas_threads())
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with one_blas_thread() as n:
            seen["b"] = n
            b_in.set()
            a_out.wait(10)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"a": min(original), "a_inside": 1, "b": 1}
    assert _blas_threads() == original


@pytest.mark.parametrize("m, q", [(300, 150), (200, 64), (90, 100)])
def test_r_only_householder_qr_is_the_full_ones(m, q):
    # keep_q=False skips the T factor of the last block only: R and the
    # reflectors are the same bits as with keep_q=True. Rejects skipping T
    # for every block (the trailing update of 300 x 150 needs the first
    # two: a TypeError or wrong R) or returning stale blocks.
    rng = np.random.default_rng(m + q)
    At = np.array(rng.standard_normal((m, q)).T, order="C")
    full, r_only = At.copy(), At.copy()
    taus_full, blocks = householder_qr(full)
    taus, none = householder_qr(r_only, keep_q=False)
    assert none is None and len(blocks) == -(-min(m, q) // 64)
    assert np.array_equal(full, r_only) and np.array_equal(taus, taus_full)


@pytest.mark.parametrize("exponent", [600, -600])
def test_extreme_scales_factor_without_warnings(small_panels, exponent):
    # Entries near 1e180 or 1e-180: squared norms overflow or underflow, so
    # each column's norm is rescaled (vector_norm) and nothing may warn (the
    # test configuration turns RuntimeWarnings into errors). Scaling by a
    # power of two is exact, so R(2^e A) / 2^e must be R(A) up to rounding:
    # 1e-12 as above (kappa ~ 10). Rejects sqrt(x @ x) without the rescale
    # (inf or 0 norms: NaN or O(1) errors).
    rng = np.random.default_rng(11)
    A = _with_singular_values(2000, np.logspace(0, -1, 6), rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        R = triangular_factor(A * 2.0**exponent) * 2.0**-exponent
    ref = triangular_factor(A)
    assert _rel(_signs(R) * R, _signs(ref) * ref) < 1e-12


def test_householder_qr_limits_blas_threads_in_panels_only(monkeypatch):
    # A blocked QR of a 2000 x 150 matrix: each block's panel runs on one
    # BLAS thread, the trailing updates on the threads allowed, and the
    # count is back to what it was afterwards; R is still LAPACK's (threaded
    # products may round differently: no bit-for-bit comparison with a
    # one-thread run). Rejects a limit that is not lifted (the process left
    # at one thread), one held over the trailing updates, or none at all.
    original = _blas_threads()
    if not original or min(original) < 2:
        pytest.skip("BLAS runs one thread here")
    seen = {"panel": [], "update": []}
    panel_qr, apply_block_qt = la._panel_qr, la._apply_block_qt

    def panel(At, j0, j1, taus, need_t=True):
        if j0 % 64 == 0 and j1 == min(j0 + 64, 150):  # a block's panel, not a half of one
            seen["panel"].append(max(_blas_threads()))
        return panel_qr(At, j0, j1, taus, need_t)

    def update(At, j0, j1, T, Bt):
        if j1 - j0 == 64:  # a whole block's reflector: the trailing update
            seen["update"].append(min(_blas_threads()))
        return apply_block_qt(At, j0, j1, T, Bt)

    monkeypatch.setattr(la, "_panel_qr", panel)
    monkeypatch.setattr(la, "_apply_block_qt", update)
    A = np.random.default_rng(12).standard_normal((2000, 150))
    At = np.array(A.T, order="C")
    taus, _ = householder_qr(At)
    assert seen == {"panel": [1, 1, 1], "update": [min(original)] * 2}
    assert _blas_threads() == original
    # And it is still the QR: R against LAPACK's, kappa(A) ~ 1.7: 1e-12.
    R = np.triu(At.T[:150])
    ref = scipy.linalg.qr(A, mode="r")[0][:150]
    assert _rel(_signs(R) * R, _signs(ref) * ref) < 1e-12
