"""Export any plot in grokviz as PNG, SVG or CSV (shared by every view).

* :func:`export_png` renders a pyqtgraph ``PlotItem`` / ``PlotWidget`` /
  ``GraphicsLayoutWidget`` / any ``QGraphicsItem`` / ``QGraphicsScene`` (or region of one) /
  plain ``QWidget`` into a ``QImage`` at ``scale``× (default 2×, crisp on papers and HiDPI).
* :func:`export_svg` renders the same targets through ``QtSvg.QSvgGenerator`` + ``QPainter``.
  pyqtgraph 0.14's own ``SVGExporter`` fails with PySide6 6.12 (design.md §8,
  ``correctCoordinates``); painting the scene into an SVG generator does work, and the curves
  come out as ``<path>`` elements (vector, editable).
* :func:`export_csv` writes exactly the displayed data: the curves' x/y arrays
  (:class:`CurveData`) or an image array with its axis labels (:class:`ImageData`).
  :func:`plot_data` extracts the curves/image currently shown in a ``PlotItem``.
* :func:`add_export_menu` adds "Export PNG…/SVG…/CSV…" to a plot's right-click menu.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

__all__ = [
    "CurveData",
    "ImageData",
    "export_png",
    "export_svg",
    "export_csv",
    "plot_data",
    "add_export_menu",
]


# ----------------------------------------------------------------------------- data


@dataclass
class CurveData:
    """Curves to write as CSV: one (name, x, y) per curve.  Written as a long table
    ``series,x,y`` when the curves' x differ, or a wide table ``x,<name1>,<name2>…`` when all
    curves share the same x (the usual case).  ``x_label`` names the x column; ``x_ticks``
    (optional, one per x) adds a tick-label column."""

    curves: list = field(default_factory=list)  # [(name, x array, y array)]
    x_label: str = "x"
    x_ticks: Sequence[str] | None = None
    comment: str = ""

    def add(self, name: str, x, y) -> "CurveData":
        self.curves.append((str(name), np.asarray(x, dtype=float), np.asarray(y, dtype=float)))
        return self


@dataclass
class ImageData:
    """A 2-D array ``values[row, column]`` with labels for rows (y) and columns (x)."""

    values: np.ndarray
    row_labels: Sequence[str] | None = None
    column_labels: Sequence[str] | None = None
    row_axis: str = "y"
    column_axis: str = "x"
    comment: str = ""


# ----------------------------------------------------------------------- targets


def _scene_and_rect(target) -> tuple[QtWidgets.QGraphicsScene | None, QtCore.QRectF | None, QtWidgets.QWidget | None]:
    """(scene, source rect in scene coordinates, widget fallback) for any supported target."""
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], QtWidgets.QGraphicsScene):
        return target[0], QtCore.QRectF(target[1]), None
    if isinstance(target, QtWidgets.QGraphicsScene):
        return target, target.sceneRect(), None
    if isinstance(target, pg.PlotWidget):
        item = target.getPlotItem()
        return item.scene(), item.sceneBoundingRect(), target
    if isinstance(target, QtWidgets.QGraphicsView):
        scene = target.scene()
        # what the view shows (a GraphicsLayoutWidget shows its whole central layout)
        rect = target.mapToScene(target.viewport().rect()).boundingRect()
        return scene, rect, target
    if isinstance(target, QtWidgets.QGraphicsItem):
        return target.scene(), target.sceneBoundingRect(), None
    if isinstance(target, QtWidgets.QWidget):
        return None, None, target
    raise TypeError(f"cannot export {type(target).__name__}: give a PlotItem, PlotWidget, "
                    "GraphicsLayoutWidget, QGraphicsItem, QGraphicsScene, (scene, rect) or QWidget")


def _render_scene(painter: QtGui.QPainter, scene, rect: QtCore.QRectF, out: QtCore.QRectF):
    # pyqtgraph items cache; make sure the scene is laid out before painting
    if hasattr(scene, "prepareForPaint"):
        scene.prepareForPaint()
    scene.render(painter, out, rect, QtCore.Qt.AspectRatioMode.IgnoreAspectRatio)


def render_image(target, scale: float = 2.0, background="w") -> QtGui.QImage:
    """The target rendered into an ARGB image ``scale`` times its on-screen size."""
    scene, rect, widget = _scene_and_rect(target)
    if scene is None:
        # render at scale through a device-pixel-ratio image (crisp text, not an upscaled grab)
        size = widget.size() * scale
        image = QtGui.QImage(size, QtGui.QImage.Format.Format_ARGB32)
        image.setDevicePixelRatio(scale)
        image.fill(pg.mkColor(background) if background is not None else QtCore.Qt.GlobalColor.transparent)
        painter = QtGui.QPainter(image)
        try:
            widget.render(painter, QtCore.QPoint(0, 0))
        finally:
            painter.end()
        return image
    w = max(1, int(math.ceil(rect.width() * scale)))
    h = max(1, int(math.ceil(rect.height() * scale)))
    image = QtGui.QImage(w, h, QtGui.QImage.Format.Format_ARGB32)
    image.fill(pg.mkColor(background) if background is not None else QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
    _render_scene(painter, scene, rect, QtCore.QRectF(0, 0, w, h))
    painter.end()
    return image


def export_png(target, path, scale: float = 2.0, background="w") -> str:
    """Write ``target`` as PNG at ``scale``× resolution; returns the path."""
    path = os.fspath(path)
    image = render_image(target, scale=scale, background=background)
    if not image.save(path, "PNG"):
        raise OSError(f"could not write PNG {path}")
    return path


def export_svg(target, path, title: str = "grokviz plot", background="w") -> str:
    """Write ``target`` as SVG with ``QSvgGenerator`` (works with PySide6 6.12, unlike
    pyqtgraph's SVGExporter — design.md §8); returns the path."""
    path = os.fspath(path)
    scene, rect, widget = _scene_and_rect(target)
    if scene is None:
        rect = QtCore.QRectF(widget.rect())
    generator = QtSvg.QSvgGenerator()
    generator.setFileName(path)
    generator.setTitle(title)
    generator.setDescription("exported by grokviz")
    generator.setSize(QtCore.QSize(int(math.ceil(rect.width())), int(math.ceil(rect.height()))))
    generator.setViewBox(QtCore.QRectF(0, 0, rect.width(), rect.height()))
    painter = QtGui.QPainter()
    if not painter.begin(generator):
        raise OSError(f"could not write SVG {path}")
    try:
        out = QtCore.QRectF(0, 0, rect.width(), rect.height())
        if background is not None:
            painter.fillRect(out, pg.mkColor(background))
        if scene is None:
            widget.render(painter, QtCore.QPoint(0, 0))
        else:
            _render_scene(painter, scene, rect, out)
    finally:
        painter.end()
    return path


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(float(v))


def export_csv(data, path) -> str:
    """Write :class:`CurveData` or :class:`ImageData` (or a 2-D array) as CSV; returns the path.
    Numbers are written with full precision (``repr``), NaN as an empty field."""
    path = os.fspath(path)
    if isinstance(data, np.ndarray):
        data = ImageData(np.atleast_2d(data))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if getattr(data, "comment", ""):
            f.write(f"# {data.comment}\n")
        if isinstance(data, ImageData):
            values = np.asarray(data.values, dtype=float)
            rows, cols = values.shape
            col_labels = list(data.column_labels) if data.column_labels is not None else [str(j) for j in range(cols)]
            row_labels = list(data.row_labels) if data.row_labels is not None else [str(i) for i in range(rows)]
            writer.writerow([f"{data.row_axis} \\ {data.column_axis}"] + col_labels)
            for i in range(rows):
                writer.writerow([row_labels[i]] + [_fmt(v) for v in values[i]])
        elif isinstance(data, CurveData):
            curves = data.curves
            same_x = bool(curves) and all(
                len(c[1]) == len(curves[0][1]) and np.array_equal(c[1], curves[0][1], equal_nan=True) for c in curves)
            if same_x:
                x = curves[0][1]
                ticks = list(data.x_ticks) if data.x_ticks is not None and len(data.x_ticks) == len(x) else None
                writer.writerow([data.x_label] + (["label"] if ticks else []) + [c[0] for c in curves])
                for j in range(len(x)):
                    writer.writerow([_fmt(x[j])] + ([ticks[j]] if ticks else []) + [_fmt(c[2][j]) for c in curves])
            else:
                writer.writerow(["series", data.x_label, "y"])
                for name, x, y in curves:
                    for xv, yv in zip(x, y):
                        writer.writerow([name, _fmt(xv), _fmt(yv)])
        else:
            raise TypeError(f"cannot write {type(data).__name__} as CSV (give CurveData, ImageData or an array)")
    return path


def plot_data(plot) -> CurveData | ImageData:
    """The data shown in a ``PlotItem``/``PlotWidget``: its first visible ``ImageItem`` as
    :class:`ImageData`, else its visible curves (``PlotDataItem``/``PlotCurveItem``) as
    :class:`CurveData` (named after their legend entries / ``name()``)."""
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    images = [i for i in item.items if isinstance(i, pg.ImageItem) and i.isVisible() and i.image is not None]
    if images:
        return ImageData(np.asarray(images[0].image, dtype=float).T)  # ImageItem is [x, y]
    out = CurveData(x_label=item.getAxis("bottom").labelText or "x")
    for n, curve in enumerate(i for i in item.items if isinstance(i, (pg.PlotDataItem, pg.PlotCurveItem))):
        if not curve.isVisible():
            continue
        if isinstance(curve, pg.PlotCurveItem) and isinstance(curve.parentItem(), pg.PlotDataItem):
            continue
        x, y = curve.getData()
        if x is None or len(x) == 0:
            continue
        name = curve.name() if hasattr(curve, "name") and curve.name() else f"series {n}"
        out.add(name, x, y)
    return out


# ------------------------------------------------------------------------- menu

# Tests replace this to avoid modal dialogs: f(parent, caption, suggested, filter) -> path or "".
def _ask_path(parent, caption: str, suggested: str, name_filter: str) -> str:
    path, _ = QtWidgets.QFileDialog.getSaveFileName(parent, caption, suggested, name_filter)
    return path


def add_export_menu(plot_widget, data_provider: Callable[[], CurveData | ImageData] | None = None,
                    render_target=None, name: str = "plot") -> list:
    """Add "Export PNG…", "Export SVG…", "Export CSV…" to a plot's right-click menu.

    ``plot_widget``: a ``PlotWidget``/``PlotItem`` (actions go into its ViewBox menu), or any
    ``QWidget`` (a custom context menu is installed).  ``data_provider()`` returns exactly the
    displayed data for CSV (default: :func:`plot_data`).  ``render_target`` is what PNG/SVG
    render (default: the plot itself; pass e.g. a ``GraphicsLayoutWidget`` to include a colour
    bar).  Returns the three ``QAction`` objects.
    """
    target = render_target if render_target is not None else plot_widget
    parent = plot_widget if isinstance(plot_widget, QtWidgets.QWidget) else None
    provider = data_provider or (lambda: plot_data(plot_widget))

    def run(kind):
        suggested = f"{name}.{kind}"
        filters = {"png": "PNG image (*.png)", "svg": "SVG vector image (*.svg)", "csv": "CSV table (*.csv)"}
        path = _ask_path(parent, f"Export {kind.upper()}", suggested, filters[kind])
        if not path:
            return None
        if not path.lower().endswith("." + kind):
            path += "." + kind
        if kind == "png":
            return export_png(target, path)
        if kind == "svg":
            return export_svg(target, path, title=name)
        return export_csv(provider(), path)

    actions = []
    menu_owner = None
    item = plot_widget.getPlotItem() if isinstance(plot_widget, pg.PlotWidget) else plot_widget
    if isinstance(item, pg.PlotItem):
        menu = item.getViewBox().menu
        menu.addSeparator()
        menu_owner = menu
    else:
        menu_owner = QtWidgets.QMenu(plot_widget)
        plot_widget.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        plot_widget.customContextMenuRequested.connect(lambda pos: menu_owner.exec(plot_widget.mapToGlobal(pos)))
    for kind in ("png", "svg", "csv"):
        action = QtGui.QAction(f"Export {kind.upper()}…", menu_owner)
        action.triggered.connect(lambda _=False, k=kind: run(k))
        menu_owner.addAction(action)
        actions.append(action)
    return actions
