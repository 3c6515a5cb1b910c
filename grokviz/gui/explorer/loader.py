"""Fetching the Explorer's tensors: keyed requests, the newest wins.

A request is the model's selection key (hook, position, ordering, epoch). In the app the fetch
(running the model on all p² inputs at a new checkpoint takes about a second) runs on the app's
job runner through a :class:`~grokviz.gui.workers.LatestRequest`: a newer key cancels the
running one, whose result is dropped. Standalone (tests, scripts) it runs synchronously.
A key that differs from the previous one only in its epoch waits ``EPOCH_DEBOUNCE_MS`` first, so
a playing checkpoint slider loads the epoch it stops at, not each one it passes.
Nothing is cached here: the run's data is cached once, in its RunSession.
"""

from __future__ import annotations

from PySide6 import QtCore

from grokviz.gui.workers import LatestRequest

EPOCH_DEBOUNCE_MS = 60


def fetch(source, key) -> tuple:
    """(tensor, overlays, context) of ``key`` from ``source`` (worker thread in the app)."""
    hook, position, ordering, epoch = key
    tensor = source.get(hook, position, ordering, epoch)
    overlays = {}
    if hasattr(source, "overlays"):
        overlays = source.overlays(hook, position, ordering, epoch, tensor=tensor) or {}
    context = source.context() if hasattr(source, "context") else None
    return tensor, overlays, context


class ExplorerLoader(QtCore.QObject):
    """``request(key)`` → ``loaded(key, tensor, overlays, context)`` or ``failed(key, message)``;
    ``loading(key)`` when a background fetch starts. ``shown_key`` is the last key delivered: asking
    for it again does nothing (the view already shows it)."""

    loaded = QtCore.Signal(object, object, object, object)
    failed = QtCore.Signal(object, str)
    loading = QtCore.Signal(object)

    def __init__(self, parent=None, background: bool = False):
        super().__init__(parent)
        self.source = None
        self.background = background
        self.shown_key = None
        self.requests = LatestRequest("Explorer", self)
        self.requests.succeeded.connect(self._on_succeeded)
        self.requests.failed.connect(lambda key, message, details: self.failed.emit(key, message))
        self.requests.started.connect(self.loading)
        self._waiting = None  # the key held back by the epoch debounce
        self._debounce = QtCore.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(EPOCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._flush)
        self._last_asked = None

    @property
    def busy(self) -> bool:
        return self.requests.busy or self._debounce.isActive()

    def set_source(self, source) -> None:
        self.cancel()
        self.source = source
        self.shown_key = self._last_asked = None

    def cancel(self) -> None:
        self._debounce.stop()
        self._waiting = None
        self.requests.cancel()

    def request(self, key, force: bool = False) -> None:
        if self.source is None or key is None:
            return
        last, self._last_asked = self._last_asked, key
        if key == self.shown_key and not force:
            self.cancel()  # back to what is on show: drop the newer requests
            return
        if last is not None and key[:3] == last[:3] and key[3] != last[3] and not force:
            self._waiting = key
            self._debounce.start()
            return
        self._debounce.stop()
        self._waiting = None
        self._start(key, force)

    def _flush(self) -> None:
        key, self._waiting = self._waiting, None
        if key is not None:
            self._start(key, False)

    def _start(self, key, force: bool) -> None:
        source = self.source
        if not self.background:
            try:
                result = fetch(source, key)
            except Exception as error:  # noqa: BLE001 - shown, not raised: a bad hook must not kill the window
                self.failed.emit(key, str(error))
                return
            self._on_succeeded(key, result)
            return
        self.requests.request(key, lambda context: fetch(source, key), force=force)

    def _on_succeeded(self, key, result) -> None:
        self.shown_key = key
        self.loaded.emit(key, *result)
