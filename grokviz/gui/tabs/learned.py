"""Learned tab: when each input is learned for good (design.md §6b), over [a, b] or [c, a], with the
histogram over epochs; the heatmap shows the inputs learned by the shared checkpoint."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from grokviz.analysis.session import session_of
from grokviz.gui import mechanism_figures as mf
from grokviz.gui.tabs.base import AnalysisTab


class LearnedView(AnalysisTab):
    title = "Learned"
    openInputInExplorer = QtCore.Signal(int, int)  # (a, b): the main window shows that input in the Explorer
    follows_checkpoint = False  # one run-wide report; the checkpoint only changes what is shown

    def build(self):
        controls = QtWidgets.QHBoxLayout()
        self.layout_combo = QtWidgets.QComboBox()
        self.layout_combo.addItem("[a, b]", "ab")
        self.layout_combo.addItem("[c, a]", "ca")
        self.inputs_combo = QtWidgets.QComboBox()
        for name in ("all", "train", "test"):
            self.inputs_combo.addItem(f"{name} inputs", name)
        self.upto_box = QtWidgets.QCheckBox("only inputs learned by the current checkpoint")
        self.upto_box.setChecked(True)
        for widget in (self.layout_combo, self.inputs_combo):
            widget.currentIndexChanged.connect(self._draw_grid)
            controls.addWidget(widget)
        self.upto_box.toggled.connect(self._draw_grid)
        controls.addWidget(self.upto_box)
        controls.addStretch(1)
        self.body.addLayout(controls)
        row = QtWidgets.QHBoxLayout()
        self.grid_plot = pg.PlotWidget(background="w")
        self.grid_plot.setToolTip("Click a cell to open that input in the Explorer")
        self.grid_plot.scene().sigMouseClicked.connect(self._grid_clicked)
        self.histogram_plot = pg.PlotWidget(background="w")
        self.histogram_plot.setToolTip("Click to move every view to the nearest checkpoint")
        self.histogram_plot.scene().sigMouseClicked.connect(self._clicked)
        row.addWidget(self.grid_plot, 1)
        row.addWidget(self.histogram_plot, 1)
        self.body.addLayout(row, 1)
        self._bar = None
        self._cursor = None
        self.add_plot_export("grid", self.grid_plot,
                             lambda: mf.learned_grid_csv(self.result, self.run.task, self.layout_combo.currentData()))
        self.add_plot_export("histogram", self.histogram_plot, lambda: mf.learned_histogram_csv(self.result))

    def compute(self, run, epoch, context):
        options = {"on_progress": context.report, "cancel": lambda: context.cancelled} if context is not None else {}
        return session_of(run).report("learned_epochs", **options)

    def describe(self, result):
        summary = result.to_json()["summary"]
        return (f"{len(result.epochs)} checkpoints · median epoch learned: train {summary['train']['median_epoch']}, "
                f"test {summary['test']['median_epoch']} · never: train {summary['train']['never']}, "
                f"test {summary['test']['never']}")

    def show_result(self, result):
        plot = self.histogram_plot.getPlotItem()
        plot.clear()
        if plot.legend is not None:
            plot.legend.clear()
        self._cursor = mf.draw_learned_histogram(plot, result, self.epoch)
        self._draw_grid()

    def _draw_grid(self, *_):
        if self.result is None or self.run is None:
            return
        plot = self.grid_plot.getPlotItem()
        plot.clear()
        by_epoch = self.epoch if self.upto_box.isChecked() else None
        self._bar = mf.draw_learned_grid(plot, self.result, self.run.task, self.layout_combo.currentData(),
                                         self.inputs_combo.currentData(), by_epoch, colorbar=self._bar or True)

    def checkpoint_moved(self, epoch):
        if self._cursor is not None:
            self._cursor.setValue(float(epoch))
            self._cursor.label.setFormat(f"epoch {int(epoch)}")
        if self.upto_box.isChecked():
            self._draw_grid()

    def clear(self):
        self.grid_plot.getPlotItem().clear()
        self.histogram_plot.getPlotItem().clear()

    def _clicked(self, event):
        x = self.x_at_click(self.histogram_plot, event)
        if x is not None:
            self.set_epoch(int(round(x)))
            if self.state is None:
                self.checkpoint_moved(self.epoch)


    def input_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The input (a, b) of the grid cell at data (x, y) in the layout shown ([a, b]: rows a, columns b;
        [c, a]: rows c, columns a); None off the grid or on a cell without a single input."""
        from grokviz.analysis.reorder import input_of_cell

        if self.run is None:
            return None
        return input_of_cell(self.run.task, self.layout_combo.currentData(), int(round(y)), int(round(x)))

    def _grid_clicked(self, event):
        point = self.point_at_click(self.grid_plot, event)
        if point is None:
            return
        found = self.input_at(*point)
        if found is None:
            self.statusMessage.emit("No single input at that cell")
            return
        self.openInputInExplorer.emit(*found)


def create_view(state):
    return LearnedView(state)
