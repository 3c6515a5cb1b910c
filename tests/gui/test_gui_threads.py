"""Qt objects die only in the GUI thread: worker jobs and garbage collection (issue 7 crash);
the one job runner: keyed requests, newest wins, lifetimes owned by the runner (issue 14)."""

import gc
import threading
import weakref

from PySide6 import QtWidgets

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
    first = tab.jobs.job
    tab.request(force=True)
    assert tab.jobs.job is first and tab.jobs.pending and first.cancelled and len(calls) == 1
    release.set()
    qtbot.waitUntil(lambda: len(calls) == 2 and tab.result is not None and not tab.busy, timeout=60_000)
    assert not tab.jobs.pending


def test_newest_request_wins_and_stale_results_are_dropped(qtbot):
    from grokviz.gui.workers import LatestRequest

    requests = LatestRequest("test")
    gates = {key: threading.Event() for key in "abc"}
    ran, delivered = [], []
    requests.succeeded.connect(lambda key, result: delivered.append((key, result)))

    def work(key):
        def function(context):
            ran.append(key)
            gates[key].wait(30)
            return key.upper()
        return function

    requests.request("a", work("a"))
    qtbot.waitUntil(lambda: ran == ["a"], timeout=5_000)
    requests.request("a", work("a"))  # the running key again: no second job
    requests.request("b", work("b"))  # supersedes a ...
    requests.request("c", work("c"))  # ... and c supersedes b before it started
    assert requests.running_key == "a" and requests.wanted_key == "c" and requests.job.cancelled
    gates["a"].set()
    gates["c"].set()
    with qtbot.waitSignal(requests.idle, timeout=10_000):
        pass
    assert ran == ["a", "c"] and delivered == [("c", "C")]  # a's result was stale, b never ran


def test_failures_reach_the_gui_thread_and_cancelled_jobs_stay_silent(qtbot):
    from grokviz.gui.workers import Job

    gui = threading.get_ident()
    seen = []
    job = Job(lambda context: 1 / 0, "boom")
    job.failed.connect(lambda message, details: seen.append((threading.get_ident(), message)))
    with qtbot.waitSignal(job.done, timeout=5_000):
        job.start()
    assert seen and seen[0][0] == gui and "division" in seen[0][1] and job.ended and not job.running
    quiet = Job(lambda context: context.cancel() or 1, "cancelled")
    quiet.succeeded.connect(seen.append)
    with qtbot.waitSignal(quiet.done, timeout=5_000):
        quiet.start()
    assert len(seen) == 1


def test_an_owner_can_go_while_its_job_runs(qtbot):
    """The owner (and its LatestRequest) deleted mid-job: the runner keeps the running job, and what
    the job's function captured is released in the GUI thread, never in the worker."""
    from grokviz.gui.workers import LatestRequest, job_runner

    release, freed_in = threading.Event(), []

    class Captured:
        def __del__(self):
            freed_in.append(threading.get_ident())

    captured = Captured()
    owner = QtWidgets.QWidget()
    requests = LatestRequest("owned", owner)
    requests.request("k", lambda context, captured=captured: release.wait(30))
    job = weakref.ref(requests.job)
    del captured, requests
    owner.deleteLater()
    del owner
    qtbot.wait(50)
    assert job() is not None and job() in job_runner().jobs and freed_in == []
    release.set()
    qtbot.waitUntil(lambda: bool(freed_in), timeout=5_000)
    assert freed_in == [threading.get_ident()]
    qtbot.waitUntil(lambda: job() is None, timeout=5_000)
