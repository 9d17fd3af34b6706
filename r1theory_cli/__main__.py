"""``python -m r1theory_cli``: the ``r1theory`` command."""

from __future__ import annotations

import sys

from r1theory_cli import main

if __name__ == "__main__":
    sys.exit(main())
