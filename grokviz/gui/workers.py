"""Background work for the GUI: every slow step (imports, loading, analysis) runs in a QThread.

:class:`Job` runs ``function(context)`` in its own thread; ``context.report(fraction, text)``
sends progress (fraction < 0: indeterminate) and ``context.cancelled`` tells the function to
stop early. The UI hears back only through the signals, which are queued into the GUI thread.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable

from PySide6 import QtCore

from grokviz.gui.dialogs import format_details, user_message


class JobContext:
    def __init__(self, job: "Job"):
        self._job = job
        self._cancel = threading.Event()

    def report(self, fraction: float, text: str = "") -> None:
        self._job.progress.emit(float(fraction), str(text))

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


class Job(QtCore.QThread):
    """Run ``function(context)`` in a worker thread.

    Signals: ``progress(float, str)``, ``succeeded(object)`` with the return value,
    ``failed(str, str)`` (one-line message, details), ``done()`` after either (or after a
    cancel, when neither is emitted). ``done`` is emitted in the GUI thread once the worker thread
    has really ended, so a slot may ``deleteLater()`` the job.
    """

    progress = QtCore.Signal(float, str)
    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(str, str)
    done = QtCore.Signal()

    def __init__(self, function: Callable, title: str = "", parent=None):
        super().__init__(parent)
        self.function = function
        self.title = title
        self.context = JobContext(self)
        self.result = None
        self.error: BaseException | None = None
        self.ended = False
        self.finished.connect(self._finish)  # queued into the thread that owns the job (GUI)

    def _finish(self) -> None:
        self.wait()
        self.ended = True
        self.done.emit()

    def cancel(self) -> None:
        self.context.cancel()

    @property
    def cancelled(self) -> bool:
        return self.context.cancelled

    def run(self) -> None:  # worker thread
        if "torch" in sys.modules:  # before this thread's torch threads exist, so they inherit it
            from grokviz.core.perf import flush_denormals

            flush_denormals()
        try:
            self.result = self.function(self.context)
        except BaseException as error:  # noqa: BLE001 - reported to the UI, never raised into Qt
            self.error = error
            if not self.context.cancelled:
                self.failed.emit(user_message(error), format_details(error))
        else:
            if not self.context.cancelled:
                self.succeeded.emit(self.result)


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
