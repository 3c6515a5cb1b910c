"""Answer-major re-orderings of the [a, b] input grid (design.md §6 "Re-orderings", §6a).

A layout names the two trailing axes: ``ab``, ``ba``, ``ca``, ``cb``, ``ac``, ``bc`` over tokens, or
with task coordinates (design.md §6a) ``u`` = φ(a), ``v`` = ψ(b), ``w`` = χ(c) in Z_n, e.g. ``cu``
(pow: c against a^m), ``uv`` or ``wu`` (mul: log c against log a); a coordinate axis has n cells
whose ticks show the coordinate and its token(s), e.g. ``8 (a=2)``. For each cell (x, y) of the
layout the input row is the unique (a, b) with those values; where the task gives no input or
several inputs for a cell (mul with a = 0, pow with gcd(n, p−1) > 1, div's b = 0 rows, inputs
outside the group on a coordinate axis), the cell is marked invalid in ``valid``, holds NaN, and
``note`` says why — the grid is never silently mis-indexed. ``meta['counts']`` holds the number
of inputs per cell and ``meta['mirrors']`` whether c/2 markers are mirrors there
(:func:`has_mirrors`).
"""

from __future__ import annotations

import functools

import torch

from grokviz.analysis.labelled import token_axis
from grokviz.analysis.labelled import Axis, LabelledTensor

LAYOUTS = ("ab", "ba", "ca", "cb", "ac", "bc")
TOKEN_NAMES = ("a", "b", "c")
COORDINATE_NAMES = ("u", "v", "w")  # φ(a), ψ(b), χ(c) (design.md §6a)
_SAME_VARIABLE = {"a": "u", "b": "v", "c": "w", "u": "a", "v": "b", "w": "c"}
POSITIONS = ("a", "b", "=")  # the token positions ``reorder(position=…)`` accepts
DEFAULT_POSITION = "="  # after attention: where the answer is read out
DEFAULT_LAYOUT = "ca"  # answer-major: the view in which the c/2 symmetry shows (design.md §6)


def layout_label(layout) -> str:
    """``"ca"`` → ``"[c, a]"`` (how views name an ordering; :func:`reorder` accepts both)."""
    x_name, y_name = _parse_layout(layout)
    return f"[{x_name}, {y_name}]"


def orderings(task=None) -> tuple[str, ...]:
    """The orderings a view offers for ``task``, as labels: the list views show (data, not UI).
    Ragged ones are included — :func:`reorder` marks their invalid cells (design.md §6) — and so
    are the task-coordinate ones of :func:`coordinate_layouts` (design.md §6a)."""
    extra = coordinate_layouts(task) if task is not None else ()
    return tuple(layout_label(layout) for layout in ("ab", "ca", "cb", "ac", "bc", "ba") + extra)


def default_ordering(task=None) -> str:
    """[c, a], or for a task where the c/2 mirrors live in coordinates the first such layout (pow: [c, u])."""
    if task is not None and not has_mirrors(task, DEFAULT_LAYOUT):
        mirrored = [layout for layout in coordinate_layouts(task) if has_mirrors(task, layout)]
        if mirrored:
            return layout_label(mirrored[0])
    return layout_label(DEFAULT_LAYOUT)


def parse_layout(layout) -> tuple[str, str]:
    """The two trailing axis names of a layout or ordering label (``"[c, a]"`` → ``("c", "a")``)."""
    return _parse_layout(layout)


def _parse_layout(layout) -> tuple[str, str]:
    text = "".join(layout) if not isinstance(layout, str) else layout.replace(",", "").replace(" ", "")
    text = text.strip("[]")
    names = TOKEN_NAMES + COORDINATE_NAMES
    if len(text) != 2 or text[0] == text[1] or any(ch not in names for ch in text) or _SAME_VARIABLE[text[0]] == text[1]:
        raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)} or pairs with the task "
                         "coordinates u = φ(a), v = ψ(b), w = χ(c), e.g. cu, uv, wu")
    return text[0], text[1]


def _maps(task) -> dict:
    coords = task.coordinates()
    return {"u": coords.phi, "v": coords.psi, "w": coords.chi}


def _axis_for(task, name: str) -> Axis:
    if name in TOKEN_NAMES:
        return token_axis(name, task.p)
    cmap = _maps(task)[name]
    token = {"u": "a", "v": "b", "w": "c"}[name]
    return Axis(name, cmap.n, "token", tuple(cmap.tick(value, token) for value in range(cmap.n)))


def coordinate_layouts(task) -> tuple[str, ...]:
    """Layouts in task coordinates worth offering for ``task`` (none for add: u, v, w are a, b, c).

    pow: ``cu``, ``cv``, ``uv`` (χ is the identity); mul/div: ``wu``, ``wv``, ``uv``; sub: ``cv``, ``uv``.
    """
    maps = _maps(task)
    answer = "c" if maps["w"].is_identity else "w"
    out = []
    for operand in ("u", "v"):
        if not maps[operand].is_identity or answer == "w":
            out.append(answer + operand)
    if out:
        out.append("uv")
    return tuple(out)


def has_mirrors(task, layout) -> bool:
    """Whether c/2 and c/2 + n/2 markers are mirrors on ``layout`` (design.md §6a).

    True on [answer, operand] axes (either order) with the answer in χ (``w``, or ``c`` when χ is the
    identity) and the operand in its map (``u``/``v``, or ``a``/``b`` when that map is the identity),
    and only when φ = ψ, so the partner w − u of an operand is the other operand's coordinate.
    """
    x_name, y_name = _parse_layout(layout)
    coords = task.coordinates()
    if not coords.same_operand_maps:
        return False
    maps = _maps(task)
    answers = {"w"} | ({"c"} if maps["w"].is_identity else set())
    operands = {"u", "v"} | ({"a", "b"} if maps["u"].is_identity else set())
    names = {x_name, y_name}
    return bool(names & answers) and bool(names & operands)


def _values(task, name: str):
    """Per input row: the value on axis ``name`` (−1 where undefined) and the axis size."""
    p = task.p
    rows = torch.arange(p * p)
    labels = task.labels()
    tokens = {"a": rows // p, "b": rows % p, "c": labels}
    if name in TOKEN_NAMES:
        return tokens[name], p
    cmap = _maps(task)[name]
    source = tokens[{"u": "a", "v": "b", "w": "c"}[name]]
    values = torch.tensor(cmap.values)[source.clamp_min(0)]
    return torch.where(source >= 0, values, torch.full_like(values, -1)), cmap.n


@functools.lru_cache(maxsize=64)
def layout_table(task, layout: str):
    """(rows [X, Y] long, valid [X, Y] bool, counts [X, Y] long) of ``layout`` for ``task``.

    ``rows[x, y]`` is the input row a·p + b of cell (x, y) where ``valid``; 0 elsewhere. X and Y
    are p for token axes and n for coordinate axes.
    """
    x_name, y_name = _parse_layout(layout)
    p = task.p
    labels = task.labels()
    rows = torch.arange(p * p)
    x_values, x_size = _values(task, x_name)
    y_values, y_size = _values(task, y_name)
    ok = (labels >= 0) & (x_values >= 0) & (y_values >= 0)
    key = x_values[ok] * y_size + y_values[ok]
    counts = torch.bincount(key, minlength=x_size * y_size)
    table = torch.zeros(x_size * y_size, dtype=torch.long)
    table[key] = rows[ok]  # where counts == 1 this is the unique row
    valid = counts == 1
    table[~valid] = 0
    return table.view(x_size, y_size), valid.view(x_size, y_size), counts.view(x_size, y_size)


def input_of_cell(task, layout, first: int, second: int) -> tuple[int, int] | None:
    """The input (a, b) at the cell (first, second) of ``layout`` — the values on its two axes, e.g.
    (c, a) for ``"ca"`` — or None where the cell holds no single input (a ragged cell, or outside)."""
    x_name, y_name = _parse_layout(layout)
    rows, valid, _ = layout_table(task, x_name + y_name)
    first, second = int(first), int(second)
    if not (0 <= first < rows.shape[0] and 0 <= second < rows.shape[1]) or not bool(valid[first, second]):
        return None
    return divmod(int(rows[first, second]), task.p)


def layout_note(task, layout: str) -> str:
    """Empty for bijective layouts; otherwise why and where the grid is ragged."""
    x_name, y_name = _parse_layout(layout)
    _, valid, counts = layout_table(task, x_name + y_name)
    if bool(valid.all()):
        return ""
    empty, multiple = int((counts == 0).sum()), int((counts > 1).sum())
    plain = {_SAME_VARIABLE.get(name, name) if name in COORDINATE_NAMES else name for name in (x_name, y_name)}
    third = ({"a", "b", "c"} - plain).pop()
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
    out = data.index_select(-1, table.reshape(-1)).reshape(data.shape[:-1] + tuple(table.shape))
    ragged = not bool(valid.all())
    if ragged:
        if not out.is_floating_point():
            out = out.double()
        out = out.masked_fill(~valid, float("nan"))
    axes = tuple(tensor.axes[i] for i in rest) + (_axis_for(task, x_name), _axis_for(task, y_name))
    meta = dict(tensor.meta, layout=x_name + y_name, counts=counts, position=position,
                mirrors=has_mirrors(task, x_name + y_name))
    return LabelledTensor(out, axes, title=tensor.title, valid=valid if ragged else None,
                          note=layout_note(task, x_name + y_name), meta=meta)
