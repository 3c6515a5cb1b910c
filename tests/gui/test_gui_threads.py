"""Qt objects die only in the GUI thread: worker jobs and garbage collection (issue 7 crash)."""

import gc
import threading

from grokviz.gui.state import AppState


def test_garbage_is_collected_only_in_the_gui_thread(qtbot, qapp):
    from grokviz.gui import gc_guard

    assert gc_guard.install(qapp) is gc_guard.install(qapp)  # one collector per app
    assert not gc.isenabled()
    collected_in = []

    def record(phase, info):
        if phase == "start":
            collected_in.append(threading.get_ident())

    gc.callbacks.append(record)
    try:
        kept = []  # the worker's objects stay alive, so the allocation counts stay past the thresholds
        worker = threading.Thread(target=lambda: kept.extend([] for _ in range(200_000)))  # would trigger collections
        worker.start()
        worker.join()
        assert collected_in == []  # none in the worker
        qtbot.waitUntil(lambda: threading.get_ident() in collected_in, timeout=5_000)  # the GUI thread's timer
        assert set(collected_in) == {threading.get_ident()}
    finally:
        gc.callbacks.remove(record)


def test_a_tab_runs_one_job_at_a_time(qtbot, small_run):
    """A request while the tab's job is running waits for it, then runs (no second thread that the
    first job's end would delete while it runs)."""
    from grokviz.gui.tabs.attention import AttentionView

    state = AppState()
    state.set_run(small_run)
    tab = AttentionView(state)
    release, calls = threading.Event(), []
    compute = tab.compute

    def held_compute(run, epoch, context):
        calls.append(epoch)
        release.wait(30)
        return compute(run, epoch, context)

    tab.compute = held_compute
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=10_000)
    first = tab._job
    tab.request(force=True)
    assert tab._job is first and tab._pending and len(calls) == 1
    release.set()
    qtbot.waitUntil(lambda: len(calls) == 2 and tab.result is not None and not tab.busy, timeout=60_000)
    assert not tab._pending
