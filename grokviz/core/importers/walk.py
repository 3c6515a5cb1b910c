"""One bounded pass over a loaded file's structure (issue 18), before anything else walks it.

A pickle can share one list between two places, and so describe 2⁴⁰ entries in 1.7 KB (a
40-level ``[node, node]``). Every naive walk of such a structure (validation, ``repr``, JSON,
``copy.deepcopy``, an optimizer's ``load_state_dict``) never ends. :func:`check_structure`
visits each distinct container once (memoised by ``id``), computes the structure's *expanded*
size, and refuses it past ``budgets.MAX_WALK_NODES``, as well as reference cycles, nesting
deeper than ``budgets.MAX_DEPTH`` and tensors that are not plain dense CPU arrays of real
numbers. Afterwards any walk of the data is bounded by the budget.
"""

from __future__ import annotations

import torch

from grokviz.core.errors import RunFileError
from grokviz.core.importers import budgets
from grokviz.core.importers.standins import PickledConfig

_LEAVES = (str, int, float, bool, type(None), bytes, complex)
_PLAIN_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)
_IN_PROGRESS = -1


def entry_name(path: tuple) -> str:
    """``('checkpoints', 3, 'embed.W_E')`` → ``checkpoints[3]['embed.W_E']``."""
    if not path:
        return "the top-level object"
    shown = path if len(path) <= 6 else path[:4] + ("…",) + path[-1:]
    text = str(shown[0])[:60]
    for key in shown[1:]:
        text += f"[{key}]" if isinstance(key, int) or key == "…" else f"[{str(key)[:60]!r}]"
    return text + (f" ({len(path)} levels down)" if len(path) > 6 else "")


def tensor_problem(tensor: torch.Tensor) -> str | None:
    """Why ``tensor`` is not a plain, dense, real-valued CPU tensor whose values are all stored."""
    if type(tensor) not in _PLAIN_TENSOR_TYPES:
        return f"is a {type(tensor).__name__}, a tensor subclass"
    if tensor.layout != torch.strided:
        return f"is a {str(tensor.layout).replace('torch.', '')} (sparse) tensor"
    if tensor.is_quantized:
        return f"is a quantized tensor ({str(tensor.dtype).replace('torch.', '')})"
    if tensor.is_meta or tensor.device.type != "cpu":
        return f"is a {tensor.device.type} tensor without loadable data"
    if tensor.is_complex():
        return f"is a complex tensor ({str(tensor.dtype).replace('torch.', '')}); run files hold real numbers"
    stored = tensor.untyped_storage().nbytes()
    if tensor.numel() * tensor.element_size() > stored:
        return (
            f"declares shape {list(tensor.shape)} ({tensor.numel()} values) but stores only "
            f"{stored // max(tensor.element_size(), 1)}: not a plain tensor"
        )
    return None


def check_structure(path, data) -> int:
    """Refuse ``data`` unless it is a finite tree of plain values within the budgets; return its
    expanded size. Linear in the number of distinct objects."""
    limit, max_depth = budgets.MAX_WALK_NODES, budgets.MAX_DEPTH
    memo: dict = {}

    def fail(where: tuple, message: str):
        raise RunFileError(path, f"{entry_name(where)} {message}")

    def visit(value, where: tuple) -> int:
        kind = type(value)
        if kind in _LEAVES:
            return 1
        if isinstance(value, torch.Tensor):
            problem = tensor_problem(value)
            if problem:
                fail(where, problem)
            return 1
        if isinstance(value, dict):
            children = value.items()
        elif isinstance(value, (list, tuple, set, frozenset)):
            children = enumerate(value)
        elif isinstance(value, PickledConfig):
            children = getattr(value, "fields", {}).items()
        else:  # dtype, device, storages, NumpyDType, Counter-free scalars: leaves (torch.Size is a tuple)
            return 1
        key = id(value)
        known = memo.get(key)
        if known is not None:
            if known == _IN_PROGRESS:
                fail(where, "contains itself (a reference cycle), which no run file does")
            return known
        if len(where) > max_depth:
            fail(where, f"is nested more than {max_depth} levels deep (limit budgets.MAX_DEPTH)")
        memo[key] = _IN_PROGRESS
        total = 1
        for name, child in children:
            total += 1 if type(child) in _LEAVES else visit(child, where + (name,))
            if total > limit:
                fail(
                    where,
                    f"expands to more than {limit:,} entries (limit budgets.MAX_WALK_NODES): "
                    "the file shares the same lists many times over (a 'billion laughs' structure)",
                )
        memo[key] = total
        return total

    return visit(data, ())
