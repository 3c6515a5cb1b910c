"""The app's look: Fusion style, a light palette, the style sheet, and pyqtgraph's defaults.

Cheap to import (PySide6 only, pyqtgraph when :func:`configure_plots` runs), so the launcher can
style the window before anything heavy loads.
"""

from __future__ import annotations

STYLE_SHEET = """
QLabel#panelHeading { font-size: 15px; font-weight: 600; color: #1a1a1a; }
QLabel#viewTitle { font-size: 14px; font-weight: 600; color: #1a1a1a; }
QLabel#viewSubtitle { color: #444444; }
QLabel#fieldName { color: #666666; }
QLabel#hint { color: #666666; }
QLabel#placeholderTitle { font-size: 20px; font-weight: 600; color: #9a9a9a; }
QLabel#placeholderText { color: #8a8a8a; font-size: 13px; }
QLabel#epochLabel { font-size: 13px; }
QGroupBox { font-weight: 600; }
QStatusBar QLabel { color: #333333; }
"""


def configure_application(app) -> None:
    """Light, clean scientific look: Fusion style, light palette (plots: :func:`configure_plots`).

    Also moves Python's cyclic garbage collection into the GUI thread (:mod:`grokviz.gui.gc_guard`).
    """
    from PySide6 import QtGui

    from grokviz.gui import gc_guard

    gc_guard.install(app)

    app.setApplicationName("grokviz")
    app.setOrganizationName("grokviz")
    app.setApplicationDisplayName("grokviz")
    app.setStyle("Fusion")
    palette = app.style().standardPalette()
    palette.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("#f6f6f6"))
    palette.setColor(QtGui.QPalette.ColorRole.Base, QtGui.QColor("#ffffff"))
    palette.setColor(QtGui.QPalette.ColorRole.Highlight, QtGui.QColor("#2f6fb3"))
    app.setPalette(palette)
    font = app.font()
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
        app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)


def configure_plots() -> None:
    """pyqtgraph defaults for every grokviz plot: white background, dark text, antialiasing."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, background="w", foreground="#222222")
