"""The estimators on Dask arrays: the block-wise fits against the in-memory ones.

These run on Dask's synchronous scheduler (one process, no serialization):
the math of the block-wise paths does not depend on where blocks run, and
in-process it is fast and the run-time guard can see it. The cluster tests
(real worker processes, memory limits, data larger than the driver) are in
``test_dask_cluster.py``.

Bars, and why:

- least squares: TSQR and the in-memory solvers are both QR-class (error
  ~kappa u each, kappa ~ 10 here): 1e-10 relative, the in-memory estimator's bar; on
  kappa = 1e8, within 10x the in-memory fit's own distance to a LAPACK
  oracle.
- logistic 'gd': the same engine on sums over blocks; the objective within
  1e-10 relative of the in-memory optimum (the default tol puts both within
  ~1e-12 of the minimum), far inside the 1e-6 asked of it.
- streaming solvers: the same seed and chunking give the same bits.
"""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from skscratch import LinearRegressionOLS, LogisticRegressionGD, MLPClassifierScratch  # noqa: E402
from skscratch import _dask  # noqa: E402


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300)


def _regression(n=900, p=6, k=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + rng.uniform(-5, 5, p)
    beta = rng.standard_normal(p if k is None else (p, k))
    y = X @ beta + 2.0 + 0.3 * rng.standard_normal(n if k is None else (n, k))
    return X, y, rng.uniform(0.0, 2.0, n)


def _chunked(*arrays, rows=130):
    return [None if a is None else da.from_array(a, chunks=(rows,) + a.shape[1:]) for a in arrays]


# ---------------------------------------------------------------------------
# Least squares: TSQR
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [None, 3])
def test_tsqr_equals_the_in_memory_fit(fit_intercept, weighted, k):
    # Rejects a merge without the between-block term (means differ by O(1)
    # between blocks here: coefficients off by O(1)), block weights that are
    # not carried (the weighted fit would be the unweighted one), and a
    # solve that ignores the targets' columns beyond the first.
    X, y, w = _regression(k=k)
    w = w if weighted else None
    Xd, yd, wd = _chunked(X, y, w)
    ours = LinearRegressionOLS(fit_intercept=fit_intercept).fit(Xd, yd, sample_weight=wd)
    ref = LinearRegressionOLS(fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    assert ours.solver_ == "tsqr" and ours.rank_ == ref.rank_ == X.shape[1]
    assert _rel(ours.coef_, ref.coef_) < 1e-10
    assert np.abs(np.asarray(ours.intercept_) - ref.intercept_).max() < 1e-10 * max(
        1.0, np.abs(ref.intercept_).max())
    assert np.shape(ours.coef_) == np.shape(ref.coef_)
    # and against LAPACK on the weighted, augmented problem
    s = np.ones(X.shape[0]) if w is None else w
    A = np.column_stack([X, np.ones(X.shape[0])]) if fit_intercept else X
    sol = scipy.linalg.lstsq(A * np.sqrt(s)[:, None], (y.T * np.sqrt(s)).T)[0]
    assert _rel(ours.coef_, sol[:X.shape[1]].T) < 1e-10


def test_tsqr_is_qr_class_on_ill_conditioned_data():
    # kappa = 1e8: a merge through the normal equations (X^T X summed over
    # blocks) has error kappa^2 u > 1, nothing left; TSQR must stay within
    # 10x the in-memory Householder fit's distance to LAPACK's answer.
    rng = np.random.default_rng(3)
    n, p = 1200, 5
    U = np.linalg.qr(rng.standard_normal((n, p)))[0]
    V = np.linalg.qr(rng.standard_normal((p, p)))[0]
    X = (U * np.geomspace(1.0, 1e-8, p)) @ V.T * 100.0
    y = X @ rng.standard_normal(p) + 1e-6 * rng.standard_normal(n)
    oracle = scipy.linalg.lstsq(np.column_stack([X, np.ones(n)]), y)[0][:p]
    ours = LinearRegressionOLS().fit(*_chunked(X, y, rows=97))
    ref = LinearRegressionOLS(solver="householder").fit(X, y)
    assert _rel(ours.coef_, oracle) <= 10 * max(_rel(ref.coef_, oracle), 1e-14)
    gram = np.linalg.solve(X.T @ X - n * np.outer(X.mean(0), X.mean(0)),
                           (X - X.mean(0)).T @ (y - y.mean()))
    assert _rel(gram, oracle) > 100 * _rel(ours.coef_, oracle)  # the test can tell


def test_tsqr_rank_deficient_gives_the_minimum_norm_solution():
    # A duplicated column and a column that is a combination of two others:
    # rank p - 2. The minimum-norm answer is LAPACK's gelsd's; rejects a
    # solve that is not rank revealing (huge, opposite coefficients).
    X, y, _ = _regression(p=6)
    X = np.column_stack([X, X[:, 0], X[:, 1] - 2 * X[:, 2]])
    ours = LinearRegressionOLS().fit(*_chunked(X, y))
    Xc, yc = X - X.mean(0), y - y.mean()
    oracle = scipy.linalg.lstsq(Xc, yc, cond=1e-10, lapack_driver="gelsd")[0]
    assert ours.rank_ == 6
    assert _rel(ours.coef_, oracle) < 1e-9


def test_tsqr_positive_matches_in_memory_nnls():
    # NNLS on the merged triangle has the data's objective: the same active
    # set and coefficients as the in-memory NNLS (1e-10: both solve the
    # same final least-squares problem on the free set).
    X, y, w = _regression(seed=4)
    y = y - 3 * X[:, 0]  # one coefficient that wants to be negative
    ours = LinearRegressionOLS(positive=True).fit(*_chunked(X, y, w)[:2], sample_weight=w)
    ref = LinearRegressionOLS(positive=True).fit(X, y, sample_weight=w)
    assert ours.solver_ == "tsqr_nnls"
    assert np.array_equal(ours.coef_ == 0, ref.coef_ == 0) and (ref.coef_ == 0).any()
    assert _rel(ours.coef_, ref.coef_) < 1e-10


def test_tsqr_float32_gives_float32_coefficients():
    X, y, _ = _regression()
    X32 = X.astype(np.float32)
    ours = LinearRegressionOLS().fit(*_chunked(X32, y))
    ref = LinearRegressionOLS().fit(X32, y)
    assert ours.coef_.dtype == np.float32
    assert _rel(ours.coef_, ref.coef_) < 1e-6  # both computed in float64, stored in float32


def test_partial_fit_on_dask_arrays_continues_the_stream():
    # Two Dask calls and a numpy one: the same as one fit on all rows (QR
    # class, 1e-10). Rejects a Dask partial_fit that restarts the stream.
    X, y, _ = _regression(n=1200)
    reg = LinearRegressionOLS()
    reg.partial_fit(*_chunked(X[:500], y[:500]))
    reg.partial_fit(*_chunked(X[500:1000], y[500:1000], rows=77))
    reg.partial_fit(X[1000:], y[1000:])
    ref = LinearRegressionOLS().fit(X, y)
    assert reg.solver_ == "streaming_qr"
    assert _rel(reg.coef_, ref.coef_) < 1e-10


def test_inference_on_dask_arrays_is_the_in_memory_inference():
    # Standard errors from the merged factor: the classical covariance of
    # the in-memory inference, to QR-class rounding (1e-9 relative).
    X, y, w = _regression(n=600)
    reg = LinearRegressionOLS().fit(X, y, sample_weight=w)
    ref = reg.inference(X, y, sample_weight=w)
    ours = reg.inference(*_chunked(X, y), sample_weight=_chunked(w)[0])
    for name in ("params", "bse", "tvalues"):
        assert _rel(getattr(ours, name), getattr(ref, name)) < 1e-9
    assert ours.llf == pytest.approx(ref.llf, rel=1e-10)
    with pytest.raises(ValueError, match="nonrobust"):
        reg.inference(*_chunked(X, y), cov_type="HC1")


def test_linear_predict_and_score_are_lazy_and_match():
    X, y, w = _regression(k=2)
    reg = LinearRegressionOLS().fit(X, y)
    Xd, yd, wd = _chunked(X, y, w)
    pred = reg.predict(Xd)
    assert isinstance(pred, da.Array) and pred.chunks[0] == Xd.chunks[0]
    np.testing.assert_allclose(pred.compute(), reg.predict(X), rtol=1e-13)
    # R^2 as scikit-learn's r2_score (uniform average over targets, weights)
    assert reg.score(Xd, yd, sample_weight=wd) == pytest.approx(
        r2_score(y, reg.predict(X), sample_weight=w), rel=1e-12)
    single = LinearRegressionOLS().fit(X, y[:, 0])
    assert single.score(Xd, yd[:, 0]) == pytest.approx(single.score(X, y[:, 0]), rel=1e-12)


# ---------------------------------------------------------------------------
# Logistic regression
# ---------------------------------------------------------------------------


def _classification(n=800, p=5, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 4.0, p) + rng.uniform(-3, 3, p)
    scores = X @ rng.standard_normal((p, k)) + rng.gumbel(size=(n, k))
    y = np.array(["a", "b", "c", "d"])[scores.argmax(axis=1)]
    return X, y, rng.uniform(0.2, 3.0, n)


def _objective(clf, X, y, w):
    """The in-memory problem's objective at ``clf``'s coefficients (a float)."""
    from skscratch._linear_logit import LinearLogit

    problem = LinearLogit(X, np.searchsorted(clf.classes_, y), w, n_classes=len(clf.classes_),
                          C=clf.C, l1_ratio=clf.l1_ratio, fit_intercept=clf.fit_intercept)
    theta = problem.pack(clf.coef_, clf.intercept_)
    f, _ = problem.outer(problem.image(theta))
    W, _ = problem.split(theta)
    return f + 0.5 * problem.lam2 * float(np.sum(W * W)) + problem.lam1 * float(np.abs(W).sum())


@pytest.mark.parametrize("setting", [
    {},
    {"k": 3},
    {"k": 4, "C": 0.05, "fit_intercept": False},
    {"class_weight": "balanced", "weighted": True},
    {"k": 3, "l1_ratio": 1.0, "C": 0.02},
    {"metric": "diagonal", "weighted": True},
    {"float32": True},
])
def test_gd_reaches_the_in_memory_optimum(setting):
    # The same engine on block sums: the objective at the Dask fit equals
    # the in-memory optimum to 1e-10 relative (both are within ~1e-12 of
    # the minimum at the default tol; float32 data: the float32 tol puts
    # both within ~1e-7, so 1e-6). Rejects per-block normalization of the
    # weights (each block its own mean loss: a different objective, off by
    # 1e-2 here, the blocks having different weight totals) and a gradient
    # that misses the blocks' intercept sums.
    setting = dict(setting)
    k = setting.pop("k", 2)
    weighted = setting.pop("weighted", False)
    float32 = setting.pop("float32", False)
    X, y, w = _classification(k=k)
    X = X.astype(np.float32) if float32 else X
    w = w if weighted else None
    Xd, yd, wd = _chunked(X, y, w, rows=110)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = LogisticRegressionGD(**setting).fit(Xd, yd, sample_weight=wd)
        ref = LogisticRegressionGD(**setting).fit(X, y, sample_weight=w)
    s = np.ones(len(y)) if w is None else w
    if setting.get("class_weight") == "balanced":
        classes, counts = np.unique(y, return_counts=True)
        s = s * (len(y) / (len(classes) * counts))[np.searchsorted(classes, y)]
    f_ours, f_ref = (_objective(c, X.astype(np.float64), y, s) for c in (ours, ref))
    assert abs(f_ours - f_ref) <= (1e-6 if float32 else 1e-10) * abs(f_ref)
    if float32:
        # Both near the float64 optimum: the float32 tol's bound (~1e-7;
        # measured 1e-9). Rejects logits accumulated in float32, whose
        # search directions' images lose what the intercept cancels: both
        # fits then stopped 1e-4 to 2e-3 above the optimum.
        best = LogisticRegressionGD(**setting).fit(X.astype(np.float64), y, sample_weight=w)
        f_best = _objective(best, X.astype(np.float64), y, s)
        assert max(f_ours, f_ref) - f_best <= 1e-7 * f_best
    assert ours.metric_ == ref.metric_ and ours.coef_.dtype == ref.coef_.dtype
    assert np.array_equal(ours.classes_, ref.classes_)
    if setting.get("l1_ratio"):
        assert np.array_equal(ours.coef_ == 0, ref.coef_ == 0) and (ref.coef_ == 0).any()


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_streaming_logistic_is_reproducible_and_near_the_optimum(solver):
    # The same seed and chunking: the same bits (rejects any unseeded draw).
    # Another chunking streams other batches: a different path, the same
    # neighbourhood of the optimum (objective within 2% after 30 epochs,
    # measured 0.3%; an unshuffled or block-stuck stream lands further).
    X, y, w = _classification(n=1200, k=3)
    ref = LogisticRegressionGD().fit(X, y)
    f_opt = _objective(ref, X, y, np.ones(len(y)))
    fits = []
    for rows in (150, 150, 400):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(LogisticRegressionGD(solver=solver, random_state=0, max_iter=30)
                        .fit(*_chunked(X, y, rows=rows)))
    assert np.array_equal(fits[0].coef_, fits[1].coef_)
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    assert not np.array_equal(fits[0].coef_, fits[2].coef_)
    for fit in (fits[0], fits[2]):
        assert _objective(fit, X, y, np.ones(len(y))) <= 1.02 * f_opt


def test_streamed_batches_visit_every_row_once_per_epoch():
    # The epoch's batches: the blocks in a permuted order, rows shuffled
    # within each block, no batch across two blocks, every row once.
    X, y, _ = _classification(n=500)
    Xd, yd = _chunked(X, np.arange(500)[:, None], rows=90)
    seen = []
    stream = _dask.StreamedBlocks([Xd, yd], lambda Xb, rb: rb[:, 0])
    rng = np.random.RandomState(0)
    for idx in stream.batch_order(40, rng, shuffle=True):
        rows = stream.current[idx]
        assert rows.max() // 90 == rows.min() // 90  # one block
        seen.append(rows)
    everything = np.concatenate(seen)
    assert np.array_equal(np.sort(everything), np.arange(500))
    assert not np.array_equal(everything, np.arange(500))
    blocks = [int(r[0] // 90) for r in seen]
    assert blocks != sorted(blocks)  # the block order is shuffled too
    assert stream.current is None  # nothing kept after the epoch


def test_logistic_partial_fit_on_dask_is_partial_fit_per_block():
    X, y, w = _classification(n=600, k=3)
    Xd, yd, wd = _chunked(X, y, w, rows=200)
    ours = LogisticRegressionGD(solver="adam", random_state=1)
    ours.partial_fit(Xd, yd, classes=np.unique(y), sample_weight=wd)
    ref = LogisticRegressionGD(solver="adam", random_state=1)
    for rows in np.split(np.arange(600), 3):
        ref.partial_fit(X[rows], y[rows], classes=np.unique(y), sample_weight=w[rows])
    assert np.array_equal(ours.coef_, ref.coef_) and ours.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("k", [2, 3])
def test_logistic_predictions_are_lazy_and_match(k):
    X, y, _ = _classification(k=k)
    clf = LogisticRegressionGD().fit(X, y)
    (Xd,) = _chunked(X)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        out = getattr(clf, method)(Xd)
        assert isinstance(out, da.Array), method
        np.testing.assert_array_equal(out.compute(), getattr(clf, method)(X))
    assert clf.score(Xd, y) == accuracy_score(y, clf.predict(X))


# ---------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------


def test_mlp_lbfgs_on_blocks_follows_the_in_memory_fit():
    # L-BFGS on the sum of per-block losses and gradients: the same
    # objective; rounding of the block sums (1e-16 relative) lets the two
    # runs drift apart only slowly (measured 1e-12 in the loss after 30
    # iterations): 1e-8. Rejects a penalty scaled by a block's weight
    # instead of the total (alpha / S_b: the loss off by ~10%).
    X, y, w = _classification(n=600, k=3)
    kw = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=30, random_state=0, alpha=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifierScratch(**kw).fit(*_chunked(X, y, w, rows=170)[:2],
                                              sample_weight=_chunked(w, rows=170)[0])
        ref = MLPClassifierScratch(**kw).fit(X, y, sample_weight=w)
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-8)
    assert ours.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_mlp_streaming_is_reproducible(solver):
    X, y, _ = _classification(n=600, k=3)
    kw = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=4, random_state=0, batch_size=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b = (MLPClassifierScratch(**kw).fit(*_chunked(X, y, rows=130)) for _ in range(2))
        ref = MLPClassifierScratch(**kw).fit(X, y)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(wa, wb)
    # the same start (Glorot draws from the seed), then other batches
    np.testing.assert_array_equal(a.t_, ref.t_)
    assert a.loss_curve_[-1] < a.loss_curve_[0]


def test_mlp_multilabel_and_predictions_on_dask():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((400, 4))
    Y = (X[:, :3] + 0.3 * rng.standard_normal((400, 3)) > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifierScratch((8,), solver="lbfgs", max_iter=50, random_state=0)
        clf.fit(*_chunked(X, Y, rows=90))
    (Xd,) = _chunked(X)
    for method in ("predict", "predict_proba", "predict_log_proba"):
        out = getattr(clf, method)(Xd)
        assert isinstance(out, da.Array)
        np.testing.assert_array_equal(out.compute(), getattr(clf, method)(X))
    assert clf.score(Xd, Y) == pytest.approx(clf.score(X, Y))
    # The blocks' sums are the in-memory objective: the same L-BFGS path
    # (measured 1.5e-12 apart after 50 iterations; 1e-8 leaves room for the
    # rounding of sums taken in another order, amplified by the iterations).
    # Rejects a block path that drops the multilabel targets' columns or
    # weighs blocks by their own means.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = MLPClassifierScratch((8,), solver="lbfgs", max_iter=50, random_state=0).fit(X, Y)
    for ours, theirs in zip(clf.coefs_ + clf.intercepts_, ref.coefs_ + ref.intercepts_):
        assert _rel(ours, theirs) <= 1e-8
    # Subset accuracy: the noise-free rule (x_j > 0) scores 0.735 on these
    # noisy labels, a model that learned nothing ~0.15; 0.65 tells them apart.
    assert clf.score(Xd, Y) > 0.65


# ---------------------------------------------------------------------------
# Input: DataFrames, chunking, errors
# ---------------------------------------------------------------------------


def test_dask_dataframes_and_series():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, w = _regression(n=500, p=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    ddf = dd.from_pandas(frame, npartitions=4)
    ys = dd.from_pandas(pd.Series(y), npartitions=4)
    reg = LinearRegressionOLS().fit(ddf, ys)
    ref = LinearRegressionOLS().fit(frame, y)
    assert list(reg.feature_names_in_) == ["a", "b", "c"]
    assert _rel(reg.coef_, ref.coef_) < 1e-10
    np.testing.assert_allclose(reg.predict(ddf).compute(), ref.predict(frame), rtol=1e-12)
    with pytest.raises(ValueError, match="feature names"):
        reg.predict(dd.from_pandas(frame.rename(columns={"a": "z"}), npartitions=2))
    labels = dd.from_pandas(pd.Series(np.where(y > np.median(y), "hi", "lo")), npartitions=4)
    clf = LogisticRegressionGD().fit(ddf, labels)
    assert list(clf.feature_names_in_) == ["a", "b", "c"]


@pytest.mark.parametrize("estimator", [LinearRegressionOLS(), LogisticRegressionGD(),
                                       MLPClassifierScratch((3,), max_iter=2)])
def test_bad_chunking_is_refused_with_the_fix(estimator):
    X, y, _ = _regression(n=300)
    y = (y > np.median(y)).astype(int)
    with pytest.raises(ValueError, match=r"rechunk\(\{1: -1\}\)"):
        estimator.fit(da.from_array(X, chunks=(100, 3)), y)
    with pytest.raises(ValueError, match=r"rechunk\(\{0: X.chunks\[0\]\}\)"):
        estimator.fit(da.from_array(X, chunks=(100, -1)), da.from_array(y, chunks=70))
    unknown = da.from_array(X, chunks=(100, -1))
    unknown = unknown[unknown[:, 0] > -100]  # boolean indexing: unknown block sizes
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        estimator.fit(unknown, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        estimator.fit(da.from_array(X, chunks=(100, -1)), y[:-1])


@pytest.mark.parametrize("estimator", [LinearRegressionOLS(), LogisticRegressionGD(),
                                       LogisticRegressionGD(solver="sgd", max_iter=2),
                                       MLPClassifierScratch((3,), max_iter=2)])
def test_nan_in_a_late_block_fails_and_leaves_the_model_as_it_was(estimator):
    X, y, _ = _regression(n=300)
    y = (y > np.median(y)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, y)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v)
              for k, v in vars(estimator).items()}
    bad = X.copy()
    bad[-1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        estimator.fit(da.from_array(bad, chunks=(100, -1)), y)
    after = vars(estimator)
    assert set(after) == set(before)
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value)


def test_refusals_say_what_to_do():
    X, y, _ = _regression(n=200)
    yc = (y > 0).astype(int)
    Xd = da.from_array(X, chunks=(50, -1))
    with pytest.raises(ValueError, match="early_stopping"):
        LogisticRegressionGD(solver="sgd", early_stopping=True).fit(Xd, yc)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifierScratch(early_stopping=True).fit(Xd, yc)
    sparse = Xd.map_blocks(lambda b: __import__("scipy.sparse").sparse.csr_matrix(b),
                           meta=__import__("scipy.sparse").sparse.csr_matrix((0, 0)))
    with pytest.raises(TypeError, match="dense blocks"):
        LinearRegressionOLS().fit(sparse, y)
    with pytest.raises(ValueError, match="Negative"):
        LinearRegressionOLS().fit(Xd, y, sample_weight=-np.ones(200))


def test_plain_install_without_dask_imports_and_says_what_to_install():
    # Dask made unimportable: the package imports and fits numpy input; a
    # Dask collection gets an ImportError that names the extra.
    code = textwrap.dedent("""
        import sys
        sys.modules["dask"] = None
        sys.modules["dask.array"] = None
        import numpy as np
        import skscratch
        from skscratch import LinearRegressionOLS
        X = np.random.default_rng(0).standard_normal((20, 2))
        LinearRegressionOLS().fit(X, X @ [1.0, 2.0])
        assert "dask" not in [m for m in sys.modules if sys.modules[m] is not None]
        class FakeCollection:
            ndim, shape = 2, (20, 2)
            def __dask_graph__(self):
                return {}
        try:
            LinearRegressionOLS().fit(FakeCollection(), X[:, 0])
        except ImportError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'skscratch[dask]'" in out.stdout


def test_importing_the_package_does_not_import_dask():
    code = "import sys, skscratch; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# Callbacks (scikit-learn >= 1.9)
# ---------------------------------------------------------------------------


class _Recorder:
    """Records the iterations' models; asks to stop after ``stop_after`` of them."""

    def __init__(self, stop_after=None):
        self.models, self.stop_after, self.closed = [], stop_after, 0

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, *, X=None, fitted_estimator=None):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.closed += 1
        if context.task_name in ("iteration", "epoch") and fitted_estimator is not None:
            self.models.append(fitted_estimator)
            return self.stop_after is not None and len(self.models) >= self.stop_after
        return False


@pytest.mark.parametrize("cls, params", [
    (LogisticRegressionGD, {}),
    (MLPClassifierScratch, dict(solver="lbfgs", hidden_layer_sizes=(4,), random_state=0)),
])
def test_callbacks_see_each_iteration_of_a_dask_fit(cls, params):
    # As in memory: one subtask per iteration, whose model is the fit with
    # max_iter = that many iterations (the same block sums, so to 1e-12),
    # and a callback's True stops the fit there. Binary, so that W.T is a
    # contiguous view of the iterate: rejects models that alias the iterate
    # the solver goes on updating (every recorded model was then the last
    # one, in memory too), callbacks not passed to the Dask engines (no
    # models recorded), and models taken before the iteration's step.
    pytest.importorskip("sklearn.callback")
    X, y, _ = _classification(n=300, k=2)
    for data in ((X, y), tuple(_chunked(X, y, rows=110))):
        rec = _Recorder()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = cls(max_iter=5, **params).set_callbacks(rec).fit(*data)
            reference = cls(max_iter=2, **params).fit(*data)
            stopped = cls(max_iter=50, **params).set_callbacks(_Recorder(stop_after=2)).fit(*data)
        n = est.n_iter_[0] if np.ndim(est.n_iter_) else est.n_iter_
        assert len(rec.models) == n >= 2

        def coef(e):
            return e.coef_ if hasattr(e, "coef_") else np.concatenate(
                [c.ravel() for c in e.coefs_ + e.intercepts_])

        np.testing.assert_allclose(coef(rec.models[1]), coef(reference), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(coef(stopped), coef(reference), rtol=1e-12, atol=1e-14)
