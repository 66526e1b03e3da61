"""Test-session setup.

pytest loads this file at start-up (``tests`` is a testpath), before any test
module or doctest in ``skscratch`` imports SciPy.
"""

import os

# scikit-learn's check_array_api_input skips itself unless SciPy's array API
# support is switched on before SciPy is first imported. With it on, that
# check runs (with the numpy namespace) instead of being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
