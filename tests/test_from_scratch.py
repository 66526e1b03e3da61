"""The from-scratch rule: the fitting math is written here, not borrowed.

Every module of ``skscratch/`` is parsed (not imported) and rejected if it
imports, or reaches by attribute, a library solver: numpy.linalg,
scipy.linalg / sparse.linalg / optimize / special, any scikit-learn estimator
or solver module, or an autodiff / ML framework. scikit-learn is allowed only
for plumbing (base classes, validation, parameter constraints, exceptions,
label and weight utilities, train_test_split, callbacks).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skscratch"

FORBIDDEN_MODULES = (
    "numpy.linalg",
    "numpy.polynomial",
    "scipy.linalg",
    "scipy.sparse.linalg",
    "scipy.optimize",
    "scipy.special",
    "scipy.stats",
    "torch",
    "jax",
    "tensorflow",
    "autograd",
    "keras",
)
# Any attribute with one of these names is a solver reached without an import
# (``np.linalg.solve``, ``sp.linalg.spsolve``, ``scipy.optimize.minimize``).
FORBIDDEN_ATTRIBUTES = {"linalg", "optimize", "special", "polyfit", "lstsq", "pinv"}
ALLOWED_SKLEARN = (
    "sklearn.base",
    "sklearn.exceptions",
    "sklearn.callback",
    "sklearn.utils.validation",
    "sklearn.utils._param_validation",
    "sklearn.utils.multiclass",
    "sklearn.utils.class_weight",
    "sklearn.utils.metaestimators",
    "sklearn.utils",  # only names listed in ALLOWED_SKLEARN_UTILS
    "sklearn.preprocessing",  # only the label utilities below
    "sklearn.model_selection",  # only train_test_split
)
ALLOWED_NAMES = {
    "sklearn.utils": {"check_random_state", "compute_class_weight", "compute_sample_weight", "gen_batches", "shuffle"},
    "sklearn.preprocessing": {"LabelBinarizer", "LabelEncoder"},
    "sklearn.model_selection": {"train_test_split"},
}


def _is_within(module, prefix):
    return module == prefix or module.startswith(prefix + ".")


def violations(source, filename="<source>"):
    """List the rule's violations in one module's source text."""
    found = []
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        imported = []
        if isinstance(node, ast.Import):
            imported = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported = [(node.module, alias.name) for alias in node.names]
        for module, name in imported:
            full = f"{module}.{name}" if name else module
            if any(_is_within(full, bad) or _is_within(module, bad) for bad in FORBIDDEN_MODULES):
                found.append(f"line {node.lineno}: imports {full}")
            elif _is_within(module, "sklearn"):
                if name is None:
                    found.append(f"line {node.lineno}: imports the whole of {module}")
                elif module not in ALLOWED_SKLEARN and not any(
                    module.startswith(ok + ".") for ok in ALLOWED_SKLEARN if ok not in ALLOWED_NAMES
                ):
                    found.append(f"line {node.lineno}: imports {full} (not plumbing)")
                elif module in ALLOWED_NAMES and name not in ALLOWED_NAMES[module]:
                    found.append(f"line {node.lineno}: imports {full} (not plumbing)")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"line {node.lineno}: uses attribute .{node.attr}")
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_package_has_modules():
    names = {p.name for p in MODULES}
    assert {"__init__.py", "_linalg.py", "linear_regression.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_follows_from_scratch_rule(path):
    assert violations(path.read_text(), str(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\nx = np.linalg.solve(a, b)",
        "from numpy.linalg import qr",
        "from numpy import linalg",
        "import scipy.linalg",
        "from scipy import optimize",
        "from scipy.special import expit",
        "import scipy.sparse as sp\nsp.linalg.spsolve(a, b)",
        "from sklearn.linear_model import LinearRegression",
        "from sklearn.neural_network import MLPClassifier",
        "from sklearn.utils.extmath import safe_sparse_dot",
        "from sklearn.preprocessing import StandardScaler",
        "import sklearn",
        "import torch",
        "np.polyfit(x, y, 1)",
    ],
)
def test_checker_catches_violations(source):
    # The rule's test would be worthless if the checker could not fail.
    assert violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\nz = np.einsum('ij,jk->ik', a, b) @ c",
        "from sklearn.base import BaseEstimator",
        "from sklearn.utils.validation import validate_data, check_is_fitted",
        "from sklearn.utils._param_validation import Interval, StrOptions",
        "from sklearn.preprocessing import LabelBinarizer",
        "from sklearn.model_selection import train_test_split",
        "from sklearn.utils import check_random_state",
        "import scipy.sparse as sp",
    ],
)
def test_checker_allows_plumbing(source):
    assert violations(source) == []
