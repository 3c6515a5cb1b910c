"""One run's derived data, computed once and shared (design.md §9).

A :class:`RunSession` wraps one :class:`~grokviz.core.run.Run`. The app (one per open run), the
CLI (``info``/``analyze``/``export``) and notebooks (``grokviz.open_session(path)``) all read
every derived number through it, so each number has one implementation (a *report*, see
:mod:`grokviz.analysis.reports`) and is computed once per checkpoint.

Thread-safe: any thread may ask for models, activations or reports. Each cached value is built
under a per-key lock, so two threads asking for the same report at the same epoch compute it
once and both get the same object; different keys compute concurrently.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

MODEL_CACHE_SIZE = 4
REPORT_CACHE_SIZE = 256


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
            finally:
                with self._lock:
                    self._building.pop(key, None)
            with self._lock:
                self._values[key] = value
                while len(self._values) > self.capacity:
                    self._values.popitem(last=False)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class RunSession:
    """Everything derived from one run: models, one shared activation store, cached reports."""

    def __init__(self, run, *, max_cache_bytes: int = 1 << 30, max_cached_checkpoints: int = 3):
        from grokviz.analysis.cache import ActivationStore

        self.run = run
        self._models = _KeyedCache(MODEL_CACHE_SIZE)
        self._reports = _KeyedCache(REPORT_CACHE_SIZE)
        self._store_lock = threading.RLock()
        self.store = ActivationStore(run, max_bytes=max_cache_bytes, max_checkpoints=max_cached_checkpoints,
                                     model_factory=self.model)

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
        """The run's model at ``epoch`` (nearest stored; final by default), shared: do not modify it."""
        key = self.resolve_epoch(epoch)
        return self._models.get(key, lambda: self.run.model(key))

    # -- activations -------------------------------------------------------------------------
    def activations(self, hook: str, epoch: int | None = None):
        """All-input activations of ``hook`` at ``epoch`` as a LabelledTensor [a, b, …]."""
        with self._store_lock:
            return self.store.labelled(hook, self.resolve_epoch(epoch))

    def activation_tensor(self, hook: str, epoch: int | None = None):
        with self._store_lock:
            return self.store.get(hook, self.resolve_epoch(epoch))

    # -- reports -----------------------------------------------------------------------------
    def report(self, name: str, epoch: int | None = None, **options):
        """Report ``name`` (see :func:`grokviz.analysis.reports.names`) at ``epoch``, computed once.

        Run-wide reports (``per_checkpoint=False``) ignore ``epoch``. ``options`` are report
        parameters (hashable); they are part of the cache key.
        """
        from grokviz.analysis.reports import get

        spec = get(name)
        key_epoch = self.resolve_epoch(epoch) if spec.per_checkpoint else None
        key = (spec.name, key_epoch, tuple(sorted(options.items())))
        return self._reports.get(key, lambda: spec.compute(self, key_epoch, **options))

    def report_json(self, name: str, epoch: int | None = None, **options):
        from grokviz.analysis.reports import to_json

        return to_json(self.report(name, epoch, **options))

    def clear(self) -> None:
        self._reports.clear()
        self._models.clear()
        with self._store_lock:
            self.store.clear()


def open_session(path, task=None) -> RunSession:
    """Load a run file of any supported format and open a session on it."""
    from grokviz.core.runfile import load_run

    return RunSession(load_run(path, task=task))
