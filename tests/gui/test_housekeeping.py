"""Issue 17 housekeeping: where new runs go, content before the engine, Open asks for the task."""

from pathlib import Path

import pytest


def test_new_run_output_defaults_to_a_user_directory(qtbot, window, tmp_path, monkeypatch, errors):
    import grokviz
    from grokviz.gui.new_run_dialog import NewRunDialog, default_output_directory, remember_output_directory

    package = Path(grokviz.__file__).resolve().parent
    monkeypatch.chdir(tmp_path)
    window.open_file(package / "resources" / "absent.pt")  # a file in the package (like the bundled example)
    window.wait_for_jobs()  # …must not make the package the "last used" directory
    assert default_output_directory(window.settings) == str(tmp_path)  # nothing remembered: the current directory
    assert package not in Path(window.settings.last_directory()).resolve().parents
    monkeypatch.chdir(package)  # started from inside the package: never write there
    assert default_output_directory(window.settings) == str(Path.home())
    chosen = tmp_path / "runs"
    chosen.mkdir()
    remember_output_directory(window.settings, chosen)
    remember_output_directory(window.settings, package / "resources")  # ignored
    assert default_output_directory(window.settings) == str(chosen)
    dialog = NewRunDialog(window, directory=default_output_directory(window.settings))
    qtbot.addWidget(dialog)
    assert Path(dialog.out.text()).parent == chosen


def test_content_first_preview_without_torch(qtbot, window, small_run_file):
    from grokviz.core.quickread import read_preview
    from grokviz.core.runfile import load_run

    preview = read_preview(small_run_file)
    run = load_run(small_run_file)
    assert preview.epochs_trained == run.epochs_trained and preview.n_checkpoints == len(run.checkpoint_epochs)
    assert (preview.history.test_loss == run.history.test_loss).all()
    window.close_run()
    window.training_view.show_preview(preview)
    window.run_panel.show_preview(preview)
    assert len(window.training_view.curves.epoch) == len(run.history)
    assert window.run_panel.heading.text() == Path(small_run_file).name
    assert window.run_panel.values["epochs"].text().startswith(f"{run.epochs_trained:,}")
    assert read_preview(Path(small_run_file).parent / "missing.pt") is None


def test_preview_refuses_code_in_the_pickle(tmp_path):
    import pickle
    import zipfile

    from grokviz.core.quickread import read_preview

    class Evil:
        def __reduce__(self):
            return (print, ("ran code from a file",))

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"format": "grokviz-run", "x": Evil()}))
    assert read_preview(path) is None


@pytest.fixture
def untrained_demo(tmp_path):
    """A Grokking-demo file (pickled HookedTransformerConfig) of an untrained model: its task cannot be inferred."""
    import torch

    from tests.core.test_importers import SMALL, demo_config, demo_payload, state_of, write_demo_files

    from grokviz.core.config import ModelConfig
    from grokviz.core.data import SplitSpec, split_indices
    from grokviz.core.model import GrokTransformer
    from grokviz.core.tasks import Task

    task = Task("mul", 11)
    train_rows, test_rows = split_indices(task, SplitSpec("randperm", 598, 0.5))
    untrained = GrokTransformer(ModelConfig(p=11, **SMALL))
    torch.save(demo_payload(state_of(untrained), [], [], 10, train_rows, test_rows), tmp_path / "plain.pt")
    write_demo_files([{"input": str(tmp_path / "plain.pt"), "output": str(tmp_path / "demo.pt"),
                       "config": demo_config(11)}], tmp_path)
    return tmp_path / "demo.pt"


def test_open_offers_the_task_dialog_when_it_cannot_infer(qtbot, window, untrained_demo, errors, monkeypatch):
    asked = []

    def answer(path, best, accuracy):
        asked.append((path, best, accuracy))
        return "mul"

    monkeypatch.setattr(window, "ask_task", answer)
    with qtbot.waitSignal(window.run_opened, timeout=30_000) as opened:
        window.open_file(untrained_demo)
    assert not errors  # no error box
    assert len(asked) == 1 and asked[0][1]  # pre-filled with the best candidate
    assert 0.0 <= asked[0][2] < 0.5
    assert opened.args[0].task.spec == "mul"


def test_app_shows_the_example_curves_before_torch(tmp_path):
    """Launch → the example's curves (and Run panel facts) are in the first paint, torch not yet imported."""
    import subprocess
    import sys

    from grokviz.gui.launch import CONTENT_MARKER, EXIT_AFTER_CONTENT_ENV
    from grokviz.training_process import child_environment

    env = dict(child_environment(), QT_QPA_PLATFORM="offscreen", GROKVIZ_SETTINGS=str(tmp_path / "s.ini"),
               **{EXIT_AFTER_CONTENT_ENV: "1"})
    done = subprocess.run([sys.executable, "-m", "grokviz"], env=env, capture_output=True, text=True, timeout=120)
    line = next(line for line in done.stdout.splitlines() if line.startswith(CONTENT_MARKER))
    assert "curves=1" in line and "heavy_imports=0" in line
    assert done.returncode == 0


def test_history_sketch_paints_the_preview(qtbot, small_run_file):
    from grokviz.core.quickread import read_preview
    from grokviz.gui.history_sketch import HistorySketch

    sketch = HistorySketch(read_preview(small_run_file))
    qtbot.addWidget(sketch)
    sketch.resize(600, 400)
    image = sketch.grab().toImage()
    assert sketch.painted
    colours = {image.pixelColor(x, y).name() for x in range(0, 600, 4) for y in range(400)}
    assert {"#0072b2", "#d55e00"} <= colours  # the train and test curves are drawn
