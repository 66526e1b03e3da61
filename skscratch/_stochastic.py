"""Mini-batch training: the stochastic optimizers and the epoch loop, model-agnostic.

The loop never sees a model. A *problem* is any object with

- ``loss_grad(params, idx)``: the objective (or its mini-batch estimate on
  the rows ``idx``; ``idx=None`` means all rows) at ``params``, a list of
  arrays, and its gradient as a list of arrays of the same shapes;
- ``validation_score(params)`` (only for early stopping): higher is better.

Optimizers are small classes with scikit-learn's interface
(``update_params(params, grads)``, ``iteration_ends(time_step)``,
``trigger_stopping(msg, verbose)``), so a network and a linear model share
them as they are. :func:`run_epochs` drives them: mini-batches, shuffling,
learning-rate schedules, convergence on the training loss or early stopping
on a validation score with the best weights restored, loss history,
divergence detection.
"""

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._training import TrainingState, check_finite


# ---------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------


# The optimizers' elementwise updates run over stretches of this many
# entries. A whole-vector expression such as ``m / (sqrt(s) + eps)`` streams
# every operand from memory once per operation and allocates a temporary the
# size of the parameters for each; once the parameters outgrow the cache (a
# first layer on 2**18 hashed features: 26 million of them) that traffic is the
# whole cost of a mini-batch step. Stretch by stretch, the operands of all the
# operations stay in cache and the temporaries are two small buffers. Below
# the stretch length the vector is one stretch, as before. 2**16 entries
# (six operands of 512 KiB) measured fastest of 2**11 ... 2**19: an Adam step on
# 26 million float64 parameters 0.7 s whole-vector, 0.3 s by stretches.
_STRETCH = 1 << 16


class RowSparseGradient:
    """A flat gradient whose leading block is ``scale * theta + rows``, formed where it is used.

    A network's first layer on wide sparse input (a hashed bag of words: 2**18
    columns) has a mini-batch gradient ``scale W + X_b^T delta`` (the L2
    term, then the data term) whose data term is zero but for the rows of
    the batch's columns: a few thousand of the p rows. Written out, it costs
    a pass that writes the p x u block, a scatter of the rows into it, and a
    pass that reads it back in the optimizer: three trips through memory of
    an array far larger than the cache, for every mini-batch. The optimizers
    instead form each stretch of it in cache just before they use it
    (:func:`_stretches`), with the same roundings: ``scale * w`` first, the
    data term added to it.

    Parameters
    ----------
    dense : ndarray of shape (size,)
        The whole gradient, flat, of which entries ``[lead, size)`` are read;
        the leading ``lead`` entries are not.
    theta : ndarray of shape (size,)
        The parameters, flat, at which the gradient was taken.
    lead : int
        Entries of the leading block: ``width`` times its number of rows.
    width : int
        Entries per row of the leading block (the row-major ``p x width``).
    scale : float
        The L2 term's factor.
    rows : ndarray of int, sorted and unique
        Rows of the leading block with a data term.
    values : ndarray of shape (len(rows), width)
        Their data term.
    """

    def __init__(self, dense, theta, lead, width, scale, rows, values):
        self.dense, self.theta, self.lead, self.width = dense, theta, lead, width
        self.scale, self.rows, self.values = scale, rows, values

    def stretch_length(self):
        """A stretch length of whole rows (the multiple of ``width`` nearest below _STRETCH)."""
        return max(self.width, _STRETCH // self.width * self.width)

    def fill(self, start, stop, out):
        """Write entries ``[start, stop)`` of the gradient into ``out``."""
        lead_stop = min(stop, self.lead)
        if start < lead_stop:
            head = out[:lead_stop - start]
            np.multiply(self.theta[start:lead_stop], self.scale, out=head)
            # The rows of the data term that fall in the stretch (both ends are
            # row boundaries: see stretch_length), added to the L2 term.
            r0, r1 = start // self.width, -(-lead_stop // self.width)
            i0, i1 = np.searchsorted(self.rows, (r0, r1))
            if i1 > i0:
                head.reshape(-1, self.width)[self.rows[i0:i1] - r0] += self.values[i0:i1]
        if stop > lead_stop:
            out[lead_stop - start:] = self.dense[max(start, lead_stop):stop]

    def toarray(self):
        """The whole gradient as a flat array (written into ``dense``)."""
        self.fill(0, self.lead, self.dense[:self.lead])
        return self.dense


def _stretches(p, *others):
    """``(p_, others_..., t, u)`` for consecutive stretches of the arrays, in place.

    ``p_`` and ``others_`` are views of the same entries of each array (all of
    ``p``'s shape); ``t`` and ``u`` are scratch buffers of the stretch's size.
    Arrays that are not contiguous are given whole. A :class:`RowSparseGradient`
    among ``others`` is given as the stretch of it formed in a third buffer
    (read-only for the caller); the stretches are then whole rows of its
    leading block.
    """
    lazy = [isinstance(a, RowSparseGradient) for a in others]
    arrays = (p,) + others
    if (not all(a.flags.c_contiguous for a, l in zip(arrays[1:], lazy) if not l)
            or not p.flags.c_contiguous or p.size <= _STRETCH):
        whole = tuple(a.toarray().reshape(p.shape) if l else a for a, l in zip(others, lazy))
        yield (p,) + whole + (np.empty_like(p), np.empty_like(p))
        return
    length = next((a.stretch_length() for a, l in zip(others, lazy) if l), _STRETCH)
    flat = [p.reshape(-1)] + [a if l else a.reshape(-1) for a, l in zip(others, lazy)]
    t, u = np.empty(length, dtype=p.dtype), np.empty(length, dtype=p.dtype)
    g = np.empty(length, dtype=p.dtype) if any(lazy) else None
    for start in range(0, p.size, length):
        stop = min(start + length, p.size)
        views = [flat[0][start:stop]]
        for a, l in zip(flat[1:], lazy):
            if l:
                a.fill(start, stop, g[:stop - start])
                views.append(g[:stop - start])
            else:
                views.append(a[start:stop])
        yield tuple(views) + (t[:stop - start], u[:stop - start])


class SGD:
    """Mini-batch gradient descent with momentum or Nesterov momentum.

    Momentum keeps a velocity ``v``: ``v <- mu v - eta g``, ``theta <- theta + v``,
    a running average of past steps that damps oscillation across steep
    directions and accelerates along shallow ones. Nesterov's variant takes
    the gradient at the point momentum is about to reach; written in the
    variables actually stored (Sutskever et al. 2013) that is
    ``v <- mu v - eta g``, ``theta <- theta + mu v - eta g``.

    Parameters
    ----------
    params : list of ndarray
        Only their shapes and dtypes are used, for the velocities.
    learning_rate_init : float
    learning_rate : {'constant', 'invscaling', 'adaptive'}
        'invscaling': ``eta_t = eta_0 / t^power_t`` with t the number of
        samples seen; 'adaptive': divide by 5 each time training stalls
        (see :meth:`trigger_stopping`), stop below 1e-6.
    momentum : float in [0, 1]
    nesterov : bool
    power_t : float
    """

    def __init__(self, params, learning_rate_init=0.1, learning_rate="constant",
                 momentum=0.9, nesterov=True, power_t=0.5):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocities = [np.zeros_like(p) for p in params]

    def update_params(self, params, grads):
        """One step, in place: ``params`` and the velocities are updated."""
        mu, eta = self.momentum, self.learning_rate
        for p, v, g in zip(params, self.velocities, grads):
            for p_, v_, g_, t, u in _stretches(p, v, g):
                np.multiply(g_, eta, out=t)
                v_ *= mu
                v_ -= t  # v <- mu v - eta g
                if self.nesterov:
                    np.multiply(v_, mu, out=u)
                    u -= t
                    p_ += u  # theta <- theta + mu v - eta g
                else:
                    p_ += v_

    def step_sizes(self):
        """The effective step of an update, per parameter array (a scalar each).

        With momentum ``mu`` a steady gradient moves the parameters by
        ``eta / (1 - mu)`` per step (the velocity's fixed point), and that is
        the step a proximal map after the update must use: with ``eta``
        alone, the penalty's pull would be ``1 - mu`` times too weak against
        the gradient's, and the iterates would settle at the wrong point.
        """
        step = self.learning_rate / (1.0 - self.momentum) if self.momentum < 1.0 \
            else self.learning_rate
        return [step] * len(self.velocities)

    def change_coordinates(self, factors):
        """The parameters were rescaled, ``theta_new = factors * theta``: follow with the velocities.

        A velocity is a displacement of the parameters, so it scales as they do.
        """
        for v, f in zip(self.velocities, factors):
            v *= f

    def iteration_ends(self, time_step):
        """End of an epoch; ``time_step`` is the number of samples seen."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """Training stalled: return True to stop, or lower the rate and go on."""
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class Adam:
    """Adam (Kingma & Ba 2015): per-coordinate steps from gradient moments.

    ``m <- b1 m + (1 - b1) g``, ``s <- b2 s + (1 - b2) g^2``, and
    ``theta <- theta - eta_t m / (sqrt(s) + eps)`` with the bias correction
    folded into ``eta_t = eta sqrt(1 - b2^t) / (1 - b1^t)``. Dividing by the
    root mean square of recent gradients makes the step about ``eta`` in
    every coordinate, whatever the scale of the features.
    """

    def __init__(self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]

    def update_params(self, params, grads):
        """One step, in place."""
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        eta = self.learning_rate_init * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        self.learning_rate = eta
        for p, m, v, g in zip(params, self.ms, self.vs, grads):
            for p_, m_, v_, g_, t, u in _stretches(p, m, v, g):
                m_ *= b1
                np.multiply(g_, 1 - b1, out=t)
                m_ += t
                v_ *= b2
                np.multiply(g_, g_, out=t)
                t *= 1 - b2
                v_ += t  # the same roundings as the textbook expressions
                np.sqrt(v_, out=t)
                t += self.epsilon
                np.multiply(m_, eta, out=u)
                u /= t
                p_ -= u  # theta <- theta - eta m / (sqrt(s) + eps)

    def step_sizes(self):
        """The per-coordinate step ``eta_t / (sqrt(s) + eps)`` of the last update."""
        return [self.learning_rate / (np.sqrt(v) + self.epsilon) for v in self.vs]

    def change_coordinates(self, factors):
        """The parameters were rescaled, ``theta_new = factors * theta``: follow with the moments.

        The gradient in the new coordinates is the old one divided by the
        factor, so the first moment is divided by it and the second by its
        square; for a diagonal rescaling Adam then continues exactly as if it
        had run in the new coordinates from the start (up to ``eps``).
        """
        for m, v, f in zip(self.ms, self.vs, factors):
            m /= f
            v /= f * f

    def iteration_ends(self, time_step):
        """Adam's rate needs no schedule."""

    def trigger_stopping(self, msg, verbose):
        if verbose:
            print(msg + " Stopping.")
        return True


# ---------------------------------------------------------------------------
# Mini-batch training loop
# ---------------------------------------------------------------------------


def batches(order, batch_size, rng, shuffle):
    """Row indices of each mini-batch of one epoch (the last may be smaller).

    ``order`` (the previous epoch's row order, initially ``arange(n)``) is
    shuffled in place. Shuffling the running order rather than drawing a
    fresh permutation is what scikit-learn's ``MLPClassifier`` does; with the
    same ``RandomState`` the two visit the rows in the same batches.
    """
    if shuffle:
        rng.shuffle(order)
    return [order[i:i + batch_size] for i in range(0, order.shape[0], batch_size)]


def run_epochs(problem, optimizer, params, n_samples, *, batch_size, max_iter, shuffle,
               rng, tol, n_iter_no_change, early_stopping, state=None, verbose=False,
               incremental=False, proximal=None, callback=None, batch_order=None):
    """Train ``params`` in place by mini-batch steps of ``optimizer``.

    Each epoch visits every row once. The epoch's loss is the size-weighted
    mean of its batch losses. Training stops when, ``n_iter_no_change``
    epochs in a row, the loss fails to fall below the best by ``tol`` (or,
    with ``early_stopping``, the validation score fails to rise above the
    best by ``tol``): the optimizer then decides (an adaptive rate is cut
    by 5 instead). With early stopping the parameters of the best validation
    score are restored at the end.

    ``incremental=True`` runs exactly one epoch with no stopping test (the
    contract of scikit-learn's ``partial_fit``).

    ``proximal(params, step_sizes)``, when given, follows every update: the
    proximal map of a non-smooth penalty at the optimizer's step sizes (a
    proximal stochastic gradient method). ``callback(n_iter, params, loss)``
    is called at the end of each epoch and may return True to stop there.

    ``batch_order(batch_size, rng, shuffle)``, when given, yields the row
    indices of each mini-batch of an epoch in place of :func:`batches` over
    all ``n_samples`` rows (it must visit every row once): the streaming of
    row blocks uses it (:class:`~skscratch._dask.StreamedBlocks`), so that
    no epoch needs an index of all the rows.

    Returns
    -------
    state : TrainingState
        Updated in place when given.

    Raises
    ------
    DivergenceError
        On a non-finite loss; ``params`` may then hold non-finite values and
        must be discarded by the caller.
    """
    state = TrainingState() if state is None else state
    epochs = 1 if incremental else max_iter
    stopped = False
    order = np.arange(n_samples) if batch_order is None else None
    for _ in range(epochs):
        total = 0.0
        epoch = (batches(order, batch_size, rng, shuffle) if batch_order is None
                 else batch_order(batch_size, rng, shuffle))
        for idx in epoch:
            loss, grads = problem.loss_grad(params, idx)
            check_finite(loss, state.n_iter + 1)
            total += loss * idx.shape[0]
            optimizer.update_params(params, grads)
            if proximal is not None:
                proximal(params, optimizer.step_sizes())
        state.n_iter += 1
        state.t += n_samples
        loss = total / n_samples
        state.loss_curve.append(loss)
        if verbose:
            print(f"Iteration {state.n_iter}, loss = {loss:.8f}")
        _update_no_improvement(problem, params, state, tol, early_stopping, verbose)
        optimizer.iteration_ends(state.t)
        if callback is not None and callback(state.n_iter, params, loss):
            stopped = True
            break
        if incremental:
            break
        if state.no_improvement_count > n_iter_no_change:
            what = "Validation score" if early_stopping else "Training loss"
            msg = (f"{what} did not improve more than tol={tol:f} for "
                   f"{n_iter_no_change} consecutive epochs.")
            if optimizer.trigger_stopping(msg, verbose):
                stopped = True
                break
            state.no_improvement_count = 0
    if not incremental and not stopped:
        warnings.warn(
            f"Stochastic optimizer: maximum iterations ({max_iter}) reached and the "
            "optimization hasn't converged yet.",
            ConvergenceWarning,
        )
    if early_stopping and state.best_params is not None:
        for p, best in zip(params, state.best_params):
            p[...] = best
    return state


def _update_no_improvement(problem, params, state, tol, early_stopping, verbose):
    if early_stopping:
        score = problem.validation_score(params)
        state.validation_scores.append(score)
        if verbose:
            print(f"Validation score: {score:f}")
        if score < state.best_validation_score + tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        if score > state.best_validation_score:
            state.best_validation_score = score
            state.best_params = [p.copy() for p in params]
    else:
        loss = state.loss_curve[-1]
        if loss > state.best_loss - tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        state.best_loss = min(state.best_loss, loss)
