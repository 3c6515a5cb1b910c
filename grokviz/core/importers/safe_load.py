"""Safe loading of any run file (design.md §5.2): weights-only ``torch.load`` and one-line errors.

:func:`read_any` loads a file with ``torch.load(weights_only=True)``. A TransformerLens
Grokking-demo file holds a pickled ``HookedTransformerConfig``; weights-only loading refuses
that class (and TransformerLens 4 no longer has its module). Only in that case the file is
loaded again, still by torch's weights-only unpickler, with the config's class path mapped to
an inert stand-in (:class:`PickledConfig`) whose fields become a plain dict. Nothing from the
file is imported or executed. :func:`describe_load_error` turns any loader failure into one line.
Before torch reads anything, :mod:`.archive` checks the container and dry-runs the pickle, and
after, :mod:`.walk` checks the loaded structure (issue 18: bounded memory and time).
"""

from __future__ import annotations

import re
import threading
import warnings
from pathlib import Path

import torch

from grokviz.core.errors import RunFileError
from grokviz.core.importers import budgets
from grokviz.core.importers.archive import ZIP_MAGIC, ArchiveRefused, precheck, verify_zip_crcs
from grokviz.core.importers.standins import NumpyDType, PickledConfig, numpy_scalar
from grokviz.core.importers.walk import check_structure

CONFIG_CLASS_NAMES = ("HookedTransformerConfig", "EasyTransformerConfig")
CONFIG_MODULE_ROOTS = ("transformer_lens", "easy_transformer")
NUMPY_SCALAR_PATHS = ("numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar")
NUMPY_DTYPE_PATHS = ("numpy.dtype",)

_GLOBAL_RE = re.compile(r"GLOBAL (\S+) was not an allowed global")
_FALLBACK_LOCK = threading.Lock()


def _check_file(path: Path) -> None:
    """read_raw's pre-checks: missing, directory, empty, larger than any run."""
    if not path.exists():
        raise RunFileError(path, "no such file")
    if path.is_dir():
        raise RunFileError(path, "is a directory, not a run file")
    if not path.is_file():
        raise RunFileError(path, "is not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise RunFileError(path, "the file is empty")
    if size > budgets.MAX_FILE_BYTES:
        raise RunFileError(path, f"the file is {size / 1024**3:.1f} GiB, larger than any run grokviz can open")


def _load(path: Path):
    with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": noise on a refused file
        warnings.simplefilter("ignore")
        return torch.load(path, map_location="cpu", weights_only=True, mmap=False)


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as stream:
            return stream.read(4)
    except OSError:
        return b""


def _refused_global(error: Exception) -> str | None:
    match = _GLOBAL_RE.search(str(error))
    return match.group(1) if match else None


def _is_config_class(full_path: str) -> bool:
    module, _, name = full_path.rpartition(".")
    return name in CONFIG_CLASS_NAMES and module.split(".")[0] in CONFIG_MODULE_ROOTS


def _fallback_global(full_path: str):
    """The stand-in allowed for ``full_path`` in the config fallback, or None (refuse)."""
    if _is_config_class(full_path):
        return PickledConfig
    if full_path in NUMPY_SCALAR_PATHS:
        return numpy_scalar
    if full_path in NUMPY_DTYPE_PATHS:
        return NumpyDType
    return None


class _ConfigClassNames:
    """The names the config fallback lets torch build (for the pickle dry run)."""

    def __contains__(self, full_path) -> bool:
        return isinstance(full_path, str) and _is_config_class(full_path)


_FALLBACK_CLASSES = _ConfigClassNames()
_FALLBACK_FUNCTIONS = frozenset(NUMPY_SCALAR_PATHS + NUMPY_DTYPE_PATHS)
_BLOCKED_RE = re.compile(r"unsupported GLOBAL (\S+) whose module")


def _torch_reason(text: str) -> str:
    """The real reason inside torch's long weights-only message (or its first line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip()
            if rest:
                return rest
            if index + 1 < len(lines):
                return lines[index + 1]
    return lines[0] if lines else ""


def describe_load_error(error: Exception, head: bytes = b"") -> str:
    """One specific line for a ``torch.load`` failure (``head``: the file's first bytes)."""
    text = str(error)
    refused = _refused_global(error)
    if refused is None:
        match = _BLOCKED_RE.search(text)
        refused = match.group(1) if match else None
    if refused:
        return f"not a plain-data torch file: it asks to import {refused[:120]}, which grokviz refuses"
    if "Trying to call reduce" in text or "Can only build" in text or "Can only create new object" in text:
        return "not a plain-data torch file: it asks to run code, which grokviz refuses"
    if isinstance(error, MemoryError) or "can't allocate memory" in text:
        return "declares tensors too large to load"
    if "out of bounds for storage" in text or "setStorage" in text:
        return "not a valid torch file (a tensor is larger than its stored data)"
    if head.startswith(ZIP_MAGIC):
        if "not in a subdirectory" in text or "failed locating file" in text or "file not found" in text:
            return "a zip archive, but not a torch file (no data.pkl record inside)"
        if "PytorchStreamReader" in text or "zip" in text.lower() or "central directory" in text:
            return "not a valid torch file (truncated or corrupt zip archive)"
    if "failed finding central directory" in text or "failed reading zip archive" in text:
        return "not a valid torch file (truncated or corrupt zip archive)"
    if isinstance(error, EOFError) or "Ran out of input" in text:
        return "not a valid torch file (it ends too early)"
    reason = _torch_reason(text)
    if (
        "Unsupported operand" in reason
        or "invalid load key" in text
        or isinstance(error, (UnicodeDecodeError, IndexError, KeyError))
        or "magic number" in text
    ):
        return "not a torch file (unrecognised content)"
    return f"cannot be read as a torch file: {(reason or type(error).__name__)[:200]}"


_STAND_INS = (PickledConfig, NumpyDType, dict, list, tuple)


def _to_plain(value, memo: dict | None = None):
    """Replace stand-ins by plain data (configs by their field dicts) in the loaded object.

    Runs after :func:`~.walk.check_structure` (so no cycles, bounded depth); each shared
    container is converted once and stays shared (``memo``: id → converted value).
    """
    memo = {} if memo is None else memo
    key = id(value)
    if key in memo:
        return memo[key]
    if isinstance(value, PickledConfig):
        result = memo[key] = {}
        result.update((k, _to_plain(v, memo)) for k, v in getattr(value, "fields", {}).items())
        return result
    if isinstance(value, NumpyDType):
        return str(value)
    if isinstance(value, dict):
        memo[key] = value
        for name, item in value.items():
            if isinstance(item, _STAND_INS):
                value[name] = _to_plain(item, memo)
        return value
    if isinstance(value, list):
        memo[key] = value
        for index, item in enumerate(value):
            if isinstance(item, _STAND_INS):
                value[index] = _to_plain(item, memo)
        return value
    if isinstance(value, tuple) and any(isinstance(v, _STAND_INS) for v in value):
        memo[key] = tuple(_to_plain(v, memo) for v in value)
        return memo[key]
    return value


def _config_problem(value, seen: set | None = None) -> str | None:
    """The first stand-in config that could not be read, in a bounded, acyclic structure."""
    seen = set() if seen is None else seen
    if isinstance(value, PickledConfig):
        if not hasattr(value, "fields"):
            return "the pickled config has no fields"
        if value.problem:
            return value.problem
        value = value.fields
    if isinstance(value, dict):
        values = value.values()
    elif isinstance(value, (list, tuple)):
        values = value
    else:
        return None
    if id(value) in seen:
        return None
    seen.add(id(value))
    for item in values:
        if isinstance(item, (PickledConfig, dict, list, tuple)):
            problem = _config_problem(item, seen)
            if problem:
                return problem
    return None


def _precheck(path: Path) -> None:
    try:
        precheck(path, _FALLBACK_CLASSES, _FALLBACK_FUNCTIONS)
    except ArchiveRefused as error:
        raise RunFileError(path, str(error)) from None


def read_any(path):
    """Load ``path`` safely (weights-only); a Grokking-demo config is read as plain data.

    The container and its pickle are checked first (:mod:`.archive`, within :mod:`.budgets`),
    the loaded structure after (:func:`~.walk.check_structure`). Every failure is a
    :class:`RunFileError` with one line naming the file.
    """
    path = Path(path)
    _check_file(path)
    _precheck(path)
    try:
        data = _load(path)
    except Exception as error:  # noqa: BLE001 - every loader failure becomes one message
        data = _load_with_config(path, error)
    else:
        check_structure(path, data)
        return data
    check_structure(path, data)
    problem = _config_problem(data)
    if problem:
        raise RunFileError(path, f"the pickled TransformerLens config cannot be read: {problem}")
    return _to_plain(data)


def _load_with_config(path: Path, first_error: Exception):
    """The config fallback: load again with the config class (and numpy scalars) as stand-ins."""
    head = _head(path)
    refused = _refused_global(first_error)
    if refused is None or not _is_config_class(refused):
        raise RunFileError(path, describe_load_error(first_error, head)) from None

    # numpy scalars occur inside TL configs (initializer_range = 0.8 / np.sqrt(d_model))
    allowed = [(PickledConfig, refused), (NumpyDType, "numpy.dtype")]
    allowed += [(numpy_scalar, name) for name in NUMPY_SCALAR_PATHS]
    with _FALLBACK_LOCK:
        for _ in range(8):  # each retry allows one more config/numpy path, never anything else
            try:
                with torch.serialization.safe_globals(allowed):
                    return _load(path)
            except Exception as error:  # noqa: BLE001
                refused = _refused_global(error)
                stand_in = _fallback_global(refused) if refused else None
                if stand_in is None or any(name == refused for _, name in allowed):
                    raise RunFileError(path, describe_load_error(error, head)) from None
                allowed.append((stand_in, refused))
    raise RunFileError(path, "the pickled TransformerLens config could not be read as plain data")


def verify_crcs(path) -> None:
    """Check a zip-format file's records against their stored CRC-32s (one read of the file;
    ``data.pkl`` was checked by :func:`read_any` already). Legacy files have none."""
    path = Path(path)
    if _head(path).startswith(ZIP_MAGIC):
        try:
            verify_zip_crcs(path, skip=("/data.pkl",))
        except ArchiveRefused as error:
            raise RunFileError(path, str(error)) from None
