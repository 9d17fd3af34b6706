"""``python -m figures``: redraw the theory figures (same options as ``r1theory figures``)."""

from __future__ import annotations

import sys

from figures import main

if __name__ == "__main__":
    sys.exit(main())
