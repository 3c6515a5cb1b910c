"""A horizontal axis of named positions whose labels never overlap.

Each label is centred on its tick and goes on the first row (nearest the plot) where it clears the
labels already there, up to ``max_rows`` rows; the axis grows to hold the rows it uses. A label that
fits on none is left off the axis; hovering the axis names the label nearest the pointer (its long
form) and lists those left off. Used for the neuron-cluster names over the neuron spectra and the
hook names under the symmetry chart, in the tabs and in the exported figures alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6 import QtCore

GAP = 8  # px between two labels on one row


@dataclass(frozen=True)
class AxisLabel:
    position: float  # data x
    text: str  # drawn on the axis
    tooltip: str = ""  # long form, on hover ("" = the text)


class RowLabelAxis(pg.AxisItem):
    """A ``top`` or ``bottom`` axis showing :class:`AxisLabel` s in staggered rows (see module doc)."""

    def __init__(self, orientation: str, max_rows: int = 3, **kwargs):
        if orientation not in ("top", "bottom"):
            raise ValueError("RowLabelAxis is horizontal: orientation 'top' or 'bottom'")
        super().__init__(orientation, **kwargs)
        self.max_rows = max_rows
        self.labels: list[AxisLabel] = []
        self.placed: list[tuple[AxisLabel, QtCore.QRectF, int]] = []  # (label, rect in item coordinates, row)
        self.left_off: list[AxisLabel] = []
        self._inner_call = False
        self.setAcceptHoverEvents(True)

    def set_labels(self, labels) -> None:
        self.labels = sorted(labels, key=lambda label: label.position)
        self.setTicks([[(label.position, label.text) for label in self.labels]])

    # -- layout ------------------------------------------------------------------------------
    def _updateMaxTextSize(self, x):
        if not self._inner_call:  # the base class sizes for one row; generateDrawSpecs sizes for all
            super()._updateMaxTextSize(x)

    def generateDrawSpecs(self, p):
        self._inner_call = True
        try:
            specs = super().generateDrawSpecs(p)  # the axis line and tick marks; the labels are laid out here
        finally:
            self._inner_call = False
        if specs is None:
            return None
        axis_spec, tick_specs, _ = specs
        bounds = self.mapRectFromParent(self.geometry())
        low, high = sorted(self.range)
        scale = bounds.width() / (high - low) if high > low else 1.0
        offset = max(0, self.style["tickLength"]) + self.style["tickTextOffset"][1]
        flags = QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextDontClip
        row_ends: list[float] = []
        placed, left_off, line = [], [], 0.0
        for label in self.labels:
            if not low <= label.position <= high:
                continue  # outside the view: neither drawn nor missing
            size = p.boundingRect(QtCore.QRectF(0, 0, 100, 100), QtCore.Qt.AlignmentFlag.AlignCenter, label.text)
            width = size.width()
            line = max(line, size.height())  # the full line height: stacked rows never touch
            x = bounds.left() + (label.position - low) * scale
            left = min(max(x - width / 2, bounds.left()), bounds.right() - width)  # kept inside the axis
            row = next((r for r, end in enumerate(row_ends) if left >= end + GAP), len(row_ends))
            if row >= self.max_rows:
                left_off.append(label)
                continue
            if row == len(row_ends):
                row_ends.append(0.0)
            row_ends[row] = left + width
            placed.append((label, left, width, row))
        rects = []
        for label, left, width, row in placed:
            if self.orientation == "bottom":
                top = bounds.top() + offset + row * line
            else:
                top = bounds.bottom() - offset - (row + 1) * line
            rects.append((label, QtCore.QRectF(left, top, width, line), row))
        self.placed, self.left_off = rects, left_off
        super()._updateMaxTextSize(int(round(len(row_ends) * line)))
        return axis_spec, tick_specs, [(rect, flags, label.text) for label, rect, _ in rects]

    def scene_rects(self) -> list[tuple[str, QtCore.QRectF]]:
        """The drawn labels' (text, rectangle in scene coordinates), as last laid out."""
        return [(label.text, self.mapRectToScene(rect)) for label, rect, _ in self.placed]

    # -- pointing --------------------------------------------------------------------------
    def label_at(self, pos: QtCore.QPointF) -> AxisLabel | None:
        """The drawn label under ``pos`` (item coordinates), if any."""
        return next((label for label, rect, _ in self.placed if rect.contains(pos)), None)

    def tooltip_at(self, pos: QtCore.QPointF) -> str:
        """The long form of the label under ``pos`` (item coordinates), else of the one nearest along
        the axis, and the labels left off."""
        label = self.label_at(pos)
        if label is None and self.labels:
            bounds = self.mapRectFromParent(self.geometry())
            low, high = sorted(self.range)
            value = low + (pos.x() - bounds.left()) / max(bounds.width(), 1.0) * (high - low)
            label = min(self.labels, key=lambda each: abs(each.position - value))
        text = "" if label is None else label.tooltip or label.text
        if self.left_off:
            text += "\nno room on the axis for: " + ", ".join(each.text for each in self.left_off)
        return text

    def hoverEvent(self, event):
        if not event.isExit():
            self.setToolTip(self.tooltip_at(event.pos()))


def row_label_axis(plot: pg.PlotItem, side: str, max_rows: int = 3) -> RowLabelAxis:
    """``plot``'s ``side`` axis as a shown :class:`RowLabelAxis` (installed the first time)."""
    axis = plot.getAxis(side)
    if not isinstance(axis, RowLabelAxis):
        axis = RowLabelAxis(side, max_rows=max_rows)
        plot.setAxisItems({side: axis})
    plot.showAxis(side)
    return axis
