"""skscratch: scikit-learn compatible estimators fitted by algorithms written from scratch.

The fitting and prediction math lives in private modules built only on numpy's
array primitives (arithmetic, ufuncs, reductions, indexing and the matrix product):

- :mod:`skscratch._linalg`: Householder QR (blocked, pivoted), Cholesky QR,
  triangular solves, minimum-norm least squares.
"""

from .linear_regression import LinearRegressionOLS

__version__ = "0.1.0"

__all__ = ["LinearRegressionOLS", "__version__"]
