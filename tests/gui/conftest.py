import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from tests.conftest import SMALL_DIMS  # noqa: F401  (shared tiny model dims)


@pytest.fixture(scope="session", autouse=True)
def _configured_app(qapp):
    from grokviz.gui.appearance import configure_application

    configure_application(qapp)
    return qapp


@pytest.fixture
def settings_path(tmp_path):
    return tmp_path / "settings.ini"


@pytest.fixture
def errors(monkeypatch):
    """Error dialogs recorded instead of shown (never block a test)."""
    from grokviz.gui import dialogs

    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, message, details="", title="grokviz": shown.append((message, details)))
    return shown


@pytest.fixture
def window(qtbot, settings_path, errors):
    from grokviz.gui.main_window import MainWindow
    from grokviz.gui.settings import make_settings

    win = MainWindow(settings=make_settings(settings_path))
    qtbot.addWidget(win)
    win.show()
    win.load_engine_now()
    yield win
    if win.training_job is not None:
        win.stop_training_and_wait()
    win.wait_for_jobs()


def open_and_wait(qtbot, window, path, timeout=20_000):
    with qtbot.waitSignal(window.run_opened, timeout=timeout) as blocker:
        window.open_file(path)
    return blocker.args[0]


def small_training_args(out, epochs=300, p=17, checkpoint_every=50):
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task

    return (Task("add", p), SplitSpec(frac_train=0.5), ModelConfig(p=p, **SMALL_DIMS),
            TrainConfig(epochs=epochs, checkpoint_every=checkpoint_every, eval_every=10, device="cpu"), str(out))


@pytest.fixture
def state(small_run):
    """An AppState with the small trained run open (the analysis-tab tests)."""
    from grokviz.gui.state import AppState

    state = AppState()
    state.set_run(small_run)
    return state


@pytest.fixture(scope="session")
def other_run_file(tmp_path_factory):
    """Run B: sub mod 17, 300 epochs, a checkpoint every 50 (run A, the small run, is add mod 23 to 800 by 200)."""
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.runfile import save_run
    from grokviz.core.tasks import Task
    from grokviz.core.training import train

    run = train(Task("sub", 17), SplitSpec(frac_train=0.5), ModelConfig(p=17, **SMALL_DIMS),
                TrainConfig(epochs=300, checkpoint_every=50, device="cpu"))
    path = tmp_path_factory.mktemp("compare") / "other.pt"
    save_run(run, path)
    return path
