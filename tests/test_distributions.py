"""The t and F tails and the t quantile against scipy.special / scipy.stats.

Bars: log-gamma to 1e-14 absolute per unit of |log Gamma| (Stirling's
series truncated after B_12 errs by < 2e-16 at x >= 15; the shift adds a few
roundings). Tails to 1e-9 relative: the prefactor exp(a log x + b log y -
log B(a, b)) carries the absolute error of log B, ~1e-16 * |log Gamma(a)|,
which reaches ~1e-10 at df = 1e5; the continued fraction stops at eps.
Every p-value is compared relatively, tiny ones included (1e-150): computing
the small tail as 1 - (large tail) would lose them all.
"""

import pytest
import scipy.special
import scipy.stats

from skscratch._distributions import (
    betainc_reg,
    f_sf,
    log_gamma,
    t_isf_two_sided,
    t_two_sided,
)


@pytest.mark.parametrize("x", [1e-8, 0.01, 0.5, 1.0, 1.5, 2.0, 3.7, 10.0, 14.99, 15.0, 100.5, 1e4, 1e7])
def test_log_gamma(x):
    ref = scipy.special.gammaln(x)
    assert abs(log_gamma(x) - ref) < 1e-14 * max(1.0, abs(ref))


def test_log_gamma_rejects_non_positive():
    with pytest.raises(ValueError, match="x > 0"):
        log_gamma(0.0)


@pytest.mark.parametrize("a, b", [(0.5, 0.5), (1.0, 3.0), (5.0, 0.5), (50.0, 2.5), (2000.0, 0.5), (0.5, 300.0)])
def test_betainc(a, b):
    for x in (1e-6, 0.01, 0.3, 0.5, 0.8, 0.99, 1 - 1e-9):
        ref = scipy.special.betainc(a, b, x)
        if ref > 0:
            assert abs(betainc_reg(a, b, x) - ref) < 1e-9 * ref


@pytest.mark.parametrize("df", [1, 2, 3, 7, 30, 431, 1e5])
def test_t_tails(df):
    for t in (0.0, 1e-3, 0.5, 1.0, 2.0, 4.0, 12.0, 60.0, 1e4):
        ref = 2 * scipy.stats.t.sf(t, df)
        if ref > 1e-300:
            assert abs(t_two_sided(t, df) - ref) < 1e-9 * ref
            assert abs(t_two_sided(-t, df) - ref) < 1e-9 * ref


@pytest.mark.parametrize("d1, d2", [(1, 1), (2, 5), (10, 431), (60, 3), (5, 1e5)])
def test_f_tail(d1, d2):
    for f in (0.0, 1e-4, 0.5, 1.0, 3.0, 20.0, 500.0, 1e5):
        ref = scipy.stats.f.sf(f, d1, d2)
        if ref > 1e-300:
            assert abs(f_sf(f, d1, d2) - ref) < 1e-9 * ref


@pytest.mark.parametrize("df", [1, 2, 5, 30, 431, 1e5])
@pytest.mark.parametrize("alpha", [0.5, 0.1, 0.05, 0.01, 1e-8])
def test_t_quantile(df, alpha):
    # isf, not ppf(1 - alpha / 2): forming 1 - 5e-9 already costs 2e-8 of alpha.
    ref = scipy.stats.t.isf(alpha / 2, df)
    assert abs(t_isf_two_sided(alpha, df) - ref) < 1e-9 * ref


def test_quantile_rejects_bad_alpha():
    with pytest.raises(ValueError, match="alpha"):
        t_isf_two_sided(1.0, 5)
