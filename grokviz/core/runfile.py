"""grokviz run files (design.md §5.1): plain containers and tensors, read with ``weights_only=True``.

Layout (``format_version`` 2)::

    format: "grokviz-run", format_version, grokviz_version, status, wall_time, device
    task {name, p, m, n}; model_config {...}; train_config {...}; split {kind, seed, frac_train}
    history {epoch, train_loss, test_loss, train_acc, test_acc}   (tensors, one row per evaluation)
    checkpoint_epochs (int64 tensor); checkpoint_stack {name: [n_checkpoints, *shape]}; storage_dtype
    ("float32"/"float16")
    final_state_dict; epochs_trained
    resume {optimizer, grokfast_ema, rng_state} or None
    checksum {algorithm, keys, crc32}   (CRC-32 of the tensors under keys; absent in older files)
    progress (optional): [{epoch, key_freqs, <progress measures>}, …] computed while training
    checkpoint_accuracy (optional): {definition, epochs, train_acc, test_acc, weights_crc32, notes}, plain
    lists: accuracies at the checkpoints computed from the weights (grokviz.core.stored_accuracy)

Readers tolerate extra optional top-level keys (e.g. one a newer grokviz adds).

Format 1 stored ``checkpoints`` as a list of state dicts; it is still read. Format 2 stacks each
parameter over the checkpoints (the checkpoints become views into the stacks when read): a file
holds ~20 tensors instead of ~18 per checkpoint, and loading is bound by bytes rather than by
torch's (pure-Python) weights-only unpickler walking thousands of tensor records — 100
checkpoints at p = 113 load in ~0.35 s instead of ~1.1 s (measured).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from grokviz.core import importers
from grokviz.core.atomic import atomic_write, payload_bytes
from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec
from grokviz.core.errors import GrokvizError, ParameterError, RunFileError, display_path
from grokviz.core.history import History
from grokviz.core.importers.checksum import KEY as CHECKSUM_KEY
from grokviz.core.importers.checksum import checksum_entry, verify_checksum
from grokviz.core.importers.validate import brief, check_dense, check_state_dict, int_list
from grokviz.core.quickread import progress_records
from grokviz.core.run import Run
from grokviz.core.stored_accuracy import KEY as ACCURACY_KEY
from grokviz.core.stored_accuracy import read_entry
from grokviz.core.tasks import Task
from grokviz.core.version import __version__

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "check_state_dict", "load_run", "run_from_dict", "run_to_dict", "save_run"]

FORMAT_NAME = "grokviz-run"
FORMAT_VERSION = 2


def _stored(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A tensor as saved: on the CPU, floating-point arrays in the storage dtype."""
    if tensor.is_floating_point() and tensor.dim() > 0:
        return tensor.detach().to("cpu", dtype)
    return tensor.detach().cpu()


def _store(state: dict, dtype: torch.dtype) -> dict:
    return {k: _stored(v, dtype) for k, v in state.items()}


def _stack(states: list, dtype: torch.dtype) -> dict:
    """{name: [n, *shape]}: each parameter of the (same-shaped) state dicts stacked in order."""
    if not states:
        return {}
    return {name: torch.stack([_stored(state[name], dtype) for state in states]) for name in states[0]}


def _unstack(path, stack, n: int) -> list:
    """The checkpoints of a ``checkpoint_stack``: ``n`` state dicts of views (no copies)."""
    if not isinstance(stack, dict):
        raise RunFileError(path, f"'checkpoint_stack' has type {type(stack).__name__}, expected dict")
    for name, tensor in stack.items():
        if not isinstance(tensor, torch.Tensor) or tensor.dim() == 0 or tensor.shape[0] != n:
            raise RunFileError(path, f"checkpoint_stack[{brief(name, 60)}] is {brief(tensor)}, "
                                     f"expected a tensor with one row per checkpoint ({n})")
        check_dense(path, tensor, f"checkpoint_stack[{brief(name, 60)}]")
    return [{name: tensor[index] for name, tensor in stack.items()} for index in range(n)]


def run_to_dict(run: Run, storage_dtype: torch.dtype = torch.float32) -> dict:
    """The on-disk dict of a run (checkpoints optionally stored in half precision), with the
    checksum of its tensors as the last entry."""
    data = {
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
        "checkpoint_stack": _stack(list(run.checkpoints), storage_dtype),
        "storage_dtype": str(storage_dtype).replace("torch.", ""),
        "final_state_dict": _store(run.final_state_dict, torch.float32),
        "epochs_trained": int(run.epochs_trained),
        "resume": run.resume_state,
        "notes": list(run.notes),
        "explicit_indices": [t.detach().cpu().long() for t in run.explicit_indices] if run.explicit_indices else None,
        **({"progress": list(run.progress)} if run.progress else {}),
        **({ACCURACY_KEY: run.checkpoint_accuracy} if run.checkpoint_accuracy else {}),
    }
    data[CHECKSUM_KEY] = checksum_entry(data)
    return data


def save_run(run: Run, path, storage_dtype: torch.dtype = torch.float32) -> None:
    """Atomically write ``run`` to ``path`` (the old file survives any crash mid-save)."""
    data = run_to_dict(run, storage_dtype)
    with atomic_write(path, expected_size=payload_bytes(data)) as stream:  # SaveError: one line, run kept
        torch.save(data, stream)


def _require(path, data: dict, key: str, kinds):
    if key not in data:
        raise RunFileError(path, f"missing key {key!r}")
    value = data[key]
    if not isinstance(value, kinds):
        raise RunFileError(path, f"{key!r} has type {type(value).__name__}, expected {getattr(kinds, '__name__', kinds)}")
    return value


_SCALARS = (str, int, float, bool, type(None))


def _plain_config(path, data: dict, key: str) -> dict:
    """A config section: a dict of scalars, short lists of scalars or one level of such dicts
    (``train_config.grokfast``), checked before the dataclasses see (and print) any value."""
    section = _require(path, data, key, dict)
    for name, value in section.items():
        if not isinstance(name, str):
            raise RunFileError(path, f"{key} has a non-string key {brief(name)}")
        inner = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else (value,)
        if isinstance(value, (list, tuple, dict)) and len(value) > 8:
            raise RunFileError(path, f"{key}.{name[:40]} is {brief(value)}, expected a number or a short list")
        for item in inner:
            if not isinstance(item, _SCALARS):
                raise RunFileError(path, f"{key}.{name[:40]} holds {brief(item)}, expected plain numbers or names")
    return section


def _text(path, data: dict, key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise RunFileError(path, f"{key!r} is {brief(value)}, expected a string")
    return value


def _wall_time(path, data: dict) -> float:
    value = data.get("wall_time", 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise RunFileError(path, f"'wall_time' is {brief(value)}, expected a non-negative number of seconds")
    return float(value)


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
    verify_checksum(path, data)  # first: a corrupted file is named as such, not by its symptom
    for name, value in data.items():
        if isinstance(value, torch.Tensor):
            check_dense(path, value, name)
    history_data = _require(path, data, "history", dict)
    for name, value in history_data.items():
        if not isinstance(value, torch.Tensor) or value.dim() != 1:
            raise RunFileError(path, f"history column {name!r} is not a 1-D tensor")
        check_dense(path, value, f"history column {name!r}")
        if value.is_complex():
            raise RunFileError(path, f"history column {name!r} is complex, expected real numbers")
    try:
        task = Task.from_dict(_plain_config(path, data, "task"))
        model_config = ModelConfig.from_dict(_plain_config(path, data, "model_config"))
        train_config = TrainConfig.from_dict(_plain_config(path, data, "train_config"))
        split = SplitSpec.from_dict(_plain_config(path, data, "split"))
        history = History.from_dict(history_data)
    except RunFileError:
        raise
    except KeyError as error:
        raise RunFileError(path, f"invalid configuration: missing field {error}") from None
    except (GrokvizError, TypeError, ValueError, ArithmeticError) as error:
        raise RunFileError(path, f"invalid configuration: {error}") from None
    if model_config.p != task.p:
        raise RunFileError(path, f"model p = {model_config.p} disagrees with task p = {task.p}")
    epochs = int_list(path, _require(path, data, "checkpoint_epochs", torch.Tensor), "checkpoint_epochs")
    if version >= 2:
        checkpoints = _unstack(path, _require(path, data, "checkpoint_stack", dict), len(epochs))
    else:
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
            check_dense(path, t, "explicit_indices")
            if t.is_floating_point() or (len(t) and (int(t.min()) < 0 or int(t.max()) >= task.p**2)):
                raise RunFileError(path, f"explicit_indices must be row numbers in [0, {task.p**2})")
        indices = (indices[0].long(), indices[1].long())
    resume = data.get("resume")
    progress = progress_records(data.get("progress"))
    if progress is None and data.get("progress") is not None:
        notes.append("stored progress measures ignored (not a list of per-checkpoint records)")
    accuracy = read_entry(data.get(ACCURACY_KEY), notes)
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
        status=_text(path, data, "status", "finished"),
        wall_time=_wall_time(path, data),
        device=_text(path, data, "device", "cpu"),
        resume_state=resume if isinstance(resume, dict) else None,
        explicit_indices=indices,
        notes=list(notes),
        grokviz_version=_text(path, data, "grokviz_version", ""),
        progress=progress,
        checkpoint_accuracy=accuracy,
    )


def load_run(path, task=None) -> Run:
    """Open a grokviz run, a TransformerLens Grokking-demo file, or Nanda's ``full_run_data.pth``.

    ``task`` (a :class:`Task` or a spec like ``"pow:m=4,n=3"``) is needed only for formats that do
    not store it; without it grokviz infers the task from the model's predictions.
    """
    path = Path(path)
    data = importers.read_any(path)
    if not isinstance(data, dict):
        raise RunFileError(path, f"top-level object is a {type(data).__name__}, expected a dict")
    ours = data.get("format") == FORMAT_NAME
    if not ours and importers.detect_format(data) == "grokviz":
        fmt = data.get("format")
        if fmt is None:
            raise RunFileError(path, f"has a format_version but no format {FORMAT_NAME!r}: not a grokviz run")
        raise RunFileError(path, f"format {brief(fmt, 60)} is not a grokviz run (expected {FORMAT_NAME!r})")
    if not (ours and CHECKSUM_KEY in data):
        importers.verify_crcs(path)  # foreign or older files: the zip's own CRCs
    if ours:
        run = run_from_dict(path, data)
        if task is not None:
            given = importers.coerce_task(task, run.p)
            if given != run.task:
                raise ParameterError("task", f"{display_path(path)} is a {run.task.spec} run; it cannot be read as {given.spec}")
        return run
    return importers.import_foreign(path, data, task)
