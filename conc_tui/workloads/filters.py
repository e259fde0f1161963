"""Which image filters let threads run in parallel: the measured verdicts, without Pillow.

The images workload applies the filters; the UI explains them (a thread pool on
``median`` takes turns, on ``blur`` it runs on every core). The UI process must not
import Pillow, so the table lives here, once, for both. The measurements behind it
are in :mod:`conc_tui.workloads.images`.
"""

from __future__ import annotations

GIL_FRIENDLY: dict[str, bool] = {
    "blur": True,
    "sharpen": True,
    "resize": True,
    "median": False,
    "contour": True,
}
"""Whether Pillow releases the GIL while the filter runs (measured)."""
