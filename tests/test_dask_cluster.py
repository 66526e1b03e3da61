"""The estimators on a real Dask cluster: worker processes, memory limits, joblib's Dask backend.

``test_dask.py`` checks the block-wise math on Dask's synchronous scheduler;
here the blocks run in other processes (pickled, unaligned buffers, memory
limits), on a ``distributed.LocalCluster`` started inside the test session.
"""

import contextlib
import resource
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.linalg
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


def _factor_block(block):
    """R of one block of ``[X | 1 | y]`` by LAPACK (the oracle's TSQR, first level)."""
    return scipy.linalg.qr(block, mode="r")[0][:block.shape[1]]


def test_least_squares_on_data_larger_than_the_workers_memory(small_workers):
    # X: 9 million rows x 8 float64 columns (576 MB), generated lazily on
    # the workers in 16 MB blocks; each worker may hold 500 MiB. The fit
    # must stream: gathering X (or half of it) would exceed the limit, and
    # the worker would be paused or restarted. Sized to run in ~20 s on two
    # idle cores (1.5 GB takes ~1 min here; the property is the
    # same once X exceeds a worker's limit).
    #
    # Oracle: TSQR with LAPACK, independent of skscratch's Householder code:
    # scipy.linalg.qr's R of each block of [X | 1 | y], the R's stacked and
    # factored again (exact: the stack's Gram matrix is the sum of the
    # blocks', and each QR is backward stable), then R_xx theta = r_xy by a
    # triangular solve. No normal equations, so its error is ~kappa u with
    # kappa ~ 1 here: 1e-10 relative rejects anything but a QR-class answer
    # (a float32 accumulation, a lost block: 1e-7 and 1e-2). An in-memory
    # fit of a sample would be a different problem, not an oracle.
    n, p, rows = 9_000_000, 8, 250_000
    beta = np.arange(1.0, p + 1)

    def data():
        rs = da.random.RandomState(42)
        X = rs.standard_normal((n, p), chunks=(rows, p))
        y = X @ beta + 3.0 + rs.standard_normal(n, chunks=rows)
        return X, y

    client = small_workers
    baseline = client.run(_peak_rss_bytes)
    with _on(client):
        X, y = data()
        assert X.nbytes > 500 * 2**20  # larger than a worker's whole memory limit
        tracemalloc.start()  # numpy's allocations in this process, the driver
        try:
            model = LinearRegressionOLS().fit(X, y)
            driver_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        peak = client.run(_peak_rss_bytes)
        X, y = data()  # the same seed: the same blocks, generated anew for the oracle
        Z = da.concatenate([X, da.ones((n, 1), chunks=(rows, 1)), y[:, None]], axis=1)
        Z = Z.rechunk({1: -1})
        Rs = Z.map_blocks(_factor_block, chunks=((p + 2,) * Z.numblocks[0], (p + 2,)),
                          dtype=np.float64).compute()
    R = scipy.linalg.qr(Rs, mode="r")[0][:p + 2]
    theta = scipy.linalg.solve_triangular(R[:p + 1, :p + 1], R[:p + 1, p + 1])
    assert _rel(model.coef_, theta[:p]) <= 1e-10
    assert abs(model.intercept_ - theta[p]) <= 1e-10 * abs(theta[p])
    # The driver held O(p^2) numbers, not a block of X, let alone X (a
    # gather, np.asarray(X), would show X.nbytes here: checked).
    assert driver_peak < 16 * 2**20
    # No worker grew by more than a few blocks: X was never held.
    assert set(peak) == set(baseline)  # no worker was restarted
    for address in peak:
        assert peak[address] - baseline[address] < X.nbytes / 4
