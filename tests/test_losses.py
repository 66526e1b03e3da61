"""Unit tests of skscratch._losses against scipy.special, scikit-learn and finite differences.

Oracles: ``scipy.special`` (expit, log_expit, softmax, log_softmax,
logsumexp), ``sklearn.metrics.log_loss``, and central finite differences of
the loss for the gradients. float32 results are compared with the oracle
evaluated in float64 on the same (exactly representable) float32 inputs, so
the comparison measures only the float32 computation's own rounding.

Tolerances are in units of ``eps`` (machine epsilon of the dtype under test:
2.2e-16 for float64, 1.2e-7 for float32), and each is justified where it is
used. A wrong formula, a missing weight or an overflow gives errors of order
one (or inf / nan), far above all of them.
"""

import warnings

import numpy as np
import pytest
import scipy.special
from sklearn.metrics import log_loss

from skscratch._losses import (
    binary_loss_grad,
    log_sigmoid,
    log_softmax,
    sigmoid,
    softmax,
    softmax_cross_entropy_labels,
)

DTYPES = [np.float64, np.float32]

# Logits over the whole range: 0, subnormal and tiny, moderate, the overflow
# thresholds of the textbook formulas (exp overflows past ~88.7 in float32 and
# ~709.8 in float64), the subnormal range of the results, and huge.
_POSITIVE = np.array(
    [5e-324, 1e-300, 1e-30, 1e-8, 0.5, 1, 2, 10, 17, 20, 36, 40, 88, 89, 100, 104,
     700, 709, 710, 745, 800, 1e4, 1e30]
)  # fmt: skip
GRID = np.concatenate([-_POSITIVE[::-1], [0.0], _POSITIVE, np.linspace(-60, 60, 241)])


def _logit_matrix(shape, seed):
    """Logits mixing the grid's values with random ones that are not round numbers."""
    rng = np.random.default_rng(seed)
    Z = rng.choice(GRID, size=shape)
    scattered = rng.random(shape) < 0.5
    Z[scattered] = rng.normal(0.0, 30.0, size=scattered.sum())
    return Z


def _no_warnings(func, *args, **kwargs):
    """Call ``func`` with every warning (overflow, underflow, ...) turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return func(*args, **kwargs)


def _assert_close(actual, desired, rtol, atol):
    """Elementwise ``|actual - desired| <= atol + rtol * |desired|``; rtol may be an array."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert actual.shape == desired.shape
    assert np.all(np.isfinite(actual) == np.isfinite(desired))
    err = np.abs(actual - desired)
    bound = atol + rtol * np.abs(desired)
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), (
        f"at {worst}: actual {actual[worst]!r}, desired {desired[worst]!r}, "
        f"error {err[worst]:.3g} > bound {bound[worst]:.3g}"
    )


# ---------------------------------------------------------------------------
# Links: sigmoid, log_sigmoid, softmax, log_softmax
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "func, oracle",
    [(sigmoid, scipy.special.expit), (log_sigmoid, scipy.special.log_expit)],
    ids=["sigmoid", "log_sigmoid"],
)
def test_sigmoid_and_log_sigmoid_match_scipy(func, oracle, dtype):
    z = GRID.astype(dtype)
    result = _no_warnings(func, z)
    assert result.dtype == dtype and result.shape == z.shape
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    # One exp of an exact input (-|z|), one add, one divide or log1p: a few
    # roundings of at most ~1 eps each, so 4 eps relative. atol = the smallest
    # normal float covers results in the subnormal range, which carry an
    # absolute error of one subnormal step.
    _assert_close(result, oracle(z.astype(np.float64)), rtol=4 * eps, atol=tiny)


def _shifted(Z):
    """``Z - max(Z)`` row by row, rounded in Z's own dtype, as an exact float64 array.

    softmax and log_softmax are unchanged by the shift, and every stable
    implementation makes it: its rounding (relative eps) is a perturbation of
    the input, which exp then amplifies by |z - m|, up to ~100 eps in float32
    for entries that do not underflow. Handing the oracle the same rounded
    differences leaves only the algorithm's own error to be measured.
    """
    return (Z - Z.max(axis=1, keepdims=True)).astype(np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_matches_scipy(dtype):
    Z = _logit_matrix((400, 5), seed=0).astype(dtype)
    P = _no_warnings(softmax, Z)
    assert P.dtype == dtype and P.shape == Z.shape
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    # e^{z-m} / sum of values in [1, 5]: an exp, a sum and a divide, each ~1 eps:
    # 4 eps relative. Subnormal results: atol = the smallest normal float.
    _assert_close(P, scipy.special.softmax(_shifted(Z), axis=1), rtol=4 * eps, atol=tiny)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_matches_scipy(dtype):
    Z = _logit_matrix((400, 5), seed=1).astype(dtype)
    log_P = _no_warnings(log_softmax, Z)
    assert log_P.dtype == dtype and log_P.shape == Z.shape
    eps = np.finfo(dtype).eps
    # log p = (z - m) - log(1 + S): the two terms have the sign of the result, so
    # a few roundings give 4 eps relative. The oracle computes log(sum) without
    # log1p, so where log p is near 0 (a dominant class) it is only accurate to
    # ~1 float64 eps absolute: atol = 4 eps64. (The relative precision there is
    # checked against log_expit below.)
    _assert_close(
        log_P,
        scipy.special.log_softmax(_shifted(Z), axis=1),
        rtol=4 * eps,
        atol=4 * np.finfo(np.float64).eps,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_symmetric(dtype):
    z = GRID.astype(dtype)
    p, q = _no_warnings(sigmoid, z), _no_warnings(sigmoid, -z)
    assert np.all((p >= 0) & (p <= 1))
    # sigma(-z) = 1 - sigma(z): each side has a relative error of a couple of eps
    # and is at most 1, and 1 - p rounds once more: 4 eps absolute.
    _assert_close(q, 1 - p.astype(np.float64), rtol=0, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_rows_are_probability_vectors(dtype):
    Z = _logit_matrix((400, 7), seed=2).astype(dtype)
    Z[:3] = [[1e30, -1e30, 0, 0, 1, 2, 3], [1e4] * 7, [-1e4, -1e4, 1e4, 1e4, 0, 0, 0]]
    P = _no_warnings(softmax, Z)
    assert np.all((P >= 0) & (P <= 1))
    # 7 quotients, each within ~1 eps relative, added with 6 roundings: the row
    # sum is within 8 eps of 1.
    _assert_close(P.sum(axis=1, dtype=np.float64), np.ones(len(Z)), rtol=0, atol=8 * np.finfo(dtype).eps)
    # Huge logits: exact halves and zeros, not nan.
    assert P[1].tolist() == pytest.approx([1 / 7] * 7, rel=4 * float(np.finfo(dtype).eps))
    assert P[2].tolist() == [0, 0, 0.5, 0.5, 0, 0, 0]


def test_two_class_softmax_is_sigmoid_of_the_difference():
    # softmax([a, b]) = [sigma(a - b), sigma(b - a)]; log_softmax likewise with
    # log sigma. Integer logits make a - b exact, so the two sides take the same
    # input; log_expit keeps full relative precision where the class dominates
    # (log p ~ -e^{-40}), which a log of a rounded sum (1 + e^{-40} = 1) loses.
    a = np.arange(-700.0, 701.0, 7.0)
    b = np.zeros_like(a)
    Z = np.stack([a, b], axis=1)
    eps, tiny = np.finfo(np.float64).eps, np.finfo(np.float64).tiny
    expected_p = scipy.special.expit(np.stack([a - b, b - a], axis=1))
    expected_log_p = scipy.special.log_expit(np.stack([a - b, b - a], axis=1))
    # A few roundings each, on exact inputs: 4 eps relative (tiny for subnormals).
    _assert_close(_no_warnings(softmax, Z), expected_p, rtol=4 * eps, atol=tiny)
    _assert_close(_no_warnings(log_softmax, Z), expected_log_p, rtol=4 * eps, atol=0)


@pytest.mark.parametrize("func", [sigmoid, softmax])
def test_out_argument_and_in_place_use(func):
    Z = _logit_matrix((50, 4), seed=3)
    expected = func(Z)
    out = np.empty_like(Z)
    assert func(Z, out=out) is out
    np.testing.assert_array_equal(out, expected)
    Z_copy = Z.copy()
    assert func(Z_copy, out=Z_copy) is Z_copy  # in place, as a caller may do for activations
    np.testing.assert_array_equal(Z_copy, expected)


def test_integer_input_becomes_float64():
    assert sigmoid(np.array([-1, 0, 1])).dtype == np.float64
    assert softmax(np.array([[1, 2, 3]])).dtype == np.float64


# ---------------------------------------------------------------------------
# Losses and gradients
# ---------------------------------------------------------------------------


def _binary_problem(n, k, seed, weighted):
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, k)) < 0.5).astype(np.float64)
    Z = rng.normal(0.0, 3.0, size=(n, k))
    s = rng.uniform(0.1, 3.0, size=n) if weighted else None
    return Y, Z, s


def _multinomial_problem(n, K, seed, weighted):
    """Class indices (what the estimators pass), logits and weights."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, size=n)
    Z = rng.normal(0.0, 3.0, size=(n, K))
    s = rng.uniform(0.1, 3.0, size=n) if weighted else None
    return y, Z, s


def _one_hot(y, K, dtype=np.float64):
    return np.eye(K, dtype=dtype)[y]


def _ones_if_none(s, n):
    return np.ones(n) if s is None else s


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("k", [1, 3], ids=["binary", "multilabel"])
def test_binary_loss_grad_matches_formula(k, weighted):
    Y, Z, s = _binary_problem(300, k, seed=4, weighted=weighted)
    Z[:4, 0] = [1e4, -1e4, 1e30, -1e30]  # huge logits stay in the sum
    loss, dZ = _no_warnings(binary_loss_grad, Y, Z, s)
    w = _ones_if_none(s, len(Y))[:, None]
    # -[y log sigma(z) + (1 - y) log sigma(-z)], and sigma(z) - y written as
    # (1 - y) sigma(z) - y sigma(-z), whose terms scipy gives to full precision.
    log_p, log_q = scipy.special.log_expit(Z), scipy.special.log_expit(-Z)
    expected_loss = np.sum(w * -(Y * log_p + (1 - Y) * log_q))
    expected_dZ = w * ((1 - Y) * scipy.special.expit(Z) - Y * scipy.special.expit(-Z))
    eps = np.finfo(np.float64).eps
    # The terms are positive, each within a few eps: the sum is within a few eps
    # plus the summation error (numpy's pairwise sum: ~log2(n) eps): 64 eps.
    assert loss == pytest.approx(expected_loss, rel=64 * eps, abs=0)
    # Each entry is a few roundings of exact inputs on both sides: 8 eps relative.
    _assert_close(dZ, expected_dZ, rtol=8 * eps, atol=0)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_multinomial_loss_grad_matches_formula(weighted):
    # Rejects a wrong formula or weight, an overflow on huge logits, and a
    # gradient that subtracts 1 at the wrong entry (the row's maximum rather
    # than its label).
    y, Z, s = _multinomial_problem(300, 4, seed=5, weighted=weighted)
    Z[:4] = [[1e4, 0, 0, 0], [-1e4, 0, 1e4, 0], [1e30, -1e30, 0, 0], [-1e30, -1e30, -1e30, 1e30]]
    loss, dZ = _no_warnings(softmax_cross_entropy_labels, y, Z, s)
    w = _ones_if_none(s, len(y))
    Y = _one_hot(y, 4)
    expected_loss = np.sum(w * (scipy.special.logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)))
    expected_dZ = w[:, None] * (scipy.special.softmax(Z, axis=1) - Y)
    eps = np.finfo(np.float64).eps
    # The loss terms are non-negative. The huge rows contribute ~1e30 and
    # logsumexp - y.z cancels there to ~eps * 1e30 in both computations, so the
    # sum agrees to a few eps relative to its size (dominated by those rows).
    assert loss == pytest.approx(expected_loss, rel=64 * eps, abs=0)
    # softmax - y computed by subtraction in the oracle is accurate to ~eps
    # absolute (not relative) where p ~ y: 8 eps times the weight, absolute.
    _assert_close(dZ, expected_dZ, rtol=8 * eps, atol=8 * eps * w.max())


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("k", [1, 3], ids=["binary", "multilabel"])
def test_binary_loss_matches_sklearn_log_loss(k, weighted):
    Y, Z, s = _binary_problem(300, k, seed=6, weighted=weighted)
    Z = np.clip(Z, -8, 8)
    loss, _ = binary_loss_grad(Y, Z, s)
    w = _ones_if_none(s, len(Y))
    P = sigmoid(Z)
    # log_loss is a weighted mean over samples of one output, so the sum over
    # outputs of the per-output means, times the total weight, is our sum.
    expected = w.sum() * sum(
        log_loss(Y[:, j], P[:, j], sample_weight=s, normalize=True, labels=[0, 1]) for j in range(k)
    )
    # log_loss works from probabilities: log(1 - p) has an absolute error of
    # ~eps / (1 - p) <= eps * e^8 ~ 7e-13 for |z| <= 8, against losses of ~0.1
    # to 8 per entry: 1e-10 relative leaves room.
    assert loss / w.sum() == pytest.approx(expected / w.sum(), rel=1e-10)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_multinomial_loss_matches_sklearn_log_loss(weighted):
    y, Z, s = _multinomial_problem(300, 4, seed=7, weighted=weighted)
    Z = np.clip(Z, -4, 4)
    loss, _ = softmax_cross_entropy_labels(y, Z, s)
    w = _ones_if_none(s, len(y))
    expected = log_loss(y, softmax(Z), sample_weight=s, normalize=True, labels=range(4))
    # log(p) of a probability with a relative error of a few eps: absolute
    # error a few eps per entry, against losses of order 1: 1e-12 relative.
    assert loss / w.sum() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_give_finite_losses_and_gradients(dtype):
    # Wrong by a margin of 1e4 or 1e30 costs that margin; right costs 0. The
    # gradient saturates at +-1 (times the weight) instead of overflowing.
    margins = np.array([1e4, 1e30])
    z = np.concatenate([margins, -margins]).astype(dtype)[:, None]
    wrong = np.array([0, 0, 1, 1], dtype=dtype)[:, None]
    loss, dZ = _no_warnings(binary_loss_grad, wrong, z)
    assert loss.dtype == dtype and dZ.dtype == dtype
    assert loss == pytest.approx(2 * margins.sum(), rel=float(np.finfo(dtype).eps))
    np.testing.assert_array_equal(dZ, [[1], [1], [-1], [-1]])
    loss, dZ = _no_warnings(binary_loss_grad, 1 - wrong, z)
    assert loss == 0
    np.testing.assert_array_equal(dZ, np.zeros_like(dZ))

    Z = np.array([[1e4, 0, 0], [1e30, -1e30, 0], [-1e30, 1e30, 1e30]], dtype=dtype)
    y_wrong = np.array([1, 1, 0])
    weights = np.array([1.0, 2.0, 1.0], dtype=dtype)
    loss, dZ = _no_warnings(softmax_cross_entropy_labels, y_wrong, Z, weights)
    assert loss.dtype == dtype and dZ.dtype == dtype
    # 1e4 + 2 * 2e30 + (1e30 + log 2 + 1e30): the huge terms swamp the rest.
    assert loss == pytest.approx(1e4 + 4e30 + 2e30, rel=float(np.finfo(dtype).eps))
    np.testing.assert_array_equal(dZ, [[1, -1, 0], [2, -2, 0], [-1, 0.5, 0.5]])
    loss, dZ = _no_warnings(softmax_cross_entropy_labels, np.array([0, 0, 1]), Z)
    # Right by 1e4 or more: loss log(1 + 2 e^-1e4) and so on, all exactly 0,
    # except the last row, whose tie between classes 1 and 2 costs log 2.
    assert loss == pytest.approx(np.log(2), rel=float(np.finfo(dtype).eps))
    np.testing.assert_array_equal(dZ, [[0, 0, 0], [0, 0, 0], [0, -0.5, 0.5]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_confident_correct_predictions_keep_relative_precision(dtype):
    # A right prediction with margin t has loss log(1 + e^-t) ~ e^-t and
    # gradient -sigma(-t). Computed as 1 - sigma(t) both round to 0 once
    # e^-t < eps (t > 16 in float32, t > 36 in float64); here they must match
    # log_expit / expit to a few eps relative, so that training on nearly
    # separable data still sees its gradient.
    t = np.array([5.0, 20.0, 40.0, 80.0], dtype=dtype)
    eps = float(np.finfo(dtype).eps)
    expected_loss = -scipy.special.log_expit(t.astype(np.float64))
    expected_grad = -scipy.special.expit(-t.astype(np.float64))

    loss, dZ = _no_warnings(binary_loss_grad, np.ones((4, 1)), t[:, None])
    # exp, log1p and one divide, on exact inputs: 4 eps.
    _assert_close(dZ[:, 0], expected_grad, rtol=4 * eps, atol=0)
    for i in range(4):
        loss_i, _ = binary_loss_grad(np.ones((1, 1)), t[i : i + 1, None])
        assert loss_i == pytest.approx(expected_loss[i], rel=4 * eps, abs=0)

    # Two classes: softmax(z)_0 = sigma(z_0 - z_1).
    Z = np.stack([t, np.zeros_like(t)], axis=1)
    y = np.zeros(4, dtype=int)
    _, dZ = _no_warnings(softmax_cross_entropy_labels, y, Z)
    _assert_close(dZ, np.stack([expected_grad, -expected_grad], axis=1), rtol=4 * eps, atol=0)
    for i in range(4):
        loss_i, _ = softmax_cross_entropy_labels(y[i : i + 1], Z[i : i + 1])
        assert loss_i == pytest.approx(expected_loss[i], rel=4 * eps, abs=0)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_ties_and_confident_rows_of_the_multinomial_loss(dtype, weighted):
    # Ordinary, tied, huge and confident logits against scipy's formula in
    # float64 on the same (exactly representable) inputs. Rejects a label
    # path that treats a tie at the maximum as if the label were alone there
    # (S without the other tied entries: p = 1/(1 + e^-3) on each), and one that
    # forms 1 - p_y by subtraction (the confident right row's gradient
    # ~ -3 e^-60 rounded to 0).
    rng = np.random.default_rng(0)
    Z = rng.normal(scale=3.0, size=(40, 4)).astype(dtype)
    Z[0] = [2.0, 2.0, 2.0, -1.0]  # three-way tie at the maximum
    Z[1] = [1e4, -1e4, 0.0, 1e4]
    Z[2] = [60.0, 0.0, 0.0, 0.0]  # confident; the label below is right
    Z[3] = [60.0, 0.0, 0.0, 0.0]  # confident and wrong
    y = rng.integers(0, 4, 40)
    y[:4] = [1, 3, 0, 2]
    s = rng.uniform(0.5, 2.0, 40).astype(dtype) if weighted else None
    loss, dZ = _no_warnings(softmax_cross_entropy_labels, y, Z, s)
    assert loss.dtype == dZ.dtype == dtype
    Z64, w = Z.astype(np.float64), _ones_if_none(s, 40).astype(np.float64)
    Y = _one_hot(y, 4)
    expected_loss = np.sum(w * (scipy.special.logsumexp(Z64, axis=1) - np.sum(Y * Z64, axis=1)))
    expected_dZ = w[:, None] * (scipy.special.softmax(Z64, axis=1) - Y)
    eps = float(np.finfo(dtype).eps)
    # Positive terms of a few roundings each, summed pairwise: 16 eps.
    assert float(loss) == pytest.approx(expected_loss, rel=16 * eps)
    # Each entry: a few roundings, plus (in float32) the rounding of z - m
    # amplified by exp's condition number |z - m| (as in the float32 test
    # below); the oracle's p - y is accurate to ~eps64 absolute where p ~ y.
    spread = np.max(Z64, axis=1, keepdims=True) - np.min(Z64, axis=1, keepdims=True)
    rtol = 8 * eps if dtype == np.float64 else eps * (8 + spread)
    _assert_close(dZ, expected_dZ, rtol=rtol, atol=8 * np.finfo(np.float64).eps * w.max())
    # the confident right prediction keeps its tiny gradient, relative to e^-60
    s2 = 1.0 if s is None else float(s[2])
    assert dZ[2, 0] == pytest.approx(-3 * np.exp(-60.0) * s2, rel=8 * eps, abs=0)
    # the tie: p = 1 / (3 + e^-3) on each of the three tied classes, minus 1 at the label
    p = 1 / (3 + np.exp(-3.0))
    np.testing.assert_allclose(dZ[0, :3], w[0] * np.array([p, p - 1, p]), rtol=8 * eps)


def _central_differences(loss_of, Z, h):
    """d loss / d Z_ij by (loss(Z + h e_ij) - loss(Z - h e_ij)) / 2h, entry by entry."""
    grad = np.empty_like(Z)
    for index in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[index] += h
        Zm[index] -= h
        grad[index] = (loss_of(Zp) - loss_of(Zm)) / (Zp[index] - Zm[index])
    return grad


@pytest.mark.parametrize(
    "func, make, width",
    [
        (binary_loss_grad, _binary_problem, 1),
        (binary_loss_grad, _binary_problem, 3),
        (softmax_cross_entropy_labels, _multinomial_problem, 4),
    ],
    ids=["binary", "multilabel", "multinomial"],
)
def test_gradient_matches_central_differences(func, make, width):
    Y, Z, s = make(20, width, seed=8, weighted=True)
    _, dZ = func(Y, Z, s)
    fd = _central_differences(lambda Zh: func(Y, Zh, s)[0], Z, h=1e-5)
    # Central differences err by h^2 |f'''| / 6 ~ 1e-10 (truncation; the third
    # derivative of these losses is below 1 per unit weight) plus
    # eps |loss| / h ~ 2e-16 * 100 / 1e-5 ~ 2e-9 (rounding), against gradient
    # entries of order 1: 1e-7 of the largest entry is a safe, still sharp bound
    # (a wrong gradient is off by order one).
    scale = np.abs(dZ).max()
    _assert_close(dZ, fd, rtol=1e-7, atol=1e-7 * scale)


@pytest.mark.parametrize(
    "func, make, width",
    [
        (binary_loss_grad, _binary_problem, 1),
        (binary_loss_grad, _binary_problem, 3),
        (softmax_cross_entropy_labels, _multinomial_problem, 4),
    ],
    ids=["binary", "multilabel", "multinomial"],
)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_float32_stays_float32_and_agrees_with_float64(func, make, width, weighted):
    Y, Z, s = make(1000, width, seed=9, weighted=weighted)
    Z32 = Z.astype(np.float32)
    s32 = None if s is None else s.astype(np.float32)
    loss32, dZ32 = _no_warnings(func, Y, Z32, s32)
    assert loss32.dtype == np.float32 and dZ32.dtype == np.float32
    # The same float32 numbers, in float64.
    loss64, dZ64 = func(Y, Z32.astype(np.float64), None if s32 is None else s32.astype(np.float64))
    eps = float(np.finfo(np.float32).eps)
    # The loss is a sum of 1000-3000 positive terms, each within a few float32
    # eps, summed pairwise (numpy blocks of 128, then halving): ~16 eps = 2e-6.
    assert loss32 == pytest.approx(loss64, rel=16 * eps)
    # dZ: each entry is a few roundings, plus (softmax only) the rounding of
    # z - m in float32, amplified by exp's condition number |z - m|.
    if func is softmax_cross_entropy_labels:
        Z64 = Z32.astype(np.float64)
        spread = np.max(Z64, axis=1, keepdims=True) - np.min(Z64, axis=1, keepdims=True)
        rtol = eps * (8 + spread)
    else:
        rtol = 8 * eps
    # atol: float32 entries that underflow to subnormals keep one subnormal step.
    _assert_close(dZ32, dZ64, rtol=rtol, atol=4 * np.finfo(np.float32).tiny)


# ---------------------------------------------------------------------------
# Weights, shapes and inputs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "func, make, width",
    [(binary_loss_grad, _binary_problem, 2), (softmax_cross_entropy_labels, _multinomial_problem, 3)],
    ids=["binary", "multinomial"],
)
def test_integer_weights_equal_repeated_rows(func, make, width):
    Y, Z, _ = make(30, width, seed=10, weighted=False)
    counts = np.random.default_rng(11).integers(0, 4, size=len(Y))
    loss_w, dZ_w = func(Y, Z, counts)
    loss_r, dZ_r = func(np.repeat(Y, counts, axis=0), np.repeat(Z, counts, axis=0))
    # Same terms summed in a different order and grouping: a few eps relative.
    assert loss_w == pytest.approx(loss_r, rel=1e-14)
    # The gradient of a weighted row is the sum of its copies' gradients.
    ends = np.cumsum(counts)
    summed = np.array([dZ_r[end - c : end].sum(axis=0) for c, end in zip(counts, ends)])
    # c equal terms added vs one term times c: a couple of roundings, 1e-14.
    np.testing.assert_allclose(dZ_w, summed, rtol=1e-14, atol=1e-15)
    # No weights and unit weights are the same computation.
    loss_1, dZ_1 = func(Y, Z, np.ones(len(Y)))
    loss_none, dZ_none = func(Y, Z)
    assert loss_1 == loss_none
    np.testing.assert_array_equal(dZ_1, dZ_none)


def test_binary_accepts_one_dimensional_input():
    Y, Z, s = _binary_problem(40, 1, seed=12, weighted=True)
    loss_1d, dZ_1d = binary_loss_grad(Y[:, 0], Z[:, 0], s)
    loss_2d, dZ_2d = binary_loss_grad(Y, Z, s)
    assert loss_1d == loss_2d
    np.testing.assert_array_equal(dZ_1d, dZ_2d[:, 0])


@pytest.mark.parametrize(
    "func, make, width",
    [(binary_loss_grad, _binary_problem, 3), (softmax_cross_entropy_labels, _multinomial_problem, 3)],
    ids=["binary", "multinomial"],
)
def test_inputs_are_not_modified(func, make, width):
    Y, Z, s = make(25, width, seed=13, weighted=True)
    copies = [Y.copy(), Z.copy(), s.copy()]
    func(Y, Z, s)
    for before, after in zip(copies, [Y, Z, s]):
        np.testing.assert_array_equal(before, after)
    Z_before = Z.copy()
    sigmoid(Z), log_sigmoid(Z), softmax(Z), log_softmax(Z)
    np.testing.assert_array_equal(Z, Z_before)


def test_shape_mismatches_are_rejected():
    Z = np.zeros((5, 3))
    with pytest.raises(ValueError, match="same shape"):
        binary_loss_grad(np.zeros((5, 2)), Z)
    with pytest.raises(ValueError, match="sample_weight"):
        binary_loss_grad(np.zeros((5, 3)), Z, np.ones(4))
    with pytest.raises(ValueError, match="dimensions"):
        binary_loss_grad(np.zeros((5, 3, 1)), Z[..., None])
