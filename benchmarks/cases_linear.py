"""Ordinary least squares: ``LinearRegressionOLS`` against ``LinearRegression``."""

import numpy as np
from sklearn.datasets import load_diabetes, make_regression
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

from skscratch import LinearRegressionOLS

from .harness import Case, Suite, Sweep

RANDOM_STATE = 0
NOISE = 10.0

# (n_samples, n_features) of the training sets named in the acceptance criteria.
SYNTHETIC_SHAPES = [(20_000, 20), (200_000, 100), (50_000, 500)]
# --quick: the same widths on fewer rows (each of the larger fits a fifth of the time)
QUICK_SHAPES = [(20_000, 20), (40_000, 100), (10_000, 500)]


def max_relative_difference(a, b):
    """``max|a - b| / max|b|``: agreement of ``a`` with the reference ``b``.

    Normalising by the largest reference entry, not entrywise, keeps
    near-zero coefficients from turning round-off into huge ratios.
    """
    a, b = np.ravel(a), np.ravel(b)
    scale = np.max(np.abs(b)) if b.size else 0.0
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else float(np.max(np.abs(a - b)))


def compare_ols(ours, theirs):
    """Parameter agreement of the two fits, and which solver skscratch used."""
    return {
        "coef rel diff": max_relative_difference(ours.coef_, theirs.coef_),
        "intercept rel diff": max_relative_difference(ours.intercept_, theirs.intercept_),
        "solver": getattr(ours, "solver_", "-"),
    }


def diabetes():
    """scikit-learn's diabetes data, 25% held out."""
    X, y = load_diabetes(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=RANDOM_STATE)


def synthetic(n_samples, n_features):
    """A ``make_regression`` problem whose *training* set is ``n_samples`` rows.

    A quarter as many rows again is generated and held out (20% of the total),
    so the timed fit has exactly the shape named in the acceptance criteria.
    ``make_regression`` draws rows independently and shuffles them, so the
    split is a plain slice: views, no copies of a 200 MB array.
    """
    n_test = n_samples // 4
    X, y = make_regression(
        n_samples=n_samples + n_test, n_features=n_features,
        noise=NOISE, random_state=RANDOM_STATE,
    )
    return X[:n_samples], X[n_samples:], y[:n_samples], y[n_samples:]


def sweep_problem(n_samples, n_features):
    """A ``make_regression`` problem used whole, for timing only."""
    return make_regression(
        n_samples=n_samples, n_features=n_features,
        noise=NOISE, random_state=RANDOM_STATE,
    )


def cases(quick):
    """The acceptance cases; ``quick`` keeps their widths on fewer rows."""
    found = [Case(
        name="diabetes",
        description="`load_diabetes` (442 x 10), 25% held out "
                    f"(`train_test_split`, `random_state={RANDOM_STATE}`)",
        load=diabetes,
        make_ours=LinearRegressionOLS,
        make_theirs=LinearRegression,
        compare=compare_ols,
    )]
    for n_samples, n_features in (QUICK_SHAPES if quick else SYNTHETIC_SHAPES):
        found.append(Case(
            name=f"regression {n_samples}x{n_features}",
            description=f"`make_regression(noise={NOISE:g}, random_state={RANDOM_STATE})`, "
                        f"{n_samples} x {n_features} train + {n_samples // 4} held out",
            load=lambda n=n_samples, p=n_features: synthetic(n, p),
            make_ours=LinearRegressionOLS,
            make_theirs=LinearRegression,
            compare=compare_ols,
        ))
    return found


def sweeps(quick):
    """Fit time against n_samples (p fixed) and against n_features (n fixed).

    The largest points cost up to a couple of seconds per fit with
    scikit-learn on two cores, which keeps both sweeps near a minute; quick
    mode stops earlier.
    """
    if quick:
        sample_sizes = [1_000, 4_000, 16_000, 32_000]
        feature_sizes = [10, 40, 160]
    else:
        sample_sizes = [1_000, 3_000, 10_000, 30_000, 100_000]
        feature_sizes = [10, 25, 50, 100, 200, 400, 800]
    n_fixed, p_fixed = 20_000, 100
    return [
        Sweep(
            name="n_samples",
            label=f"n_samples (n_features = {p_fixed})",
            sizes=sample_sizes,
            load=lambda n: sweep_problem(n, p_fixed),
            make_ours=LinearRegressionOLS,
            make_theirs=LinearRegression,
        ),
        Sweep(
            name="n_features",
            label=f"n_features (n_samples = {n_fixed})",
            sizes=feature_sizes,
            load=lambda p: sweep_problem(n_fixed, p),
            make_ours=LinearRegressionOLS,
            make_theirs=LinearRegression,
        ),
    ]


SUITE = Suite(
    name="ols",
    title="Linear regression (OLS)",
    ours_label="skscratch.LinearRegressionOLS()",
    theirs_label="sklearn.linear_model.LinearRegression()",
    score_name="test R²",
    cases=cases,
    sweeps=sweeps,
    notes=(
        "R² is measured on held-out rows for every case. The synthetic training "
        "sets have exactly the shapes named in the acceptance criteria; a further "
        "quarter as many rows (20% of all rows generated) is held out. Parameter "
        "agreement is `max|a - b| / max|b|` with scikit-learn's fit as `b`, for "
        "`coef_` and for `intercept_`."
    ),
)
