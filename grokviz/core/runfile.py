"""grokviz run files (design.md §5.1): plain containers and tensors, read with ``weights_only=True``.

Layout (``format_version`` 1)::

    format: "grokviz-run", format_version, grokviz_version, status, wall_time, device
    task {name, p, m, n}; model_config {...}; train_config {...}; split {kind, seed, frac_train}
    history {epoch, train_loss, test_loss, train_acc, test_acc}   (tensors, one row per evaluation)
    checkpoint_epochs (int64 tensor); checkpoints [state dict, …]; storage_dtype ("float32"/"float16")
    final_state_dict; epochs_trained
    resume {optimizer, grokfast_ema, rng_state} or None
    progress (optional): [{epoch, key_freqs, <progress measures>}, …] computed while training
"""

from __future__ import annotations

from pathlib import Path

import torch

from grokviz.core.atomic import atomic_write
from grokviz.core.version import __version__
from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec
from grokviz.core.errors import GrokvizError, ParameterError, RunFileError
from grokviz.core.history import History
from grokviz.core.run import Run
from grokviz.core.tasks import Task

FORMAT_NAME = "grokviz-run"
FORMAT_VERSION = 1


def _store(state: dict, dtype: torch.dtype) -> dict:
    return {k: (v.detach().to("cpu", dtype) if v.is_floating_point() and v.dim() > 0 else v.detach().cpu()) for k, v in state.items()}


def run_to_dict(run: Run, storage_dtype: torch.dtype = torch.float32) -> dict:
    """The on-disk dict of a run (checkpoints optionally stored in half precision)."""
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "grokviz_version": __version__,
        "status": run.status,
        "wall_time": float(run.wall_time),
        "device": str(run.device),
        "task": run.task.to_dict(),
        "model_config": run.model_config.to_dict(),
        "train_config": run.train_config.to_dict(),
        "split": run.split.to_dict(),
        "history": run.history.to_dict(),
        "checkpoint_epochs": torch.tensor([int(e) for e in run.checkpoint_epochs], dtype=torch.int64),
        "checkpoints": [_store(state, storage_dtype) for state in run.checkpoints],
        "storage_dtype": str(storage_dtype).replace("torch.", ""),
        "final_state_dict": _store(run.final_state_dict, torch.float32),
        "epochs_trained": int(run.epochs_trained),
        "resume": run.resume_state,
        "notes": list(run.notes),
        "explicit_indices": [t.detach().cpu().long() for t in run.explicit_indices] if run.explicit_indices else None,
        **({"progress": list(run.progress)} if run.progress else {}),
    }


def save_run(run: Run, path, storage_dtype: torch.dtype = torch.float32) -> None:
    """Atomically write ``run`` to ``path`` (the old file survives any crash mid-save)."""
    data = run_to_dict(run, storage_dtype)
    with atomic_write(path) as stream:
        torch.save(data, stream)


def _require(path, data: dict, key: str, kinds):
    if key not in data:
        raise RunFileError(path, f"missing key {key!r}")
    value = data[key]
    if not isinstance(value, kinds):
        raise RunFileError(path, f"{key!r} has type {type(value).__name__}, expected {getattr(kinds, '__name__', kinds)}")
    return value


def _finite_state(path, state: dict, what: str) -> None:
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise RunFileError(path, f"{what}: {name!r} is a {type(tensor).__name__}, not a tensor")
        if tensor.is_floating_point() and tensor.dim() > 0 and not bool(torch.isfinite(tensor).all()):
            raise RunFileError(path, f"{what}: {name!r} contains NaN or infinite values")


def check_state_dict(path, state, cfg: ModelConfig, what: str) -> None:
    """Keys and shapes exactly as design.md §2 for ``cfg``; plain (dense), finite values."""
    from grokviz.core.importers import _dense
    from grokviz.core.weights import expected_shapes

    if not isinstance(state, dict):
        raise RunFileError(path, f"{what} is a {type(state).__name__}, not a state dict")
    reference = expected_shapes(cfg)
    missing = sorted(set(reference) - set(state))
    unexpected = sorted(set(state) - set(reference))
    if missing:
        raise RunFileError(path, f"{what} lacks {', '.join(missing[:4])}{'…' if len(missing) > 4 else ''}")
    if unexpected:
        raise RunFileError(path, f"{what} has unexpected keys {', '.join(unexpected[:4])}")
    for name, shape in reference.items():
        tensor = state[name]
        if not isinstance(tensor, torch.Tensor):
            raise RunFileError(path, f"{what}: {name!r} is a {type(tensor).__name__}, not a tensor")
        if tuple(tensor.shape) != tuple(shape):
            raise RunFileError(path, f"{what}: {name} has shape {list(tensor.shape)}, expected {list(shape)} for p = {cfg.p}")
        _dense(path, tensor, f"{what}: {name}")
    _finite_state(path, {k: v for k, v in state.items() if k != "blocks.0.attn.IGNORE"}, what)


def run_from_dict(path, data: dict) -> Run:
    """Validate and build a :class:`Run` from a loaded grokviz run dict."""
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RunFileError(path, "format_version is missing or not an integer")
    if version > FORMAT_VERSION:
        raise RunFileError(
            path,
            f"format_version {version} is newer than this grokviz ({__version__}) understands "
            f"(≤ {FORMAT_VERSION}); upgrade grokviz",
        )
    from grokviz.core.importers import _dense, _int_list

    for name, value in data.items():
        if isinstance(value, torch.Tensor):
            _dense(path, value, name)
    history_data = _require(path, data, "history", dict)
    for name, value in history_data.items():
        if not isinstance(value, torch.Tensor) or value.dim() != 1:
            raise RunFileError(path, f"history column {name!r} is not a 1-D tensor")
        _dense(path, value, f"history column {name!r}")
    try:
        task = Task.from_dict(_require(path, data, "task", dict))
        model_config = ModelConfig.from_dict(_require(path, data, "model_config", dict))
        train_config = TrainConfig.from_dict(_require(path, data, "train_config", dict))
        split = SplitSpec.from_dict(_require(path, data, "split", dict))
        history = History.from_dict(history_data)
    except RunFileError:
        raise
    except KeyError as error:
        raise RunFileError(path, f"invalid configuration: missing field {error}") from None
    except (GrokvizError, TypeError, ValueError) as error:
        raise RunFileError(path, f"invalid configuration: {error}") from None
    if model_config.p != task.p:
        raise RunFileError(path, f"model p = {model_config.p} disagrees with task p = {task.p}")
    epochs = _int_list(path, _require(path, data, "checkpoint_epochs", torch.Tensor), "checkpoint_epochs")
    checkpoints = _require(path, data, "checkpoints", list)
    if len(epochs) != len(checkpoints):
        raise RunFileError(path, f"{len(epochs)} checkpoint epochs but {len(checkpoints)} checkpoints")
    final = _require(path, data, "final_state_dict", dict)
    check_state_dict(path, final, model_config, "final_state_dict")
    for index, state in enumerate(checkpoints):
        check_state_dict(path, state, model_config, f"checkpoint {index} (epoch {epochs[index]})")
    epochs_trained = _require(path, data, "epochs_trained", int)
    if isinstance(epochs_trained, bool) or epochs_trained < 0:
        raise RunFileError(path, f"epochs_trained must be a non-negative integer, got {epochs_trained!r}")
    notes = data.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise RunFileError(path, "notes must be a list of strings")
    indices = data.get("explicit_indices")
    if indices is not None:
        if not (isinstance(indices, (list, tuple)) and len(indices) == 2
                and all(isinstance(t, torch.Tensor) and t.dim() == 1 for t in indices)):
            raise RunFileError(path, "explicit_indices must be two 1-D index tensors (train, test)")
        for t in indices:
            _dense(path, t, "explicit_indices")
            if t.is_floating_point() or (len(t) and (int(t.min()) < 0 or int(t.max()) >= task.p**2)):
                raise RunFileError(path, f"explicit_indices must be row numbers in [0, {task.p**2})")
        indices = (indices[0].long(), indices[1].long())
    resume = data.get("resume")
    progress = _progress_records(data.get("progress"))
    if progress is None and data.get("progress") is not None:
        notes.append("stored progress measures ignored (not a list of per-checkpoint records)")
    return Run(
        task=task,
        model_config=model_config,
        train_config=train_config,
        split=split,
        history=history,
        checkpoint_epochs=[int(e) for e in epochs],
        checkpoints=checkpoints,
        final_state_dict=final,
        epochs_trained=epochs_trained,
        source_format="grokviz",
        path=str(path),
        status=str(data.get("status", "finished")),
        wall_time=float(data.get("wall_time", 0.0)),
        device=str(data.get("device", "cpu")),
        resume_state=resume if isinstance(resume, dict) else None,
        explicit_indices=indices,
        notes=list(notes),
        grokviz_version=str(data.get("grokviz_version", "")),
        progress=progress,
    )


def _progress_records(value) -> list | None:
    """The optional stored progress measures: a list of dicts, each with an int ``epoch``; else None."""
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(r, dict) and isinstance(r.get("epoch"), int) for r in value):
        return None
    return value


MAX_FILE_BYTES = 8 * 1024**3


def read_raw(path):
    """``torch.load(weights_only=True)`` with every failure turned into a one-line RunFileError."""
    path = Path(path)
    if not path.exists():
        raise RunFileError(path, "no such file")
    if path.is_dir():
        raise RunFileError(path, "is a directory, not a run file")
    size = path.stat().st_size
    if size == 0:
        raise RunFileError(path, "the file is empty")
    if size > MAX_FILE_BYTES:
        raise RunFileError(path, f"the file is {size / 1024**3:.1f} GiB, larger than any run grokviz can open")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except Exception as error:  # noqa: BLE001 - every loader failure becomes one message
        raise RunFileError(path, describe_load_error(error)) from None


def describe_load_error(error: Exception) -> str:
    text = str(error).strip().splitlines()
    first = next((line for line in text if line.strip()), type(error).__name__)
    if "Unsupported global" in str(error) or "WeightsUnpickler" in str(error):
        return "not a plain-data torch file (it asks to import code, which grokviz refuses)"
    if "failed finding central directory" in str(error) or "PytorchStreamReader" in str(error):
        return "not a valid torch file (truncated or corrupt zip archive)"
    if isinstance(error, (UnicodeDecodeError,)) or "invalid load key" in str(error):
        return "not a torch file (unrecognised content)"
    return f"cannot be read as a torch file: {first[:200]}"


def load_run(path, task=None) -> Run:
    """Open a grokviz run, a TransformerLens Grokking-demo file, or Nanda's ``full_run_data.pth``.

    ``task`` (a :class:`Task` or a spec like ``"pow:m=4,n=3"``) is needed only for formats that do
    not store it; without it grokviz infers the task from the model's predictions.
    """
    from grokviz.core import importers

    path = Path(path)
    data = importers.read_any(path)
    if not isinstance(data, dict):
        raise RunFileError(path, f"top-level object is a {type(data).__name__}, expected a dict")
    if data.get("format") == FORMAT_NAME:
        run = run_from_dict(path, data)
        if task is not None:
            given = importers.coerce_task(task, run.p)
            if given != run.task:
                raise ParameterError("task", f"{path} is a {run.task.spec} run; it cannot be read as {given.spec}")
        return run
    return importers.import_foreign(path, data, task)
