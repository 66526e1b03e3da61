"""The estimators on a real Dask cluster: worker processes, memory limits, joblib's Dask backend.

``test_dask.py`` checks the block-wise math on Dask's synchronous scheduler;
here the blocks run in other processes (pickled, unaligned buffers, memory
limits), on a ``distributed.LocalCluster`` started inside the test session.
"""

import contextlib
import os
import resource
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import scipy.linalg.lapack
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from sklearn.model_selection import GridSearchCV  # noqa: E402

from skscratch import LinearRegressionOLS, LogisticRegressionGD, MLPClassifierScratch  # noqa: E402


def _rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300)


def _peak_rss_bytes():
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextlib.contextmanager
def _on(client):
    """Compute on ``client``'s cluster; ``persist`` keeps its results there too.

    (``scheduler=client.get`` alone would run graphs on the cluster but
    bring persisted arrays back to this process: Dask keeps them on the
    cluster only for the current client.)
    """
    with client.as_current(), dask.config.set(scheduler="dask.distributed"):
        yield


def test_fits_on_worker_processes_equal_the_in_memory_fits(dask_cluster):
    # Blocks pickled to worker processes and the factors merged there: the
    # same numbers as in one process. OLS to 1e-10 relative (both QR-class
    # on kappa ~ 10, as in test_dask.py); 'gd' logistic to the same optimum
    # (objective within 1e-10). Rejects merging the factors in an order or
    # form that depends on where blocks ran (e.g. dropping a block whose
    # result arrived late), and block functions that misread unaligned
    # buffers.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3000, 6)) * rng.uniform(0.5, 3.0, 6) + rng.uniform(-4, 4, 6)
    y = X @ rng.standard_normal(6) + 1.5 + 0.2 * rng.standard_normal(3000)
    Xd, yd = da.from_array(X, chunks=(400, 6)), da.from_array(y, chunks=400)
    with _on(dask_cluster), distributed.get_task_stream(dask_cluster) as stream:
        ours = LinearRegressionOLS().fit(Xd, yd)
        labels = (y > np.median(y)).astype(int)
        clf = LogisticRegressionGD().fit(Xd, da.from_array(labels, chunks=400))
    ref = LinearRegressionOLS().fit(X, y)
    assert _rel(ours.coef_, ref.coef_) <= 1e-10
    assert abs(ours.intercept_ - ref.intercept_) <= 1e-10 * abs(ref.intercept_)
    ref_clf = LogisticRegressionGD().fit(X, labels)
    assert _rel(clf.coef_, ref_clf.coef_) <= 1e-6  # same optimum: coefficients agree too
    workers = set(dask_cluster.scheduler_info()["workers"])
    assert stream.data and {t["worker"] for t in stream.data} <= workers


def test_grid_search_with_joblibs_dask_backend_runs_on_the_cluster(dask_cluster):
    # Nothing but picklability is needed: GridSearchCV's fits are shipped to
    # the workers by joblib's Dask backend, and the scores are those of the
    # same search run in this process (the fits are deterministic: QR, and
    # full-batch descent from a fixed start).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 5))
    y = (X @ rng.standard_normal(5) + 0.5 * rng.standard_normal(240) > 0).astype(int)
    searches = [
        (LogisticRegressionGD(), {"C": [0.1, 1.0, 10.0]}),
        (LinearRegressionOLS(), {"fit_intercept": [True, False]}),
        (MLPClassifierScratch((4,), solver="lbfgs", max_iter=30, random_state=0),
         {"alpha": [1e-4, 1e-1]}),
    ]
    for estimator, grid in searches:
        target = y if is_classifier(estimator) else X @ np.arange(5.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            local = GridSearchCV(estimator, grid, cv=3).fit(X, target)
            with distributed.get_task_stream(dask_cluster) as stream, \
                    joblib.parallel_backend("dask", client=dask_cluster):
                remote = GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, target)
        ran = [t for t in stream.data if "fit_and_score" in str(t["key"])]
        assert ran, "no fit ran on the cluster"
        assert {t["worker"] for t in ran} <= set(dask_cluster.scheduler_info()["workers"])
        np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                                   local.cv_results_["mean_test_score"], rtol=1e-12)
        assert remote.best_params_ == local.best_params_


# ---------------------------------------------------------------------------
# Least squares on data larger than a worker's memory and than the driver's
# ---------------------------------------------------------------------------

_SEED, _P, _ROWS = 42, 8, 250_000  # blocks of 250000 x 8 float64: 16 MB
_BETA = np.arange(1.0, _P + 1)


def _uniform_block(block_id=None):
    """Block ``i`` of X, uniform on [-1/2, 1/2), drawn from its own seed ``(42, i)``.

    Any process computing block ``i`` makes the same numbers: the oracle's
    second pass sees the rows the fit saw, and nothing needs to be stored.
    """
    X = np.random.default_rng([_SEED, block_id[0]]).random((_ROWS, _P))
    X -= 0.5
    return X


def _targets_block(Xb, block_id=None):
    """``y = X beta + 3 + eps`` on one block, ``eps`` standard normal from seed ``(42, i, 1)``."""
    y = Xb @ _BETA
    y += 3.0 + np.random.default_rng([_SEED, block_id[0], 1]).standard_normal(len(y))
    return y


def _generated(n_blocks):
    """Lazy ``X`` (``250000 n_blocks`` x 8) and ``y``: a block is drawn when a worker needs it."""
    X = da.map_blocks(_uniform_block, chunks=((_ROWS,) * n_blocks, (_P,)), dtype=np.float64,
                      meta=np.empty((0, 0)))
    y = da.map_blocks(_targets_block, X, drop_axis=1, dtype=np.float64, meta=np.empty((0,)))
    return X, y


def _lapack_factor(Xb, Yb):
    """R of one block of ``[X | 1 | y]`` by LAPACK's ``dgeqrf`` (the oracle's TSQR, first level).

    Factored in panels of 10000 rows that stay in cache, copied one after
    the other into one Fortran-ordered buffer that LAPACK overwrites; the
    panels' R's are stacked and factored once more (the same TSQR identity).
    About 3x faster than one LAPACK sweep over the block, and the buffer
    is allocated once per block, not once per panel (measured).
    """
    m, q = len(Xb), Xb.shape[1] + 2
    rows = min(m, 10_000)
    Z = np.empty((rows, q), order="F")
    Rs = []
    for start in range(0, m, rows):
        k = min(rows, m - start)
        if k < rows:
            Z = np.empty((k, q), order="F")
        Z[:, :-2], Z[:, -2], Z[:, -1] = Xb[start:start + k], 1.0, Yb[start:start + k, 0]
        qr, _, _, info = scipy.linalg.lapack.dgeqrf(Z, overwrite_a=True)
        assert info == 0
        Rs.append(np.triu(qr[:q]))
    return scipy.linalg.qr(np.vstack(Rs), mode="r")[0][:q]


def _reset_peak_rss():
    """Reset this process's peak resident memory (VmHWM) to its current value (Linux)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_rss_bytes():
    """This process's peak resident memory since the last reset (VmHWM, Linux)."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _drive(address, n_blocks, out):
    """The driver: connect to the cluster, fit on the lazy X, try to gather X; save what it saw.

    Run in a child process whose private memory is capped below X (see
    ``test_least_squares_on_data_larger_than_the_workers_and_the_driver_can_hold``).
    """
    client = distributed.Client(address)  # the default scheduler from here on
    try:
        X, y = _generated(int(n_blocks))
        tracemalloc.start()  # numpy's allocations in this process
        try:
            model = LinearRegressionOLS().fit(X, y)
            numpy_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # What np.asarray(X) would bring here: X's blocks, one after the other.
        held = []
        try:
            for block in X.blocks:
                held.append(block.compute())
        except MemoryError:
            gathered = len(held)
        else:
            gathered = len(held) + 1  # all of X arrived: the cap did not hold
        del held
    finally:
        client.close()
    np.savez(out, coef=model.coef_, intercept=model.intercept_, numpy_peak=numpy_peak,
             gathered=gathered, cap=resource.getrlimit(resource.RLIMIT_DATA)[0])


# The driver's process: its private writable memory capped (RLIMIT_DATA,
# enforced on Linux >= 4.7 on the heap and every private anonymous mapping:
# where numpy arrays and received blocks live), then _drive from this module.
_CAPPED_DRIVER = """
import importlib, resource, sys
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
sys.path.insert(0, sys.argv[2])
importlib.import_module(sys.argv[3])._drive(*sys.argv[4:])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="caps the driver's memory with RLIMIT_DATA and reads /proc (Linux)")
def test_least_squares_on_data_larger_than_the_workers_and_the_driver_can_hold(
        small_workers, tmp_path):
    # X: 25 million rows x 8 float64 columns, 1.6 GB, generated lazily on
    # the workers in 16 MB blocks. Each worker may hold 500 MiB, a hard
    # limit (no spilling; ~290 MB of it taken by its imports), the two
    # together 1 GiB: X is 3x a worker's limit and 1.5x the whole
    # cluster's. The driver runs in a child process whose private memory is
    # capped at 704 MiB, less than half of X (~300 MB of it taken by its
    # imports and the client). The fit must stream: a worker gathering its
    # share of X would pass its limit and be restarted by its nanny, the
    # driver gathering X would run out of memory.
    n_blocks, cap = 100, 704 * 2**20
    X, y = _generated(n_blocks)
    client = small_workers
    limit = {a: w["memory_limit"] for a, w in client.scheduler_info()["workers"].items()}
    assert all(X.nbytes > 3 * v for v in limit.values())
    assert X.nbytes > sum(limit.values()) and X.nbytes > 2 * cap

    client.run(_reset_peak_rss)
    baseline = client.run(_peak_rss_bytes)  # resident memory at the reset
    out = tmp_path / "driver.npz"
    root = Path(__file__).parents[__name__.count(".")]  # where this module imports from
    # One BLAS thread, as on Dask's workers: the driver's work is O(p^2),
    # and each more OpenBLAS thread, its buffer and stack, takes ~80 MB of
    # the cap (measured): a many-core machine would fill it at start-up.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    driver = subprocess.run(
        [sys.executable, "-c", _CAPPED_DRIVER, str(cap), str(root), __name__,
         client.scheduler.address, str(n_blocks), str(out)],
        env=env, capture_output=True, text=True,
        timeout=900,  # a guard against a hang, not a timing
    )
    assert driver.returncode == 0, driver.stderr[-3000:]
    peak = client.run(_peak_rss_bytes)
    seen = np.load(out)

    # Oracle: TSQR with LAPACK, independent of skscratch's Householder code,
    # on a second pass over the same lazily generated blocks: R of each
    # block of [X | 1 | y] by LAPACK's dgeqrf, the R's stacked and factored
    # again (exact: the stack's Gram matrix is the sum of the blocks', and
    # each QR is backward stable), then R_xx theta = r_xy by a triangular
    # solve. No normal equations: its error is ~kappa u, kappa([X 1]) ~
    # sqrt(12) here, and so is the fit's (they agree to 5e-16, measured).
    # 1e-10 relative leaves five orders of magnitude for error growth with
    # n and still rejects an answer that is not the least squares solution
    # of all the rows, in double precision. Mutants tried: one block of 100
    # dropped in the merge tree (relative error 1.5e-5), the merge without
    # its between-block term (2.5e-7), the blocks' factors sent in float32
    # (4.5e-9). An in-memory fit of a sample would be a different problem,
    # not an oracle.
    q = _P + 2
    with _on(client):
        Rs = da.map_blocks(_lapack_factor, X, y[:, None], chunks=((q,) * n_blocks, (q,)),
                           dtype=np.float64).compute()
    R = scipy.linalg.qr(Rs, mode="r")[0][:q]
    theta = scipy.linalg.solve_triangular(R[:q - 1, :q - 1], R[:q - 1, q - 1])
    assert _rel(seen["coef"], theta[:_P]) <= 1e-10
    assert abs(seen["intercept"] - theta[_P]) <= 1e-10 * abs(theta[_P])

    # The driver could not hold X, nor half of it: its cap held to the end,
    # and gathering X's blocks there ran out of memory (after 26 of 100,
    # measured). (np.asarray(X), the fit without its Dask path, fails
    # sooner: Dask refuses to gather 1.5 GiB onto a 500 MiB worker; tried.)
    # The fit itself held O(p^2) numbers there, not even a block of X
    # (numpy's peak: 0.7 MB, measured).
    assert seen["cap"] == cap
    assert 0 < seen["gathered"] < n_blocks / 2
    assert seen["numpy_peak"] < X.nbytes / n_blocks

    # The workers streamed. None was restarted (a new worker has a new
    # address): a fit that persists X on the workers still returns the
    # right coefficients, since Dask recomputes the blocks a restarted
    # worker lost, and only this line rejects it (tried). And none ever
    # passed 95% of its limit, where its nanny would restart it, not even
    # between the nanny's polls: VmHWM is the kernel's exact peak.
    # Measured: ~105 MB of growth, six or seven blocks, against ~800 MB for
    # a worker's share of X.
    assert set(peak) == set(baseline)
    for address in peak:
        assert peak[address] < 0.95 * limit[address]
        assert peak[address] - baseline[address] < X.nbytes / 8
