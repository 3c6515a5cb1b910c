"""The softmax-collapse panel and CSV: a StableMax run shows its own loss's collapse beside the softmax's."""

import pyqtgraph as pg

from grokviz.analysis.reports.training_dynamics import CollapseHistory
from grokviz.gui.mechanism_figures import collapse_csv, draw_collapse


def _curves(plot):
    return [item for item in plot.items if isinstance(item, pg.PlotDataItem)]


def test_stablemax_run_gets_two_curves_and_cross_entropy_one(qtbot):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    plot = widget.getPlotItem()
    stable = CollapseHistory([0, 200, 400], [0.0, 0.8, 1.0], "stablemax", [0.0, 0.0, 0.0], "trained with stablemax")
    draw_collapse(plot, stable, 400)
    curves = _curves(plot)
    assert len(curves) == 2 and list(curves[1].getData()[1]) == [0.0, 0.0, 0.0]
    assert len(plot.legend.items) == 2
    csv = collapse_csv(stable)
    assert [name for name, _, _ in csv.curves] == ["collapsed_fraction", "collapsed_under_stablemax"]
    assert "trained with stablemax" in csv.comment
    plot.clear()
    draw_collapse(plot, CollapseHistory([0, 200], [0.0, 0.2], "cross_entropy", [0.0, 0.2]), 200)
    assert len(_curves(plot)) == 1 and not plot.legend.items and len(collapse_csv(CollapseHistory([0], [0.0])).curves) == 1
