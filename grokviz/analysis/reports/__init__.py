"""The report registry (design.md §9): every derived number grokviz shows is computed here.

A report is a pure function ``compute(session, epoch, **options) -> value``: plain data
(dataclasses, dicts, lists, numbers, :class:`~grokviz.analysis.labelled.LabelledTensor`,
tensors) with a JSON form given by :func:`to_json`. The app's views, ``grokviz analyze``,
``grokviz export`` and notebooks call ``session.report(name, epoch)`` and only present the
result. Each report lives in its own module in this package and registers itself with
:func:`report`; modules are discovered automatically, so adding one needs no list edit.

``per_checkpoint=False`` marks a report over the whole run (history, phases, progress
measures over checkpoints): its ``epoch`` argument is always None. Slow reports may take
``on_progress(fraction, text)`` and ``cancel()`` keyword arguments (the session passes them when
given) and raise :class:`ReportCancelled` when cancelled.

``grokviz analyze --list`` prints the registry; ``grokviz analyze RUN --report NAME --json`` runs one.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
import sys
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ReportSpec:
    name: str
    title: str
    compute: Callable[..., Any]
    per_checkpoint: bool = True
    description: str = ""
    large: bool = False  # tens of MB per value (e.g. activations over all inputs): only a few are kept


class ReportCancelled(Exception):
    """A report stopped early at its ``cancel()``'s request (nothing is cached)."""


_REGISTRY: dict[str, ReportSpec] = {}
_DISCOVERED = False


def report(name: str, title: str, *, per_checkpoint: bool = True, large: bool = False):
    """Decorator: register ``compute(session, epoch, **options)`` as report ``name``.

    ``large`` values (activations over all inputs) are kept in a small cache of their own."""

    def register(function):
        if name in _REGISTRY and _REGISTRY[name].compute is not function:
            raise ValueError(f"report {name!r} is registered twice")
        doc = (function.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ReportSpec(name, title, function, per_checkpoint, doc[0] if doc else "", large)
        return function

    return register


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    _DISCOVERED = True


def get(name: str) -> ReportSpec:
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown report {name!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def specs() -> list[ReportSpec]:
    _discover()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def to_json(value):
    """A JSON-safe form of a report value: non-finite floats become None (with no bare NaN).

    Imports neither torch nor the labelled-tensor module: a value of their types exists only once
    they are loaded (a report read from a file without torch stays without it)."""
    import numpy as np

    torch = sys.modules.get("torch")
    labelled = sys.modules.get("grokviz.analysis.labelled")
    if hasattr(value, "to_json"):
        return to_json(value.to_json())
    if labelled is not None and isinstance(value, labelled.LabelledTensor):
        return {"title": value.title, "note": value.note, "data": to_json(value.data),
                "axes": [{"name": a.name, "kind": a.kind, "ticks": [a.tick(i) for i in range(a.size)]} for a in value.axes]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if torch is not None and isinstance(value, torch.Tensor):
        return to_json(value.detach().cpu().tolist())
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return to_json(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value
