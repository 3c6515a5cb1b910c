"""File › Compare with…: two runs side by side, one view instance per run, linked checkpoints (issue 16, item 7)."""

from types import SimpleNamespace

from PySide6 import QtCore

from tests.gui.conftest import open_and_wait
from tests.gui.tab_helpers import TIMEOUT


def _compare(qtbot, window, path):
    window.compare_with(path)
    qtbot.waitUntil(lambda: window.compare_window is not None, timeout=TIMEOUT)
    return window.compare_window


def _shown(qtbot, widgets, epochs):
    qtbot.waitUntil(lambda: all(w.result is not None and not w.busy and w.epoch == e for w, e in zip(widgets, epochs)),
                    timeout=TIMEOUT)


def test_compare_two_runs_with_linked_and_unlinked_sliders(qtbot, window, small_run_file, other_run_file, errors):
    run_a = open_and_wait(qtbot, window, small_run_file)
    state_a = window.state
    state_a.set_checkpoint_epoch(400)
    window.tabs.setCurrentWidget(window.views["Attention"])
    compare = _compare(qtbot, window, other_run_file)
    state_b = compare.state_b
    assert compare.current_view == "Attention"  # opens on the main window's view
    assert state_b.run.task.formula == "c = (a − b) mod 17" and state_b.epochs == [0, 50, 100, 150, 200, 250, 300]
    # linked, same epoch: B opened at the partner of A's 400 (its last checkpoint, 300), A stayed at 400
    attention = compare.show_view("Attention")
    _shown(qtbot, attention, (400, 300))
    assert attention[0].state is state_a and attention[1].state is state_b
    assert state_a.checkpoint_epoch == 400
    state_a.set_checkpoint_epoch(200)
    assert state_b.checkpoint_epoch == 200
    _shown(qtbot, attention, (200, 200))
    assert "epoch <b>200</b>" in compare.column_b.heading.text() and "other.pt" in compare.column_b.heading.text()
    # same fraction of training: A 200 of 800 = 25 % → B 75 of 300 → its nearest checkpoint (50 or 100: 50)
    compare.mode_combo.setCurrentIndex(compare.mode_combo.findData("fraction"))
    assert state_b.checkpoint_epoch == 50
    state_a.set_checkpoint_epoch(600)  # 75 % → 225 → 200
    assert state_b.checkpoint_epoch == 200
    compare.column_b.slider.last_button.click()  # B's own slider moves A too: 100 % → 800
    assert (state_a.checkpoint_epoch, state_b.checkpoint_epoch) == (800, 300)
    learned = compare.show_view("Learned")
    _shown(qtbot, learned, (800, 300))
    assert learned[0].result.epochs == run_a.epochs and learned[1].result.epochs == state_b.epochs
    title = learned[1].histogram_plot.getPlotItem().titleLabel  # fitted to a half-width column
    assert title.opts["size"] == "9pt" and title.minimumWidth() == 0 and title.text
    # a click on B's learned grid opens that input in B's Explorer, in the comparison
    view = learned[1].grid_plot.getPlotItem().getViewBox()
    learned[1]._grid_clicked(SimpleNamespace(scenePos=lambda: view.mapViewToScene(QtCore.QPointF(3, 2))))
    explorer = compare.column_b.views["Explorer"]
    assert compare.current_view == "Explorer"
    qtbot.waitUntil(lambda: explorer.model.tensor is not None and explorer.model.index_of("a") == 2
                    and explorer.model.index_of("b") == 3, timeout=TIMEOUT)
    compare.layout_combo.setCurrentText("one above the other")
    assert compare.splitter.orientation() == QtCore.Qt.Orientation.Vertical
    # unlinked: each slider moves its own run only
    compare.link_box.setChecked(False)
    compare.column_a.slider.first_button.click()
    assert (state_a.checkpoint_epoch, state_b.checkpoint_epoch) == (0, 300)
    compare.column_b.slider.prev_button.click()
    assert (state_a.checkpoint_epoch, state_b.checkpoint_epoch) == (0, 250)
    compare.link_box.setChecked(True)  # relinking pairs B with A again
    assert state_b.checkpoint_epoch == 0
    # closing the comparison leaves A as it was, and A keeps working
    compare.close()
    qtbot.waitUntil(lambda: window.compare_window is None, timeout=TIMEOUT)
    assert state_a.run is run_a and state_a.checkpoint_epoch == 0
    state_a.set_checkpoint_epoch(400)
    window.run_panel.checkpoints.next_button.click()
    assert state_a.checkpoint_epoch == 600
    main_tab = window.views["Attention"]
    qtbot.waitUntil(lambda: main_tab.result is not None and main_tab.epoch == 600, timeout=TIMEOUT)
    assert not errors


def test_compare_with_a_bad_file_is_one_line_and_loses_nothing(qtbot, window, small_run_file, tmp_path, errors):
    run_a = open_and_wait(qtbot, window, small_run_file)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a run" * 20)
    window.compare_with(bad)
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=TIMEOUT)
    assert "bad.pt" in errors[0][0] and "\n" not in errors[0][0]
    assert window.compare_window is None and window.state.run is run_a
    window.close_run()
    assert not window.compare_action.isEnabled()
