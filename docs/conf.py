"""Sphinx configuration for the skscratch documentation.

The build is offline: no intersphinx inventories, no remote images. The HTML
is offline too: MathJax is shipped with it (``sphinx-mathjax-offline`` copies
its bundled MathJax 3 into ``_static/mathjax``), so the derivations render
with no network.
"""

import os
import sys
from pathlib import Path

# Document the working tree, whether or not the package is installed.
sys.path.insert(0, os.path.abspath(".."))

import skscratch  # noqa: E402

project = "skscratch"
author = "The skscratch developers"
copyright = "The skscratch developers"
release = skscratch.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax from _static/mathjax, not from a CDN
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- autodoc / autosummary ---------------------------------------------------
# Stub pages are generated into docs/generated/ (gitignored) on every build.
autosummary_generate = True
autodoc_typehints = "none"
autodoc_inherit_docstrings = True

# -- numpydoc ------------------------------------------------------------------
# The class template lists the methods itself (autosummary); numpydoc's own
# member tables would duplicate every entry and warn about it.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Validation of every docstring the API pages render; a failure is a warning,
# so an error of the build (-W). All of numpydoc's checks, except four that
# ask for what this project's (and scikit-learn's) method docstrings do not
# carry by design: an extended summary (ES01), an Examples section (EX01,
# the class docstrings hold the doctested examples) and a See Also section
# (SA01) on every method, and an unnamed type on the first line of a single
# return (RT02: scikit-learn's style names it, ``self : object``).
numpydoc_validation_checks = {"all", "ES01", "EX01", "SA01", "RT02"}
# Methods inherited from scikit-learn (get_params, score, set_*_request, ...)
# carry scikit-learn's docstrings, which this project does not write.
numpydoc_validation_exclude = {
    rf"^skscratch\.{cls.__name__}\.{name}$"
    for cls in (getattr(skscratch, n) for n in skscratch.__all__)
    if isinstance(cls, type)
    for name in dir(cls)
    if not name.startswith("_")
    and callable(getattr(cls, name))
    and not (getattr(getattr(cls, name), "__module__", None) or "").startswith("skscratch")
}

# -- HTML ----------------------------------------------------------------------
html_theme = "alabaster"
html_static_path = ["_static"]
html_title = f"skscratch {release}"
html_theme_options = {
    "description": "scikit-learn estimators, fitted from scratch in numpy",
    "fixed_sidebar": True,
    "show_relbars": True,
}
html_sidebars = {
    "**": ["about.html", "navigation.html", "relations.html", "searchbox.html"],
}


# -- Cross-references inherited from scikit-learn ----------------------------
# Methods inherited from scikit-learn's base classes (score, get_params,
# set_fit_request, ...) carry docstrings that point into scikit-learn's own
# documentation with :term: and :ref:. Those targets do not exist here and, with
# intersphinx off, would be build warnings. Resolve them to plain links into the
# scikit-learn documentation instead. Only docstrings that come from outside this
# project are rewritten: a dangling :ref: in our own pages is still an error.
# :term: always goes to scikit-learn's glossary, which our docstrings share.
SKLEARN_DOCS = "https://scikit-learn.org/stable/"
# The package's own directory: a docstring is ours when its file lies inside
# it. (A substring test on the path would take every file of a checkout or a
# virtual environment under a folder named "skscratch" for ours.)
PACKAGE_DIR = Path(skscratch.__file__).resolve().parent


def _is_foreign(node):
    source = node.source or ""
    if "<autosummary>" in source:
        # A summary line in a method table; the same text is checked again
        # where the full docstring is rendered.
        return True
    origin, sep, _ = source.partition(":docstring of")
    if not (sep and origin):
        return False  # not a docstring, or of unknown origin: checked as ours
    return not Path(origin).resolve().is_relative_to(PACKAGE_DIR)


def _resolve_sklearn_reference(app, env, node, contnode):
    from docutils import nodes

    if node.get("refdomain") != "std" or node.get("reftype") not in {"term", "ref"}:
        return None
    if node["reftype"] == "term":
        # scikit-learn's glossary anchors are "term-" + the term, spaces as dashes.
        anchor = "term-" + "-".join(node["reftarget"].split())
        uri = f"{SKLEARN_DOCS}glossary.html#{anchor}"
    elif _is_foreign(node):
        uri = f"{SKLEARN_DOCS}user_guide.html"
    else:
        return None
    ref = nodes.reference("", "", internal=False, refuri=uri)
    ref += contnode
    return ref


def _check_attribute_descriptions(app, what, name, obj, options, lines):
    """Every attribute in a class docstring of the package has a description.

    numpydoc's validation checks the Parameters section (PR07) but not the
    Attributes section, where a fitted attribute listed without a word is
    easy to miss. A warning, so an error of the build (-W).
    """
    if what != "class" or not name.startswith("skscratch.") or name in _CHECKED:
        return
    _CHECKED.add(name)  # a class docstring is processed once per page that shows it
    from numpydoc.docscrape import ClassDoc
    from sphinx.util import logging

    for entry in ClassDoc(obj, config={"show_class_members": False})["Attributes"]:
        if not "".join(entry.desc).strip():
            logging.getLogger(__name__).warning(
                "%s: attribute %s has no description", name, entry.name)


_CHECKED = set()


def setup(app):
    app.connect("missing-reference", _resolve_sklearn_reference)
    app.connect("autodoc-process-docstring", _check_attribute_descriptions)
