"""Bookkeeping shared by the training loops: what a run leaves behind, and divergence."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrainingState:
    """Everything a training run leaves behind, kept for warm starts and partial_fit."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = np.inf
    best_validation_score: float = -np.inf
    best_params: list = None
    no_improvement_count: int = 0
    t: int = 0  # samples seen
    n_iter: int = 0  # epochs run
    n_fun: int = 0  # objective evaluations (L-BFGS)


class DivergenceError(ValueError):
    """The loss became infinite or NaN: the step size is too large for the problem."""


def check_finite(loss, epoch=None):
    """Raise DivergenceError on a non-finite loss (of an epoch, or of the first step)."""
    if not np.isfinite(loss):
        what = "the first iteration" if epoch is None else f"epoch {epoch}"
        raise DivergenceError(
            f"The training loss became {loss} during {what}: the optimization diverged. "
            "Lower learning_rate_init (or use the default solver, whose step size is "
            "derived from the problem)."
        )
