"""A losses-only history (Nanda's format) in the Training tab: accuracies at every stored
checkpoint drawn as points, phase lines from the phases report (test-loss peak, loss bound)."""

import csv

import numpy as np


def test_checkpoint_accuracies_drawn_as_points(qtbot, tmp_path):
    import grokviz
    from grokviz.analysis.session import session_of
    from grokviz.gui.state import AppState
    from grokviz.gui.training import TrainingView
    from tests.analysis.test_phases import write_nanda_like

    path = tmp_path / "full_run_data.pth"
    write_nanda_like(path, n_state_dicts=5)
    run = grokviz.load_run(path)
    state = AppState()
    view = TrainingView(state)
    qtbot.addWidget(view)
    state.set_run(run)
    assert view.points_mode
    qtbot.waitUntil(lambda: view.checkpoint_accuracy is not None, timeout=30_000)

    report = session_of(run).report("checkpoint_accuracy")
    for key, values in (("train", report.train_acc), ("test", report.test_acc)):
        item = view.acc_curves[key]
        x, y = item.getData()
        assert len(x) == len(run.epochs) == 6  # 5 checkpoints and the final weights
        assert list(x) == run.epochs and np.allclose(y, values)
        assert item.opts["symbol"] == "o" and item.opts["pen"] is None  # points, no connecting line
    # phase lines: the phases report's, nothing at the last checkpoint
    phases = session_of(run).report("phases", with_progress=False)
    assert view.phase_epochs() == {"memorised": 1400, "grokked": phases.grokked_epoch}
    memorised_line, grokked_line = view.phase_lines["memorised"][0], view.phase_lines["grokked"][0]
    assert memorised_line.value() == 1400 and grokked_line.value() == phases.grokked_epoch < run.epochs[-1]
    assert "by" in grokked_label(grokked_line) and "grokked by" in view.stats.text()
    assert "nan" not in view.stats.text()  # the history ends past the last weights: their accuracy is shown

    # the exported figure and its CSV have the same points
    written = view.export_figures(tmp_path)
    assert any(f.endswith("training_accuracy.png") for f in written)
    with open(tmp_path / "training_history.csv", newline="") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    test_rows = [r for r in rows if r[0] == "test_acc"]
    assert len(test_rows) == len(run.epochs)


def grokked_label(line) -> str:
    return line.label.format


def test_save_as_stores_the_points_and_a_reopen_shows_them_without_computing(qtbot, window, tmp_path, monkeypatch):
    """File › Save as… of a Nanda file writes its checkpoint accuracies; the saved file's Training
    tab draws them from the file (the computation is made to fail)."""
    from grokviz.core.runfile import load_run
    from tests.analysis.test_phases import write_nanda_like
    from tests.analysis.test_stored_accuracy import no_computing
    from tests.gui.conftest import open_and_wait

    source, out = tmp_path / "full_run_data.pth", tmp_path / "saved.pt"
    write_nanda_like(source, n_state_dicts=5)
    run = open_and_wait(qtbot, window, str(source))
    with qtbot.waitSignal(window.save_run_as(run, str(out)).succeeded, timeout=30_000):
        pass
    stored = load_run(out).checkpoint_accuracy
    assert stored["epochs"] == run.epochs

    no_computing(monkeypatch)
    open_and_wait(qtbot, window, str(out))
    view = window.training_view
    qtbot.waitUntil(lambda: view.checkpoint_accuracy is not None, timeout=30_000)
    assert view.checkpoint_accuracy.test_acc == stored["test_acc"] and view.points_mode
