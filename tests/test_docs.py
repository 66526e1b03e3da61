"""The documentation builds from any checkout, and its HTML needs no network.

A full Sphinx build, run by ``make docs`` (``pytest -m docs_build``) rather
than ``make test``: it needs the docs extras, which ``make test`` does not
install, and it costs what the documentation build itself costs (~20 s).
"""

import os
import re
import shutil
import site
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.docs_build


class _Scripts(HTMLParser):
    """The ``src`` of every ``<script>`` of a page."""

    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "script" and dict(attrs).get("src"):
            self.sources.append(dict(attrs)["src"])


def _copy_checkout(dest):
    """The files the documentation is built from, as a checkout would have them."""
    ignore = shutil.ignore_patterns("_build", "generated", "__pycache__", "*.pyc")
    for name in ("docs", "skscratch"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("README.md", "pyproject.toml"):
        shutil.copy2(ROOT / name, dest / name)


def test_docs_build_from_a_checkout_named_skscratch(tmp_path):
    # A clone named skscratch, inside a folder named skscratch (as on a CI
    # runner), with its environment inside it: every path the build reads,
    # scikit-learn's own files included, contains "skscratch". The installed
    # packages are reached through a link inside the clone, placed first on
    # the path, so scikit-learn is imported from under it. Rejects a conf.py
    # that tells the package's docstrings from scikit-learn's by a substring
    # of the file path (it then takes scikit-learn's :ref: targets for ours,
    # and the build fails on them).
    pytest.importorskip("sphinx")
    checkout = tmp_path / "skscratch" / "skscratch"
    checkout.mkdir(parents=True)
    _copy_checkout(checkout)
    links = []
    for i, packages in enumerate(p for p in site.getsitepackages() if Path(p).is_dir()):
        link = checkout / ".venv" / f"site-packages-{i}"
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(packages, target_is_directory=True)
        links.append(str(link))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(links)}
    where = subprocess.run(
        [sys.executable, "-c", "import sklearn; print(sklearn.__file__)"],
        cwd=checkout, env=env, capture_output=True, text=True, check=True,
    ).stdout
    assert where.startswith(str(checkout)), where  # the build reads scikit-learn from there
    html = checkout / "docs" / "_build" / "html"
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-b", "html", "-q",
         "docs", str(html)],
        cwd=checkout, env=env, capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    _check_offline(html)


def _check_offline(html):
    """Every page loads its scripts from the build itself; MathJax is among them.

    Rejects HTML that loads MathJax (or anything) from a CDN: the derivations
    would not render without a network.
    """
    pages = sorted(html.rglob("*.html"))
    assert len(pages) > 5
    math_pages = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        parser = _Scripts()
        parser.feed(text)
        for src in parser.sources:
            assert not re.match(r"^(https?:)?//", src), f"{page.name} loads {src}"
            assert (page.parent / src.split("?")[0]).is_file(), f"{page.name}: {src} missing"
        if 'class="math' in text:
            math_pages += 1
            assert any(s.endswith("mathjax/tex-chtml.js") for s in parser.sources), page.name
    # The derivation pages have math; MathJax's output fonts are shipped beside it.
    assert math_pages >= 3
    fonts = html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert any(fonts.glob("*.woff"))
