"""Test-session setup shared by tests/ and the doctests in skscratch/."""

import os

# scikit-learn's check_array_api_input skips itself unless SciPy's array API
# support is switched on before SciPy is first imported. With it on, that
# check runs (with the numpy namespace) instead of being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
