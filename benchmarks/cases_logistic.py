"""Logistic regression: ``LogisticRegressionGD`` against ``LogisticRegression``.

Both at their default settings: scikit-learn's L-BFGS with ``C=1.0`` and at
most 100 iterations, and our full-batch gradient descent ('gd'). They
minimize the same objective, ``C * sum_i logloss_i + 1/2 ||coef_||^2``,
so beside accuracy the table compares the two minimizers directly: the
objective each reached on the training set and their test probabilities.
"""

import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.datasets import (
    load_breast_cancer, load_digits, load_iris, load_wine, make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skscratch import LogisticRegressionGD

from .harness import Case, Suite

RANDOM_STATE = 0
C = 1.0  # both estimators' default

SHIPPED = {
    "breast_cancer": load_breast_cancer,
    "iris": load_iris,
    "wine": load_wine,
    "digits": load_digits,
}
# make_classification: the full problem, and the smaller one of --quick runs.
SYNTHETIC = dict(n_features=100, n_informative=60, n_classes=5, random_state=RANDOM_STATE)
SYNTHETIC_SAMPLES, QUICK_SYNTHETIC_SAMPLES = 200_000, 50_000


class Quiet:
    """An estimator whose ``fit`` runs with warnings silenced but counted.

    scikit-learn's L-BFGS often stops at ``max_iter`` on raw data and says so
    with a ``ConvergenceWarning``. Printing it from inside the timed loop
    would add noise to the log and to the clock; instead the count of the
    last fit is kept and shown as a column. Entering ``catch_warnings`` costs
    microseconds, paid equally by both sides.
    """

    def __init__(self, estimator):
        self.estimator = estimator
        self.convergence_warnings = 0

    def fit(self, X, y):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.estimator.fit(X, y)
        self.convergence_warnings = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        return self

    def score(self, X, y):
        return self.estimator.score(X, y)


def make_ours():
    return Quiet(LogisticRegressionGD())


def make_theirs():
    return Quiet(LogisticRegression())


def objective(estimator, X, y):
    """``C * sum_i logloss_i + 1/2 ||coef_||^2`` from the logits, computed stably.

    From ``decision_function`` rather than ``predict_proba``: a confident,
    correct prediction (common on the raw, nearly separable data sets) has
    a probability that rounds to 1, while its loss ``log(1 + e^-z)`` is
    still resolved from the logit.
    """
    idx = np.searchsorted(estimator.classes_, y)
    Z = estimator.decision_function(X)
    if Z.ndim == 1:  # binary: loss = log(1 + e^z) - y z
        losses = np.logaddexp(0.0, Z) - idx * Z
    else:  # multinomial: loss = logsumexp(z) - z_y
        losses = logsumexp(Z, axis=1) - Z[np.arange(len(y)), idx]
    return C * float(np.sum(losses)) + 0.5 * float(np.sum(estimator.coef_ ** 2))


class LogisticCase:
    """Loads one data set and compares the two fits on it.

    The harness hands ``compare`` the fitted estimators only, so the split
    is kept here between ``load`` and ``compare`` and released by
    ``compare``: the fitted estimators outlive the case, the data must not.
    """

    def __init__(self, split):
        self.split = split
        self.data = None

    def load(self):
        self.data = self.split()
        return self.data

    def compare(self, ours, theirs):
        X_train, X_test, y_train, _ = self.data
        self.data = None
        a, b = ours.estimator, theirs.estimator
        f_ours, f_theirs = objective(a, X_train, y_train), objective(b, X_train, y_train)
        return {
            "max |Δ proba|": float(np.max(np.abs(a.predict_proba(X_test) - b.predict_proba(X_test)))),
            "objective rel diff": (f_ours - f_theirs) / f_theirs,
            "skscratch n_iter": int(a.n_iter_),
            "sklearn n_iter": int(np.max(b.n_iter_)),
            "skscratch converged": "no" if ours.convergence_warnings else "yes",
            "sklearn converged": "no" if theirs.convergence_warnings else "yes",
        }


def shipped(loader, scaled):
    """A shipped data set, 25% held out (stratified); optionally standardized."""
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=RANDOM_STATE,
    )
    if scaled:
        scaler = StandardScaler().fit(X_train)  # statistics of the training rows only
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train, X_test, y_train, y_test


def synthetic(n_samples):
    """``make_classification`` with 5 classes, 20% held out (stratified)."""
    X, y = make_classification(n_samples=n_samples, **SYNTHETIC)
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=RANDOM_STATE)


def _case(name, description, split):
    holder = LogisticCase(split)
    return Case(
        name=name,
        description=description,
        load=holder.load,
        make_ours=make_ours,
        make_theirs=make_theirs,
        compare=holder.compare,
    )


def cases(quick):
    """The shipped data sets raw and standardized, then the large synthetic problem.

    ``quick`` shrinks only the synthetic problem (its fits take seconds);
    its row in the table says which size ran.
    """
    found = []
    for name, loader in SHIPPED.items():
        for scaled in (False, True):
            found.append(_case(
                name=f"{name} {'standardized' if scaled else 'raw'}",
                description=f"`load_{name}`, 25% held out (`train_test_split`, stratified, "
                            f"`random_state={RANDOM_STATE}`)"
                            + ("; `StandardScaler` fitted on the training rows" if scaled else ""),
                split=lambda loader=loader, scaled=scaled: shipped(loader, scaled),
            ))
    n_samples = QUICK_SYNTHETIC_SAMPLES if quick else SYNTHETIC_SAMPLES
    found.append(_case(
        name=f"classification {n_samples}x100, 5 classes",
        description=f"`make_classification(n_samples={n_samples}, n_features=100, "
                    f"n_informative=60, n_classes=5, random_state={RANDOM_STATE})`, "
                    f"20% held out (stratified)"
                    + (f"; shrunk from {SYNTHETIC_SAMPLES} rows by `--quick`" if quick else ""),
        split=lambda n=n_samples: synthetic(n),
    ))
    return found


SUITE = Suite(
    name="logistic",
    title="Logistic regression",
    ours_label="skscratch.LogisticRegressionGD()",
    theirs_label="sklearn.linear_model.LogisticRegression()",
    score_name="test accuracy",
    cases=cases,
    notes=(
        "Both estimators run at their default settings and minimize the same objective, "
        "`C Σ logloss + ½‖coef_‖²` with `C = 1`: binary log-loss for two classes, "
        "multinomial for more. *max |Δ proba|* is the largest difference between the two "
        "models' predicted probabilities on the held-out rows. *objective rel diff* is "
        "`(f_skscratch − f_sklearn) / f_sklearn` on the training rows; it is negative when "
        "skscratch reached the lower objective, which happens where L-BFGS stops at its "
        "default `max_iter=100` (*sklearn converged* is `no` when its fit raised a "
        "`ConvergenceWarning`; warnings are silenced during the timed fits and counted). "
        "*n_iter* counts accepted full-batch steps for skscratch and L-BFGS iterations for "
        "scikit-learn; both take one gradient per iteration plus whatever their line "
        "searches add. scikit-learn's fits run OpenMP threads beside OpenBLAS's: on two "
        "cores with one of them taken by another process, its default fits were measured "
        "20 to 40 times slower than with either thread pool limited to one thread, so these "
        "ratios mean something only on an idle machine (see the load average below)."
    ),
)
