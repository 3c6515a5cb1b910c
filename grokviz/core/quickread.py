"""A grokviz run file's history and facts in milliseconds, without importing torch.

The app shows a run's curves and facts this way before the engine (torch, ~2 s to import on a
loaded 2-core machine) has loaded; the weights are read later by :func:`grokviz.core.runfile.load_run`.

A run file is a torch zip archive: ``*/data.pkl`` (the pickled dict, ~100 KB) and one entry per
tensor storage. The pickle is read with an unpickler that knows only the few torch names a
tensor reference uses (mapped to inert stand-ins) and refuses every other global, so — like
``torch.load(weights_only=True)`` — nothing from the file is ever executed. Only the history
columns' storages are read (numpy views of the zip entries), and the stored progress records
(plain containers in the pickle). Returns None for anything that is not a plain grokviz run
file, or whose pickle is larger than :data:`MAX_PREVIEW_PICKLE_BYTES` (the full loader, with its
budgets, then reports the problem).
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grokviz.core.history import COLUMNS, History

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_, "BFloat16Storage": None,
}


MAX_PREVIEW_PICKLE_BYTES = 64 * 1024**2  # a grokviz run's data.pkl is ~0.1–2 MB (progress records included)


def progress_records(value) -> list | None:
    """The optional stored progress measures (the run file's ``progress``): a list of dicts,
    each with an int ``epoch``; else None. The one check both readers apply."""
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(r, dict) and isinstance(r.get("epoch"), int) for r in value):
        return None
    return value


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass
class _Storage:
    key: str
    dtype: object


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


def _ordered_dict(*args):
    return dict(*args)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return _ordered_dict
        raise pickle.UnpicklingError(f"{module}.{name} is not plain run data")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id")
        kind = pid[1]
        dtype = _STORAGE_DTYPES.get(kind.name) if isinstance(kind, _StorageType) else None
        return _Storage(str(pid[2]), dtype)


@dataclass(frozen=True)
class RunPreview:
    """What the app shows first: history and facts (plain dicts as stored)."""

    path: str
    task: dict
    model_config: dict
    train_config: dict
    split: dict
    history: History
    epochs_trained: int
    checkpoint_epochs: tuple
    status: str
    progress: list | None = None

    @property
    def n_checkpoints(self) -> int:
        return len(self.checkpoint_epochs)

    @property
    def epochs(self) -> list[int]:
        """Epochs with weights, as :attr:`grokviz.core.run.Run.epochs`: the checkpoints plus the final epoch."""
        epochs = list(self.checkpoint_epochs)
        if not epochs or epochs[-1] != self.epochs_trained:
            epochs.append(self.epochs_trained)
        return epochs

    @property
    def p(self) -> int:
        return int(self.task["p"])

    @property
    def task_spec(self) -> str:
        name = self.task.get("name", "?")
        if name == "pow":
            return f"pow:m={self.task.get('m', 1)},n={self.task.get('n', 1)}"
        return str(name)


def _array(archive: zipfile.ZipFile, prefix: str, ref) -> np.ndarray:
    if not isinstance(ref, _TensorRef) or ref.storage.dtype is None or len(ref.size) != 1:
        raise ValueError("not a 1-D tensor")
    if ref.size[0] == 0:
        return np.zeros(0, dtype=ref.storage.dtype)
    raw = archive.read(f"{prefix}data/{ref.storage.key}")
    values = np.frombuffer(raw, dtype=ref.storage.dtype)
    return values[ref.offset: ref.offset + ref.size[0] * ref.stride[0]: ref.stride[0]][: ref.size[0]].copy()


def read_preview(path) -> RunPreview | None:
    """The history and facts of the grokviz run file ``path``, or None (other formats, damage)."""
    try:
        with zipfile.ZipFile(Path(path)) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1 or archive.getinfo(pickles[0]).file_size > MAX_PREVIEW_PICKLE_BYTES:
                return None
            prefix = pickles[0][: -len("data.pkl")]
            with archive.open(pickles[0]) as stream:
                data = _Unpickler(stream).load()
            if not isinstance(data, dict) or data.get("format") != "grokviz-run":
                return None
            history = History.from_columns(**{name: _array(archive, prefix, data["history"][name])
                                              for name in COLUMNS if name in data["history"]})
            epochs = tuple(int(e) for e in _array(archive, prefix, data["checkpoint_epochs"]))
            return RunPreview(str(path), dict(data["task"]), dict(data["model_config"]), dict(data["train_config"]),
                              dict(data["split"]), history, int(data["epochs_trained"]), epochs,
                              str(data.get("status", "finished")), progress_records(data.get("progress")))
    except Exception:  # noqa: BLE001 - a preview is optional; the full loader reports problems
        return None
