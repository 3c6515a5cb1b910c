"""The Training tab's first frame: a run's loss and accuracy curves drawn with QPainter.

pyqtgraph takes ~0.3–1 s to import (it instantiates every Qt class), so the window's first paint
cannot wait for it; this widget draws the recorded history (read without torch,
:mod:`grokviz.core.quickread`) until the real Training tab replaces it a moment later. Same
axes as that tab: loss on a log scale above, accuracy below, epoch along x.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

TRAIN_COLOR = "#0072B2"  # = grokviz.gui.training's colours (not imported: it imports pyqtgraph)
TEST_COLOR = "#D55E00"
MARGIN = (70, 16, 16, 36)  # left, top, right, bottom


class HistorySketch(QtWidgets.QWidget):
    """Loss (log y) and accuracy against epoch for a :class:`~grokviz.core.quickread.RunPreview`."""

    def __init__(self, preview, parent=None):
        super().__init__(parent)
        self.preview = preview
        self.painted = False
        history = preview.history
        self.epoch = np.asarray(history.epoch, dtype=float)
        self.series = {"loss": (np.asarray(history.train_loss, float), np.asarray(history.test_loss, float)),
                       "accuracy": (np.asarray(history.train_acc, float), np.asarray(history.test_acc, float))}
        self.setMinimumSize(200, 200)

    def paintEvent(self, event):  # noqa: N802
        painter = QtGui.QPainter(self)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QtGui.QColor("#ffffff"))
        painter.setPen(QtGui.QColor("#1a1a1a"))
        painter.drawText(QtCore.QRectF(8, 4, self.width() - 16, 22), QtCore.Qt.AlignmentFlag.AlignLeft,
                         f"{self.preview.task_spec}, p = {self.preview.p}  ·  {self.preview.path}  (loading plots…)")
        height = self.height() - 30
        self._panel(painter, QtCore.QRectF(0, 30, self.width(), height * 0.6), "loss", log=True)
        self._panel(painter, QtCore.QRectF(0, 30 + height * 0.6, self.width(), height * 0.4), "accuracy", log=False)
        painter.end()
        self.painted = True

    def _panel(self, painter, area: QtCore.QRectF, name: str, log: bool) -> None:
        left, top, right, bottom = MARGIN
        box = area.adjusted(left, top, -right, -bottom)
        painter.setPen(QtGui.QPen(QtGui.QColor("#222222"), 1))
        painter.drawRect(box)
        train, test = self.series[name]
        values = np.concatenate([train, test])
        values = values[np.isfinite(values) & ((values > 0) if log else True)]
        if not len(self.epoch) or not len(values):
            return
        if log:
            low, high = math.floor(math.log10(values.min())), math.ceil(math.log10(values.max()))
            high = max(high, low + 1)
            ticks = [(v, f"1e{v}") for v in range(low, high + 1, max(1, (high - low) // 6))]
        else:
            low, high = 0.0, 1.0
            ticks = [(v, f"{int(v * 100)} %") for v in (0, 0.5, 1.0)]
        x_low, x_high = float(self.epoch[0]), float(max(self.epoch[-1], self.epoch[0] + 1))

        def point(x, y):
            y = math.log10(y) if log else y
            return QtCore.QPointF(box.left() + (x - x_low) / (x_high - x_low) * box.width(),
                                  box.bottom() - (y - low) / (high - low) * box.height())

        for value, label in ticks:
            y = point(x_low, 10.0 ** value if log else value).y()
            painter.drawText(QtCore.QRectF(0, y - 8, left - 6, 16), QtCore.Qt.AlignmentFlag.AlignRight, label)
        painter.drawText(QtCore.QRectF(box.left(), box.bottom() + 4, box.width(), 16),
                         QtCore.Qt.AlignmentFlag.AlignCenter, f"epoch (0 … {int(x_high):,})  ·  {name}")
        for column, color in ((train, TRAIN_COLOR), (test, TEST_COLOR)):
            good = np.isfinite(column) & ((column > 0) if log else True)
            path = QtGui.QPainterPath()
            started = False
            for x, y in zip(self.epoch[good], column[good]):
                if started:
                    path.lineTo(point(x, y))
                else:
                    path.moveTo(point(x, y))
                    started = True
            painter.setPen(QtGui.QPen(QtGui.QColor(color), 2))
            painter.drawPath(path)
