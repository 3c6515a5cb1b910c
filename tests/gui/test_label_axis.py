"""Axis labels that never overlap (grokviz.gui.label_axis): the neuron-cluster names over the Spectrum
tab's heatmap and the hook names under the Symmetry chart, in the main window at its default size and
in the exported 1200 × 800 figures."""

import itertools

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore

from grokviz.gui import figures
from grokviz.gui.label_axis import RowLabelAxis
from tests.gui.tab_helpers import TIMEOUT

# six clusters side by side, as on the example run (k=8: 129, k=19: 50, k=36: 33, k=38: 108, k=41: 71,
# none: 121 of 512), scaled to the small run's 64 neurons: their names collided above the heatmap
CROWDED = ((1, 16), (2, 6), (3, 4), (4, 14), (5, 9), (0, 15))


def crowded(spectrum: dict) -> dict:
    """``spectrum`` with its neurons in the six CROWDED clusters."""
    cluster = np.concatenate([[k] * n for k, n in CROWDED])
    assert len(cluster) == len(spectrum["neuron_order"])
    return {**spectrum, "neuron_cluster": cluster, "neuron_order": np.arange(len(cluster)),
            "cluster_sizes": {k: n for k, n in CROWDED if k}}


def assert_readable(axis, texts, area: QtCore.QRectF):
    """Every text drawn once, none overlapping another, all inside ``area`` (scene coordinates)."""
    assert isinstance(axis, RowLabelAxis)
    drawn = axis.scene_rects()
    assert sorted(t for t, _ in drawn) == sorted(texts) and not axis.left_off
    for (a, rect_a), (b, rect_b) in itertools.combinations(drawn, 2):
        assert not rect_a.intersects(rect_b), f"{a!r} overlaps {b!r}"
    for text, rect in drawn:
        assert area.contains(rect), f"{text!r} is cut off"
    return drawn


@pytest.fixture
def tabs(window, qtbot, small_run_file):
    from grokviz.gui import views
    from grokviz.gui.tabs import TAB_MODULES, register_views
    from tests.gui.conftest import open_and_wait

    register_views()
    try:
        open_and_wait(qtbot, window, small_run_file)
        yield window
    finally:
        for name in TAB_MODULES:
            views._FACTORIES.pop(name, None)


def shown(qtbot, window, name):
    tab = window.view(name)
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.result is not None and not tab.busy, timeout=TIMEOUT)
    return tab


def settled(qtbot, widget):
    """Let the axes lay out (their height follows the rows their labels need) and paint."""
    for _ in range(3):
        widget.grab()
        qtbot.wait(20)


def test_cluster_names_over_the_heatmap_do_not_overlap(qtbot, tabs):
    window = tabs
    assert (window.width(), window.height()) == (1360, 860)  # the default size
    tab = shown(qtbot, window, "Spectrum")
    tab.result = crowded(tab.result)
    tab.show_result(tab.result)
    settled(qtbot, tab.heatmap)
    plot = tab.heatmap.getPlotItem()
    axis = plot.getAxis("top")
    texts = ["k=1: 16", "k=2: 6", "k=3: 4", "k=4: 14", "k=5: 9", "no cluster: 15"]
    drawn = assert_readable(axis, texts, tab.heatmap.sceneRect())
    assert len({round(rect.top()) for _, rect in drawn}) > 1  # at this width they need staggered rows
    view_top = plot.getViewBox().sceneBoundingRect().top()
    assert all(rect.bottom() <= view_top + 1 for _, rect in drawn)  # above the image, not over it
    # hovering a name gives its long form
    text, rect = drawn[2]
    tip = axis.tooltip_at(axis.mapFromScene(rect.center()))
    assert tip == "cluster k = 3: 4 neurons, columns 22–25"


def test_hook_names_under_the_symmetry_chart_do_not_overlap_and_open_the_hook(qtbot, tabs):
    window = tabs
    tab = shown(qtbot, window, "Symmetry")
    settled(qtbot, tab.chart)
    axis = tab.chart.getPlotItem().getAxis("bottom")
    texts = [figures.display_hook_label(label) for label in tab.result["labels"]]
    assert "resid_mid" in texts and len(texts) == 16
    drawn = dict(assert_readable(axis, texts, tab.chart.sceneRect()))
    # the full hook name on hover, and a click on the name opens the hook in the Explorer
    rect = drawn["resid_mid"]
    assert axis.tooltip_at(axis.mapFromScene(rect.center())) == "blocks.0.hook_resid_mid"
    point = tab.chart.mapFromScene(rect.center())
    with qtbot.waitSignal(tab.openInExplorer, timeout=2000) as blocker:
        qtbot.mouseClick(tab.chart.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args[0] == "blocks.0.hook_resid_mid"


def test_exported_figures_do_not_overlap(qtbot, tabs):
    """The figures ``grokviz export`` writes (1200 × 800): the same drawing, the same guarantee."""
    window = tabs
    spectrum = crowded(shown(qtbot, window, "Spectrum").result)
    symmetry = shown(qtbot, window, "Symmetry").result
    for draw, side, texts in ((lambda plot: figures.draw_neuron_heatmap(plot, spectrum), "top", 6),
                              (lambda plot: figures.draw_symmetry(plot, symmetry, 800), "bottom", 16)):
        canvas = figures.new_canvas()
        qtbot.addWidget(canvas)
        plot = canvas.ci.addPlot(row=1, col=0)
        draw(plot)
        figures._settle(canvas)
        settled(qtbot, canvas)
        axis = plot.getAxis(side)
        assert len(assert_readable(axis, [label.text for label in axis.labels], canvas.sceneRect())) == texts
        assert canvas.width() == figures.FIGURE_SIZE[0]


def test_names_without_room_are_left_off_and_named_on_hover(qtbot, small_run):
    """Too narrow for three rows: the names that fit stay apart, the others are listed on hover."""
    from grokviz.analysis.session import session_of
    from grokviz.gui import report_arrays

    symmetry = report_arrays.symmetry_view(session_of(small_run), small_run.epochs[-1])
    widget = pg.PlotWidget(background="w")
    qtbot.addWidget(widget)
    widget.resize(320, 300)
    widget.show()
    plot = widget.getPlotItem()
    figures.draw_symmetry(plot, symmetry)
    plot.setTitle("")  # the long title would widen the scene past 320 px
    settled(qtbot, widget)
    axis = plot.getAxis("bottom")
    drawn = axis.scene_rects()
    assert axis.left_off and len(drawn) + len(axis.left_off) == 16
    assert len({round(rect.top()) for _, rect in drawn}) == axis.max_rows
    for (a, rect_a), (b, rect_b) in itertools.combinations(drawn, 2):
        assert not rect_a.intersects(rect_b), f"{a!r} overlaps {b!r}"
    tip = axis.tooltip_at(QtCore.QPointF(0, 0))
    assert tip.startswith("hook_embed\nno room on the axis for: ")
    assert all(label.text in tip for label in axis.left_off)
