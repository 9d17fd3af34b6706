"""Sphinx configuration of the r1theory documentation.

Build (warnings are errors; tutorials are executed, a failing cell fails the build)::

    pip install -e '.[docs]'
    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

import r1theory  # noqa: E402

project = "r1theory"
author = "the r1theory authors"
copyright = "2026, the r1theory authors"
release = r1theory.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "api_coverage",  # docs/_ext/api_coverage.py: every public name must have an API entry
    "docstring_markup",  # docs/_ext/docstring_markup.py: Unicode maths in docstrings is text, not reST
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "api/generated/*.md"]
root_doc = "index"

# MyST: $…$ math, ::: fences, and GitHub-style anchors for headings (docs/claims.md#v2-r1-same)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# myst-nb: every tutorial is executed at build time; an exception in a cell fails the build
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 120
nb_execution_show_tb = True
nb_merge_streams = True

# API reference: autosummary stubs from the docstrings, parsed by numpydoc
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# the packages whose public names must all appear in the API pages (docs/_ext/api_coverage.py)
api_coverage_modules = ["r1theory", "tabular_mdps", "proofs_checks", "proofs_checks.falsify", "proofs_checks.claims"]

html_theme = "pydata_sphinx_theme"
html_title = f"r1theory {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []
