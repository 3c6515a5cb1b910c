"""Work-around for a PySide6 6.12 reference-count bug on Python < 3.12.

Applied once, by ``grokviz/gui/__init__.py``: every use of Qt in grokviz (the app, headless
export, ``grokviz bench gui``, the tests) imports the ``grokviz.gui`` package first, so that is the
application's start for this purpose, before any paint call.

PySide6 6.12.0 with CPython 3.11: each call of a void C++ method through the bindings
(``QPainter.setBrush``, ``QRectF.setLeft`` …) decrements the reference count of ``None``
without incrementing it, so after some thousands of paint calls CPython aborts
("none_dealloc: deallocating None") or segfaults. Giving ``None`` a huge reference count
(2**60, what "immortal" means in 3.12) makes it harmless; a second call is a no-op.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 60
_done = False


def bug_present() -> bool:
    from PySide6 import QtCore

    rect = QtCore.QRectF(0, 0, 1, 1)
    before = sys.getrefcount(None)
    for _ in range(10):
        rect.setLeft(0.5)
    return sys.getrefcount(None) < before


def protect_none() -> bool:
    """Make ``None`` effectively immortal if the bindings leak-decrement it; True if applied."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    refcnt = ctypes.c_ssize_t.from_address(id(None))
    if refcnt.value >= _BOOST // 2:  # already applied
        _done = True
        return False
    if not bug_present():
        _done = True
        return False
    refcnt.value += _BOOST
    # The same bindings also drop references to True/False on some paths ("bool_dealloc" aborts
    # seen at interpreter exit after the GUI tests); make the two bools immortal as well.
    for singleton in (True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _BOOST
    _done = True
    return True
