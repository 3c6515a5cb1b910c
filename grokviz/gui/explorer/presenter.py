"""What the Explorer shows, as pure functions of the model and the prepared arrays (no Qt).

Text (titles, messages, tick labels, the hover readout) and geometry (ranges, colour levels,
marker and diagonal positions, key-frequency bands) are computed here from an
:class:`~grokviz.gui.explorer.model.ExplorerModel` and a
:class:`~grokviz.gui.explorer.data.Prepared`; the plot widget only hands them to pyqtgraph.
The c/2 symmetry geometry is design.md §6 (see :mod:`grokviz.gui.explorer.symmetry`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grokviz.gui.explorer import symmetry
from grokviz.gui.explorer.model import RESIDUAL, TENSOR

MAX_SERIES = 32  # curves drawn for a series axis (the first ones; the message says so)
MAX_LEGEND_SERIES = 10
Y_PAD = 0.05  # fraction of the value range added above and below a fixed y range
MAX_READOUT_SERIES = 6


def fmt_value(v) -> str:
    if v is None or not np.isfinite(v):
        return "—"
    return f"{v:.4g}"


# ---------------------------------------------------------------------------- axes and ranges
def ticks_for(axis) -> list | None:
    """Tick spec for a displayed axis: None (numeric ticks) for integer labels 0…n−1, else
    [major, minor] lists of (index, label); Fourier coefficients label cos k every few k."""
    if axis is None:
        return None
    if all(t.lstrip("-").isdigit() and int(t) == i for i, t in enumerate(axis.ticks)):
        return None
    n = axis.size
    if axis.mode == "coefficients":
        freqs = axis.frequencies
        step = max(1, int(math.ceil(n / 2 / 8)))
        major = [(i, axis.ticks[i]) for i in range(n) if freqs[i] % step == 0 and
                 (i == 0 or axis.ticks[i].startswith("cos"))]
        return [major, [(i, axis.ticks[i]) for i in range(n)]]
    step = max(1, int(math.ceil(n / 12)))
    return [[(i, axis.ticks[i]) for i in range(0, n, step)], [(i, axis.ticks[i]) for i in range(n)]]


def key_positions(axis, key_frequencies) -> list:
    """Indices of ``axis`` at a key frequency (only on a Fourier axis)."""
    keys = {int(k) for k in (key_frequencies or ())}
    if not keys or axis is None or not axis.fourier:
        return []
    return [i for i, k in enumerate(axis.frequencies) if k in keys]


def key_bands(prepared, key_frequencies) -> dict:
    """{"vertical": [(lo, hi), …] on x, "horizontal": […] on y}: one cell-wide band per key
    frequency on each Fourier displayed axis."""
    out = {"vertical": [], "horizontal": []}
    for axis, orientation in ((prepared.x, "vertical"), (prepared.y, "horizontal")):
        out[orientation] = [(i - 0.5, i + 0.5) for i in key_positions(axis, key_frequencies)]
    return out


def levels_for(prepared, frame=None) -> tuple[float, float]:
    """Colour levels: over the whole tensor (``frame`` None) or one frame. Phases span ±π,
    magnitudes start at 0, signed values are centred at 0 (a diverging map)."""
    if prepared.value_kind == "phase":
        return -math.pi, math.pi
    if frame is None:
        lo, hi, m = prepared.vmin, prepared.vmax, prepared.abs_max
    else:
        with np.errstate(invalid="ignore"):
            lo, hi = float(np.nanmin(frame)), float(np.nanmax(frame))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            lo, hi = 0.0, 1.0
        m = max(abs(lo), abs(hi))
    if prepared.value_kind == "magnitude":
        return 0.0, (hi if hi > 0 else 1.0)
    m = m if m > 0 else 1.0
    return -m, m


def fixed_y_range(prepared) -> tuple[float, float]:
    """The y range of a line plot over the whole tensor, padded: it does not jump while scrolling."""
    pad = Y_PAD * (prepared.vmax - prepared.vmin)
    return prepared.vmin - pad, prepared.vmax + pad


def cell_rect(prepared) -> tuple[float, float, float, float]:
    """(left, top, width, height) of a heatmap: cell i centred on index i."""
    return -0.5, -0.5, float(prepared.x.size), float(prepared.y.size)


def colormap_kind(prepared) -> str:
    return {"magnitude": "sequential", "phase": "cyclic"}.get(prepared.value_kind, "diverging")


def value_name(prepared) -> str:
    if prepared is None:
        return ""
    fourier = prepared.x.fourier or (prepared.y is not None and prepared.y.fourier)
    return {"magnitude": "|Fourier coefficient|", "phase": "phase (rad)"}.get(
        prepared.value_kind, "Fourier coefficient" if fourier else "value")


# ---------------------------------------------------------------------------- series and data
def series_names(tensor, prepared) -> list:
    """Legend names of the drawn curves (the first MAX_SERIES of a series axis)."""
    if prepared.series_dim is None:
        return [tensor.title or "value"]
    axis = tensor.axes[prepared.series_dim]
    return [f"{axis.name} {axis.tick(i)}" for i in range(min(axis.size, MAX_SERIES))]


def overlay_label(name: str, series: int, names: list, has_series: bool) -> str:
    return f"{name} [{names[series]}]" if has_series else name


def heatmap_tensor(model):
    """(tensor, overlays) a heatmap shows for the model's heatmap choice: the tensor with its
    overlays, an overlay alone, or the residual tensor − overlay."""
    choice = model.heatmap
    if model.y_dim is None or choice == TENSOR or model.tensor is None:
        return model.tensor, model.overlays
    if choice.startswith(RESIDUAL):
        name = choice[len(RESIDUAL):]
        t = model.tensor
        return t.with_data(t.data.float() - model.overlays[name].data.float(), title=f"{t.title} − {name}"), {}
    return model.overlays[choice], {}


def slice_label(model, prepared) -> str:
    """``name=tick, …`` of the slider axes (the CSV comment, the readout's start)."""
    axes = model.tensor.axes
    return ", ".join(f"{axes[d].name}={axes[d].tick(model.indices[d])}" for d in prepared.slider_dims)


# ---------------------------------------------------------------------------- messages
def message(title: str, model, prepared, diagonal_axis: str | None = None) -> str:
    """The rich-text message line: title, notes, diagonals, series truncation, key frequencies."""
    parts = [f"<b>{title}</b>"]
    if prepared.note:
        parts.append(f"<span style='color:#a60'>{prepared.note}</span>")
    if diagonal_axis is not None:
        parts.append(f"diagonals: {diagonal_axis} = c/2 and {diagonal_axis} = c/2 + p/2")
    tensor = model.tensor
    if prepared.series_dim is not None and tensor.shape[prepared.series_dim] > MAX_SERIES:
        parts.append(f"first {MAX_SERIES} of {tensor.shape[prepared.series_dim]} "
                     f"{tensor.axes[prepared.series_dim].name} series")
    keys = model.context.key_frequencies
    if keys and (prepared.x.fourier or (prepared.y is not None and prepared.y.fourier)):
        parts.append("key frequencies <span style='background:#ffe4b3'>&nbsp;"
                     + ", ".join(str(k) for k in keys) + "&nbsp;</span>")
    return " &nbsp;·&nbsp; ".join(parts)


# ---------------------------------------------------------------------------- symmetry markers
@dataclass
class Markers:
    """The c/2 markers of one frame: ``lines`` x positions of c/2 and c/2 + p/2 (empty: hidden),
    ``points`` [(x, y, filled)] on a line plot (● the probe, ○ its partner), ``text``."""

    lines: tuple = ()
    points: list = field(default_factory=list)
    text: str = ""


def marker_geometry(model, prepared):
    """(x axis token name, c, p) when the c/2 markers apply — x is an a or b axis in space and
    c is on a slider — else None."""
    if prepared is None or prepared.x.fourier:
        return None
    x_name = prepared.x.base_name
    if x_name not in ("a", "b") or "c" not in symmetry.token_dims(model.tensor.axes):
        return None
    c = model.index_of("c")
    if c is None:
        return None
    return x_name, c, model.tensor.axes[prepared.x.dim].size


def markers(model, prepared, frame=None) -> Markers:
    """Where the symmetry markers go for the model's current slice (design.md §6)."""
    geometry = marker_geometry(model, prepared)
    if geometry is None:
        return Markers()
    x_name, c, n = geometry
    task = model.context.task
    s1, s2 = symmetry.symmetry_points(c, n)
    probe = model.probe if model.probe is not None else 0
    other = symmetry.partner(task, x_name, probe, c, n)
    points = []
    if prepared.y is None:
        frame = prepared.frame(model.indices) if frame is None else frame
        y = frame if prepared.series_dim is None else frame[0]
        points = [(probe, float(y[probe]), True)]
        if other is not None:
            points.append((other, float(y[other]), False))
        points = [q for q in points if np.isfinite(q[1])]
    other_name = "b" if x_name == "a" else "a"
    text = f"c = {c}:  c/2 = {s1:g},  c/2 + p/2 = {s2:g}"
    if other is not None:
        a, b = (probe, other) if x_name == "a" else (other, probe)
        text += f"  ·  {x_name} = {probe} ● ↔ {other_name} = {other} ○  ·  {symmetry.equation(task, a, b, n)}"
    else:
        text += f"  ·  no {other_name} gives c = {c} for {x_name} = {probe}"
    return Markers((s1, s2), points, text)


def diagonals(prepared):
    """(xs, ys, other axis name) of the two symmetry diagonals over a [c, a] (or [a, c], [c, b]…)
    heatmap in space, as pairs of segment end points; None when they do not apply."""
    if prepared is None or prepared.y is None or prepared.x.fourier or prepared.y.fourier:
        return None
    names = {prepared.x.base_name, prepared.y.base_name}
    if "c" not in names or not names & {"a", "b"}:
        return None
    xs, ys = [], []
    for c0, a0, c1, a1 in symmetry.diagonal_segments(prepared.x.size):
        if prepared.y.base_name == "c":
            xs += [a0, a1]
            ys += [c0, c1]
        else:
            xs += [c0, c1]
            ys += [a0, a1]
    return np.array(xs), np.array(ys), (names - {"c"}).pop()


# ---------------------------------------------------------------------------- hover readout
def readout(model, prepared, x: float, y: float) -> str | None:
    """The hover text at view coordinates (x, y): slider coordinates, the cell, its value(s)
    (and overlays'), and the input (a, b, c) with its equation when two token axes are known.
    None outside the data."""
    ix = int(round(x))
    if prepared is None or not 0 <= ix < prepared.x.size:
        return None
    tensor = model.tensor
    known, coords = {}, []
    for d in prepared.slider_dims:
        axis = tensor.axes[d]
        coords.append(f"{axis.name}={axis.tick(model.indices[d])}")
        if axis.name in symmetry.TOKEN_NAMES:
            known[axis.name] = model.indices[d]
    coords.append(f"{prepared.x.name}={prepared.x.ticks[ix]}")
    if not prepared.x.fourier and prepared.x.base_name in symmetry.TOKEN_NAMES:
        known[prepared.x.base_name] = ix
    frame = prepared.frame(model.indices)
    if prepared.y is not None:
        iy = int(round(y))
        if not 0 <= iy < prepared.y.size:
            return None
        coords.append(f"{prepared.y.name}={prepared.y.ticks[iy]}")
        if not prepared.y.fourier and prepared.y.base_name in symmetry.TOKEN_NAMES:
            known[prepared.y.base_name] = iy
        value = f"value {fmt_value(float(frame[iy, ix]))}"
    elif prepared.series_dim is None:
        value = f"value {fmt_value(float(frame[ix]))}"
        for name in prepared.overlays:
            value += f"  {name} {fmt_value(float(prepared.overlay_frame(name, model.indices)[ix]))}"
    else:
        shown = min(frame.shape[0], MAX_READOUT_SERIES)
        vals = "  ".join(f"{i}:{fmt_value(float(frame[i, ix]))}" for i in range(shown))
        value = f"values {vals}{' …' if frame.shape[0] > shown else ''}"
    text = "  ".join(coords) + "   " + value
    task = model.context.task
    token_p = task.p if task is not None else tensor.axes[prepared.x.dim].size
    inp = symmetry.resolve_input(known, task, token_p)
    if inp is not None:
        a, b, c = inp
        text += f"   input (a={a}, b={b}, c={c}): {symmetry.equation(task, a, b, token_p)}"
    return text
