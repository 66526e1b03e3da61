"""Sphinx configuration for the skscratch documentation.

The build is offline: no intersphinx inventories, no remote images. MathJax is
loaded by the reader's browser, not at build time.
"""

import os
import sys

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


def _is_foreign(node):
    source = node.source or ""
    if "<autosummary>" in source:
        # A summary line in a method table; the same text is checked again
        # where the full docstring is rendered.
        return True
    origin, sep, _ = source.partition(":docstring of")
    return bool(sep) and "skscratch" not in origin


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


def setup(app):
    app.connect("missing-reference", _resolve_sklearn_reference)
