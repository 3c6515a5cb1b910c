"""Shared application state (napari-style): one small model that every view follows.

:class:`AppState` holds the open run and the current checkpoint epoch. Views never own these;
they connect to the signals and read the properties::

    state.run_changed.connect(view.on_run)                 # new run (or None)
    state.checkpoint_changed.connect(view.on_checkpoint)   # epoch (int) every view shows
    state.set_checkpoint_epoch(1200)                       # snaps to the nearest stored epoch

Every derived number comes from the open run's :class:`~grokviz.analysis.session.RunSession`
(``state.session``), shared with the tabs, the Explorer and export. Only Qt is imported at module
level (no torch): the state exists before the engine has loaded; a session is made when a run opens.
"""

from __future__ import annotations

import bisect

from PySide6 import QtCore

from grokviz.core.epochs import nearest_stored


class AppState(QtCore.QObject):
    """The open run, its session, its summary and the current checkpoint epoch.

    Signals
    -------
    run_changed(object)        the new :class:`grokviz.core.run.Run` (or None when closed);
                               emitted before the matching ``checkpoint_changed``.
    checkpoint_changed(int)    the epoch every view should show (one of ``run.epochs``).
    summary_changed(dict)      the run's summary (the session's ``summary`` report) once computed.
    """

    run_changed = QtCore.Signal(object)
    checkpoint_changed = QtCore.Signal(int)
    summary_changed = QtCore.Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._run = None
        self._session = None
        self._epochs: list[int] = []
        self._epoch: int | None = None
        self._summary: dict = {}

    # -- run ----------------------------------------------------------------------------
    @property
    def run(self):
        return self._run

    @property
    def session(self):
        """The open run's :class:`~grokviz.analysis.session.RunSession` (None while nothing is open).

        Made on first use (:func:`~grokviz.analysis.session.session_of`: one per run object, so the
        tabs, the Explorer and export that hold the same run share it); safe from any thread."""
        run = self._run
        if run is None:
            return None
        if self._session is None or self._session.run is not run:
            from grokviz.analysis.session import session_of

            self._session = session_of(run)
        return self._session

    @property
    def summary(self) -> dict:
        """The session's ``summary`` report as passed to :meth:`set_run` (empty dict until then)."""
        return self._summary

    @property
    def epochs(self) -> list[int]:
        """Epochs with weights in the open run (checkpoints and the final epoch), ascending."""
        return list(self._epochs)

    def set_run(self, run, summary: dict | None = None, epoch: int | None = None) -> None:
        """Open ``run`` in every view; the checkpoint moves to ``epoch`` (default: the final one)."""
        self._run = run
        self._session = None
        self._epochs = sorted(int(e) for e in run.epochs) if run is not None else []
        self._summary = dict(summary or {})
        self._epoch = None
        self.run_changed.emit(run)
        if summary is not None:
            self.summary_changed.emit(self._summary)
        if self._epochs:
            self.set_checkpoint_epoch(self._epochs[-1] if epoch is None else epoch)

    def set_summary(self, summary: dict) -> None:
        self._summary = dict(summary)
        self.summary_changed.emit(self._summary)

    # -- checkpoint ---------------------------------------------------------------------
    @property
    def checkpoint_epoch(self) -> int | None:
        return self._epoch

    @property
    def checkpoint_index(self) -> int:
        """Index of the current epoch in :attr:`epochs` (−1 when nothing is open)."""
        if self._epoch is None:
            return -1
        return bisect.bisect_left(self._epochs, self._epoch)

    def nearest_epoch(self, epoch: int) -> int | None:
        return nearest_stored(self._epochs, int(epoch))

    def set_checkpoint_epoch(self, epoch: int) -> None:
        """Move every view to the stored epoch nearest ``epoch`` (no signal if unchanged)."""
        nearest = self.nearest_epoch(epoch)
        if nearest is None or nearest == self._epoch:
            return
        self._epoch = nearest
        self.checkpoint_changed.emit(nearest)

    def set_checkpoint_index(self, index: int) -> None:
        if self._epochs:
            self.set_checkpoint_epoch(self._epochs[max(0, min(int(index), len(self._epochs) - 1))])

    def step_checkpoint(self, delta: int) -> None:
        if self._epochs:
            self.set_checkpoint_index(self.checkpoint_index + int(delta))

    # -- convenience for views ----------------------------------------------------------
    def model(self, epoch: int | None = None):
        """The run's model at ``epoch`` (default: the current checkpoint) from the session's locked
        LRU: safe from any thread (the Explorer's worker asks for it). Shared: do not modify it."""
        session = self.session
        if session is None:
            return None
        return session.model(self._epoch if epoch is None else int(epoch))
