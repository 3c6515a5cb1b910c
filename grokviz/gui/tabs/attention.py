"""Attention tab: per head, attention from = to a, b and = as p×p maps over (a, b), the head average."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from grokviz.gui import figures
from grokviz.gui.tabs.base import AnalysisTab


class AttentionView(AnalysisTab):
    """Attention tab (issue 7 §3): a grid of maps (rows: heads + average; columns: to a, b, =) and a summary table."""

    title = "Attention"

    def build(self):
        self.maps = pg.GraphicsLayoutWidget()
        self.maps.setBackground("w")
        self.summary = QtWidgets.QTableWidget()
        self.summary.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary.setMaximumHeight(170)
        self.summary.verticalHeader().setVisible(True)
        self.body.addWidget(self.maps, 1)
        self.body.addWidget(QtWidgets.QLabel("Mean attention from = over all inputs (a, b):"))
        self.body.addWidget(self.summary)
        self.add_plot_export("maps", self.maps, lambda: figures.attention_csv(self.result))
        self.add_plot_export("summary", self.summary, lambda: figures.attention_summary_csv(self.result),
                             render_target=self.summary)

    def compute(self, run, epoch, context):
        from grokviz.analysis.session import session_of
        from grokviz.gui import report_arrays

        return report_arrays.attention_view(session_of(run), epoch)

    def describe(self, result):
        mean = result["mean"]
        return f"Epoch {self.epoch} · " + "; ".join(
            f"head {h}: a {m[0]:.2f}, b {m[1]:.2f}, = {m[2]:.2f}" for h, m in enumerate(mean))

    def show_result(self, result):
        self.maps.clear()
        figures.fill_attention_layout(self.maps.ci, result)
        data = figures.attention_summary_csv(result)
        values = np.asarray(data.values)
        self.summary.setRowCount(values.shape[0])
        self.summary.setColumnCount(values.shape[1])
        self.summary.setHorizontalHeaderLabels(list(data.column_labels))
        self.summary.setVerticalHeaderLabels(list(data.row_labels))
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                self.summary.setItem(i, j, QtWidgets.QTableWidgetItem(f"{values[i, j]:.3f}"))

    def clear(self):
        self.maps.clear()
        self.summary.setRowCount(0)


def create_view(state):
    return AttentionView(state)
