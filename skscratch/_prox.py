"""Proximal operators: the step that handles a non-smooth penalty exactly.

A proximal-gradient step for ``f(w) + h(w)``, with ``f`` smooth and ``h`` a
penalty, takes the gradient step on ``f`` alone and then solves

    prox_{t h}(v) = argmin_w  h(w) + 1/(2 t) ||w - v||^2

(Moreau 1965; Combettes & Wajs 2005). For ``h = tau ||w||_1`` the problem
separates by coordinate, and its solution is soft-thresholding: each
coordinate moves ``t tau`` towards zero and stops there. That is what puts
exact zeros in an L1-penalized model: a coordinate whose gradient step lands
within ``t tau`` of zero is set to zero, not merely made small.

With a diagonal metric ``D`` (the preconditioner: ``||w||_D^2 = sum d_j w_j^2``)
the problem still separates, and coordinate ``j`` is thresholded at
``t tau / d_j``; a non-diagonal metric would couple the coordinates and lose
the closed form, which is why the L1 paths of the package use diagonal metrics.
"""

import numpy as np


def soft_threshold(v, threshold, out=None):
    """``sign(v) max(|v| - threshold, 0)``, elementwise: the prox of ``threshold ||.||_1``.

    Parameters
    ----------
    v : ndarray
        Point to shrink.
    threshold : float or ndarray broadcastable to ``v``
        Non-negative shrinkage per entry (``t tau / d_j`` under a diagonal metric).
    out : ndarray, optional
        Where to write the result (may be ``v`` itself).

    Returns
    -------
    w : ndarray
        The shrunk point; entries with ``|v| <= threshold`` are exactly 0.

    Notes
    -----
    Written as ``v - clip(v, -threshold, threshold)``: no sign function and
    no branch, and an entry inside the band is ``v - v = 0`` exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from skscratch._prox import soft_threshold
    >>> soft_threshold(np.array([-3.0, -0.5, 0.0, 0.2, 2.0]), 1.0)
    array([-2.,  0.,  0.,  0.,  1.])
    """
    shrink = np.clip(v, -threshold, threshold)
    return np.subtract(v, shrink, out=out)
