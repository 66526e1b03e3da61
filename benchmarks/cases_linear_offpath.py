"""Ordinary least squares off the dense, full-rank fast path.

Three suites, each comparing ``LinearRegressionOLS`` with ``LinearRegression``
at their defaults:

- ``ols-sparse``: sparse X, never densified (scikit-learn runs LSQR; we run
  the exact Gram path when ``n_features <= 1250``, else LSMR);
- ``ols-collinear``: rank-deficient dense designs (one-hot blocks beside the
  intercept, duplicated columns, polynomial features), and one case on the
  reference Householder path;
- ``ols-positive``: ``positive=True`` (Lawson-Hanson on the Gram matrix
  against scipy's ``nnls`` on the data).

Accuracy sits beside time. Where the dense problem fits in memory, both fits
are measured against an oracle: ``scipy.linalg.lstsq`` with LAPACK's
``gelsy`` (QR with column pivoting and a complete orthogonal decomposition)
on the centred data, rank cutoff ``max(n, p) * eps`` (numpy's default;
scipy's ``eps`` keeps the rounding left in a centred one-hot block as
signal). Not ``gelsd``: that is what scikit-learn itself runs on dense X,
so its error would be zero by construction rather than measured. Where the
dense copy does not fit (the 200000 x 20000 case), the reference is scipy's
LSMR on the implicitly centred matrix, run to ``atol = btol = 1e-15``.
"""

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from sklearn.datasets import load_diabetes, make_regression
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import PolynomialFeatures

from skscratch import LinearRegressionOLS

from .cases_linear import max_relative_difference
from .harness import Case, Suite

RANDOM_STATE = 0


class _Reference:
    """The data of the case being run, kept for its ``compare`` (the harness passes only the fits)."""

    def __init__(self):
        self.X = self.y = self.oracle = None

    def keep(self, X, y, oracle):
        self.X, self.y, self.oracle = X, y, oracle

    def release(self):
        self.X = self.y = self.oracle = None


REFERENCE = _Reference()


def _centred_dense(X, y):
    Xd = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    return Xd - Xd.mean(axis=0), y - y.mean()


def lstsq_oracle(X, y):
    """Minimum-norm least squares on the centred data (gelsy), rank cutoff ``max(n, p) eps``."""
    Xc, yc = _centred_dense(X, y)
    cond = max(Xc.shape) * np.finfo(np.float64).eps
    return scipy.linalg.lstsq(Xc, yc, cond=cond, lapack_driver="gelsy")[0]


def iterative_oracle(X, y):
    """scipy's LSMR on the implicitly centred sparse X, run to ``atol = btol = 1e-15``.

    For problems whose dense copy does not fit: an independent implementation
    run to rounding level (kappa ~ 2 on these random designs, so ~1e-14).
    """
    x_mean = np.asarray(X.mean(axis=0)).ravel()
    op = spla.LinearOperator(
        X.shape, dtype=np.float64,
        matvec=lambda v: np.asarray(X @ v).ravel() - x_mean @ v,
        rmatvec=lambda r: np.asarray(X.T @ r).ravel() - x_mean * r.sum(),
    )
    return spla.lsmr(op, y - y.mean(), atol=1e-15, btol=1e-15, maxiter=10 * min(X.shape))[0]


def compare_to_reference(ours, theirs):
    """Each fit's error against the oracle, the ranks and the path taken."""
    columns = {
        "coef err (ours)": max_relative_difference(ours.coef_, REFERENCE.oracle),
        "coef err (sklearn)": max_relative_difference(theirs.coef_, REFERENCE.oracle),
    }
    columns["rank (ours/sklearn)"] = f"{getattr(ours, 'rank_', '-')}/{getattr(theirs, 'rank_', '-')}"
    columns["solver"] = getattr(ours, "solver_", "-")
    REFERENCE.release()
    return columns


def _split(X, y, oracle_fn):
    """80/20 split by rows (data are i.i.d.), oracle on the training rows, kept for compare."""
    n_train = int(0.8 * X.shape[0])
    X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
    REFERENCE.keep(X_train, y_train, None if oracle_fn is None else oracle_fn(X_train, y_train))
    return X_train, X_test, y_train, y_test


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def random_sparse(n, p, density, rng):
    """Uniform(0, 1) entries at ``n p density`` uniformly drawn positions, as CSR.

    Positions are drawn directly (scipy's ``sparse.random`` materializes all
    ``n p`` candidate positions first: 30 GB at 200000 x 20000).
    """
    nnz = int(n * p * density)
    rows, cols = rng.integers(0, n, nnz), rng.integers(0, p, nnz)
    return sp.csr_matrix((rng.uniform(0.0, 1.0, nnz), (rows, cols)), shape=(n, p))


def one_hot(n, levels, rng, sparse):
    """One-hot encoding of ``len(levels)`` categorical features; level frequencies Zipf-like."""
    blocks = []
    for m in levels:
        weights = 1.0 / np.arange(1, m + 1)
        z = rng.choice(m, size=n, p=weights / weights.sum())
        blocks.append(sp.csr_matrix((np.ones(n), (np.arange(n), z)), shape=(n, m)))
    X = sp.hstack(blocks, format="csr")
    return X if sparse else X.toarray()


def linear_target(X, rng, noise=1.0):
    coef = rng.standard_normal(X.shape[1])
    return np.asarray(X @ coef).ravel() + 3.0 + noise * rng.standard_normal(X.shape[0])


def sparse_random_case(n, p, density, oracle):
    def load():
        rng = np.random.default_rng(RANDOM_STATE)
        X = random_sparse(n, p, density, rng)
        return _split(X, linear_target(X, rng), lstsq_oracle if oracle else iterative_oracle)

    return load


def one_hot_case(n, levels, sparse, extra=None):
    def load():
        rng = np.random.default_rng(RANDOM_STATE)
        X = one_hot(n, levels, rng, sparse)
        if extra is not None:
            X = extra(X, rng)
        return _split(X, linear_target(X, rng), lstsq_oracle)

    return load


def duplicated_columns(n, p, n_dup):
    def load():
        rng = np.random.default_rng(RANDOM_STATE)
        X, y = make_regression(n_samples=n, n_features=p - n_dup, noise=10.0, random_state=RANDOM_STATE)
        X = np.c_[X, X[:, rng.choice(p - n_dup, n_dup, replace=False)] * rng.uniform(0.5, 2.0, n_dup)]
        return _split(X, y, lstsq_oracle)

    return load


def polynomial(n, n_inputs, degree):
    def load():
        rng = np.random.default_rng(RANDOM_STATE)
        X = PolynomialFeatures(degree=degree, include_bias=True).fit_transform(
            rng.uniform(0.0, 1.0, (n, n_inputs))
        )
        return _split(X, linear_target(X, rng), lstsq_oracle)

    return load


def _with_numeric(X, rng):
    return np.c_[X, rng.standard_normal((X.shape[0], 5)) * 10.0 + 3.0]


# --------------------------------------------------------------------------
# Suites
# --------------------------------------------------------------------------

ONE_HOT_LEVELS = [3, 5, 8, 13, 21, 34, 55, 89, 144]  # 9 categorical features, 372 levels


# --quick keeps every row of these suites on a quarter of the rows (the
# widths, ranks and paths taken are those of the default run): the fits and
# the oracles' QR take a quarter of the time.
QUICK_ROWS = 4


def _rows(n, quick):
    """Rows generated for a case of ``n`` (train + test), shrunk by ``--quick``."""
    return n // QUICK_ROWS if quick else n


def _train(n):
    """Training rows of an 80/20 split of ``n`` (the size in a case's name)."""
    return n - n // 5


def sparse_cases(quick):
    big, small, onehot = _rows(250_000, quick), _rows(12_500, quick), _rows(125_000, quick)
    return [
        Case(
            name=f"sparse {_train(big)}x20000 d=1e-3",
            description=f"uniform(0, 1) entries at {big * 20:,} random positions "
                        "(`random_state=0`), `y = X w + 3 + N(0, 1)`; "
                        f"{big} rows, 80/20 split. Too large for a dense oracle: "
                        "scipy's LSMR to `atol = btol = 1e-15` is the reference",
            load=sparse_random_case(big, 20_000, 1e-3, oracle=False),
            make_ours=LinearRegressionOLS, make_theirs=LinearRegression,
            compare=compare_to_reference,
        ),
        Case(
            name=f"sparse {_train(small)}x1500 d=1e-2",
            description=f"as above, {small} x 1500 at density 1e-2, 80/20 split; LSMR path "
                        "(more than 1250 features); dense oracle",
            load=sparse_random_case(small, 1_500, 1e-2, oracle=True),
            make_ours=LinearRegressionOLS, make_theirs=LinearRegression,
            compare=compare_to_reference,
        ),
        Case(
            name=f"one-hot sparse {_train(onehot)}x372",
            description="9 categorical features with 3..144 Zipf-distributed levels, one-hot "
                        f"encoded (CSR) beside the intercept (rank 364), {onehot} rows, "
                        "80/20 split",
            load=one_hot_case(onehot, ONE_HOT_LEVELS, sparse=True),
            make_ours=LinearRegressionOLS, make_theirs=LinearRegression,
            compare=compare_to_reference,
        ),
    ]


def collinear_cases(quick):
    small, large = _rows(25_000, quick), _rows(62_500, quick)
    return [
        Case(
            name=f"one-hot {_train(small)}x100",
            description="5 categorical features of 20 Zipf-distributed levels, one-hot encoded "
                        f"(dense) beside the intercept: rank 95; {small} rows, 80/20 split",
            load=one_hot_case(small, [20] * 5, sparse=False),
            make_ours=LinearRegressionOLS, make_theirs=LinearRegression,
            compare=compare_to_reference,
        ),
        Case(
            name=f"one-hot {_train(large)}x300",
            description="10 categorical features of 30 levels (dense one-hot, rank 290); "
                        f"{large} rows, 80/20 split",
            load=one_hot_case(large, [30] * 10, sparse=False),
            make_ours=LinearRegressionOLS, make_theirs=LinearRegression,
            compare=compare_to_reference,
        ),
        Case(
            name=f"one-hot + numeric {_train(large)}x377",
            description="the 9 one-hot blocks of the sparse suite (dense) and 5 numeric "
                        f"columns with mean 3, sd 10; {large} rows, 80/20 split",
            load=one_hot_case(large, ONE_HOT_LEVELS, sparse=False, extra=_with_numeric),
            make_ours=LinearRegressionOLS, make_theirs=LinearRegression,
            compare=compare_to_reference,
        ),
        Case(
            name=f"duplicated columns {_train(large)}x200",
            description="`make_regression(n_features=180, noise=10)` and 20 rescaled copies of "
                        f"its columns (rank 180); {large} rows, 80/20 split",
            load=duplicated_columns(large, 200, 20),
            make_ours=LinearRegressionOLS, make_theirs=LinearRegression,
            compare=compare_to_reference,
        ),
        Case(
            name="polynomial degree 3 of 6",
            description="`PolynomialFeatures(degree=3, include_bias=True)` of 6 uniform(0, 1) "
                        f"inputs (84 columns, the bias constant), {large} rows, 80/20 split",
            load=polynomial(large, 6, 3),
            make_ours=LinearRegressionOLS, make_theirs=LinearRegression,
            compare=compare_to_reference,
        ),
        Case(
            name=f"one-hot {_train(small)}x100, householder",
            description="the first case on the reference path: `solver='householder'` "
                        "(blocked Householder QR, pivoted QR of R, complete orthogonal "
                        "decomposition)",
            load=one_hot_case(small, [20] * 5, sparse=False),
            make_ours=lambda: LinearRegressionOLS(solver="householder"),
            make_theirs=LinearRegression,
            compare=compare_to_reference,
        ),
    ]


def nnls_oracle(X, y):
    Xc, yc = _centred_dense(X, y)
    return scipy.optimize.nnls(Xc, yc)[0]


def positive_case(n, p):
    def load():
        rng = np.random.default_rng(RANDOM_STATE)
        X = rng.standard_normal((n, p)) + rng.uniform(-2, 2, p)
        coef = rng.standard_normal(p)  # about half negative: the bound is active
        y = X @ coef + 1.0 + rng.standard_normal(n)
        return _split(X, y, nnls_oracle)

    return load


def positive_diabetes():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=RANDOM_STATE
    )
    REFERENCE.keep(X_train, y_train, nnls_oracle(X_train, y_train))
    return X_train, X_test, y_train, y_test


def positive_cases(quick):
    def ours():
        return LinearRegressionOLS(positive=True)

    def theirs():
        return LinearRegression(positive=True)

    return [
        Case(
            name="diabetes, positive",
            description="`load_diabetes`, 25% held out",
            load=positive_diabetes, make_ours=ours, make_theirs=theirs,
            compare=compare_to_reference,
        ),
        Case(
            name="positive 10000x50",
            description="Gaussian features with offsets, half the true coefficients negative; "
                        "12500 rows, 80/20 split",
            load=positive_case(12_500, 50), make_ours=ours, make_theirs=theirs,
            compare=compare_to_reference,
        ),
        Case(
            name="positive 20000x100",
            description="as above, 25000 x 100, 80/20 split (scipy's `nnls` on the n x p data "
                        "takes seconds here, so larger cases are left out of the default run)",
            load=positive_case(25_000, 100), make_ours=ours, make_theirs=theirs,
            compare=compare_to_reference,
        ),
    ]


_NOTES = (
    "Accuracy: `coef err` is `max|coef - oracle| / max|oracle|` against `scipy.linalg.lstsq` "
    "(LAPACK's gelsy, a complete orthogonal decomposition; not gelsd, which scikit-learn runs "
    "itself) on the centred training data with the rank cutoff `max(n, p) eps` (for "
    "`positive=True`, against "
    "`scipy.optimize.nnls` on the centred data, which is what scikit-learn runs). "
)

SPARSE_SUITE = Suite(
    name="ols-sparse",
    title="Linear regression on sparse X",
    ours_label="skscratch.LinearRegressionOLS()",
    theirs_label="sklearn.linear_model.LinearRegression()",
    score_name="test R²",
    cases=sparse_cases,
    notes=_NOTES + "Neither side densifies X. scikit-learn runs LSQR with `atol = btol = tol = "
    "1e-6`; skscratch runs LSMR with `atol = btol = 1e-7` when there are more than 1250 "
    "features, else the exact Gram path (`seminormal` or `gram_cod`). For the 200000 x 20000 "
    "case the reference is scipy's LSMR run to `atol = btol = 1e-15`.",
)

COLLINEAR_SUITE = Suite(
    name="ols-collinear",
    title="Linear regression on rank-deficient dense designs",
    ours_label="skscratch.LinearRegressionOLS()",
    theirs_label="sklearn.linear_model.LinearRegression()",
    score_name="test R²",
    cases=collinear_cases,
    notes=_NOTES + "scikit-learn >= 1.9 cuts singular values below `tol = 1e-6` of the largest; "
    "on these designs the deficiencies are exact, so both cutoffs give the same rank.",
)

POSITIVE_SUITE = Suite(
    name="ols-positive",
    title="Non-negative least squares (positive=True)",
    ours_label="skscratch.LinearRegressionOLS(positive=True)",
    theirs_label="sklearn.linear_model.LinearRegression(positive=True)",
    score_name="test R²",
    cases=positive_cases,
    notes=_NOTES,
)
