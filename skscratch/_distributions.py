"""Tail probabilities and quantiles of Student's t and Fisher's F, written here.

Both tails are regularized incomplete beta functions (Abramowitz & Stegun
26.5.27, 26.6.2): for ``T ~ t(nu)`` and ``F ~ F(d1, d2)``,

    P(|T| > t) = I_{nu / (nu + t^2)}(nu / 2, 1 / 2),
    P(F > f)   = I_{d2 / (d2 + d1 f)}(d2 / 2, d1 / 2),

and ``I_x(a, b)`` is evaluated by its continued fraction (A&S 26.5.8) with
the modified Lentz algorithm (Lentz 1976; Thompson & Barnett 1986), on the
side of ``x`` where the fraction converges fast (``x < (a + 1) / (a + b + 2)``,
else through ``I_x(a, b) = 1 - I_{1-x}(b, a)``). The small tail is then
always computed directly, never as ``1 - (something close to 1)``, so tiny
p-values keep their relative accuracy. ``1 - x`` is passed in separately,
computed without cancellation (``t^2 / (nu + t^2)``).

The prefactor ``x^a (1 - x)^b / (a B(a, b))`` needs ``log Gamma``, from
Stirling's series after shifting the argument above 15 by the recurrence
``Gamma(x + 1) = x Gamma(x)``.
"""

import math

_EPS = 2.220446049250313e-16
_TINY = 1e-300
_MAX_TERMS = 10_000
_LOG_SQRT_2PI = 0.9189385332046727418
# Stirling's series: log Gamma(x) = (x - 1/2) log x - x + log sqrt(2 pi)
#   + sum_k B_2k / (2k (2k - 1) x^(2k - 1)), Bernoulli numbers B_2..B_12.
_STIRLING = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0, -691.0 / 360360.0)


def log_gamma(x):
    """``log Gamma(x)`` for ``x > 0`` (absolute error ~ 1e-15 * max(1, |log Gamma(x)|))."""
    x = float(x)
    if not x > 0.0:
        raise ValueError(f"log_gamma needs x > 0; got {x}")
    shift = 0.0
    # log Gamma(x) = log Gamma(x + m) - log(x (x + 1) ... (x + m - 1)).
    product = 1.0
    while x < 15.0:
        product *= x
        x += 1.0
        if product > 1e280:
            shift += math.log(product)
            product = 1.0
    shift += math.log(product)
    inv, inv2 = 1.0 / x, 1.0 / (x * x)
    series, power = 0.0, inv
    for coefficient in _STIRLING:
        series += coefficient * power
        power *= inv2
    return (x - 0.5) * math.log(x) - x + _LOG_SQRT_2PI + series - shift


def log_beta(a, b):
    """``log B(a, b) = log Gamma(a) + log Gamma(b) - log Gamma(a + b)``."""
    return log_gamma(a) + log_gamma(b) - log_gamma(a + b)


def _continued_fraction(a, b, x):
    """The continued fraction of ``I_x(a, b)`` (A&S 26.5.8) by modified Lentz."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS + 1):
        m2 = 2 * m
        # Even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)).
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        # Odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})")


def betainc_reg(a, b, x, y=None):
    """Regularized incomplete beta ``I_x(a, b)``; ``y = 1 - x`` if known more accurately."""
    if y is None:
        y = 1.0 - x
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log(y) - log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _continued_fraction(b, a, y) / b


def t_two_sided(t, df):
    """``P(|T| > |t|)`` for Student's t with ``df`` degrees of freedom."""
    t2 = float(t) * float(t)
    if math.isinf(t2):
        return 0.0
    return betainc_reg(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def f_sf(f, d1, d2):
    """``P(F > f)`` for Fisher's F with ``(d1, d2)`` degrees of freedom."""
    f = float(f)
    if f <= 0.0:
        return 1.0
    if math.isinf(f):
        return 0.0
    return betainc_reg(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * f), d1 * f / (d2 + d1 * f))


def t_isf_two_sided(alpha, df):
    """The ``t >= 0`` with ``P(|T| > t) = alpha``: the quantile ``t_{1 - alpha/2}``.

    The two-sided tail decreases strictly in t, so bisection on t converges;
    the bracket is found by doubling. 200 halvings reach the spacing of
    floating-point numbers around the root.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    lo, hi = 0.0, 1.0
    while t_two_sided(hi, df) > alpha:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if t_two_sided(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
