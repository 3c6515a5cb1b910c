"""Long plot titles wrap instead of widening the plot past its widget (figures.wrap_title)."""

import numpy as np
import pyqtgraph as pg


def _settle(qtbot, widget):
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.wait(50)


def test_a_long_title_wraps_and_the_plot_fits_its_widget(qtbot):
    from grokviz.gui import figures

    widget = pg.PlotWidget(background="w")
    qtbot.addWidget(widget)
    widget.resize(320, 300)
    plot = widget.getPlotItem()
    plot.addItem(pg.PlotDataItem(np.arange(10.0), np.arange(10.0)))
    title = "Clock vs pizza over training (1024 random (a, b, c), seed 0) with a long tail"
    figures.style_plot(plot, title, "epoch", "score")
    _settle(qtbot, widget)
    label = plot.titleLabel
    reference = pg.LabelItem(title, size=figures.TITLE_SIZE)  # pyqtgraph's own one-line title
    one_line = reference.item.boundingRect()
    assert one_line.width() > widget.width()  # the case: one line does not fit
    assert plot.geometry().width() <= widget.viewport().width() + 1  # the plot (its right axis) is not cut off
    assert label.item.boundingRect().height() > 1.5 * one_line.height()  # wrapped onto more lines
    assert plot.layout.rowMinimumHeight(0) >= label.item.boundingRect().height() - 1  # and given room for them
    figures.style_plot(plot, "short")  # a short title again: one line
    qtbot.wait(50)
    assert label.item.boundingRect().height() < 1.5 * one_line.height()


def test_without_wrapping_the_title_would_widen_the_plot(qtbot):
    """What the wrapping prevents (pyqtgraph's own title): the test above fails without it."""
    widget = pg.PlotWidget(background="w")
    qtbot.addWidget(widget)
    widget.resize(320, 300)
    plot = widget.getPlotItem()
    plot.setTitle("Clock vs pizza over training (1024 random (a, b, c), seed 0) with a long tail", size="13pt")
    _settle(qtbot, widget)
    assert plot.geometry().width() > widget.viewport().width() + 1
