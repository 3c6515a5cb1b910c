"""The Explorer's drawing surface: the message line and the pyqtgraph plot of one prepared view.

:class:`ExplorerCanvas` owns the graphics items (curves, heatmap image and colour bar, c/2
markers, diagonals, key-frequency bands) and hands them what :mod:`~grokviz.gui.explorer.presenter`
computed. ``setup`` runs once per prepared view (new tensor, roles, Fourier); ``draw`` once per
frame: it only indexes a contiguous array and calls ``setData`` / ``setImage`` with fixed
levels — no transforms, no autoscaling unless the model asks for an automatic y range.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from grokviz.gui import colormaps
from grokviz.gui.explorer import presenter
from grokviz.gui.explorer.items import FastImageItem

_COLORMAPS = {"sequential": colormaps.sequential, "cyclic": colormaps.cyclic, "diverging": colormaps.diverging}


def _fixed_label(text_format) -> QtWidgets.QLabel:
    # fixed height, no wrapping: a changing message must not re-layout the window per frame
    label = QtWidgets.QLabel()
    label.setTextFormat(text_format)
    label.setWordWrap(False)
    label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
    label.setFixedHeight(label.fontMetrics().height() + 6)
    return label


class ExplorerCanvas(QtWidgets.QWidget):
    """Message line (rich-text title and notes; plain-text per-frame marker message) above the plot."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        self.message_label = _fixed_label(QtCore.Qt.TextFormat.RichText)
        # the per-frame part (symmetry points, current input) is plain text: a rich-text QLabel
        # re-lays out a QTextDocument on every change (~5 ms a frame)
        self.marker_label = _fixed_label(QtCore.Qt.TextFormat.PlainText)
        self.marker_label.setStyleSheet(f"color: {colormaps.MARKER_COLOR};")
        row = QtWidgets.QHBoxLayout()
        row.setSpacing(12)
        row.addWidget(self.message_label, 2)
        row.addWidget(self.marker_label, 3)
        layout.addLayout(row)
        self._build_plot()
        layout.addWidget(self.graphics, 1)
        self.curves: list = []
        self.overlay_curves: list = []
        self.regions: dict = {}  # orientation -> pool of LinearRegionItems (never removed)
        self.title = ""

    def _build_plot(self):
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.plot = self.graphics.addPlot(row=0, col=0)
        # no grid: grid lines belong to the axes, which then repaint with every frame (~12 ms)
        self.plot.showGrid(x=False, y=False)
        for name in ("bottom", "left", "top", "right"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen(90, 90, 90))
            axis.setTextPen(pg.mkPen(30, 30, 30))
        for name in ("bottom", "left"):
            self.plot.getAxis(name).enableAutoSIPrefix(False)
        for name in ("top", "right"):
            self.plot.showAxis(name)
            self.plot.getAxis(name).setStyle(showValues=False)
        self.plot.setMenuEnabled(True)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="9pt", labelTextColor=(20, 20, 20))
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 210))
        self.legend.setPen(pg.mkPen(180, 180, 180))
        self.image = FastImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=colormaps.diverging(), interactive=False, width=14)
        self.colorbar.axis.setPen(pg.mkPen(90, 90, 90))
        self.colorbar.axis.setTextPen(pg.mkPen(30, 30, 30))
        self.colorbar.setImageItem(self.image)
        self.graphics.addItem(self.colorbar, row=0, col=1)
        marker_pen = pg.mkPen(colormaps.MARKER_COLOR, width=1.5, style=QtCore.Qt.PenStyle.DashLine)
        label_opts = {"position": 0.96, "color": colormaps.MARKER_COLOR, "fill": (255, 255, 255, 200)}
        self.sym_lines = [pg.InfiniteLine(angle=90, pen=marker_pen, movable=False, label=lab, labelOpts=label_opts)
                          for lab in ("c/2", "c/2 + p/2")]
        self.diagonals = pg.PlotCurveItem(pen=marker_pen, connect="pairs")
        self.point_markers = pg.ScatterPlotItem(size=11, pxMode=True)
        self._marker_items = (*self.sym_lines, self.diagonals, self.point_markers)
        for item in self._marker_items:
            item.setZValue(20)
            self.plot.addItem(item, ignoreBounds=True)
            item.hide()
        self._filled = (pg.mkBrush(colormaps.MARKER_COLOR), pg.mkPen("w", width=1.5))
        self._hollow = (pg.mkBrush(255, 255, 255, 0), pg.mkPen(colormaps.MARKER_COLOR, width=2.5))

    # ================================================================== per prepared view
    def clear(self, message: str = "<i>no tensor</i>") -> None:
        for curve in self.curves + self.overlay_curves:
            self.plot.removeItem(curve)
        self.curves, self.overlay_curves = [], []
        self.legend.clear()
        self.image.hide()
        self.colorbar.hide()
        for pool in self.regions.values():
            for region in pool:
                region.hide()
        for item in self._marker_items:
            item.hide()
        self.message_label.setText(message)
        self.marker_label.setText("")

    def setup(self, model, prepared, title: str) -> None:
        """Create the items of a new prepared view (curves or image, axes, bands, range)."""
        self.clear()
        self.title = title
        vb = self.plot.getViewBox()
        heat = prepared.y is not None
        self._xs = np.arange(prepared.x.size, dtype=float)
        if heat:
            self.image.show()
            self.colorbar.show()
            self.colorbar.setColorMap(_COLORMAPS[presenter.colormap_kind(prepared)]())
            # setRect scales by the current image's shape: set an image of the new shape first
            self.image.setImage(prepared.frame(model.indices), autoLevels=False)
            self.image.setRect(QtCore.QRectF(*presenter.cell_rect(prepared)))
            self.colorbar.axis.setLabel(presenter.value_name(prepared))
            vb.invertY(True)
            self.legend.hide()
        else:
            vb.invertY(False)
            self.legend.show()
            self._add_curves(model, prepared)
        bottom, left = self.plot.getAxis("bottom"), self.plot.getAxis("left")
        bottom.setLabel(prepared.x.name)
        left.setLabel(prepared.y.name if heat else presenter.value_name(prepared))
        bottom.setTicks(presenter.ticks_for(prepared.x))
        left.setTicks(presenter.ticks_for(prepared.y) if heat else None)
        self._show_key_bands(model, prepared)
        self.apply_range(model, prepared)

    def _add_curves(self, model, prepared) -> None:
        names = presenter.series_names(model.tensor, prepared)
        colors = [colormaps.series_color(i) for i in range(len(names))]
        single = prepared.series_dim is None
        for i, name in enumerate(names):
            # antialias off: the app enables it globally, and antialiased wide lines cost ~40 ms
            # per frame in the raster engine (measured), far over the 16 ms redraw budget
            curve = pg.PlotDataItem(name=name if len(names) <= presenter.MAX_LEGEND_SERIES else None,
                                    pen=pg.mkPen(colors[i], width=2 if single else 1.5), connect="finite",
                                    symbol="o" if prepared.x.fourier and single else None, symbolSize=4,
                                    symbolBrush=colors[i], symbolPen=None, antialias=False)
            curve.setZValue(5)
            self.plot.addItem(curve)
            self.curves.append(curve)
        for j, name in enumerate(prepared.overlays):
            for i in range(1 if single else len(self.curves)):
                color = colormaps.overlay_color(j) if single else colors[i]
                # solid pens: dashed wide pens cost ~5 ms per frame in the raster engine
                curve = pg.PlotDataItem(name=name if single or i == 0 else None,
                                        pen=pg.mkPen(color, width=1.5 if single else 1), connect="finite",
                                        antialias=False)
                curve.opts["overlay"] = (name, i)
                curve.setZValue(6)
                self.plot.addItem(curve)
                self.overlay_curves.append(curve)

    def _region(self, orientation: str, n: int):
        """The n-th key-frequency band of an orientation, from a pool that is never removed from
        the plot (removing LinearRegionItems and letting them be collected crashes PySide6)."""
        pool = self.regions.setdefault(orientation, [])
        while len(pool) <= n:
            region = pg.LinearRegionItem((0, 1), orientation=orientation, movable=False)
            region.setZValue(1)
            self.plot.addItem(region, ignoreBounds=True)
            pool.append(region)
        return pool[n]

    def _show_key_bands(self, model, prepared) -> None:
        heat = prepared.y is not None
        brush = pg.mkBrush(255, 165, 0, 28 if heat else 70)
        pen = pg.mkPen(255, 140, 0, 170, width=1)
        bands = presenter.key_bands(prepared, model.context.key_frequencies)
        for orientation, spans in bands.items():
            for n, span in enumerate(spans):
                region = self._region(orientation, n)
                region.setRegion(span)
                region.setBrush(brush)
                for line in region.lines:
                    line.setPen(pen)
                region.setZValue(15 if heat else 1)
                region.show()
            for region in self.regions.get(orientation, [])[len(spans):]:
                region.hide()

    def apply_range(self, model, prepared) -> None:
        vb = self.plot.getViewBox()
        if prepared.y is not None:
            if model.y_range == "fixed":
                self.colorbar.setLevels(presenter.levels_for(prepared))
            return
        if model.y_range == "fixed":
            vb.enableAutoRange(axis="y", enable=False)
            vb.setYRange(*presenter.fixed_y_range(prepared), padding=0)
        else:
            vb.enableAutoRange(axis="y", enable=True)
        vb.setAutoVisible(y=False)

    def reset_zoom(self, model, prepared) -> None:
        vb = self.plot.getViewBox()
        if prepared.y is not None:
            vb.setRange(xRange=(-0.5, prepared.x.size - 0.5), yRange=(-0.5, prepared.y.size - 0.5), padding=0)
        else:
            vb.setXRange(-0.5, prepared.x.size - 0.5, padding=0.01)
            self.apply_range(model, prepared)

    # ================================================================== per frame
    def draw(self, model, prepared) -> None:
        frame = prepared.frame(model.indices)
        if prepared.y is not None:
            self.image.setImage(frame, autoLevels=False)
            if model.y_range != "fixed":
                self.colorbar.setLevels(presenter.levels_for(prepared, frame))
        else:
            if prepared.series_dim is None:
                self.curves[0].setData(self._xs, frame)
            else:
                for i, curve in enumerate(self.curves):
                    curve.setData(self._xs, frame[i])
            for curve in self.overlay_curves:
                name, i = curve.opts["overlay"]
                data = prepared.overlay_frame(name, model.indices)
                curve.setData(self._xs, data if prepared.series_dim is None else data[i])
        self.draw_markers(model, prepared, frame)

    def draw_markers(self, model, prepared, frame=None) -> None:
        marks = presenter.markers(model, prepared, frame)
        for line, pos in zip(self.sym_lines, marks.lines):
            line.setValue(pos)
        for line in self.sym_lines:
            line.setVisible(bool(marks.lines))
        if marks.points:
            self.point_markers.setData([{"pos": (x, y), "brush": (self._filled if filled else self._hollow)[0],
                                         "pen": (self._filled if filled else self._hollow)[1], "symbol": "o"}
                                        for x, y, filled in marks.points])
        self.point_markers.setVisible(bool(marks.points))
        diagonal = presenter.diagonals(prepared)
        if diagonal is not None:
            self.diagonals.setData(diagonal[0], diagonal[1])
        self.diagonals.setVisible(diagonal is not None)
        text = presenter.message(self.title, model, prepared, diagonal[2] if diagonal is not None else None)
        if text != self.message_label.text():
            self.message_label.setText(text)
        if marks.text != self.marker_label.text():
            self.marker_label.setText(marks.text)
            self.marker_label.setToolTip(marks.text + "\n(click the plot to move ●)")

    # ================================================================== data and hit tests
    def curve_entries(self, model, prepared) -> list:
        """(legend name, curve) of every drawn curve, overlays last."""
        names = presenter.series_names(model.tensor, prepared)
        out = list(zip(names, self.curves))
        for curve in self.overlay_curves:
            name, i = curve.opts["overlay"]
            out.append((presenter.overlay_label(name, i, names, prepared.series_dim is not None), curve))
        return out

    def view_point(self, scene_pos):
        """(x, y) in data coordinates of a scene position inside the plot, else None."""
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        pt = vb.mapSceneToView(scene_pos)
        return pt.x(), pt.y()
