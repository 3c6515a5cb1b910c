"""Clock-Pizza tab: the two discriminators of Zhong et al. over training, and the correct-logit grid."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtWidgets

from grokviz.analysis.session import session_of
from grokviz.gui import mechanism_figures as mf
from grokviz.gui.tabs.base import AnalysisTab

MAX_CHECKPOINTS = 100  # evenly spread, first and last kept


class ClockPizzaView(AnalysisTab):
    """s_g and q per checkpoint (computed once per run, cached in the run's session) with a cursor
    at the shared checkpoint; beside it the correct-class logit ordered by (a + b, a − b) there."""

    title = "Clock-Pizza"

    def build(self):
        row = QtWidgets.QHBoxLayout()
        self.history_plot = pg.PlotWidget(background="w")
        self.history_plot.setToolTip("Click to move every view to the nearest checkpoint")
        self.history_plot.scene().sigMouseClicked.connect(self._clicked)
        self.grid_plot = pg.PlotWidget(background="w")
        row.addWidget(self.history_plot, 1)
        row.addWidget(self.grid_plot, 1)
        self.body.addLayout(row, 1)
        self.add_plot_export("history", self.history_plot, lambda: mf.clock_pizza_csv(self.result[0]))
        self.add_plot_export("correct_logit", self.grid_plot, lambda: mf.clock_pizza_grid_csv(self.result[1]))

    def compute(self, run, epoch, context):
        session = session_of(run)
        options = {}
        if context is not None:
            options = {"on_progress": context.report, "cancel": lambda: context.cancelled}
        history = session.report("clock_pizza_history", max_checkpoints=MAX_CHECKPOINTS, **options)
        return history, session.report("clock_pizza", epoch)

    def describe(self, result):
        current = result[1]
        return (f"Epoch {self.epoch} · gradient symmetricity {current.gradient_symmetricity:.3f}, distance irrelevance "
                f"{current.distance_irrelevance:.3f} → {current.verdict} ({current.n_triples} random (a, b, c), "
                f"seed {current.seed}) · paper: clock 0.33 / 0.85, pizza 0.99 / 0.17")

    def show_result(self, result):
        history, current = result
        for widget in (self.history_plot, self.grid_plot):
            plot = widget.getPlotItem()
            plot.clear()
            if plot.legend is not None:
                plot.legend.clear()
        mf.draw_clock_pizza_history(self.history_plot.getPlotItem(), history, self.epoch)
        self._bar = mf.draw_clock_pizza_grid(self.grid_plot.getPlotItem(), current, self.epoch,
                                             colorbar=getattr(self, "_bar", None) or True)

    def clear(self):
        self.history_plot.getPlotItem().clear()
        self.grid_plot.getPlotItem().clear()

    def _clicked(self, event):
        x = self.x_at_click(self.history_plot, event)
        if x is not None:
            self.set_epoch(int(round(x)))


def create_view(state):
    return ClockPizzaView(state)
