"""The from-scratch rule, read from the source: an allow-list, not a deny-list.

Every module of ``skscratch/`` is parsed (not imported). What it may import,
and every attribute it reaches on an imported module, must be on the lists
below: numpy's array primitives (creation, manipulation, ufuncs, reductions,
the matrix product, dtypes), scipy.sparse's containers, scikit-learn's
plumbing (base classes, validation, parameter constraints, exceptions, label
and weight utilities, ``train_test_split``, callbacks) and a few standard
library modules. Anything else is a violation, whatever its name: a deny-list
of solver names is walked past by ``getattr(np, "linalg")``, ``importlib``,
``__import__``, star imports or a helper nobody thought of
(``np.polynomial``, ``np.roots``, ``np.fft``), an allow-list is not.

So that nothing reaches a module other than through a checked attribute:

- a module may only be used as ``module.name`` (the chain is checked), never
  as a value (``getattr(np, ...)``, ``m = np``, ``f(np)``, ``vars(np)``);
- ``import *`` is refused;
- the builtins that fetch names from strings or namespaces (``__import__``,
  ``eval``, ``exec``, ``compile``, ``globals``, ``locals``, ``vars``) are
  refused, and ``getattr`` / ``hasattr`` / ``setattr`` / ``delattr`` only
  take a literal attribute name that is not a dunder outside the short list;
- dunder attributes other than those listed (``__globals__``,
  ``__dict__`` of a module, ``__array_namespace__``, ...) are refused.

The run-time half of the rule is ``test_runtime_guard.py``: it wraps every
callable of the forbidden libraries and fits every estimator under it.

Adding a name to a list below is a reviewed decision: it must be an array
primitive or plumbing, never an algorithm the package is meant to derive.
"""

import ast
import importlib
import importlib.util
import types
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skscratch"

# numpy names the package may reach (``np.<name>``, or ``from numpy import
# <name>``). Dotted entries allow one path into a submodule and nothing else.
NUMPY_ALLOWED = frozenset(
    # array creation and copies
    "array asarray asanyarray ascontiguousarray asfortranarray copy empty empty_like "
    "zeros zeros_like ones ones_like full full_like eye identity arange linspace geomspace "
    "diag diagonal diag_indices tril triu tril_indices triu_indices frombuffer fromiter "
    # shapes, indexing, joining, sorting, set operations
    "reshape ravel transpose swapaxes moveaxis expand_dims squeeze atleast_1d atleast_2d "
    "broadcast_to broadcast_arrays concatenate stack hstack vstack column_stack split "
    "array_split repeat tile flip roll where take take_along_axis put put_along_axis copyto "
    "nonzero flatnonzero argwhere ix_ r_ append searchsorted sort argsort lexsort partition "
    "argpartition "
    "unique setdiff1d intersect1d union1d isin ndindex ndenumerate newaxis "
    # elementwise arithmetic and functions (ufuncs)
    "abs absolute add subtract multiply divide true_divide floor_divide negative positive "
    "reciprocal power square sqrt cbrt exp exp2 expm1 log log2 log10 log1p logaddexp "
    "logaddexp2 sign copysign hypot maximum minimum fmax fmin clip tanh sinh cosh sin cos "
    "tan arctan arctan2 floor ceil rint round trunc mod remainder fmod nextafter spacing "
    "greater greater_equal less less_equal equal not_equal logical_and logical_or "
    "logical_not logical_xor isfinite isinf isnan isneginf isposinf signbit nan_to_num "
    # reductions and scans
    "sum prod mean average var std max min amax amin argmax argmin all any count_nonzero "
    "bincount cumsum cumprod diff ptp "
    # products: the one borrowed operation
    "dot vdot inner outer matmul einsum tensordot "
    # comparisons of whole arrays
    "array_equal allclose isclose "
    # dtypes, limits, constants, floating-point state
    "dtype finfo iinfo issubdtype result_type promote_types can_cast ndarray generic number "
    "floating integer inexact signedinteger unsignedinteger bool_ float16 float32 float64 "
    "longdouble int8 int16 int32 int64 intp uint8 uint32 uint64 inf nan pi e errstate "
    "isscalar ndim shape size "
    # random generators (scikit-learn's check_random_state hands them out)
    "random.RandomState random.Generator random.default_rng".split()
)
SCIPY_SPARSE_ALLOWED = frozenset(
    "issparse isspmatrix spmatrix sparray csr_matrix csc_matrix coo_matrix csr_array "
    "csc_array coo_array diags diags_array eye eye_array identity hstack vstack".split()
)
# scikit-learn plumbing: a module mapped to the names it may give, or to None
# when the whole module is plumbing (it holds no estimator or solver).
SKLEARN_ALLOWED = {
    "sklearn.base": None,
    "sklearn.exceptions": None,
    "sklearn.callback": None,
    "sklearn.utils.validation": None,
    "sklearn.utils._param_validation": None,
    "sklearn.utils._tags": None,
    "sklearn.utils.multiclass": None,
    "sklearn.utils.class_weight": None,
    "sklearn.utils.metaestimators": {"available_if"},
    "sklearn.utils": {"check_random_state", "compute_class_weight", "compute_sample_weight",
                      "gen_batches", "shuffle", "Bunch"},
    "sklearn.preprocessing": {"LabelBinarizer", "LabelEncoder"},
    "sklearn.model_selection": {"train_test_split"},
}
# Standard-library modules with nothing to borrow for the math (no importlib,
# sys, builtins or ctypes: they fetch modules by name).
STDLIB_ALLOWED = frozenset(
    "__future__ abc collections concurrent contextlib copy dataclasses functools itertools "
    "math numbers operator os threading time typing warnings weakref".split()
)
# Other plumbing, by name: threadpoolctl (a scikit-learn dependency) limits
# the BLAS threads around loops of tiny products; it computes nothing.
OTHER_ALLOWED = {"threadpoolctl": {"ThreadpoolController"}}
# Dask, for skscratch._dask: scheduling and data movement only. Blocks are
# mapped (map_blocks), reduced by a function of the package (reduction), summed
# or maxed over blocks, made (from_array, ones) and computed; never
# dask.array.linalg, dask-ml or anything else that computes a fit.
DASK_ALLOWED = {
    "dask": {"compute"},
    "dask.array": {"map_blocks", "reduction", "from_array", "asarray", "ones", "ones_like",
                   "unique", "all", "max", "abs"},
}
FORBIDDEN_BUILTINS = frozenset(
    {"__import__", "eval", "exec", "compile", "globals", "locals", "vars", "breakpoint"}
)
ATTRIBUTE_BUILTINS = frozenset({"getattr", "hasattr", "setattr", "delattr"})
DUNDERS_ALLOWED = frozenset(
    {"__init__", "__call__", "__class__", "__name__", "__qualname__", "__doc__",
     "__dict__", "__iter__", "__len__", "__sklearn_tags__", "__sklearn_is_fitted__",
     # the Dask collection protocol: tells a Dask input without importing Dask
     "__dask_graph__"}
)


def _within(name, prefix):
    return name == prefix or name.startswith(prefix + ".")


def _allowed_name(full):
    """Whether ``full`` (a dotted path from a top-level module) may be reached."""
    top = full.split(".")[0]
    if top in STDLIB_ALLOWED:
        return True
    if top in OTHER_ALLOWED:
        return full.rpartition(".")[0] == top and full.rpartition(".")[2] in OTHER_ALLOWED[top]
    if top in DASK_ALLOWED:
        module, _, name = full.rpartition(".")
        return name in DASK_ALLOWED.get(module, ())
    if _within(full, "numpy"):
        return full[len("numpy."):] in NUMPY_ALLOWED
    if _within(full, "scipy.sparse"):
        return full[len("scipy.sparse."):] in SCIPY_SPARSE_ALLOWED
    if _within(full, "sklearn"):
        for module, names in SKLEARN_ALLOWED.items():
            if names is None and _within(full, module) and full != module:
                return _defined_in_plumbing(module, full[len(module) + 1:])
            if names is not None and full.rpartition(".")[0] == module:
                return full.rpartition(".")[2] in names
    return False


def _defined_in_plumbing(module, path):
    """Whether ``module.path`` is an object defined in a whole-plumbing module.

    A plumbing module's namespace also holds what it imported (``np``,
    ``sp``, helpers of other modules): those are not plumbing. The object is
    looked up (tests may import anything) and must be neither a module nor
    something defined outside the plumbing modules.
    """
    try:
        obj = importlib.import_module(module)
        for attr in path.split("."):
            obj = getattr(obj, attr)
    except (ImportError, AttributeError):
        return False
    if isinstance(obj, types.ModuleType):
        return False
    home = getattr(obj, "__module__", None) or getattr(type(obj), "__module__", "")
    return any(names is None and _within(home, m) for m, names in SKLEARN_ALLOWED.items())


def _allowed_module(module):
    """Whether ``import module`` may bind it (its attributes are checked at each use)."""
    if module.split(".")[0] in STDLIB_ALLOWED or module in ("numpy", "scipy.sparse"):
        return True
    if module in DASK_ALLOWED:
        return True
    return any(names is None and _within(module, m) for m, names in SKLEARN_ALLOWED.items())


def _is_module(name):
    """Whether ``name`` is an importable module (rather than a name inside one)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, AttributeError, ValueError):
        return False


def _chain(node):
    """``(root name, [attr, ...])`` of ``a.b.c``, or ``(None, None)``."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return node.id, attrs[::-1]
    return None, None


def violations(source, filename="<source>"):
    """List the rule's violations in one module's source text."""
    tree = ast.parse(source, filename=filename)
    found = []
    modules = {}  # names bound to a module -> the module's dotted path
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _allowed_module(alias.name):
                    found.append(f"line {node.lineno}: imports {alias.name}")
                if alias.asname:
                    modules[alias.asname] = alias.name
                else:  # ``import a.b`` binds ``a``; the chain is checked from there
                    modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    found.append(f"line {node.lineno}: star import from {node.module or '.'}")
                    continue
                if node.level:  # the package's own modules
                    continue
                full = f"{node.module}.{alias.name}"
                if _is_module(full):  # ``from scipy import sparse``: bound as a module
                    if _allowed_module(full):
                        modules[alias.asname or alias.name] = full
                    else:
                        found.append(f"line {node.lineno}: imports {full}")
                elif not _allowed_name(full):
                    found.append(f"line {node.lineno}: imports {full}")
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in modules:
            parent = parents.get(node)
            if not (isinstance(parent, ast.Attribute) and parent.value is node):
                found.append(f"line {node.lineno}: uses the module {modules[node.id]} as a value")
                continue
            # The longest chain above this name: np.a.b(...) -> ["a", "b"].
            top = parent
            while isinstance(parents.get(top), ast.Attribute):
                top = parents[top]
            _, attrs = _chain(top)
            path = modules[node.id]
            # Check the shortest allowed prefix: np.float64.__name__ is np.float64, then
            # an attribute of that object (checked below as an attribute).
            reached = None
            for i in range(1, len(attrs) + 1):
                candidate = ".".join([path, *attrs[:i]])
                if _allowed_name(candidate):
                    reached = candidate
                    break
            if reached is None:
                found.append(f"line {node.lineno}: reaches {'.'.join([path, *attrs])}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS:
            found.append(f"line {node.lineno}: uses {node.id}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ATTRIBUTE_BUILTINS:
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                found.append(f"line {node.lineno}: {node.func.id} with a computed name")
            elif name.value.startswith("__") and name.value not in DUNDERS_ALLOWED:
                found.append(f"line {node.lineno}: {node.func.id} of {name.value}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") \
                and node.attr not in DUNDERS_ALLOWED:
            found.append(f"line {node.lineno}: uses attribute {node.attr}")
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
        # reached by attribute, under any alias
        "import numpy as np\nx = np.linalg.solve(a, b)",
        "import numpy\nx = numpy.linalg.solve(a, b)",
        "import numpy as npy\nx = npy.linalg.inv(a)",
        "import numpy as np\np = np.polynomial.Polynomial.fit(x, y, 3)",
        "import numpy as np\nr = np.roots([1.0, -3.0, 2.0])",
        "import numpy as np\nc = np.polyfit(x, y, 1)",
        "import numpy as np\ny = np.fft.fft(x)",
        "import numpy as np\ny = np.lib.scimath.sqrt(x)",
        "import numpy as np\nf = np.dot.__module__",
        "import scipy.sparse as sp\nsp.linalg.spsolve(a, b)",
        "import scipy.sparse\nx = scipy.sparse.linalg.spsolve(a, b)",
        "import scipy.sparse\nx = scipy.linalg.solve(a, b)",
        "from scipy import sparse\nx = sparse.linalg.lsqr(a, b)",
        "import scipy\nx = scipy.special.expit(z)",
        # imported
        "from numpy.linalg import qr",
        "from numpy import linalg",
        "from numpy import roots",
        "import numpy.linalg as la",
        "import numpy.polynomial",
        "import scipy.linalg",
        "from scipy import optimize",
        "from scipy.special import expit",
        "from scipy.stats import norm",
        "from scipy.sparse.linalg import lsqr",
        "from scipy.sparse import linalg",
        "from sklearn.linear_model import LinearRegression",
        "from sklearn.neural_network import MLPClassifier",
        "from sklearn.neural_network._stochastic_optimizers import AdamOptimizer",
        "from sklearn.utils.extmath import safe_sparse_dot",
        "from sklearn.utils import extmath",
        "from sklearn.utils.optimize import _newton_cg",
        "from sklearn._loss.loss import HalfBinomialLoss",
        "from sklearn.preprocessing import StandardScaler",
        "import sklearn",
        "import sklearn.linear_model as lm",
        "import torch",
        "import jax.numpy as jnp",
        # Dask: scheduling only, never its linear algebra or a fit
        "import dask.array as da\nq, r = da.linalg.qr(x)",
        "import dask.array as da\nx = da.linalg.lstsq(a, b)",
        "from dask.array.linalg import tsqr",
        "import dask.array.linalg",
        "from dask_ml.linear_model import LinearRegression",
        "import dask_glm",
        "import dask\nf = dask.delayed(solve)",
        "import dask.array as da\nda = da",
        # star imports
        "from numpy import *",
        "from numpy.linalg import *",
        "from . import *",
        # modules fetched by name, or used as values
        "import numpy as np\nla = getattr(np, 'linalg')",
        "import numpy as np\nla = getattr(np, 'lin' + 'alg')",
        "import numpy as np\nsolve = vars(np)['linalg'].solve",
        "import numpy as np\nmod = np\nmod.linalg.inv(a)",
        "import numpy as np\ndef f(m=np):\n    return m.linalg",
        "import numpy as np\nclass A:\n    m = np",
        "import numpy as np\nla = np.__dict__['linalg']",
        "import numpy as np\nx = globals()['np'].linalg",
        "import importlib\nla = importlib.import_module('numpy.linalg')",
        "la = __import__('numpy.linalg', fromlist=['solve'])",
        "import sys\nla = sys.modules['numpy'].linalg",
        "import builtins\nla = builtins.__import__('numpy.linalg')",
        "x = eval('np.linalg.inv(a)')",
        "exec('import numpy.linalg')",
        "f = getattr(obj, name)",
        "f = getattr(obj, '__globals__')",
        "from sklearn.utils.validation import validate_data\nla = validate_data.__globals__['np'].linalg",
        "import numpy as np\nxp = x.__array_namespace__()",
        # what plumbing modules imported is not plumbing
        "import sklearn.utils.validation as v\nx = v.np.linalg.solve(a, b)",
        "from sklearn.utils.validation import np\nx = np.linalg.solve(a, b)",
        "from sklearn.base import np",
        "from sklearn.utils.validation import sp",
    ],
)
def test_checker_catches_violations(source):
    # The rule's test would be worthless if the checker could not fail.
    assert violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\nz = np.einsum('ij,jk->ik', a, b) @ c",
        "import numpy as np\nwith np.errstate(over='ignore'):\n    e = np.exp(-np.abs(z))",
        "import numpy as np\nt = np.finfo(np.float64).eps * np.float32(2).itemsize",
        "import numpy as np\nrng = np.random.RandomState(0)",
        "from numpy import float64, einsum",
        "import scipy.sparse as sp\nA = sp.csr_matrix(X) if sp.issparse(X) else X",
        "from scipy import sparse\nok = sparse.issparse(X)",
        "from sklearn.base import BaseEstimator",
        "from sklearn.utils.validation import validate_data, check_is_fitted",
        "from sklearn.utils._param_validation import Interval, StrOptions",
        "from sklearn.preprocessing import LabelBinarizer",
        "from sklearn.model_selection import train_test_split",
        "from sklearn.utils import check_random_state",
        "from sklearn.callback import ProgressBar",
        "import dask.array as da\ny = da.map_blocks(f, x, chunks=c)",
        "import dask\n(a,) = dask.compute(x)",
        "ok = hasattr(X, '__dask_graph__')",
        "import math\nr = math.sqrt(2.0)",
        "from ._linalg import cholesky",
        "x = getattr(self, '_optimizer', None)\nsaved = dict(self.__dict__)",
        "ok = hasattr(sizes, '__iter__')",
    ],
)
def test_checker_allows_primitives_and_plumbing(source):
    assert violations(source) == []
