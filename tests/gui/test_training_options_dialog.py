"""The New-run dialog's loss and optimiser choices reach the child-process trainer and the Run panel.

The child's code runs in-process here (:func:`grokviz.training_process.train` on the job's own spec,
through JSON as the pipe carries it): the process round trip itself is tested in test_training.py,
and another interpreter start would cost this test 10–25 s on the shared machine.
"""

import json

from tests.conftest import SMALL_DIMS


class _Lines:
    def __init__(self):
        self.lines = []

    def send(self, kind, **fields):
        self.lines.append({"type": kind, **fields})


def test_dialog_options_reach_the_trainer_file_and_run_panel(qtbot, tmp_path):
    from grokviz.core.runfile import load_run
    from grokviz.core.training import TrainingControl
    from grokviz.gui.new_run_dialog import NewRunDialog
    from grokviz.gui.run_panel import RunPanel
    from grokviz.gui.state import AppState
    from grokviz.gui.training import TrainingJob
    from grokviz.training_process import train

    dialog = NewRunDialog(None, directory=str(tmp_path))
    qtbot.addWidget(dialog)
    assert (dialog.loss.currentData(), dialog.optimizer.currentData()) == ("cross_entropy", "adamw")  # the recipe's
    out = tmp_path / "stable.pt"
    dialog.set_values({"task": "add", "p": 13, "epochs": 40, "frac_train": 0.5, "device": "cpu", "out": str(out),
                       "checkpoint_every": 20, "loss": "stablemax", "optimizer": "orthoadamw", **SMALL_DIMS})
    assert dialog.ok_button.isEnabled()
    task, split, model_config, train_config, path = dialog.values()
    assert (train_config.loss, train_config.optimizer) == ("stablemax", "orthoadamw")

    job = TrainingJob(task, split, model_config, train_config, path, threads=1, live_progress=False)
    channel = _Lines()
    assert train(json.loads(json.dumps(job.spec())), channel, TrainingControl()) == "finished"
    assert channel.lines[-1]["type"] == "finished"
    saved = load_run(out)
    assert (saved.train_config.loss, saved.train_config.optimizer) == ("stablemax", "orthoadamw")

    state = AppState()
    panel = RunPanel(state)
    qtbot.addWidget(panel)
    panel.show_training(job)  # while training: the job's recipe
    assert "StableMax cross-entropy" in panel.values["recipe"].text()
    panel.show_training(None)
    from grokviz.core.quickread import read_preview

    panel.show_preview(read_preview(out))  # before the engine has loaded: read straight from the file
    assert "StableMax cross-entropy" in panel.values["recipe"].text()
    state.set_run(saved)  # the opened run's facts
    recipe = panel.values["recipe"].text()
    assert "StableMax cross-entropy" in recipe and "⊥AdamW" in recipe
