"""The estimators on Dask arrays, on a local cluster, against Dask's own solvers.

Suite ``dask``. A ``distributed.LocalCluster`` (two worker processes, one
thread each, 2 GiB each) is started when the first case loads and closed at
exit. X is generated lazily on the workers (``dask.array.random``, 20 MB
blocks of whole rows) and never gathered: each fit streams it from its
generator, so the time includes generating the blocks, equally on both sides.

- Least squares, ``LinearRegressionOLS`` (TSQR: per-block centred factors
  merged in a tree) against ``dask.array.linalg.lstsq`` (Dask's TSQR, LAPACK
  per block, on ``[X | 1]`` for the intercept) and, where it installs,
  ``dask_ml.linear_model.LinearRegression`` (dask-glm's solvers at their
  defaults).
- Logistic regression, ``LogisticRegressionGD`` (full-batch descent on
  block-summed gradients) against ``dask_ml.linear_model.LogisticRegression``
  with ``solver='lbfgs'`` (C = 1; its default, ADMM, is ~15x slower here).

Accuracy: least squares against an oracle independent of both sides:
``scipy.linalg.qr`` (LAPACK) of each block of ``[X | 1 | y]``, the R's stacked
and factored again, and the triangular solve (exact TSQR; no normal
equations). Logistic regression against scikit-learn's
``LogisticRegression(tol=1e-10)`` (lbfgs) fitted in memory on the gathered
training data (small enough here). ``peak worker MB`` is the largest resident
memory of a worker during the last timed fit (distributed's system monitor,
sampled every 0.5 s), minus its resident memory before that fit.

The target scale (10 to 40 million rows by 50 columns, 4 to 16 GB) takes
minutes per fit on two shared cores, and every case is fitted 8 times per
side; the default run uses 200000 rows and ``--quick`` 50000 (``N_ROWS``);
``--full`` adds least-squares cases on 10 million rows (4 GB) against Dask's TSQR
and dask-ml, and a logistic case on 5 million rows (800 MB) against dask-ml.
The memory test of ``tests/test_dask_cluster.py`` covers an X larger than a
worker's memory limit.
"""

import atexit

import numpy as np
import scipy.linalg
from sklearn.linear_model import LogisticRegression

from skscratch import LinearRegressionOLS, LogisticRegressionGD

from .cases_linear import max_relative_difference
from .harness import Case, Suite

BLOCK_BYTES = 20 * 2**20
P_OLS, P_LOGIT = 50, 20
# Rows per case. Every fit is timed 1 + repeats times per side: with
# --quick (3 repeats) at 200000 rows the suite took 4.5 min on two cores
# shared at a load of 8.5, most of it dask-ml's fits. At 100000 it took
# 2.3 min at a load of 0.5 to 4, mostly the logistic case, whose fits are
# bound by the round trips to the cluster (about 1.5 s per iteration then);
# at 100000 on an idle machine the suite took 49 s of a 4.5-minute quick run.
N_ROWS = {"quick": 50_000, "default": 200_000}
N_ROWS_FULL = 10_000_000
N_ROWS_LOGIT_FULL = 5_000_000


class _Cluster:
    """The suite's cluster, started on first use and closed at exit."""

    client = None

    @classmethod
    def get(cls):
        if cls.client is None:
            import distributed

            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, memory_limit="2GiB",
                dashboard_address=None, silence_logs=50,
            )
            # The default client: Dask computes (and keeps persisted arrays) there.
            cls.client = distributed.Client(cluster)
            atexit.register(cls.close)
        return cls.client

    @classmethod
    def close(cls):
        if cls.client is not None:
            cluster = cls.client.cluster
            cls.client.close()
            cluster.close()
            cls.client = None


def _monitor_count(dask_worker):
    return dask_worker.monitor.count


def _peak_since(dask_worker, start):
    memory = [m for m in dask_worker.monitor.range_query(start)["memory"] if m is not None]
    return max(memory + [dask_worker.monitor.get_process_memory()])


def _memory_now(dask_worker):
    return dask_worker.monitor.get_process_memory()


class OnCluster:
    """An estimator fitted on the cluster; records the workers' peak memory during its fit."""

    def __init__(self, estimator):
        self.estimator = estimator
        self.peak_worker_mb = float("nan")

    def fit(self, X, y):
        import warnings

        client = _Cluster.get()
        before = client.run(_memory_now)
        counts = client.run(_monitor_count)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.estimator.fit(X, y)
        peaks = {a: client.run(_peak_since, start=counts[a], workers=[a])[a] for a in counts}
        self.peak_worker_mb = max(peaks[a] - before.get(a, 0.0) for a in peaks) / 2**20
        return self

    def score(self, X, y):
        return self.estimator.score(X, y)


class DaskLstsq:
    """``dask.array.linalg.lstsq`` (Dask's TSQR) on ``[X | 1]``, as an estimator."""

    def fit(self, X, y):
        import dask.array as da

        A = da.concatenate([X, da.ones((X.shape[0], 1), chunks=(X.chunks[0], 1))], axis=1)
        A = A.rechunk({1: -1})
        theta = da.linalg.lstsq(A, y)[0].compute()
        self.coef_, self.intercept_ = theta[:-1], float(theta[-1])
        return self

    def score(self, X, y):
        return _r2(X @ self.coef_ + self.intercept_, y)


class DaskMLLinear:
    """dask-ml's ``LinearRegression`` with ``coef_`` and a Dask ``score``."""

    def __init__(self):
        from dask_ml.linear_model import LinearRegression

        self.model = LinearRegression()

    def fit(self, X, y):
        self.model.fit(X, y)
        self.coef_, self.intercept_ = np.asarray(self.model.coef_), self.model.intercept_
        return self

    def score(self, X, y):
        return _r2(X @ self.coef_ + self.intercept_, y)


class DaskMLLogistic:
    """dask-ml's ``LogisticRegression``, scored by accuracy on Dask arrays."""

    def __init__(self):
        from dask_ml.linear_model import LogisticRegression as DaskLogistic

        # lbfgs: its best solver for a smooth L2 objective; the default
        # (admm) took 141 s against our 10 s on 262144 x 20 (measured).
        self.model = DaskLogistic(solver="lbfgs")

    def fit(self, X, y):
        self.model.fit(X, y)
        self.coef_ = np.atleast_2d(np.asarray(self.model.coef_))
        self.intercept_ = np.atleast_1d(self.model.intercept_)
        return self

    def score(self, X, y):
        pred = (X @ self.coef_[0] + self.intercept_[0] > 0).astype(int)
        return float((pred == y).mean().compute())


def _r2(pred, y):
    import dask

    ss_res, mean, n = dask.compute(((y - pred) ** 2).sum(), y.mean(), y.shape[0])
    ss_tot = dask.compute(((y - mean) ** 2).sum())[0]
    return float(1.0 - ss_res / ss_tot)


def _dask_ml_available():
    try:
        import dask_ml.linear_model  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------
# Data: generated lazily on the workers
# --------------------------------------------------------------------------


class _Reference:
    """The oracle of the case being run, kept for its ``compare``."""

    theta = None


def _rows_per_block(n, p):
    """Blocks of 20 MB, or smaller so that there are at least 8 (the split is by blocks)."""
    return min(BLOCK_BYTES // (8 * p), max(1, n // 8))


def _lapack_factor(block):
    return scipy.linalg.qr(block, mode="r")[0][:block.shape[1]]


def lstsq_oracle(X, y):
    """TSQR by LAPACK: ``qr`` of each block of ``[X | 1 | y]``, of the stacked R's, then solve."""
    import dask.array as da

    n, p = X.shape
    Z = da.concatenate([X, da.ones((n, 1), chunks=(X.chunks[0], 1)), y[:, None]], axis=1)
    Z = Z.rechunk({1: -1})
    Rs = Z.map_blocks(_lapack_factor, chunks=((p + 2,) * Z.numblocks[0], (p + 2,)),
                      dtype=np.float64).compute()
    R = scipy.linalg.qr(Rs, mode="r")[0][:p + 2]
    return scipy.linalg.solve_triangular(R[:p + 1, :p + 1], R[:p + 1, p + 1])


def regression_data(n, p, seed=0):
    """Gaussian features with offsets and scales, ``y = X beta + 3 + noise``; 80/20 by rows."""
    def load():
        import dask.array as da

        _Cluster.get()
        rows = _rows_per_block(n, p)
        rs = da.random.RandomState(seed)
        rng = np.random.default_rng(seed)
        scale, offset = rng.uniform(0.5, 3.0, p), rng.uniform(-5.0, 5.0, p)
        X = rs.standard_normal((n, p), chunks=(rows, p)) * scale + offset
        beta = rng.standard_normal(p)
        y = X @ beta + 3.0 + rs.standard_normal(n, chunks=rows)
        n_train = (int(0.8 * n) // rows) * rows  # whole blocks on each side
        X_train, y_train = X[:n_train], y[:n_train]
        _Reference.theta = lstsq_oracle(X_train, y_train)
        return X_train, X[n_train:], y_train, y[n_train:]
    return load


def classification_data(n, p, seed=1):
    """Two classes from a logistic model on Gaussian features; 80/20 by rows."""
    def load():
        import dask.array as da

        _Cluster.get()
        rows = _rows_per_block(n, p)
        rs = da.random.RandomState(seed)
        rng = np.random.default_rng(seed)
        X = rs.standard_normal((n, p), chunks=(rows, p)) * rng.uniform(0.5, 2.0, p)
        w = rng.standard_normal(p) / np.sqrt(p)
        u = rs.random_sample(n, chunks=rows)
        y = (u < 1.0 / (1.0 + da.exp(-(X @ w + 0.5)))).astype(int)
        n_train = (int(0.8 * n) // rows) * rows
        X_train, y_train = X[:n_train], y[:n_train]
        Xm, ym = (np.asarray(a) for a in da.compute(X_train, y_train))
        ref = LogisticRegression(tol=1e-10, max_iter=10_000).fit(Xm, ym)
        _Reference.theta = np.concatenate([ref.coef_[0], ref.intercept_])
        return X_train, X[n_train:], y_train, y[n_train:]
    return load


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------


def _lstsq_compare(ours, theirs):
    theta = _Reference.theta
    columns = {
        "coef err (ours)": max_relative_difference(ours.estimator.coef_, theta[:-1]),
        "coef err (theirs)": max_relative_difference(theirs.estimator.coef_, theta[:-1]),
        "peak worker MB (ours/theirs)": f"{ours.peak_worker_mb:.0f}/{theirs.peak_worker_mb:.0f}",
        "solver": ours.estimator.solver_,
    }
    return columns


def _logistic_compare(ours, theirs):
    theta = _Reference.theta
    return {
        "coef err (ours)": max_relative_difference(ours.estimator.coef_[0], theta[:-1]),
        "coef err (theirs)": max_relative_difference(theirs.estimator.coef_[0], theta[:-1]),
        "peak worker MB (ours/theirs)": f"{ours.peak_worker_mb:.0f}/{theirs.peak_worker_mb:.0f}",
        "iterations (ours)": int(ours.estimator.n_iter_[0]),
    }


def _lstsq_case(n, description, twin, full_only=False):
    """``LinearRegressionOLS`` against ``twin`` (a DaskLstsq-like class) on ``n`` rows."""
    return Case(
        name=f"lstsq {n * 0.8 / 1e6:.2g}M x {P_OLS} vs "
             f"{'dask TSQR' if twin is DaskLstsq else 'dask-ml'}",
        description=description, load=regression_data(n, P_OLS),
        make_ours=lambda: OnCluster(LinearRegressionOLS()),
        make_theirs=lambda: OnCluster(twin()), compare=_lstsq_compare, full_only=full_only,
    )


def dask_cases(quick):
    n_ols = N_ROWS["quick" if quick else "default"]
    n_logit = N_ROWS["quick" if quick else "default"]
    cases = [
        _lstsq_case(n_ols, f"{n_ols} x {P_OLS} Gaussian rows with offsets, generated lazily in "
                           "20 MB blocks; 80/20 split by blocks; `dask.array.linalg.lstsq` on "
                           "`[X | 1]`", DaskLstsq),
        # The target scale, 10 million rows (4 GB, never in one process): --full only
        _lstsq_case(N_ROWS_FULL, f"{N_ROWS_FULL} x {P_OLS}, as above; `--full` only "
                                 "(minutes per fit here)", DaskLstsq, full_only=True),
    ]
    if _dask_ml_available():
        if not quick:  # --quick: dask-ml is the twin of the logistic row only
            cases.append(_lstsq_case(
                n_ols, "the same data; `dask_ml.linear_model.LinearRegression()` "
                       "(dask-glm, its default solver)", DaskMLLinear))
            # The target scale against dask-ml too (its fits took 2 minutes here): --full only
            cases.append(_lstsq_case(N_ROWS_FULL, f"{N_ROWS_FULL} x {P_OLS}, as above; "
                                                  "`--full` only", DaskMLLinear, full_only=True))
        cases.append(Case(
            name=f"logistic {n_logit * 0.8 / 1e6:.2g}M x {P_LOGIT} vs dask-ml",
            description=f"{n_logit} x {P_LOGIT} Gaussian rows, labels from a logistic model; "
                        "80/20 by blocks; `dask_ml.linear_model.LogisticRegression(solver='lbfgs')`",
            load=classification_data(n_logit, P_LOGIT),
            make_ours=lambda: OnCluster(LogisticRegressionGD()),
            make_theirs=lambda: OnCluster(DaskMLLogistic()), compare=_logistic_compare,
        ))
        # Several million rows (5 million, 800 MB): --full only
        cases.append(Case(
            name=f"logistic {N_ROWS_LOGIT_FULL * 0.8 / 1e6:.2g}M x {P_LOGIT} vs dask-ml",
            description=f"{N_ROWS_LOGIT_FULL} x {P_LOGIT}, as above; `--full` only",
            load=classification_data(N_ROWS_LOGIT_FULL, P_LOGIT),
            make_ours=lambda: OnCluster(LogisticRegressionGD()),
            make_theirs=lambda: OnCluster(DaskMLLogistic()), compare=_logistic_compare,
            full_only=True,
        ))
    return cases


SUITE = Suite(
    name="dask",
    title="Dask arrays on a local cluster (2 worker processes)",
    ours_label="skscratch on Dask arrays",
    theirs_label="Dask's lstsq / dask-ml",
    score_name="test score",
    cases=dask_cases,
    notes="Both sides fit the same lazily generated Dask arrays on the same two-worker "
    "cluster; times include generating the blocks. `coef err` is "
    "`max|coef - oracle| / max|oracle|`: for least squares the oracle is LAPACK's QR of each "
    "block, merged (exact TSQR); for logistic regression, scikit-learn's lbfgs to "
    "`tol=1e-10` on the gathered data. `peak worker MB`: the largest growth of a worker's "
    "resident memory during the last timed fit.",
)
