"""Data shared by the classification suites: the shipped sets' splits and the large
``make_classification`` problem that both the logistic and the network suites time."""

from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

RANDOM_STATE = 0
# make_classification: the full problem, and the smaller one of --quick runs.
SYNTHETIC = dict(n_features=100, n_informative=60, n_classes=5, random_state=RANDOM_STATE)
SYNTHETIC_SAMPLES, QUICK_SYNTHETIC_SAMPLES = 200_000, 20_000


def synthetic_size(quick):
    return QUICK_SYNTHETIC_SAMPLES if quick else SYNTHETIC_SAMPLES


def synthetic(n_samples):
    """``make_classification`` with 5 classes, 20% held out (stratified)."""
    X, y = make_classification(n_samples=n_samples, **SYNTHETIC)
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=RANDOM_STATE)


def synthetic_description(n_samples):
    """How :func:`synthetic` makes its data, for a case's description."""
    shrunk = (f"; shrunk from {SYNTHETIC_SAMPLES} rows by `--quick`"
              if n_samples != SYNTHETIC_SAMPLES else "")
    return (f"`make_classification(n_samples={n_samples}, n_features=100, n_informative=60, "
            f"n_classes=5, random_state={RANDOM_STATE})`, 20% held out (stratified){shrunk}")


def shipped(loader, scaled, test_size):
    """A shipped data set, ``test_size`` held out (stratified); optionally standardized."""
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=RANDOM_STATE,
    )
    if scaled:
        scaler = StandardScaler().fit(X_train)  # statistics of the training rows only
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train, X_test, y_train, y_test
