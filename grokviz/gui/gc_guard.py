"""Python's cyclic garbage collector, run only in the GUI thread.

The collector runs in whichever thread happens to allocate when a generation fills up. When that
is a worker (an analysis job allocates a lot), it may free unreachable widgets there, and Qt
objects must die in their own thread: Qt warns "Timers cannot be started from another thread",
then the app crashes (seen as a rare abort in the GUI tests). So automatic collection is switched
off and a timer in the GUI thread collects, generation by generation, when the counts pass the
usual thresholds. Reference counting, which frees almost everything, is unaffected.
"""

from __future__ import annotations

import gc

from PySide6 import QtCore

_INTERVAL_MS = 250


class GuiThreadCollector(QtCore.QObject):
    def __init__(self, parent: QtCore.QObject):
        super().__init__(parent)
        gc.disable()
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(_INTERVAL_MS)

    def check(self) -> None:
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):  # the oldest full generation, which also collects the younger ones
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return


def install(app: QtCore.QCoreApplication) -> GuiThreadCollector:
    """Collect garbage in ``app``'s thread from now on (idempotent)."""
    existing = app.findChild(GuiThreadCollector)
    return existing if existing is not None else GuiThreadCollector(app)
