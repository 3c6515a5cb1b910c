"""Background work for the GUI: one job runner, one thread-lifetime pattern for the whole app.

Every slow step (imports, loading, analysis, the Explorer's tensors) is a :class:`Job`:
``function(context)`` run on the application's :class:`JobRunner` (a ``QThreadPool``).
``context.report(fraction, text)`` sends progress (fraction < 0: indeterminate) and
``context.cancelled`` tells the function to stop early. The UI hears back only through the
job's signals, delivered in the GUI thread.

Lifetimes are handled in one place: a started job is held by the runner until its function has
returned and the worker has dropped every reference to it, so no owner can delete running work
(there is no per-job ``QThread`` that could be "destroyed while still running"), and the last
reference to the function's captured objects (widgets!) is released in the GUI thread.
superqt's thread workers were considered and not used: their ``run`` swaps the process-global
``warnings.showwarning`` and filters from the worker thread, and two overlapping workers leave
them pointing at a finished worker (checked with superqt 0.9 on Python 3.11).

:class:`LatestRequest` adds keyed requests where the newest wins: one job at a time per
consumer; a newer request cancels the running one (its result is dropped) and runs when it ends.
"""

from __future__ import annotations

import functools
import itertools
import sys
import threading
import weakref
from typing import Callable, Hashable

from PySide6 import QtCore, QtWidgets

from grokviz.gui.dialogs import format_details, user_message

POOL_THREADS = 8  # more than the cores: a slow analysis must never queue the opening of a file


class JobContext:
    def __init__(self, job: "Job"):
        self._job = weakref.ref(job)  # no cycle: a finished job is freed by reference counting
        self._cancel = threading.Event()

    def report(self, fraction: float, text: str = "") -> None:
        job = self._job()
        if job is not None:
            job.progress.emit(float(fraction), str(text))

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


class Job(QtCore.QObject):
    """``function(context)`` to run in a worker thread of the app's :class:`JobRunner`.

    Signals (all delivered in the GUI thread): ``progress(float, str)``, ``succeeded(object)``
    with the return value, ``failed(str, str)`` (one-line message, details), then ``done()``
    after either, or alone after a cancel. Keep no Qt parent: the runner owns a started job.
    """

    progress = QtCore.Signal(float, str)
    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(str, str)
    done = QtCore.Signal()

    def __init__(self, function: Callable, title: str = "", key: Hashable = None):
        super().__init__()
        self.function = function
        self.title = title
        self.key = key
        self.context = JobContext(self)
        self.result = None
        self.error: BaseException | None = None
        self.started = False
        self.ended = False  # GUI-thread flag: the end has been signalled
        self._returned = threading.Event()  # worker flag: the function has returned

    def start(self, runner: "JobRunner | None" = None) -> "Job":
        (runner or job_runner()).start(self)
        return self

    def cancel(self) -> None:
        self.context.cancel()

    @property
    def cancelled(self) -> bool:
        return self.context.cancelled

    @property
    def running(self) -> bool:
        return self.started and not self.ended

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the function has returned (True) or ``timeout_ms`` passed (False)."""
        return not self.started or self._returned.wait(timeout_ms / 1000)

    def _execute(self) -> None:  # worker thread
        if "torch" in sys.modules:  # before this thread's torch threads exist, so they inherit it
            from grokviz.core.perf import flush_denormals

            flush_denormals()
        try:
            self.result = self.function(self.context)
        except BaseException as error:  # noqa: BLE001 - reported to the UI, never raised into Qt
            self.error = error
            self._message = (user_message(error), format_details(error))
        self._returned.set()

    def _finish(self) -> None:  # GUI thread, after the worker dropped its references
        self.ended = True
        self.function = None  # the captured objects die here, in the GUI thread
        if not self.context.cancelled:
            if self.error is not None:
                self.failed.emit(*self._message)
            else:
                self.succeeded.emit(self.result)
        self.done.emit()


class JobRunner(QtCore.QObject):
    """The app's worker threads (a ``QThreadPool``) and every job started on them until it ends."""

    _ended = QtCore.Signal(int)  # token of a job whose worker has let go of it

    def __init__(self, parent=None, threads: int = POOL_THREADS):
        super().__init__(parent)
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(int(threads))
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._tokens = itertools.count()
        self._ended.connect(self._on_ended)  # queued: emitted from the worker threads

    @property
    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def start(self, job: Job) -> None:
        if job.started:
            raise RuntimeError(f"job {job.title!r} was already started")
        job.started = True
        token = next(self._tokens)
        with self._lock:
            self._jobs[token] = job
        self.pool.start(functools.partial(self._work, token))

    def _work(self, token: int) -> None:  # worker thread
        with self._lock:
            job = self._jobs[token]
        job._execute()
        del job  # the runner still holds the job: this thread never drops the last reference
        self._ended.emit(token)

    def _on_ended(self, token: int) -> None:
        with self._lock:
            job = self._jobs.pop(token, None)
        if job is not None:
            job._finish()

    def cancel_all(self) -> None:
        for job in self.jobs:
            job.cancel()

    def wait_all(self, timeout_ms: int = 30_000) -> bool:
        """Block until every started job's function has returned; then deliver their ends."""
        ok = all(job.wait(timeout_ms) for job in self.jobs)
        if ok:
            self.pool.waitForDone(timeout_ms)
            QtCore.QCoreApplication.sendPostedEvents(self)
        return ok


_RUNNER: JobRunner | None = None


def job_runner() -> JobRunner:
    """The application's runner (created on first use, owned by the QApplication)."""
    global _RUNNER
    if _RUNNER is None:
        app = QtWidgets.QApplication.instance() or QtCore.QCoreApplication.instance()
        _RUNNER = JobRunner(app)
        _RUNNER.destroyed.connect(_forget_runner)
    return _RUNNER


def _forget_runner(*_args) -> None:
    global _RUNNER
    _RUNNER = None


class LatestRequest(QtCore.QObject):
    """Keyed requests where the newest wins (one consumer: a tab, the Explorer's loader).

    ``request(key, function)``: at most one job runs; a request while one runs cancels it (its
    result is dropped) and runs when it has ended; requests in between replace each other.
    Requesting the running key again changes nothing (unless ``force``). Signals: ``succeeded(key, result)`` only
    for the newest key, ``failed(key, message, details)``, ``progress(float, str)``,
    ``started(key)``, ``idle()`` when nothing runs or waits any more.
    """

    succeeded = QtCore.Signal(object, object)
    failed = QtCore.Signal(object, str, str)
    progress = QtCore.Signal(float, str)
    started = QtCore.Signal(object)
    idle = QtCore.Signal()

    def __init__(self, title: str = "", parent=None, runner: JobRunner | None = None):
        super().__init__(parent)
        self.title = title
        self._runner = runner
        self.job: Job | None = None  # the running job
        self._pending: tuple | None = None  # (key, function) waiting for the running job's end

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def running_key(self):
        return None if self.job is None else self.job.key

    @property
    def wanted_key(self):
        """The newest key asked for (pending, else running), None when idle."""
        return self._pending[0] if self._pending is not None else self.running_key

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def request(self, key: Hashable, function: Callable, force: bool = False) -> None:
        if self.job is not None:
            if key == self.job.key and not self.job.cancelled and not force:
                self._pending = None
                return
            self.job.cancel()
            self._pending = (key, function)
            return
        self._start(key, function)

    def cancel(self) -> None:
        """Drop the waiting request and cancel the running one (nothing more is delivered)."""
        self._pending = None
        if self.job is not None:
            self.job.cancel()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        return self.job is None or self.job.wait(timeout_ms)

    def _start(self, key, function) -> None:
        job = Job(function, self.title, key=key)
        job.progress.connect(self._on_progress)
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        job.done.connect(self._on_done)
        self.job = job
        self.started.emit(key)
        job.start(self._runner)

    def _current(self) -> bool:
        return self.job is not None and self._pending is None and not self.job.cancelled

    def _on_progress(self, fraction, text):
        if self._current():
            self.progress.emit(fraction, text)

    def _on_succeeded(self, result):
        if self._current():
            self.succeeded.emit(self.job.key, result)

    def _on_failed(self, message, details):
        if self._current():
            self.failed.emit(self.job.key, message, details)

    def _on_done(self):
        self.job = None
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._start(*pending)
        else:
            self.idle.emit()


# -- the jobs grokviz runs ---------------------------------------------------------------------

ENGINE_MODULES = (
    ("torch", "Loading torch…"),
    ("transformer_lens", "Loading TransformerLens…"),
    ("grokviz.core.runfile", "Loading grokviz engine…"),
    ("grokviz.core.training", "Loading grokviz engine…"),
    ("grokviz.analysis.spectrum", "Loading analysis…"),
)


def load_engine(context: JobContext) -> None:
    """Import the heavy modules (torch, TransformerLens, grokviz.core) off the GUI thread."""
    import importlib

    for index, (name, text) in enumerate(ENGINE_MODULES):
        context.report(index / len(ENGINE_MODULES), text)
        importlib.import_module(name)
    context.report(1.0, "Engine ready")


def run_summary(run) -> dict:
    """The run session's ``summary`` report (facts and key frequencies), computed in the caller's thread."""
    from grokviz.analysis.session import session_of

    return dict(session_of(run).report("summary"))


def open_run(path, task=None) -> Callable[[JobContext], tuple]:
    """A job function: load ``path`` (any supported format) and summarise it → (run, summary)."""

    def function(context: JobContext):
        from grokviz.core.runfile import load_run

        context.report(-1, f"Reading {path}…")
        run = load_run(path, task=task)
        if context.cancelled:
            return None
        context.report(-1, "Computing key frequencies…")
        return run, run_summary(run)

    return function
