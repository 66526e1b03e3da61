"""skscratch: scikit-learn compatible estimators fitted by algorithms written from scratch.

The fitting and prediction math lives in private modules built only on numpy's
array primitives (arithmetic, ufuncs, reductions, indexing and the matrix product):

- :mod:`skscratch._linalg`: Householder QR (blocked, pivoted), Cholesky QR,
  triangular solves, minimum-norm least squares.
- :mod:`skscratch._losses`: stable sigmoid / softmax and log-losses with gradients.
- :mod:`skscratch._stochastic`: mini-batch training (SGD with (Nesterov)
  momentum, Adam, epochs, early stopping).
- :mod:`skscratch._fullbatch`: full-batch descent methods (spectral descent, L-BFGS).
- :mod:`skscratch._training`: the bookkeeping both kinds of loop share.
- :mod:`skscratch._linear_logit`: logistic regression's objective in whitened
  coordinates.
- :mod:`skscratch._network`: a dense network's forward pass and backpropagation.
"""

from .linear_regression import LinearRegressionOLS
from .logistic_regression import LogisticRegressionGD
from .mlp import MLPClassifierScratch

__version__ = "0.1.0"

__all__ = ["LinearRegressionOLS", "LogisticRegressionGD", "MLPClassifierScratch", "__version__"]
