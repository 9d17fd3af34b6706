"""Sphinx extension: read the plain-text mathematics of the docstrings as text, not as reST markup.

The docstrings write mathematics in Unicode (``|V*(ρ)|``, ``P(·|s, a)``, ``shrink``^{s−1}), which reST would
parse as substitution references or malformed inline literals. Before numpydoc parses a docstring, this hook

* escapes ``|`` outside inline literals and roles (absolute values and conditional bars stay text; reST tables
  are not used in the docstrings: they use simple ``====`` tables);
* separates an inline literal from a following word character, ``^``, ``(``, ``[`` or ``{`` by an escaped
  space, so that ````shrink````^{s−1} is the literal ``shrink`` followed by ``^{s−1}``.
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx

# inline literals and interpreted text (roles), left untouched
_PROTECTED = re.compile(r"(``.+?``|:[\w:.-]+:`[^`]*`|`[^`]+`_?)")
_LITERAL_THEN_WORD = re.compile(r"(``[^`\s](?:[^`]*[^`\s])?``)(?=[\w^(\[{])")


def _escape_line(line: str) -> str:
    line = _LITERAL_THEN_WORD.sub(r"\1\\ ", line)
    parts = _PROTECTED.split(line)
    return "".join(p if i % 2 else p.replace("|", r"\|") for i, p in enumerate(parts))


def _process(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lines[:] = [_escape_line(line) for line in lines]


def setup(app: Sphinx) -> dict[str, Any]:
    """Connect the hook before numpydoc's (priority 400 < the default 500)."""
    app.connect("autodoc-process-docstring", _process, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
