"""Orderly teardown of pyqtgraph scenes before the interpreter exits (issue 18, item 9).

At exit, PySide deletes every C++ object still owned by a Python wrapper, in the order of its
wrapper table (``BindingManager::visitAllPyObjects``), which varies from run to run. When a child
``QGraphicsWidget`` (an axis, a label) goes before its parent, its destructor un-parents it, the
parent's layout re-runs and calls pyqtgraph's Python overrides (``resizeEvent``…) on a half
destroyed tree; the override raises and shiboken's error printer crashes (SIGSEGV in
``PepException_GetArgs``). ``grokviz export SWEEP_DIR`` died that way (status 139) in about half of
its runs. Closing every pyqtgraph view first clears its scene while the interpreter is whole, so Qt
deletes the items parent-first and nothing is left for the exit sweep.
"""

from __future__ import annotations

import atexit

from PySide6 import QtCore, QtWidgets

_registered = False


def close_graphics_views() -> int:
    """Close (clear the scene of) every open pyqtgraph view and run pending deletions; returns the count."""
    import pyqtgraph as pg

    app = QtWidgets.QApplication.instance()
    if app is None:
        return 0
    views = [w for w in app.allWidgets() if isinstance(w, pg.GraphicsView) and not getattr(w, "closed", False)]
    for view in views:
        view.close()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    return len(views)


def close_views_at_exit() -> None:
    """Register :func:`close_graphics_views` to run at exit, before PySide's own clean-up (idempotent).

    PySide's clean-up is a ``Py_AtExit`` function, which the interpreter runs after every
    ``atexit`` handler, so this always comes first.
    """
    global _registered
    if not _registered:
        atexit.register(close_graphics_views)
        _registered = True
