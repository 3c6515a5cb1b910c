"""Answer-major re-orderings of the [a, b] input grid (design.md §6, "Re-orderings").

A layout names the two trailing axes: ``ab``, ``ba``, ``ca``, ``cb``, ``ac``, ``bc``. For each
cell (x, y) of the layout the input row is the unique (a, b) with those values; where the task
gives no input or several inputs for a cell (mul with a = 0, pow with gcd(n, p−1) > 1, div's
b = 0 rows), the cell is marked invalid in ``valid``, holds NaN, and ``note`` says why — the
grid is never silently mis-indexed. ``meta['counts']`` holds the number of inputs per cell.
"""

from __future__ import annotations

import functools

import torch

from grokviz.analysis.cache import token_axis
from grokviz.analysis.labelled import LabelledTensor

LAYOUTS = ("ab", "ba", "ca", "cb", "ac", "bc")
POSITIONS = ("a", "b", "=")  # the token positions ``reorder(position=…)`` accepts
DEFAULT_POSITION = "="  # after attention: where the answer is read out
DEFAULT_LAYOUT = "ca"  # answer-major: the view in which the c/2 symmetry shows (design.md §6)


def layout_label(layout) -> str:
    """``"ca"`` → ``"[c, a]"`` (how views name an ordering; :func:`reorder` accepts both)."""
    x_name, y_name = _parse_layout(layout)
    return f"[{x_name}, {y_name}]"


def orderings(task=None) -> tuple[str, ...]:
    """The orderings a view offers for ``task``, as labels: the list views show (data, not UI).
    Ragged ones are included — :func:`reorder` marks their invalid cells (design.md §6)."""
    return tuple(layout_label(layout) for layout in ("ab", "ca", "cb", "ac", "bc", "ba"))


def default_ordering(task=None) -> str:
    return layout_label(DEFAULT_LAYOUT)


def parse_layout(layout) -> tuple[str, str]:
    """The two trailing axis names of a layout or ordering label (``"[c, a]"`` → ``("c", "a")``)."""
    return _parse_layout(layout)


def _parse_layout(layout) -> tuple[str, str]:
    text = "".join(layout) if not isinstance(layout, str) else layout.replace(",", "").replace(" ", "")
    text = text.strip("[]")
    if text not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    return text[0], text[1]


@functools.lru_cache(maxsize=64)
def layout_table(task, layout: str):
    """(rows [p, p] long, valid [p, p] bool, counts [p, p] long) of ``layout`` for ``task``.

    ``rows[x, y]`` is the input row a·p + b of cell (x, y) where ``valid``; 0 elsewhere.
    """
    x_name, y_name = _parse_layout(layout)
    p = task.p
    labels = task.labels()
    rows = torch.arange(p * p)
    values = {"a": rows // p, "b": rows % p, "c": labels}
    ok = labels >= 0
    key = values[x_name][ok] * p + values[y_name][ok]
    counts = torch.bincount(key, minlength=p * p)
    table = torch.zeros(p * p, dtype=torch.long)
    table[key] = rows[ok]  # where counts == 1 this is the unique row
    valid = counts == 1
    table[~valid] = 0
    return table.view(p, p), valid.view(p, p), counts.view(p, p)


def layout_note(task, layout: str) -> str:
    """Empty for bijective layouts; otherwise why and where the grid is ragged."""
    x_name, y_name = _parse_layout(layout)
    _, valid, counts = layout_table(task, x_name + y_name)
    if bool(valid.all()):
        return ""
    empty, multiple = int((counts == 0).sum()), int((counts > 1).sum())
    third = ({"a", "b", "c"} - {x_name, y_name}).pop()
    return (f"[{x_name}, {y_name}] is ragged for {task.formula}: ({x_name}, {y_name}) does not determine {third} "
            f"everywhere — {empty} cells have no input, {multiple} cells have several; those cells are invalid (NaN)")


def reorder(tensor: LabelledTensor, task, layout="ca", position=None) -> LabelledTensor:
    """Re-index ``tensor``'s ``a, b`` axes to the trailing axes of ``layout`` (design.md §6).

    ``position`` (0/1/2 or ``'a'``, ``'b'``, ``'='``) first fixes the ``pos`` axis. The other
    axes keep their order, e.g. ``a, b, pos, head, d_head`` at ``=`` as ``ca`` →
    ``head, d_head, c, a``. Ragged layouts set ``valid`` ([p, p], broadcastable) and ``note``.
    """
    x_name, y_name = _parse_layout(layout)
    if position is not None and "pos" in tensor.names:
        index = ("a", "b", "=").index(position) if isinstance(position, str) else int(position)
        tensor = tensor.select(pos=index)
    p = task.p
    dim_a, dim_b = tensor.dim("a"), tensor.dim("b")
    if tensor.data.shape[dim_a] != p or tensor.data.shape[dim_b] != p:
        raise ValueError(f"axes a, b must have size p = {p}")
    rest = [i for i in range(tensor.data.dim()) if i not in (dim_a, dim_b)]
    data = tensor.data.permute(rest + [dim_a, dim_b]).reshape([tensor.data.shape[i] for i in rest] + [p * p])
    table, valid, counts = layout_table(task, x_name + y_name)
    out = data.index_select(-1, table.reshape(-1)).reshape(data.shape[:-1] + (p, p))
    ragged = not bool(valid.all())
    if ragged:
        if not out.is_floating_point():
            out = out.double()
        out = out.masked_fill(~valid, float("nan"))
    axes = tuple(tensor.axes[i] for i in rest) + (token_axis(x_name, p), token_axis(y_name, p))
    meta = dict(tensor.meta, layout=x_name + y_name, counts=counts, position=position)
    return LabelledTensor(out, axes, title=tensor.title, valid=valid if ragged else None,
                          note=layout_note(task, x_name + y_name), meta=meta)
