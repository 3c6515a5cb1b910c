"""Training in the app (a child process): live curves and measures, pause/resume, cancel, continue, crash, dialog."""

import os
import time

from tests.gui.conftest import small_training_args


def test_short_training_run_updates_curves_and_opens(qtbot, window, tmp_path, errors):
    from grokviz.core.runfile import load_run

    out = tmp_path / "live.pt"
    view = window.training_view
    progress_tab = window.views["Progress"]
    with qtbot.waitSignal(window.training_ended, timeout=90_000) as ended:
        job = window.start_training(*small_training_args(out, epochs=400), threads=1)
        assert view.controls.isVisible() or not window.isVisible()
        qtbot.waitUntil(lambda: view.redraw_count >= 2 and len(view.curves.epoch) >= 2, timeout=60_000)
        x, y = view.loss_curves["train"].getData()
        assert len(x) >= 2
        # the Run panel shows the run being trained, the Progress tab its live measures
        assert window.run_panel.heading.text() == "Training live.pt"
        assert window.run_panel.values["file"].toolTip() == str(out)
        assert window.run_panel.values["basis"].text() == "when training ends"  # not the open run's
        assert window.run_panel.slider_box.isHidden()  # the open run's checkpoints are not the trained run's
        from grokviz.gui.new_run_dialog import default_output_directory

        assert default_output_directory(window.settings) == str(tmp_path)  # remembered for the next run
        qtbot.waitUntil(lambda: len(job.measures) >= 2, timeout=60_000)
        progress_tab.refresh_live()
        assert progress_tab.result is None  # hidden: nothing drawn (the window's thread stays free)
        window.tabs.setCurrentWidget(progress_tab)  # shown: it catches up
        qtbot.waitUntil(lambda: progress_tab.result is not None, timeout=5000)
        assert len(progress_tab.result["epochs"]) >= 2
        assert all(cursor is None for cursor in progress_tab.cursors.values())  # no cursor of the open run

    assert job.process.state() == job.process.ProcessState.NotRunning  # trained in the child process
    run = ended.args[0]
    assert run is not None and run.status == "finished" and run.epochs_trained == 400
    assert window.state.run is run  # opens in every view
    assert window.state.checkpoint_epoch == 400
    assert not view.controls.isVisible()
    assert window.run_panel.heading.text() == "live.pt" and not window.run_panel.slider_box.isHidden()
    assert len(view.curves.epoch) == len(run.history)
    reloaded = load_run(out)
    assert reloaded.epochs_trained == 400 and reloaded.checkpoint_epochs == [0, 50, 100, 150, 200, 250, 300, 350, 400]
    assert [r["epoch"] for r in reloaded.progress] == reloaded.epochs  # measured live, stored with the run
    assert not errors
    qtbot.waitUntil(lambda: window.training_job is None, timeout=5000)


def test_pause_resume_cancel_continue_and_reopen(qtbot, window, tmp_path, errors):
    from tests.gui.conftest import open_and_wait

    from grokviz.core.runfile import load_run

    out = tmp_path / "cancelled.pt"
    view = window.training_view
    job = window.start_training(*small_training_args(out, epochs=200_000), threads=1)
    qtbot.waitUntil(lambda: job.latest is not None and job.latest.epoch >= 30, timeout=60_000)
    view.pause_button.click()
    assert job.paused and view.pause_button.text() == "Resume"
    qtbot.wait(800)  # the child finishes its epoch and waits
    paused_at = job.latest.epoch
    qtbot.wait(500)
    assert job.latest.epoch == paused_at
    view.pause_button.click()
    assert not job.paused
    qtbot.waitUntil(lambda: job.latest.epoch > paused_at, timeout=20_000)
    with qtbot.waitSignal(window.training_ended, timeout=30_000) as ended:
        view.cancel_button.click()
    run = ended.args[0]
    assert run.status == "cancelled" and 0 < run.epochs_trained < 200_000
    reloaded = load_run(out)
    assert reloaded.status == "cancelled" and reloaded.epochs_trained == run.epochs_trained
    assert reloaded.resume_state is not None
    assert window.state.run is run
    qtbot.waitUntil(lambda: window.training_job is None, timeout=5000)
    # continue the cancelled run in the app (File ▸ Continue training), then reopen the file
    assert window.continue_action.isEnabled()
    with qtbot.waitSignal(window.training_ended, timeout=90_000) as ended:
        window.continue_training(run.epochs_trained + 100)
    resumed = ended.args[0]
    assert resumed.status == "finished" and resumed.epochs_trained == run.epochs_trained + 100
    qtbot.waitUntil(lambda: window.training_job is None, timeout=5000)
    window.close_run()
    reopened = open_and_wait(qtbot, window, out)
    assert reopened.epochs_trained == resumed.epochs_trained and reopened.status == "finished"
    assert reopened.checkpoint_epochs[:len(reloaded.checkpoint_epochs)] == reloaded.checkpoint_epochs
    assert {r["epoch"] for r in reopened.progress} == set(reopened.epochs)
    assert not errors


def test_close_while_training_asks_then_stops(qtbot, window, tmp_path, monkeypatch):
    from grokviz.core.runfile import load_run
    from grokviz.gui import dialogs

    answers = [False, True]
    asked = []
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *args: (asked.append(args), answers.pop(0))[1])
    out = tmp_path / "closing.pt"
    job = window.start_training(*small_training_args(out, epochs=200_000), threads=1)
    qtbot.waitUntil(lambda: job.latest is not None, timeout=60_000)
    assert not window.close()  # "no": the window stays and training goes on
    assert window.isVisible() and not job.ended
    began = time.perf_counter()
    assert window.close()
    assert time.perf_counter() - began < 15
    assert len(asked) == 2
    assert job.ended and window.training_job is None
    assert load_run(out).status == "cancelled"


def test_training_process_crash_shows_error_and_keeps_saved_run(qtbot, window, tmp_path, errors):
    from grokviz.core.runfile import load_run

    out = tmp_path / "crash.pt"
    task, split, model_config, config, _ = small_training_args(out, epochs=200_000)
    config = type(config).from_dict({**config.to_dict(), "save_every_seconds": 0.2})
    job = window.start_training(task, split, model_config, config, str(out), threads=1)
    qtbot.waitUntil(lambda: job.last_saved_epoch is not None and job.last_saved_epoch > 0, timeout=60_000)
    saved = job.last_saved_epoch
    # the trainer yields the CPU to the window (training_process._yield_to_the_window)
    assert os.getpriority(os.PRIO_PROCESS, job.process.processId()) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 5)
    with qtbot.waitSignal(window.training_ended, timeout=20_000) as ended:
        job.process.kill()  # the training process dies (as after an out-of-memory kill)
    assert ended.args[0] is None
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5000)
    assert "training process" in errors[0][0] and str(out) in errors[0][0]
    assert window.isVisible()  # the window survives
    survivor = load_run(out)
    assert survivor.status == "running" and survivor.epochs_trained >= saved
    qtbot.waitUntil(lambda: window.training_job is None, timeout=5000)


def test_training_error_in_child_shows_message(qtbot, window, tmp_path, errors):
    import torch

    if torch.cuda.is_available():
        return
    task, split, model_config, config, _ = small_training_args(tmp_path / "x.pt")
    config = type(config).from_dict({**config.to_dict(), "device": "cuda"})
    with qtbot.waitSignal(window.training_ended, timeout=60_000) as ended:
        window.start_training(task, split, model_config, config, str(tmp_path / "x.pt"), threads=1)
    assert ended.args[0] is None
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5000)
    assert "CUDA" in errors[0][0] and "Traceback" in errors[0][1]
    qtbot.waitUntil(lambda: window.training_job is None, timeout=5000)


def test_new_run_dialog_validates_inline(qtbot, window, tmp_path):
    from grokviz.gui.new_run_dialog import NewRunDialog

    dialog = NewRunDialog(window, directory=str(tmp_path))
    qtbot.addWidget(dialog)
    assert dialog.ok_button.isEnabled()
    assert dialog.out.text().endswith("add_p113.pt")
    dialog.set_values({"task": "div", "p": 12})
    assert not dialog.ok_button.isEnabled()
    assert "prime" in dialog.errors["p"].text() and not dialog.errors["p"].isHidden()
    dialog.set_values({"p": 13})
    assert dialog.ok_button.isEnabled() and dialog.errors["p"].isHidden()
    assert dialog.out.text().endswith("div_p13.pt")
    dialog.set_values({"lr": "fast"})
    assert not dialog.ok_button.isEnabled() and "number" in dialog.errors["lr"].text()
    dialog.set_values({"lr": "-1"})
    assert not dialog.ok_button.isEnabled() and dialog.errors["lr"].text()
    dialog.set_values({"lr": "1e-3", "frac_train": 0.0})
    assert not dialog.ok_button.isEnabled() and dialog.errors["frac_train"].text()
    dialog.set_values({"frac_train": 0.5, "task": "pow", "m": 4, "n": 3, "p": 23})
    assert dialog.ok_button.isEnabled()
    assert "a^4 + b^3" in dialog.formula.text()
    dialog.set_values({"out": str(tmp_path / "missing_dir" / "x.pt")})
    assert not dialog.ok_button.isEnabled() and dialog.errors["out"].text()
    dialog.set_values({"out": str(tmp_path / "ok.pt"), "grokfast": True, "device": "cpu", "epochs": 50})
    task, split, model_config, train_config, out = dialog.values()
    assert task.spec == "pow:m=4,n=3" and split.frac_train == 0.5
    assert train_config.grokfast.enabled and train_config.device == "cpu" and train_config.epochs == 50
    assert model_config.p == 23 and out == str(tmp_path / "ok.pt")
    cuda = dialog.device.model().item(2)
    import torch

    assert cuda.isEnabled() == torch.cuda.is_available()


def test_a_failed_save_moves_to_a_fallback_file_and_says_so(qtbot, window, tmp_path, errors, monkeypatch):
    """The output's directory disappears mid-training: the child saves to the temp directory,
    the window says where in one line, and the run opens from there (issue 18)."""
    import shutil

    fallback_dir = tmp_path / "tmp"
    fallback_dir.mkdir()
    monkeypatch.setenv("TMPDIR", str(fallback_dir))  # the child's tempfile.gettempdir()
    out = tmp_path / "out" / "run.pt"
    out.parent.mkdir()
    task, split, model_config, config, _ = small_training_args(out, epochs=200_000)
    config = type(config).from_dict({**config.to_dict(), "save_every_seconds": 0.2})
    job = window.start_training(task, split, model_config, config, str(out), threads=1)
    qtbot.waitUntil(lambda: job.saved_path == str(out), timeout=60_000)
    shutil.rmtree(out.parent)
    qtbot.waitUntil(lambda: job.saved_path and job.saved_path != str(out), timeout=30_000)
    assert job.saved_path.startswith(str(fallback_dir)) and ".unsaved-" in job.saved_path
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5000)
    assert "directory" in errors[0][0] and job.saved_path in errors[0][0] and "\n" not in errors[0][0]
    with qtbot.waitSignal(window.training_ended, timeout=30_000) as ended:
        window.cancel_training()
    assert ended.args[0] is not None and ended.args[0].path == job.saved_path


def test_a_run_saved_nowhere_waits_for_save_as(tmp_path, monkeypatch):
    """Every place fails (output directory and temp directory gone): the training process keeps
    the run, says ``unsaved`` and saves it where ``save_as`` asks."""
    import queue
    import tempfile

    from grokviz.core.runfile import load_run
    from grokviz.training_process import train

    class Channel:
        def __init__(self):
            self.sent = []

        def send(self, kind, **fields):
            self.sent.append((kind, fields))

    import torch._dynamo  # noqa: F401 - imported first: it makes a cache directory in the temp directory

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-temp"))
    task, split, model_config, config, _ = small_training_args(tmp_path / "gone" / "run.pt", epochs=40)
    spec = {"task": task.to_dict(), "split": split.to_dict(), "model_config": model_config.to_dict(),
            "train_config": config.to_dict(), "out": str(tmp_path / "gone" / "run.pt"), "resume": None,
            "threads": 1, "live_progress": False}
    requests, channel = queue.Queue(), Channel()
    requests.put(str(tmp_path / "chosen.pt"))
    from grokviz.core.training import TrainingControl

    assert train(spec, channel, TrainingControl(), requests) == "finished"
    kinds = [kind for kind, _ in channel.sent]
    assert "unsaved" in kinds and kinds[-1] == "finished"
    assert channel.sent[-1][1]["path"] == str(tmp_path / "chosen.pt")
    assert load_run(tmp_path / "chosen.pt").epochs_trained == 40


def test_the_window_asks_where_to_save_an_unsaved_run(qtbot, window, monkeypatch):
    from PySide6 import QtWidgets

    class Job:
        answers = []

        def save_as(self, path):
            self.answers.append(("save_as", path))

        def discard(self):
            self.answers.append(("discard",))

    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: ("/somewhere/run.pt", ""))
    job = Job()
    window._training_unsaved(job, "disk full")
    assert job.answers == [("save_as", "/somewhere/run.pt")]
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", lambda *a, **k: QtWidgets.QMessageBox.StandardButton.Discard)
    window._training_unsaved(job, "disk full")
    assert job.answers[-1] == ("discard",)
