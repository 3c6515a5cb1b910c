"""Inert stand-ins the TransformerLens-config fallback lets torch's weights-only unpickler build
(design.md §5.2): they hold data only and are replaced by plain values before a loader returns."""

from __future__ import annotations

import numpy as np

NUMPY_CODES = frozenset({"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"})


class PickledConfig:
    """Inert stand-in for a pickled TransformerLens config: it only keeps the field dict.

    Built by torch's weights-only unpickler (``__new__`` + ``__setstate__``); it has no
    behaviour, and :func:`~.safe_load.read_any` replaces it with ``dict(fields)`` before returning.
    """

    __slots__ = ("fields", "problem")

    def __setstate__(self, state):
        self.problem = None
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        fields = {}
        for part in (state, slots):
            if part is None:
                continue
            if not isinstance(part, dict) or not all(isinstance(k, str) for k in part):
                self.problem = f"its state is a {type(part).__name__}, not a dict of named fields"
                break
            fields.update(part)
        self.fields = fields


class NumpyDType:
    """Stand-in for ``numpy.dtype(code, align, copy)`` as pickled inside a numpy scalar."""

    __slots__ = ("code", "order")

    def __init__(self, code=None, align=False, copy=True):
        self.code = code if isinstance(code, str) else None
        self.order = "="

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.order = state[1]

    def __str__(self):
        return f"{self.order}{self.code}"


def numpy_scalar(dtype, data=None):
    """Rebuild a numeric numpy scalar (``numpy.core.multiarray.scalar``) as a Python number."""
    if not isinstance(dtype, NumpyDType) or dtype.code not in NUMPY_CODES:
        raise ValueError(f"numpy scalar of unsupported dtype {getattr(dtype, 'code', type(dtype).__name__)!r:.20}")
    np_dtype = np.dtype(dtype.order.replace("|", "=") + dtype.code)
    if not isinstance(data, (bytes, bytearray)) or len(data) != np_dtype.itemsize:
        raise ValueError("malformed numpy scalar")
    return np.frombuffer(bytes(data), dtype=np_dtype, count=1)[0].item()
