"""Small validators of loaded foreign data: each returns the checked value or raises a one-line
:class:`~grokviz.core.errors.RunFileError` naming the file and the offending entry."""

from __future__ import annotations

import numpy as np
import torch

from grokviz.core.config import ModelConfig
from grokviz.core.errors import RunFileError
from grokviz.core.weights import expected_shapes

_NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)


def _fail(path, message: str):
    raise RunFileError(path, " ".join(str(message).split()))


def _key_list(keys, limit: int = 8) -> str:
    shown = []
    for key in list(keys)[:limit]:
        text = key if isinstance(key, str) else repr(key)
        shown.append(text if len(text) <= 40 else text[:37] + "…")
    more = ", …" if len(keys) > limit else ""
    return "[" + ", ".join(shown) + more + "]"


def brief(value, limit: int = 40) -> str:
    """A short description of a value read from a file, in bounded time (``repr`` of a shared
    structure or a huge integer can take forever; this never recurses)."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 64 else f"a {value.bit_length()}-bit integer"
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).replace('torch.', '')} tensor of shape {list(value.shape)[:8]}"
    if isinstance(value, (list, tuple, dict, set)):
        return f"a {type(value).__name__} of {len(value)} entries"
    return f"a {type(value).__name__}"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def all_finite(tensor: torch.Tensor) -> bool:
    """No NaN or ±inf in ``tensor`` (numpy for the common float types: single-threaded and
    several times faster than torch's isfinite on small tensors on a busy machine)."""
    if not tensor.is_floating_point() or tensor.numel() == 0:
        return True
    if tensor.dtype in _NUMPY_FLOATS:
        return bool(np.isfinite(tensor.detach().numpy()).all())
    return bool(torch.isfinite(tensor).all())


def check_dense(path, tensor: torch.Tensor, name: str) -> torch.Tensor:
    """Refuse tensors that declare more values than they store (e.g. a saved stride-0 ``expand``):
    a tiny file must not be able to make grokviz allocate or scan a huge tensor."""
    stored = tensor.untyped_storage().nbytes()
    if tensor.numel() * tensor.element_size() > stored:
        _fail(
            path,
            f"{name} declares shape {list(tensor.shape)} ({tensor.numel()} values) but stores only "
            f"{stored // max(tensor.element_size(), 1)}: not a plain tensor",
        )
    return tensor


def int_list(path, value, name: str) -> list[int]:
    """A list of non-negative, strictly increasing integers (list, tuple or 1-D int tensor)."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 1 or value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
            _fail(path, f"{name} is a {value.dtype} tensor of shape {list(value.shape)}, expected a list of integers")
        items = check_dense(path, value, name).tolist()
    elif isinstance(value, (list, tuple)):
        items = list(value)
        for item in items:
            if not _is_int(item):
                _fail(path, f"{name} contains {brief(item)}, not an integer")
    else:
        _fail(path, f"{name} is a {type(value).__name__}, expected a list of integers")
    for index, item in enumerate(items):
        if item < 0:
            _fail(path, f"{name}[{index}] = {item} is negative")
        if index and item <= items[index - 1]:
            _fail(path, f"{name} is not strictly increasing ({items[index - 1]} then {item} at position {index})")
    return [int(item) for item in items]


def _float_array(path, value, name: str) -> np.ndarray:
    """Per-epoch losses: list/tuple of numbers (or 0-d tensors), or a 1-D real tensor → float64."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 1 or value.is_complex() or value.dtype == torch.bool:
            _fail(path, f"{name} is a {value.dtype} tensor of shape {list(value.shape)}, expected a list of numbers")
        array = check_dense(path, value, name).detach().to(torch.float64).numpy()
    elif isinstance(value, (list, tuple)):
        if all(_is_number(item) for item in value):
            array = np.asarray(value, dtype=np.float64)
        elif all(isinstance(item, torch.Tensor) and item.numel() == 1 and not item.is_complex() for item in value):
            array = np.asarray([float(item) for item in value], dtype=np.float64)
        else:
            bad = next(item for item in value if not _is_number(item))
            _fail(path, f"{name} contains a {type(bad).__name__}, not a number")
    else:
        _fail(path, f"{name} is a {type(value).__name__}, expected a list of numbers")
    if len(array) == 0:
        _fail(path, f"{name} is empty")
    if bool((array < 0).any()):
        index = int(np.nonzero(array < 0)[0][0])
        _fail(path, f"{name}[{index}] = {array[index]:.3g} is negative, not a cross-entropy loss")
    return array


def _index_tensor(path, value, name: str, p: int) -> torch.Tensor:
    if isinstance(value, (list, tuple)):
        if not all(_is_int(item) for item in value):
            _fail(path, f"{name} contains something other than integers")
        value = torch.tensor(list(value), dtype=torch.int64)
    if not isinstance(value, torch.Tensor):
        _fail(path, f"{name} is a {type(value).__name__}, expected a tensor of row indices")
    if value.dim() != 1 or value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        _fail(path, f"{name} is a {value.dtype} tensor of shape {list(value.shape)}, expected 1-D integer row indices")
    if value.numel() == 0:
        _fail(path, f"{name} is empty")
    rows = check_dense(path, value, name).to(torch.int64)
    low, high = int(rows.min()), int(rows.max())
    if low < 0 or high >= p * p:
        _fail(path, f"{name} has row {low if low < 0 else high}, outside 0…{p * p - 1} (p = {p})")
    if len(torch.unique(rows)) != len(rows):
        _fail(path, f"{name} repeats row indices")
    return rows.clone()


def _tensor(path, state: dict, key: str, what: str, ndim: int) -> torch.Tensor:
    if key not in state:
        _fail(path, f"{what} lacks {key}")
    tensor = state[key]
    if not isinstance(tensor, torch.Tensor):
        _fail(path, f"{what}: {key} is a {type(tensor).__name__}, not a tensor")
    if tensor.dim() != ndim:
        _fail(path, f"{what}: {key} has shape {list(tensor.shape)}, expected {ndim} dimensions")
    if not tensor.is_floating_point():
        _fail(path, f"{what}: {key} has dtype {tensor.dtype}, expected floating point")
    return tensor


def _state(path, value, what: str) -> dict:
    if not isinstance(value, dict):
        _fail(path, f"{what} is a {type(value).__name__}, not a state dict")
    if not all(isinstance(key, str) for key in value):
        _fail(path, f"{what} has non-string keys")
    for key, tensor in value.items():
        if isinstance(tensor, torch.Tensor):
            check_dense(path, tensor, f"{what}: {key}")
    return value


def _config_value(path, config: dict, names, what: str, check, expected: str, default=None):
    """The first present of ``names`` in ``config`` (validated by ``check``), else ``default``."""
    for name in (names,) if isinstance(names, str) else names:
        if name in config and config[name] is not None:
            value = config[name]
            if not check(value):
                _fail(path, f"{what} {name} = {brief(value, 60)} is not {expected}")
            return value
    return default


def _positive_int(value) -> bool:
    return _is_int(value) and value >= 1


def _require_keys(path, data: dict, keys, label: str) -> None:
    missing = [key for key in keys if key not in data]
    if missing:
        _fail(path, f"missing key {missing[0]!r} for a {label} file (it needs {', '.join(keys)})")


def _config_error(path, error: Exception, label: str):
    _fail(path, f"invalid {label} config: {error}")


def _finite_state(path, state: dict, what: str) -> None:
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            _fail(path, f"{what}: {name!r} is a {type(tensor).__name__}, not a tensor")
        if tensor.dim() > 0 and not all_finite(tensor):
            _fail(path, f"{what}: {name!r} contains NaN or infinite values")


def check_state_dict(path, state, cfg: ModelConfig, what: str) -> None:
    """Keys and shapes exactly as design.md §2 for ``cfg``; plain (dense), real, finite values."""
    if not isinstance(state, dict):
        _fail(path, f"{what} is a {type(state).__name__}, not a state dict")
    reference = expected_shapes(cfg)
    missing = sorted(set(reference) - set(state))
    unexpected = sorted(set(state) - set(reference))
    if missing:
        _fail(path, f"{what} lacks {', '.join(missing[:4])}{'…' if len(missing) > 4 else ''}")
    if unexpected:
        _fail(path, f"{what} has unexpected keys {_key_list(unexpected, 4)}")
    for name, shape in reference.items():
        tensor = state[name]
        if not isinstance(tensor, torch.Tensor):
            _fail(path, f"{what}: {name!r} is a {type(tensor).__name__}, not a tensor")
        if tuple(tensor.shape) != tuple(shape):
            _fail(path, f"{what}: {name} has shape {list(tensor.shape)}, expected {list(shape)} for p = {cfg.p}")
        if tensor.is_complex() or tensor.is_quantized or tensor.layout != torch.strided:
            _fail(path, f"{what}: {name} is a {str(tensor.dtype).replace('torch.', '')} {str(tensor.layout).replace('torch.', '')} tensor, expected real numbers")
        check_dense(path, tensor, f"{what}: {name}")
    _finite_state(path, {k: v for k, v in state.items() if k != "blocks.0.attn.IGNORE"}, what)
