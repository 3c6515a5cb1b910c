"""The Learned tab's grid → the Explorer: a click on a cell opens that input (a, b) there (issue 16, item 3)."""

from types import SimpleNamespace

from PySide6 import QtCore

from tests.gui.conftest import open_and_wait
from tests.gui.tab_helpers import TIMEOUT


def _click(tab, x, y):
    view = tab.grid_plot.getPlotItem().getViewBox()
    tab._grid_clicked(SimpleNamespace(scenePos=lambda: view.mapViewToScene(QtCore.QPointF(x, y))))


def _explorer_shows(qtbot, window, a, b):
    explorer = window.views["Explorer"]
    model = explorer.model
    qtbot.waitUntil(lambda: model.tensor is not None and model.ordering == "[a, b]"
                    and {"a", "b"} <= set(model.axis_names) and explorer.prepared is not None, timeout=TIMEOUT)
    assert window.tabs.currentWidget() is explorer
    assert (model.index_of("a"), model.index_of("b")) == (a, b)
    assert model.axis_names[model.x_dim] not in ("a", "b") and model.y_dim is None


def test_a_click_on_the_learned_grid_opens_the_input_in_the_explorer(qtbot, window, small_run_file):
    open_and_wait(qtbot, window, small_run_file)
    tab = window.views["Learned"]
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.result is not None and not tab.busy, timeout=TIMEOUT)
    # [a, b]: rows a, columns b
    _click(tab, 9, 4)  # column b = 9, row a = 4
    _explorer_shows(qtbot, window, 4, 9)
    # [c, a]: rows c, columns a; for add mod 23, c = 5 and a = 7 is the input b = (5 − 7) mod 23 = 21
    window.tabs.setCurrentWidget(tab)
    tab.layout_combo.setCurrentIndex(tab.layout_combo.findData("ca"))
    _click(tab, 7, 5)
    _explorer_shows(qtbot, window, 7, 21)
    # an Explorer already on [a, b] moves at once, and off the grid nothing happens
    window.tabs.setCurrentWidget(tab)
    _click(tab, 1, 2)  # c = 2, a = 1 → b = 1
    _explorer_shows(qtbot, window, 1, 1)
    window.tabs.setCurrentWidget(tab)
    _click(tab, 500, 500)
    assert window.tabs.currentWidget() is tab
