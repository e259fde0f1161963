"""``python -m conc_tui`` and the ``conc-tui`` console script."""

from __future__ import annotations

import sys

from conc_tui.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
