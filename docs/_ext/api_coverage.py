"""Sphinx extension: fail the build (a warning, an error under ``-W``) when a public name has no API entry.

For every module in the ``api_coverage_modules`` configuration value, every name of its ``__all__`` (except
``__version__``) must be documented as a Python object of the form ``module.name`` somewhere in the built docs
(the autosummary pages under ``docs/api/``). A name added to ``__all__`` without an API entry fails the docs
build; ``tests/test_docs_api.py`` runs the same check on the ``.rst`` sources without building.
"""

from __future__ import annotations

import importlib
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)


def public_names(module: str) -> list[str]:
    """The names of ``module.__all__`` that need an API entry (``__version__`` excluded)."""
    mod = importlib.import_module(module)
    return [n for n in getattr(mod, "__all__", []) if not n.startswith("__")]


def _check(app: Sphinx, env: BuildEnvironment) -> None:
    documented = set(env.get_domain("py").objects)  # type: ignore[attr-defined]
    for module in app.config.api_coverage_modules:
        missing = [n for n in public_names(module) if f"{module}.{n}" not in documented]
        if missing:
            logger.warning(
                "API reference: %d public name(s) of %s have no entry in docs/api/: %s "
                "(add them to the autosummary list of docs/api/%s.rst)",
                len(missing),
                module,
                ", ".join(missing),
                module.split(".")[0],
            )


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the configuration value and the consistency check."""
    app.add_config_value("api_coverage_modules", [], "env")
    app.connect("env-check-consistency", _check)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
