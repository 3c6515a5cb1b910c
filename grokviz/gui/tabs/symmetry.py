"""Symmetry tab: where the c/2 symmetry appears along the forward pass, and a [c, a] resid_post slice."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from grokviz.gui import figures
from grokviz.gui.label_axis import RowLabelAxis
from grokviz.gui.tabs.base import AnalysisTab


class SymmetryView(AnalysisTab):
    """Symmetry tab (issue 7 §2).

    ``openInExplorer(hook, position, ordering)`` is emitted when a hook is clicked, e.g.
    ``("blocks.0.hook_resid_mid", "=", "[c, a]")`` — the arguments of ``ExplorerWidget.select``.
    """

    title = "Symmetry"
    openInExplorer = QtCore.Signal(str, str, str)

    def build(self):
        self.chart = pg.PlotWidget(background="w")
        self.chart.scene().sigMouseClicked.connect(self._chart_clicked)
        self.chart.setToolTip("Click a hook (or its name) to open it in the Explorer in [c, a] order at the = position")
        self.c_spin = QtWidgets.QSpinBox()
        self.c_spin.setPrefix("c = ")
        self.c_spin.setValue(figures.DEFAULT_SLICE_C)
        self.c_spin.valueChanged.connect(self._draw_slice)
        self.slice = pg.PlotWidget(background="w")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("resid_post at = for the answer"))
        row.addWidget(self.c_spin)
        self.slice_label = QtWidgets.QLabel("over a (the highest-variance directions); dashed: a = c/2 and c/2 + p/2")
        row.addWidget(self.slice_label)
        row.addStretch(1)
        self.body.addWidget(self.chart, 3)
        self.body.addLayout(row)
        self.body.addWidget(self.slice, 2)
        self.add_plot_export("chart", self.chart, lambda: figures.symmetry_csv(self.result))
        self.add_plot_export("resid_post_slice", self.slice,
                             lambda: figures.slice_csv(self.result, self.c_spin.value(), self._dims))
        self._dims = []

    def compute(self, run, epoch, context):
        from grokviz.analysis.session import session_of
        from grokviz.gui import report_arrays

        return report_arrays.symmetry_view(session_of(run), epoch)

    def describe(self, result):
        first = next((label for label, s in zip(result["labels"], result["score"]) if np.isfinite(s) and s > 0.9), None)
        where = f"symmetry score first exceeds 0.9 at {first}" if first else "no hook reaches a symmetry score of 0.9"
        note = f" · {result['note']}" if result["ragged"] else ""
        if not result.get("defined", True):
            where = result["reason"]
        return f"Epoch {self.epoch} · {where} · click a hook to open it in the Explorer{note}"

    def show_result(self, result):
        plot = self.chart.getPlotItem()
        plot.clear()
        if plot.legend is not None:
            plot.legend.clear()
        figures.draw_symmetry(plot, result, self.epoch)
        self.c_spin.setMaximum(result["resid_post_ca"].shape[0] - 1 if result["resid_post_ca"] is not None else result["p"] - 1)
        self._dims = figures.slice_dims(result["resid_post_ca"]) if result["resid_post_ca"] is not None else []
        answer, operand = self._slice_axes()
        self.c_spin.setPrefix(f"{answer} = ")
        marks = (f"; dashed: {operand} = {answer}/2 and {answer}/2 + {'p' if answer == 'c' else 'n'}/2"
                 if result.get("mirrors", True) else "; no c/2 mirrors on this grid")
        self.slice_label.setText(f"over {operand} (the highest-variance directions){marks}")
        self.chart.setToolTip(f"Click a hook (or its name) to open it in the Explorer in {self._ordering()} order at the = position")
        self._draw_slice()

    def _slice_axes(self) -> tuple:
        """(answer, operand) axis names of the slice: c, a for add; the task's coordinates (c, u for pow)."""
        layout = (self.result or {}).get("slice_layout", "ca")
        return layout[0], layout[1]

    def _ordering(self) -> str:
        answer, operand = self._slice_axes()
        return f"[{answer}, {operand}]"

    def _draw_slice(self, *_):
        plot = self.slice.getPlotItem()
        plot.clear()
        if plot.legend is not None:
            plot.legend.clear()
        result = self.result
        if result is None:
            return
        if result["resid_post_ca"] is None or result["ragged"]:
            plot.setTitle(f"No [c, a] grid for this task: {result['note']}", color="#000")
            return
        figures.draw_ca_slice(plot, result, min(self.c_spin.value(), result["resid_post_ca"].shape[0] - 1), self._dims)

    def clear(self):
        self.chart.getPlotItem().clear()
        self.slice.getPlotItem().clear()

    def _chart_clicked(self, event):
        if self.result is None:
            return
        x = self.x_at_click(self.chart, event)
        axis = self.chart.getPlotItem().getAxis("bottom")
        if x is None and isinstance(axis, RowLabelAxis):  # on a hook's name under the chart?
            label = axis.label_at(axis.mapFromScene(event.scenePos()))
            x = None if label is None else label.position
        if x is None:
            return
        index = int(round(x))
        if 0 <= index < len(self.result["hooks"]):
            self.open_hook(self.result["hooks"][index])

    def open_hook(self, hook: str):
        ordering = self._ordering()  # the slice's grid: [c, u] for pow m = n, where the c/2 markers are mirrors
        self.statusMessage.emit(f"Opening {hook} in the Explorer as {ordering} at =")
        self.openInExplorer.emit(hook, "=", ordering)


def create_view(state):
    return SymmetryView(state)
