"""The Clock/Pizza and Circles tabs (design.md §6b) on a small trained model, following the checkpoint."""

import numpy as np


from tests.gui.tab_helpers import TIMEOUT, _tab


def test_clock_pizza_tab_follows_checkpoint(qtbot, state, small_run, tmp_path):
    from grokviz.analysis.session import session_of
    from grokviz.gui.tabs.clock_pizza import ClockPizzaView

    tab = _tab(qtbot, ClockPizzaView, state)
    history, current = tab.result
    assert history.epochs == small_run.epochs
    assert current is session_of(small_run).report("clock_pizza", small_run.epochs[-1])  # presented, not recomputed
    assert current.verdict in tab.status.text()
    first = small_run.epochs[0]
    state.set_checkpoint_epoch(first)
    qtbot.waitUntil(lambda: tab._computed_key == tab._key() and not tab.busy, timeout=TIMEOUT)
    assert tab.result[1].gradient_symmetricity == history.gradient_symmetricity[0]
    written = tab.export_figures(tmp_path)
    names = {f.split("/")[-1] for f in written}
    assert {"clock-pizza_history.png", "clock-pizza_history.csv", "clock-pizza_correct_logit.svg"} <= names
    csv = next(f for f in written if f.endswith("clock-pizza_correct_logit.csv"))
    assert open(csv).read().count("\n") >= small_run.p


def test_circles_tab_animates(qtbot, state, small_run):
    from grokviz.gui.tabs.circles import CirclesView

    tab = _tab(qtbot, CirclesView, state)
    result = tab.result
    assert result.epochs == small_run.epochs
    assert len(tab.circle_plots) == min(len(result.frequencies), 6)
    assert tab.frame_index == len(result.epochs) - 1
    operand, j, plot = tab.circle_plots[0]
    shown = np.column_stack(plot.scatter.getData())
    expected = result.frames[-1].operands[0].points[j].numpy()
    assert np.allclose(shown, expected, atol=1e-6)
    # the shared slider moves the points without a recompute
    state.set_checkpoint_epoch(small_run.epochs[1])
    assert tab.frame_index == 1 and not tab.busy
    assert np.allclose(np.column_stack(plot.scatter.getData()), result.frames[1].operands[0].points[j].numpy(), atol=1e-6)
    # Play steps every view's checkpoint
    tab.fps.setValue(50)
    tab.play_button.setChecked(True)
    qtbot.waitUntil(lambda: state.checkpoint_epoch == small_run.epochs[3], timeout=5000)
    tab.play_button.setChecked(False)
    assert not tab.timer.isActive()


def test_learned_tab_shows_inputs_learned_by_the_checkpoint(qtbot, state, small_run):
    from grokviz.analysis.session import session_of
    from grokviz.gui import mechanism_figures as mf
    from grokviz.gui.tabs.learned import LearnedView

    tab = _tab(qtbot, LearnedView, state)
    result = tab.result
    assert result is session_of(small_run).report("learned_epochs")
    final, _, _, _ = mf.learned_grid(result, small_run.task, "ab", by_epoch=small_run.epochs[-1])
    assert np.isfinite(final).sum() == int(result.correct[-1].sum())
    # an earlier checkpoint shows fewer inputs; [c, a] shows the same inputs re-indexed
    state.set_checkpoint_epoch(small_run.epochs[1])
    early, _, _, _ = mf.learned_grid(result, small_run.task, "ab", by_epoch=small_run.epochs[1])
    assert np.isfinite(early).sum() <= np.isfinite(final).sum()
    assert tab._cursor.value() == small_run.epochs[1]
    tab.layout_combo.setCurrentIndex(1)
    ca, rows, cols, _ = mf.learned_grid(result, small_run.task, "ca", by_epoch=small_run.epochs[1])
    assert (rows, cols) == ("c", "a") and np.isfinite(ca).sum() == np.isfinite(early).sum()
    tab.inputs_combo.setCurrentIndex(2)  # test inputs only
    test_only, _, _, _ = mf.learned_grid(result, small_run.task, "ab", "test")
    assert not np.isfinite(test_only[result.train.numpy()]).any()


def test_dynamics_tab(qtbot, state, small_run):
    from grokviz.gui.tabs.dynamics import DynamicsView

    tab = _tab(qtbot, DynamicsView, state)
    collapse, trajectory, dynamics = tab.result
    assert collapse.epochs == trajectory.epochs == dynamics.epochs == small_run.epochs
    state.set_checkpoint_epoch(small_run.epochs[1])
    x, y = tab._marker.getData()
    assert np.allclose([x[0], y[0]], trajectory.paths["model"][1].numpy())
    assert all(c.value() == small_run.epochs[1] for c in tab._cursors)
    tab.group_combo.setCurrentIndex(list(tab.group_combo.itemData(i) for i in range(5)).index("mlp"))
    x, y = tab._marker.getData()
    assert np.allclose([x[0], y[0]], trajectory.paths["mlp"][1].numpy())


def test_a_click_on_the_history_moves_the_checkpoint(qtbot, state, small_run):
    from types import SimpleNamespace

    from PySide6 import QtCore

    from grokviz.gui.tabs.clock_pizza import ClockPizzaView

    tab = _tab(qtbot, ClockPizzaView, state)
    view = tab.history_plot.getPlotItem().getViewBox()
    (_, _), (y0, y1) = view.viewRange()
    target = small_run.epochs[1]
    inside = SimpleNamespace(scenePos=lambda: view.mapViewToScene(QtCore.QPointF(target, (y0 + y1) / 2)))
    tab._clicked(inside)
    assert state.checkpoint_epoch == target
    outside = SimpleNamespace(scenePos=lambda: QtCore.QPointF(-10_000, -10_000))
    assert tab.x_at_click(tab.history_plot, outside) is None
