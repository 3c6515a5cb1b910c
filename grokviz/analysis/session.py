"""One run's derived data, computed once and shared (design.md §9).

A :class:`RunSession` wraps one :class:`~grokviz.core.run.Run`. The app (one per open run), the
CLI (``info``/``analyze``/``export``) and notebooks (``grokviz.open_session(path)``) all read
every derived number through it, so each number has one implementation (a *report*, see
:mod:`grokviz.analysis.reports`) and is computed once per checkpoint.

Thread-safe: any thread may ask for models, activations or reports. Each cached value is built
under a per-key lock, so two threads asking for the same report at the same epoch compute it
once and both get the same object; different keys compute concurrently.

:func:`session_of` gives the one session of a :class:`Run` object (created on first use and kept
with the run), so the app's state, its tabs, the Explorer, ``figures`` and the CLI that share a
run object share its cached numbers too.
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from typing import Any, Callable

MODEL_CACHE_SIZE = 4
REPORT_CACHE_SIZE = 256
LARGE_REPORT_CACHE_SIZE = 3  # reports marked ``large`` (~50 MB each at p = 113)


class _KeyedCache:
    """An LRU of computed values with one build lock per key (compute once, share the result)."""

    def __init__(self, capacity: int):
        self.capacity = int(capacity)
        self._values: "OrderedDict[Any, Any]" = OrderedDict()
        self._building: dict = {}
        self._lock = threading.Lock()

    def get(self, key, build: Callable[[], Any]):
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    return self._values[key]
            try:
                value = build()
            except BaseException:
                with self._lock:
                    self._building.pop(key, None)
                raise
            with self._lock:  # stored before the build lock goes: a late caller finds the value
                self._values[key] = value
                while len(self._values) > self.capacity:
                    self._values.popitem(last=False)
                self._building.pop(key, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class RunSession:
    """Everything derived from one run: models, one shared activation store, cached reports.

    The store keeps every hook of the newest checkpoints (~380 MB per checkpoint at p = 113), so
    it is bounded by ``max_cache_bytes`` (the newest checkpoint is always kept).
    """

    def __init__(self, run, *, max_cache_bytes: int = 512 << 20, max_cached_checkpoints: int = 2):
        self.run = run
        self._models = _KeyedCache(MODEL_CACHE_SIZE)
        self._reports = _KeyedCache(REPORT_CACHE_SIZE)
        self._large_reports = _KeyedCache(LARGE_REPORT_CACHE_SIZE)
        self._store_lock = threading.RLock()
        self._store_limits = (max_cache_bytes, max_cached_checkpoints)
        self._store = None

    @property
    def store(self):
        """The activation store, made on first use: it needs the hooked module (TransformerLens,
        ~1.5 s to import), which reports that read stored data or state dicts never do.

        The store runs hooked forwards (run_with_cache adds hooks to the module while it runs): it
        builds its own module per checkpoint (its default, run.model) so no other thread's forward on
        a shared model sees them."""
        with self._store_lock:
            if self._store is None:
                from grokviz.analysis.cache import ActivationStore

                max_bytes, max_checkpoints = self._store_limits
                self._store = ActivationStore(self.run, max_bytes=max_bytes, max_checkpoints=max_checkpoints)
            return self._store

    # -- identity ----------------------------------------------------------------------------
    @property
    def task(self):
        return self.run.task

    @property
    def p(self) -> int:
        return self.run.p

    @property
    def epochs(self) -> list[int]:
        return self.run.epochs

    def resolve_epoch(self, epoch: int | None) -> int:
        """The stored epoch a request means: the final one for None, else the nearest stored."""
        return int(self.run.epochs[-1] if epoch is None else self.run.nearest_epoch(int(epoch)))

    # -- weights -----------------------------------------------------------------------------
    def model(self, epoch: int | None = None):
        """The run's model at ``epoch`` (nearest stored; final by default), shared between threads.

        Do not modify it, and do not run hooked forwards (``run_with_cache``) on it from two threads
        at once (hooks are added to the module while they run); reports read its weights only.
        """
        key = self.resolve_epoch(epoch)
        return self._models.get(key, lambda: self.run.model(key))

    # -- activations -------------------------------------------------------------------------
    def activations(self, hook: str, epoch: int | None = None):
        """All-input activations of ``hook`` at ``epoch`` as a LabelledTensor [a, b, …]."""
        with self._store_lock:
            return self.store.labelled(hook, self.resolve_epoch(epoch))

    labelled = activations  # the ActivationStore interface, so library functions take a session as a store

    def activation_tensor(self, hook: str, epoch: int | None = None):
        with self._store_lock:
            return self.store.get(hook, self.resolve_epoch(epoch))

    # -- reports -----------------------------------------------------------------------------
    def report(self, name: str, epoch: int | None = None, *, on_progress: Callable | None = None,
               cancel: Callable[[], bool] | None = None, **options):
        """Report ``name`` (see :func:`grokviz.analysis.reports.names`) at ``epoch``, computed once.

        Run-wide reports (``per_checkpoint=False``) ignore ``epoch``. ``options`` are report
        parameters (hashable); they are part of the cache key. ``on_progress(fraction, text)`` and
        ``cancel()`` reach reports that take them (slow, run-wide ones); they are not part of the
        key. A cancelled report raises :class:`~grokviz.analysis.reports.ReportCancelled` and
        caches nothing.
        """
        from grokviz.analysis.reports import get

        spec = get(name)
        key_epoch = self.resolve_epoch(epoch) if spec.per_checkpoint else None
        key = (spec.name, key_epoch, tuple(sorted(options.items())))
        extra = {}
        accepted = inspect.signature(spec.compute).parameters
        if on_progress is not None and "on_progress" in accepted:
            extra["on_progress"] = on_progress
        if cancel is not None and "cancel" in accepted:
            extra["cancel"] = cancel
        cache = self._large_reports if spec.large else self._reports
        return cache.get(key, lambda: spec.compute(self, key_epoch, **options, **extra))

    def report_json(self, name: str, epoch: int | None = None, **options):
        from grokviz.analysis.reports import to_json

        return to_json(self.report(name, epoch, **options))

    def clear(self) -> None:
        self._reports.clear()
        self._large_reports.clear()
        self._models.clear()
        with self._store_lock:
            if self._store is not None:
                self._store.clear()


_SESSION_ATTRIBUTE = "_grokviz_session"
_SESSION_LOCK = threading.Lock()


def session_of(run) -> RunSession:
    """The one :class:`RunSession` of ``run`` (made on first use, then kept with the run object)."""
    with _SESSION_LOCK:
        session = run.__dict__.get(_SESSION_ATTRIBUTE)
        if session is None:
            session = RunSession(run)
            run.__dict__[_SESSION_ATTRIBUTE] = session
        return session


def open_session(path, task=None) -> RunSession:
    """Load a run file of any supported format and open its session (notebooks: ``grokviz.open_session``)."""
    from grokviz.core.runfile import load_run

    return session_of(load_run(path, task=task))
