"""LinearRegressionOLS.inference against statsmodels' OLS and WLS.

The bar is 1e-8 relative for every statistic (measured: <= 2e-12). The
estimates are QR-accurate (~kappa u with kappa <= 1e3 here), the covariance
is formed from R^{-1} (~kappa^2 u), and the tail probabilities carry ~1e-10
relative error (see test_distributions.py): 1e-8 covers all three with a
margin, while any formula error (a wrong degrees-of-freedom count, the
intercept's variance without the xbar term, HC2 with 1 - h^2, unweighted
R^2 under weights) is off by 1e-3 or more.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from skscratch import LinearRegressionOLS

sm = pytest.importorskip("statsmodels.api")

STATS = ["params", "bse", "tvalues", "pvalues", "rsquared", "rsquared_adj", "fvalue",
         "f_pvalue", "llf", "aic", "bic", "df_resid", "df_model", "ssr"]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _designs():
    rng = np.random.default_rng(0)
    n = 150
    # Offsets and scales far from 0 and 1; heteroskedastic noise so that
    # the HC covariances differ from the classical one.
    X1 = rng.standard_normal((n, 4)) * [1, 5, 0.2, 30] + [3, -40, 1, 1000]
    y1 = X1 @ [1.0, -0.2, 3.0, 0.01] + 5 + rng.standard_normal(n) * (1 + np.abs(X1[:, 0]))
    from sklearn.datasets import load_diabetes

    X2, y2 = load_diabetes(return_X_y=True)
    X3 = rng.uniform(0, 1, (60, 7))
    y3 = X3 @ rng.standard_normal(7) + rng.standard_normal(60)
    return {"offsets": (X1, y1), "diabetes": (X2, y2), "small": (X3, y3)}


DESIGNS = _designs()


def _statsmodels(X, y, w, fit_intercept, cov_type):
    Z = sm.add_constant(X, has_constant="add") if fit_intercept else X
    model = sm.OLS(y, Z) if w is None else sm.WLS(y, Z, weights=w)
    return model.fit(cov_type=cov_type, use_t=True)


@pytest.mark.parametrize("design", list(DESIGNS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3"])
def test_matches_statsmodels(design, weighted, fit_intercept, cov_type):
    X, y = DESIGNS[design]
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(y)) if weighted else None
    reg = LinearRegressionOLS(fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    ours = reg.inference(X, y, sample_weight=w, cov_type=cov_type)
    ref = _statsmodels(X, y, w, fit_intercept, cov_type)
    for name in STATS:
        assert _rel(getattr(ours, name), getattr(ref, name)) < 1e-8, name
    # Normwise for the matrix: off-diagonal entries that vanish in exact
    # arithmetic (diabetes is pre-centred, so cov(intercept, coef) ~ 0) have
    # no relative accuracy.
    ref_cov = ref.cov_params()
    assert np.max(np.abs(ours.cov_params - ref_cov)) < 1e-8 * np.max(np.abs(ref_cov))
    for alpha in (0.05, 0.01, 0.3):
        assert _rel(ours.conf_int(alpha), ref.conf_int(alpha)) < 1e-8
    # The estimates are the fitted model's.
    coef = ours.params[int(fit_intercept):]
    np.testing.assert_allclose(coef, reg.coef_, rtol=1e-10, atol=1e-12 * np.abs(reg.coef_).max())


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1", "HC3"])
def test_sparse_matches_statsmodels(cov_type):
    # Sparse X goes through the scatter matrix (kappa^2 u ~ 1e-12 here) and
    # blocks of the thin Q for the leverages: same bar.
    rng = np.random.default_rng(2)
    X = sp.random(400, 6, density=0.4, format="csr", random_state=3)
    y = X @ rng.standard_normal(6) + rng.standard_normal(400)
    w = rng.uniform(0.5, 2.0, 400)
    ours = LinearRegressionOLS().fit(X, y, sample_weight=w).inference(X, y, w, cov_type=cov_type)
    ref = _statsmodels(X.toarray(), y, w, True, cov_type)
    for name in STATS:
        assert _rel(getattr(ours, name), getattr(ref, name)) < 1e-8, name


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_after_partial_fit_uses_the_kept_factor(fit_intercept):
    # Nonrobust inference needs only R and the residual sum of squares, which
    # the merged factor holds: no rows are needed, and the answer is the
    # one-shot WLS's (uncentred R^2 and TSS without an intercept).
    X, y = DESIGNS["offsets"]
    w = np.random.default_rng(4).uniform(0.2, 3.0, len(y))
    reg = LinearRegressionOLS(fit_intercept=fit_intercept)
    for rows in np.array_split(np.arange(len(y)), 4):
        reg.partial_fit(X[rows], y[rows], sample_weight=w[rows])
    ours = reg.inference()
    ref = _statsmodels(X, y, w, fit_intercept, "nonrobust")
    for name in STATS:
        assert _rel(getattr(ours, name), getattr(ref, name)) < 1e-8, name
    with pytest.raises(ValueError, match="needs each row's residual"):
        reg.inference(cov_type="HC0")


def test_feature_names_and_summary():
    pd = pytest.importorskip("pandas")
    X, y = DESIGNS["small"]
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    result = LinearRegressionOLS().fit(frame, y).inference(frame, y)
    assert result.param_names == ["intercept"] + list(frame.columns)
    text = result.summary()
    assert "f6" in text and "P>|t|" in text and "R-squared" in text
    for name in ("intercept", "f0"):
        assert name in repr(result)


def test_inference_is_undefined_with_clear_errors():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((30, 3))
    y = rng.standard_normal(30)
    reg = LinearRegressionOLS().fit(np.c_[X, X[:, 0]], y)
    with pytest.raises(ValueError, match="rank 3 < 4"):
        reg.inference(np.c_[X, X[:, 0]], y)
    small = LinearRegressionOLS().fit(X[:4], y[:4])
    with pytest.raises(ValueError, match="no residual degrees of freedom"):
        small.inference(X[:4], y[:4])
    reg = LinearRegressionOLS().fit(X, y)
    with pytest.raises(ValueError, match="one target"):
        reg.inference(X, np.c_[y, y])
    with pytest.raises(ValueError, match="cov_type"):
        reg.inference(X, y, cov_type="HC9")
    with pytest.raises(ValueError, match="training rows"):
        reg.inference()
    with pytest.raises(ValueError, match="positive=True"):
        LinearRegressionOLS(positive=True).fit(X, y).inference(X, y)
    wide = sp.random(5, 12, density=0.5, format="csr", random_state=0)
    reg = LinearRegressionOLS().fit(wide, np.arange(5.0))
    with pytest.raises(ValueError, match="more features than rows"):
        reg.inference(wide, np.arange(5.0))
    one_hot = sp.csr_matrix(np.eye(3)[rng.integers(0, 3, 40)])
    reg = LinearRegressionOLS().fit(one_hot, rng.standard_normal(40))
    with pytest.raises(ValueError, match="singular"):
        reg.inference(one_hot, rng.standard_normal(40))


def test_fit_computes_nothing_for_inference(monkeypatch):
    # No cost to fit: fitting must not touch the inference module.
    import skscratch.linear_regression as lr

    def boom(*args, **kwargs):
        raise AssertionError("inference computed during fit")

    monkeypatch.setattr(lr, "inference_from_data", boom)
    monkeypatch.setattr(lr, "inference_from_factor", boom)
    X, y = DESIGNS["small"]
    LinearRegressionOLS().fit(X, y)
    LinearRegressionOLS().partial_fit(X, y)
