"""Recognising a loaded foreign dict (Grokking demo or Nanda) and converting it to a :class:`Run`."""

from __future__ import annotations

from pathlib import Path

from grokviz.core.errors import GrokvizError
from grokviz.core.importers.demo import _import_demo
from grokviz.core.importers.nanda import _import_nanda
from grokviz.core.importers.validate import _fail, _key_list
from grokviz.core.run import Run

# Keys only one format has.
DEMO_DISTINCT_KEYS = frozenset({"checkpoints", "checkpoint_epochs", "train_indices", "test_indices"})
NANDA_DISTINCT_KEYS = frozenset({"state_dicts", "epochs"})


def detect_format(data: dict) -> str | None:
    """``"demo"``, ``"nanda"``, ``"grokviz"`` (a grokviz-like dict with a bad header) or None."""
    keys = set(data)
    if "format" in keys or "format_version" in keys:
        return "grokviz"
    if keys & DEMO_DISTINCT_KEYS:
        return "demo"
    if keys & NANDA_DISTINCT_KEYS:
        return "nanda"
    config = data.get("config")
    if isinstance(config, dict):
        if "fn_name" in config or "frac_train" in config:
            return "nanda"
        if "d_vocab" in config or "d_vocab_out" in config:
            return "demo"
    return None


def import_foreign(path, data, task=None) -> Run:
    """Convert a loaded Grokking-demo or Nanda dict to a :class:`Run` (validated throughout)."""
    path = Path(path)
    if not isinstance(data, dict):
        _fail(path, f"top-level object is a {type(data).__name__}, expected a dict")
    kind = detect_format(data)
    if kind == "grokviz":  # grokviz.core.runfile.load_run reads grokviz runs and names their header's fault
        _fail(path, "has a 'format'/'format_version' header, so it is not a Grokking-demo or Nanda file")
    if kind is None:
        _fail(path, f"a dict with keys {_key_list(list(data))} is not a grokviz, Grokking-demo or Nanda run")
    try:
        if kind == "demo":
            return _import_demo(path, data, task)
        return _import_nanda(path, data, task)
    except GrokvizError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError, OverflowError, MemoryError) as error:
        label = "Grokking-demo" if kind == "demo" else "Nanda"
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        _fail(path, f"cannot convert this {label} file: {type(error).__name__}: {message[:160]}")
