"""Training in a background thread: live curves, pause/resume, cancel, close while training, dialog."""

import time

from tests.gui.conftest import small_training_args


def test_short_training_run_updates_curves_and_opens(qtbot, window, tmp_path, errors):
    from grokviz.core.runfile import load_run

    out = tmp_path / "live.pt"
    view = window.training_view
    with qtbot.waitSignal(window.training_ended, timeout=60_000) as ended:
        window.start_training(*small_training_args(out, epochs=400), threads=1)
        assert view.controls.isVisible() or not window.isVisible()
        qtbot.waitUntil(lambda: view.redraw_count >= 2 and len(view.curves.epoch) >= 2, timeout=30_000)
        x, y = view.loss_curves["train"].getData()
        assert len(x) >= 2
    run = ended.args[0]
    assert run is not None and run.status == "finished" and run.epochs_trained == 400
    assert window.state.run is run  # opens in every view
    assert window.state.checkpoint_epoch == 400
    assert not view.controls.isVisible()
    assert len(view.curves.epoch) == len(run.history)
    reloaded = load_run(out)
    assert reloaded.epochs_trained == 400 and reloaded.checkpoint_epochs == [0, 50, 100, 150, 200, 250, 300, 350, 400]
    assert not errors
    qtbot.waitUntil(lambda: window.training_job is None, timeout=5000)


def test_pause_resume_cancel_keeps_valid_file(qtbot, window, tmp_path, errors):
    from grokviz.core.runfile import load_run

    out = tmp_path / "cancelled.pt"
    view = window.training_view
    job = window.start_training(*small_training_args(out, epochs=200_000), threads=1)
    qtbot.waitUntil(lambda: job.latest is not None and job.latest.epoch >= 30, timeout=30_000)
    view.pause_button.click()
    assert job.paused and view.pause_button.text() == "Resume"
    time.sleep(0.3)  # let the current epoch finish
    paused_at = job.latest.epoch
    qtbot.wait(400)
    assert job.latest.epoch == paused_at
    view.pause_button.click()
    assert not job.paused
    qtbot.waitUntil(lambda: job.latest.epoch > paused_at, timeout=10_000)
    with qtbot.waitSignal(window.training_ended, timeout=10_000) as ended:
        began = time.perf_counter()
        view.cancel_button.click()
        qtbot.waitUntil(lambda: job.ended, timeout=5000)
        stopped = time.perf_counter() - began
    assert stopped < 1.0, f"cancel took {stopped:.2f} s"
    run = ended.args[0]
    assert run.status == "cancelled" and 0 < run.epochs_trained < 200_000
    reloaded = load_run(out)
    assert reloaded.status == "cancelled" and reloaded.epochs_trained == run.epochs_trained
    assert reloaded.resume_state is not None
    assert window.state.run is run
    assert not errors


def test_close_while_training_asks_then_stops(qtbot, window, tmp_path, monkeypatch):
    from grokviz.core.runfile import load_run
    from grokviz.gui import dialogs

    answers = [False, True]
    asked = []
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *args: (asked.append(args), answers.pop(0))[1])
    out = tmp_path / "closing.pt"
    job = window.start_training(*small_training_args(out, epochs=200_000), threads=1)
    qtbot.waitUntil(lambda: job.latest is not None, timeout=30_000)
    assert not window.close()  # "no": the window stays and training goes on
    assert window.isVisible() and not job.ended
    began = time.perf_counter()
    assert window.close()
    assert time.perf_counter() - began < 5
    assert len(asked) == 2
    assert job.ended and window.training_job is None
    assert load_run(out).status == "cancelled"


def test_training_failure_shows_error(qtbot, window, tmp_path, errors, monkeypatch):
    from grokviz.core import training

    def broken(self, *args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(training.Trainer, "run", broken)
    with qtbot.waitSignal(window.training_ended, timeout=10_000) as ended:
        window.start_training(*small_training_args(tmp_path / "x.pt"), threads=1)
    assert ended.args[0] is None
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5000)
    assert "memory" in errors[0][0].lower()
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
