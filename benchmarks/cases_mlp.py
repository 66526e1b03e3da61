"""Neural network: ``MLPClassifierScratch`` against ``MLPClassifier``, three suites.

- ``mlp``, the *per-epoch* table: a fixed number of epochs of Adam (batches of
  200, one hidden layer of 100 relu units) on a 200 000-row, 5-class problem,
  with both sides in float64 and with both sides in float32 (scikit-learn
  trains in float32 when given float32). With the same ``random_state`` both
  start from the same weights and visit the same batches, so the ratio of fit
  times is the ratio of epoch times at equal accuracy.
- ``mlp-sparse``: the same on a hashed bag of words of the synthetic text
  corpus (16000 training documents, 5 classes, ``2**14`` and, with ``--full``,
  ``2**18`` hashed columns), float64 CSR on both sides.
- ``mlp-small``, the *small-fit* table: both at scikit-learn's defaults (or the
  article's network) until their stopping rule, on the shipped data sets and
  the article's synthetic set, comparing test accuracy.

The per-epoch and small-fit rows are also timed with one thread.
"""

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skscratch import MLPClassifierScratch

from .data import RANDOM_STATE, shipped, synthetic, synthetic_description, synthetic_size
from .harness import Case, Quiet, Suite
from .text import text_data, text_description

EPOCHS = 2
SPARSE_EPOCHS = 1
SPEED = dict(solver="adam", batch_size=200, hidden_layer_sizes=(100,), random_state=RANDOM_STATE)
# Widths of the hashed bag of words. 2**18 columns make 26 million first-layer
# weights that Adam updates at every batch (the L2 term makes every gradient
# entry non-zero): its moments and step alone stream about 2.5 GB per batch,
# 0.56 s on this project's 2-core machine, so an epoch of 80 batches takes a
# minute or more per side. That row runs one epoch, no one-thread timing, and
# only with --full (two repeats would take 4 to 5 minutes of the default
# run's 15); quick runs have the 2**14 row only.
HASHED, QUICK_HASHED = (2**14, 2**18), (2**14,)
WIDE = 2**18
# The series' data set and network (Part 3).
ARTICLE_DATA = dict(n_samples=5000, n_features=20, n_informative=15, n_redundant=3,
                    n_repeated=0, n_classes=2, flip_y=0.05, class_sep=1.0, random_state=42)
ARTICLE_NET = dict(hidden_layer_sizes=(8, 3), activation="logistic")


def as_float32(split):
    """A train/test split with both feature matrices cast to float32 (outside the clock)."""
    X_train, X_test, y_train, y_test = split
    return X_train.astype(np.float32), X_test.astype(np.float32), y_train, y_test


def compare(ours, theirs):
    """Final training loss, epochs and convergence of each fit."""
    a, b = ours.estimator, theirs.estimator
    return {
        "skscratch loss_": float(a.loss_),
        "sklearn loss_": float(b.loss_),
        "skscratch n_iter": int(a.n_iter_),
        "sklearn n_iter": int(b.n_iter_),
        "skscratch converged": "no" if ours.convergence_warnings else "yes",
        "sklearn converged": "no" if theirs.convergence_warnings else "yes",
    }


def _epochs_case(name, description, load, epochs, **flags):
    """A per-epoch row: both sides run ``epochs`` epochs of Adam from the same start."""
    params = dict(SPEED, max_iter=epochs)
    return Case(
        name=name,
        description=(f"{description}; Adam, `batch_size=200`, `hidden_layer_sizes=(100,)`, "
                     f"`max_iter={epochs}`, `random_state={RANDOM_STATE}`, both sides"),
        load=load,
        make_ours=lambda: Quiet(MLPClassifierScratch(**params)),
        make_theirs=lambda: Quiet(MLPClassifier(**params)),
        compare=compare,
        units=epochs,
        single_thread=flags.pop("single_thread", True),
        **flags,
    )


def epoch_cases(quick):
    """Dense epochs, float64 on both sides and float32 on both sides."""
    n = synthetic_size(quick)
    data = synthetic_description(n)
    return [
        _epochs_case(
            name=f"{n}x100, {dtype}",
            description=f"{data}; {dtype} input to both sides",
            load=(lambda n=n: as_float32(synthetic(n))) if dtype == "float32"
            else (lambda n=n: synthetic(n)),
            epochs=EPOCHS,
        )
        for dtype in ("float64", "float32")
    ]


def sparse_cases(quick):
    """Epochs on the hashed bag of words, at each width."""
    return [
        _epochs_case(
            name=f"hashed 2^{n_features.bit_length() - 1}",  # "**" would end bold Markdown
            description=text_description("hashing", n_features, quick),
            load=lambda n_features=n_features: text_data("hashing", n_features, quick),
            epochs=SPARSE_EPOCHS,
            # Sparse products run on one thread in scipy, and Adam's update is
            # elementwise: the one-thread timing of the wide row would repeat
            # its long epochs for little news.
            single_thread=n_features < WIDE,
            full_only=n_features >= WIDE,
        )
        for n_features in (QUICK_HASHED if quick else HASHED)
    ]


def article():
    """The series' synthetic set, 80/20 as in the article."""
    X, y = make_classification(**ARTICLE_DATA)
    return train_test_split(X, y, test_size=0.2, random_state=RANDOM_STATE)


def small_cases(quick):
    """Both at their defaults (or the article's network) to their stopping rule."""
    accuracy = [
        ("digits", lambda: shipped(load_digits, False, 0.2), {},
         "`load_digits`, 20% held out (stratified), raw pixels"),
        ("breast_cancer standardized", lambda: shipped(load_breast_cancer, True, 0.2), {},
         "`load_breast_cancer`, 20% held out (stratified), `StandardScaler` on the training rows"),
        ("wine standardized", lambda: shipped(load_wine, True, 0.2), {},
         "`load_wine`, 20% held out (stratified), `StandardScaler` on the training rows"),
        ("article set, (8, 3) logistic", article, ARTICLE_NET,
         "the series' `make_classification(n_samples=5000, n_features=20, n_informative=15, "
         "n_redundant=3, flip_y=0.05, random_state=42)`, 80/20; "
         "`hidden_layer_sizes=(8, 3), activation='logistic'`"),
    ]
    if quick:  # a default network (wine) and the article's; digits' long fits are left out
        accuracy = [row for row in accuracy if row[0].startswith(("wine", "article"))]
    # The article's network is timed on one thread in the default run only (that
    # timing took 9 s of a 200 s quick run; wine keeps the quick run's column).
    found = []
    for name, load, net, description in accuracy:
        params = dict(random_state=RANDOM_STATE, **net)
        found.append(Case(
            name=name,
            description=description + "; otherwise both at their defaults",
            load=load,
            make_ours=lambda p=params: Quiet(MLPClassifierScratch(**p)),
            make_theirs=lambda p=params: Quiet(MLPClassifier(**p)),
            compare=compare,
            single_thread=not (quick and name.startswith("article")),
        ))
    return found


_EPOCH_NOTE = (
    "Times are per epoch: the fit time of a fixed number of epochs divided by that number "
    "(one-off setup, such as drawing the initial weights, is shared out over the epochs). "
    "Both sides start from the same initial weights and visit the same batches (the same "
    "`random_state` gives both the same Glorot draws and the same shuffling), so the time "
    "ratio is the ratio of epoch times at equal accuracy; the test accuracies and final "
    "losses show it. *converged* is `no` when the fit ended at `max_iter` with a "
    "`ConvergenceWarning`, as expected here."
)

SUITE = Suite(
    name="mlp",
    title="Neural network, time per epoch",
    ours_label="skscratch.MLPClassifierScratch",
    theirs_label="sklearn.neural_network.MLPClassifier",
    score_name="test accuracy",
    cases=epoch_cases,
    unit="epoch",
    notes=(
        f"{_EPOCH_NOTE} The *dtype* column is the dtype of both sides' input and weights: "
        "scikit-learn, like skscratch, trains in float32 when given float32. The acceptance "
        "targets are at most 0.6 in float64 and at most 0.4 in float32."
    ),
)

SPARSE_SUITE = Suite(
    name="mlp-sparse",
    title="Neural network on sparse input, time per epoch",
    ours_label="skscratch.MLPClassifierScratch",
    theirs_label="sklearn.neural_network.MLPClassifier",
    score_name="test accuracy",
    cases=sparse_cases,
    unit="epoch",
    notes=(
        f"{_EPOCH_NOTE} A hashed bag of words: each row has about a hundred non-zero "
        "columns, so the first layer's forward product is cheap and the work of an epoch is "
        "in its gradient and in Adam's update of every first-layer weight at every batch "
        "(`n_features` x 100 of them). The `2**18` row runs one epoch with no one-thread "
        "timing, and only with `--full`: its epochs take a minute or more per side."
    ),
)

SMALL_SUITE = Suite(
    name="mlp-small",
    title="Neural network, small fits",
    ours_label="skscratch.MLPClassifierScratch",
    theirs_label="sklearn.neural_network.MLPClassifier",
    score_name="test accuracy",
    cases=small_cases,
    notes=(
        "Both estimators fit to their own stopping rule with scikit-learn's defaults, or the "
        "article's network, from the same `random_state`, and their test accuracy is "
        "compared. *converged* is `no` when the fit ended at `max_iter` (200 epochs) with a "
        "`ConvergenceWarning`."
    ),
)
