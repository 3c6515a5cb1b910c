"""AppState holds the run's session; the Symmetry tab and ``grokviz analyze`` show the same numbers."""

import json
import math
import threading

from grokviz.cli import example_path, main
from grokviz.gui.state import AppState


def test_app_state_model_is_the_sessions_from_any_thread(qtbot, small_run):
    from grokviz.analysis.session import session_of

    state = AppState()
    state.set_run(small_run)
    assert state.session is session_of(small_run)
    epochs = small_run.epochs[-2:]
    barrier = threading.Barrier(2)
    got = [{}, {}]

    def worker(index):  # the Explorer's worker and the GUI thread race here today
        barrier.wait()
        for epoch in epochs * 5:
            got[index].setdefault(epoch, state.model(epoch))
            assert state.model(epoch) is got[index][epoch]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(got[0][e] is got[1][e] is state.session.model(e) for e in epochs)
    state.set_checkpoint_epoch(epochs[0])
    assert state.model() is got[0][epochs[0]]
    state.set_run(None)
    assert state.session is None and state.model() is None


def test_symmetry_tab_and_analyze_json_agree_on_the_example(qtbot, capsys):
    """The bundled example (p = 113): the Symmetry tab (real widget, its own loaded run) and
    ``grokviz analyze --json`` (another process-level load) agree to 1e-9 per hook."""
    from grokviz.core.runfile import load_run
    from grokviz.gui.tabs.symmetry import SymmetryView

    assert main(["analyze", str(example_path()), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    tab = SymmetryView(run=load_run(example_path()))
    qtbot.addWidget(tab)
    tab.resize(900, 600)
    tab.show()
    qtbot.waitUntil(lambda: tab.result is not None and not tab.busy, timeout=120_000)
    result = tab.result
    assert tab.epoch == report["epoch"]
    assert result["hooks"] == list(report["symmetry"]) == list(report["c2_model_r2"])
    finite = 0
    for hook, score, explained in zip(result["hooks"], result["score"], result["explained"]):
        for shown, printed in ((score, report["symmetry"][hook]), (explained, report["c2_model_r2"][hook])):
            if printed is None:
                assert math.isnan(shown), hook
            else:
                finite += 1
                assert abs(shown - printed) <= 1e-9, (hook, shown, printed)
    assert finite >= 10
    assert report["symmetry"]["blocks.0.hook_resid_post"] > 0.9  # the example grokked: symmetric at =
