"""The standard figure set (issue 7): drawn with pyqtgraph, offscreen, each with the CSV of its data.

Shared by File ▸ Export figure set… and ``grokviz export``; the analysis tabs use the same
``draw_*`` functions on their own plots, so a tab and its exported figure always agree.

* :func:`export_figure_set` (run, directory) → list of written files, plus ``index.html``.
* ``draw_*(plot, data, …)`` fill a ``pg.PlotItem`` from the dicts of :mod:`grokviz.gui.report_arrays`
  (the run session's reports as arrays);
  ``*_csv(data)`` return the :class:`~grokviz.gui.export.CurveData` / ``ImageData`` plotted.

Figures are 1200 × 800 px, white background, with titles, axis labels with units and fonts
sized for that canvas. PNG/SVG/CSV writing goes through :mod:`grokviz.gui.export`.
"""

from __future__ import annotations

import html
import os
import types
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from grokviz.gui import colormaps
from grokviz.gui.export import CurveData, ImageData, export_csv, export_png, export_svg
from grokviz.gui.label_axis import AxisLabel, row_label_axis

FIGURE_SIZE = (1200, 800)
TITLE_SIZE = "15pt"
LABEL_STYLE = {"font-size": "12pt", "color": "#000"}
TICK_POINT_SIZE = 10
SIN_COLOR = "#0072B2"
COS_COLOR = "#D55E00"
KEY_BRUSH = (255, 200, 0, 110)
PHASE_BRUSHES = {"memorisation": (0, 114, 178, 28), "circuit formation": (0, 158, 115, 28), "clean-up": (213, 94, 0, 28)}
LOSS_COLORS = {"train": "#0072B2", "test": "#D55E00", "restricted": "#009E73", "excluded": "#CC79A7"}
DEFAULT_SLICE_C = 17


# ----------------------------------------------------------------------------- styling

def curve(*args, **kwargs) -> pg.PlotDataItem:
    """A curve drawn antialiased as one path (pyqtgraph otherwise splits wide aliased pens into
    separate line segments, which an SVG export writes as hundreds of tiny polylines)."""
    kwargs.setdefault("antialias", True)
    return pg.PlotDataItem(*args, **kwargs)


def style_plot(plot: pg.PlotItem, title: str = "", x_label: str = "", y_label: str = "",
               white: bool = True) -> pg.PlotItem:
    """Title, axis labels (with units in the label text) and legible tick fonts; black on white.

    The title size is :data:`TITLE_SIZE`, or the plot's ``grokviz_title_size`` attribute when set
    (the tabs use smaller titles than the 1200 × 800 figures).
    """
    if title:
        plot.setTitle(title, size=getattr(plot, "grokviz_title_size", TITLE_SIZE), color="#000" if white else None)
        wrap_title(plot)
    font = QtGui.QFont()
    font.setPointSize(TICK_POINT_SIZE)
    for side, text in (("bottom", x_label), ("left", y_label)):
        axis = plot.getAxis(side)
        if white:
            axis.setPen(pg.mkPen("#000"))
            axis.setTextPen(pg.mkPen("#000"))
        axis.setTickFont(font)
        axis.enableAutoSIPrefix(False)
        if text:
            axis.setLabel(text, **(LABEL_STYLE if white else {"font-size": "11pt"}))
    return plot


def wrap_title(plot: pg.PlotItem) -> None:
    """Let a title longer than its plot wrap onto more lines (call after each ``setTitle``).

    pyqtgraph makes a title's one-line width the plot's minimum width (``LabelItem.updateMin``):
    in a narrow panel the plot then overflows its widget and its right side (axis, legend,
    colour bar) is cut off."""
    label = plot.titleLabel
    if not getattr(label, "grokviz_wraps", False):
        label.grokviz_wraps = True
        option = label.item.document().defaultTextOption()
        option.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
        label.item.document().setDefaultTextOption(option)
        label.updateMin = types.MethodType(_title_minimum, label)  # pyqtgraph calls it from Python
        label.geometryChanged.connect(lambda: _fit_title(label))
        label.grokviz_layout = plot.layout
    label.grokviz_fitted_width = None
    label.updateMin()
    _fit_title(label)


def _title_minimum(label) -> None:
    """``LabelItem.updateMin`` without the one-line width: as tall as the (wrapped) text, as narrow as need be."""
    bounds = label.itemRect()
    label.setMinimumWidth(0)
    label.setMinimumHeight(bounds.height())
    if label.isVisible():  # pyqtgraph's title row is 30 px (PlotItem.setTitle): room for every line
        height = max(30.0, bounds.height())
        label.setMaximumHeight(height)
        label.grokviz_layout.setRowFixedHeight(0, height)
    label._sizeHint = {QtCore.Qt.SizeHint.MinimumSize: (0, bounds.height()),
                       QtCore.Qt.SizeHint.PreferredSize: (bounds.width(), bounds.height()),
                       QtCore.Qt.SizeHint.MaximumSize: (-1, -1), QtCore.Qt.SizeHint.MinimumDescent: (0, 0)}
    label.updateGeometry()


def _fit_title(label) -> None:
    width = label.geometry().width()
    if width <= 0 or label.grokviz_fitted_width == round(width):
        return
    label.grokviz_fitted_width = round(width)
    label.item.setTextWidth(-1)  # one line, to see whether it fits
    if label.item.boundingRect().width() > width:
        label.item.setTextWidth(width)
    label.resizeEvent(None)  # pyqtgraph's own placement (centred), then the minimum above


def _legend(plot: pg.PlotItem, offset=(-10, 10)) -> pg.LegendItem:
    legend = plot.legend or plot.addLegend(offset=offset, labelTextColor="#000", brush=(255, 255, 255, 210),
                                           pen=pg.mkPen("#888"), labelTextSize="10pt")
    return legend


def _colorbar(plot, image, cmap, levels, label):
    bar = pg.ColorBarItem(values=levels, colorMap=cmap, interactive=False, width=15)
    bar.setImageItem(image, insert_in=plot)
    try:
        bar.axis.setTextPen(pg.mkPen("#000"))
        bar.axis.setPen(pg.mkPen("#000"))
        bar.axis.setLabel(label, color="#000")
    except AttributeError:
        pass
    return bar


def _image(plot, values_rows_cols, cmap, levels, x0=0.0, y0=0.0, dx=1.0, dy=1.0):
    """``values[row = y, col = x]`` as an ImageItem with cell i centred at x0 + i·dx."""
    image = pg.ImageItem(np.asarray(values_rows_cols, dtype=np.float32), axisOrder="row-major")
    image.setColorMap(cmap)
    image.setLevels(levels)
    rows, cols = np.asarray(values_rows_cols).shape
    image.setRect(QtCore.QRectF(x0 - dx / 2, y0 - dy / 2, cols * dx, rows * dy))
    plot.addItem(image)
    return image


# ----------------------------------------------------------------------------- learned basis

BASIS_LABELS = {"additive": "additive (t)", "power": "power (tᵐ)", "discrete_log": "discrete log (log t)"}
BASIS_TICKS = {"additive": "additive", "power": "power", "discrete_log": "disc. log"}


def draw_token_basis(plot: pg.PlotItem, token_basis: dict, title: str | None = None, legend: bool = False) -> None:
    """Concentration of W_E (share of its non-constant Fourier norm in the top 5 frequencies) per
    token ordering, operand a (blue) and b (orange) side by side (design.md §6a); the best ordering
    is named in the title and each bar carries its value."""
    names = list(token_basis["a"]["concentration"])
    width = 0.38
    shown = {operand: [token_basis[operand]["concentration"][name] for name in names] for operand in ("a", "b")}
    for offset, operand, color in ((-width / 2, "a", SIN_COLOR), (width / 2, "b", COS_COLOR)):
        values = shown[operand]
        bars = pg.BarGraphItem(x=np.arange(len(names)) + offset, height=values, width=width, brush=color, pen=None)
        plot.addItem(bars)
        if legend:
            _legend(plot).addItem(bars, f"operand {operand}")
        for i, value in enumerate(values):
            other = shown["b" if operand == "a" else "a"][i]
            if f"{value:.2f}" == f"{other:.2f}":  # a and b agree (e.g. m = n): one label over the pair
                if operand == "b":
                    continue
                x = i
            else:
                x = i + offset
            text = pg.TextItem(f"{value:.2f}", color="#000", anchor=(0.5, 1.0))
            text.setPos(x, max(value, other) if x == i else value)
            plot.addItem(text)
    plot.getAxis("bottom").setTicks([[(i, BASIS_TICKS.get(name, name)) for i, name in enumerate(names)]])
    plot.setYRange(0, 1.08, padding=0.0)
    plot.setXRange(-0.6, len(names) - 0.4, padding=0)
    best = token_basis["a"]["best"]
    best_b = token_basis["b"]["best"]
    label = BASIS_TICKS.get(best, best) + ("" if best_b == best else f" (a), {BASIS_TICKS.get(best_b, best_b)} (b)")
    style_plot(plot, title or f"Learned basis: {label}", "token ordering (a blue, b orange)",
               "W_E top-5 concentration")


# ----------------------------------------------------------------------------- Fourier norms

def norms_csv(spectrum: dict) -> CurveData:
    components = spectrum["components"]
    x = np.arange(len(components))
    out = CurveData(x_label="component index", x_ticks=components,
                    comment=f"norm per Fourier component (unit-norm basis); key frequencies {spectrum['key_freqs']}")
    for name, values in spectrum["norms"].items():
        out.add(name, x, values)
    return out


def draw_fourier_norms(plot: pg.PlotItem, spectrum: dict, matrix: str = "W_E", title: str | None = None,
                       x_label: bool = True, legend: bool = True) -> None:
    """Norm per Fourier component as grouped bars per frequency (sin left, cos right), key frequencies shaded."""
    values = np.asarray(spectrum["norms"][matrix])
    p = spectrum["p"]
    n_freq = (p - 1) // 2
    key = set(spectrum["key_freqs"])
    for k in key:
        region = pg.LinearRegionItem((k - 0.5, k + 0.5), movable=False, brush=KEY_BRUSH, pen=pg.mkPen(None))
        region.setZValue(-10)
        plot.addItem(region)
    k = np.arange(1, n_freq + 1)
    sin = values[1:2 * n_freq:2]
    cos = values[2:2 * n_freq + 1:2]
    plot.addItem(pg.BarGraphItem(x=[0], height=[values[0]], width=0.4, brush="#777", pen=None))
    plot.addItem(pg.BarGraphItem(x=k - 0.2, height=sin, width=0.4, brush=SIN_COLOR, pen=None))
    plot.addItem(pg.BarGraphItem(x=k + 0.2, height=cos, width=0.4, brush=COS_COLOR, pen=None))
    if legend:
        _legend(plot)
        for name, color in (("sin k", SIN_COLOR), ("cos k", COS_COLOR)) + ((("key frequency", KEY_BRUSH),) if key else ()):
            plot.legend.addItem(pg.BarGraphItem(x=[0], height=[1], width=1, brush=color, pen=None), name)
    keys = ", ".join(str(f) for f in sorted(key)) or "none"
    style_plot(plot, title if title is not None else f"{matrix}: norm per Fourier component (key frequencies {keys})",
               "frequency k (component 0 = constant)" if x_label else "", f"‖{matrix}‖ per component")
    plot.setXRange(-1, n_freq + 1, padding=0)
    plot.setYRange(0, max(float(values.max()), 1e-12) * 1.08, padding=0)
    plot.getAxis("bottom").setTicks([_frequency_ticks(n_freq, key)])


def _frequency_ticks(n_freq: int, key_freqs, start: int = 0) -> list:
    """Ticks every 5 (10 for p > 120) plus every key frequency; regular ticks crowding a key one are dropped."""
    key = {int(k) for k in key_freqs}
    step = 5 if n_freq <= 60 else 10
    marks = sorted(set(range(0, n_freq + 1, step)) | key)
    marks = [m for m in marks if m >= start and (m in key or all(abs(m - k) >= step / 2.5 for k in key))]
    return [(float(m), str(m)) for m in marks]


# ----------------------------------------------------------------------------- neuron spectra

def neuron_heatmap_values(spectrum: dict) -> np.ndarray:
    """[frequency, neuron in cluster order] fraction explained."""
    return np.asarray(spectrum["fractions"])[:, spectrum["neuron_order"]]


def neuron_heatmap_csv(spectrum: dict) -> ImageData:
    order = spectrum["neuron_order"]
    return ImageData(neuron_heatmap_values(spectrum),
                     row_labels=[str(k) for k in range(1, spectrum["fractions"].shape[0] + 1)],
                     column_labels=[f"n{int(n)} (cluster {int(spectrum['neuron_cluster'][n]) or '-'})" for n in order],
                     row_axis="frequency k", column_axis="neuron (sorted by cluster)",
                     comment="fraction of each neuron's (non-constant) variance over (a, b) in frequency k; "
                             f"clusters: {spectrum['cluster_sizes']}")


def _cluster_runs(spectrum: dict) -> list:
    """(first column, end column, cluster frequency or 0) per run of one cluster in the sorted neuron order."""
    clusters = np.asarray(spectrum["neuron_cluster"])[spectrum["neuron_order"]]
    runs, start = [], 0
    for index in range(1, len(clusters) + 1):
        if index == len(clusters) or clusters[index] != clusters[start]:
            runs.append((start, index, int(clusters[start])))
            start = index
    return runs


def _cluster_label(begin: int, end: int, freq: int, threshold: float) -> AxisLabel:
    """``k=8: 129`` (frequency: neurons) or ``no cluster: 121`` at the run's centre; the long form on hover."""
    what = f"cluster k = {freq}" if freq else f"no cluster (no frequency > {threshold:g})"
    return AxisLabel((begin + end - 1) / 2, f"k={freq}: {end - begin}" if freq else f"no cluster: {end - begin}",
                     f"{what}: {end - begin} neurons, columns {begin}–{end - 1}")


def draw_neuron_heatmap(plot: pg.PlotItem, spectrum: dict, colorbar: bool = True) -> pg.ImageItem:
    """Neuron × frequency fraction explained, neurons sorted by cluster; the clusters named (with
    their sizes) on the top axis, in rows that never overlap (:mod:`grokviz.gui.label_axis`)."""
    values = neuron_heatmap_values(spectrum)
    n_freq, n_neurons = values.shape
    image = _image(plot, values, colormaps.sequential(), (0.0, 1.0), x0=0, y0=1)
    if colorbar:
        _colorbar(plot, image, colormaps.sequential(), (0.0, 1.0), "fraction explained")
    runs = _cluster_runs(spectrum)
    for begin, _, _ in runs[1:]:  # a dashed line where a cluster starts
        plot.addItem(pg.InfiniteLine(begin - 0.5, angle=90, pen=pg.mkPen("#fff", width=1, style=QtCore.Qt.PenStyle.DashLine)))
    top = row_label_axis(plot, "top")
    top.setPen(pg.mkPen("#000"))
    top.setTextPen(pg.mkPen("#000"))
    top.setTickFont(_font(TICK_POINT_SIZE - 1))
    top.set_labels([_cluster_label(*run, spectrum["cluster_threshold"]) for run in runs])
    style_plot(plot, f"Neuron spectra: fraction of each neuron's variance per frequency "
                     f"({sum(spectrum['cluster_sizes'].values())} of {n_neurons} neurons in clusters > {spectrum['cluster_threshold']:g})",
               "neuron (sorted by cluster, then fraction)", "frequency k")
    plot.setXRange(-0.5, n_neurons - 0.5, padding=0)
    plot.setYRange(0.5, n_freq + 0.5, padding=0)
    plot.getAxis("left").setTicks([_frequency_ticks(n_freq, spectrum["key_freqs"], start=1)])
    return image


def _font(points):
    font = QtGui.QFont()
    font.setPointSize(points)
    return font


# ----------------------------------------------------------------------------- symmetry

def symmetry_csv(symmetry: dict) -> CurveData:
    x = np.arange(len(symmetry["hooks"]))
    out = CurveData(x_label="hook index (forward order)", x_ticks=symmetry["hooks"],
                    comment="at the = position, [c, a] layout; NaN = constant over inputs; "
                            f"c/2 model with key frequencies {symmetry['key_freqs']}")
    out.add("symmetry score", x, symmetry["score"])
    out.add("c/2-model variance explained", x, symmetry["explained"])
    return out


def display_hook_label(label: str) -> str:
    """Short tick label of a hook: ``attn.hook_attn_scores`` → ``scores``, ``mlp.pre`` → ``mlp_pre``
    (underscores, as ``mlp_out``, ``resid_mid``)."""
    label = label.replace("attn.attn_scores", "scores").replace("attn.", "").replace("mlp.", "mlp_")
    return label


def draw_symmetry(plot: pg.PlotItem, symmetry: dict, epoch=None) -> None:
    """Symmetry score and c/2-model R² per hook in forward order (lines with markers); the hooks'
    short names on the x axis in rows that never overlap, the full name on hover."""
    x = np.arange(len(symmetry["hooks"]), dtype=float)
    score = np.asarray(symmetry["score"], dtype=float)
    explained = np.asarray(symmetry["explained"], dtype=float)
    constant = np.asarray(symmetry["constant"], dtype=bool)
    _legend(plot, offset=(10, 10))
    plot.addItem(curve(x, score, pen=pg.mkPen(SIN_COLOR, width=2.5), symbol="o", symbolSize=10,
                                 symbolBrush=SIN_COLOR, symbolPen=None, name="symmetry score corr(x(a, b), x(b, a))",
                                 connect="finite"))
    plot.addItem(curve(x, explained, pen=pg.mkPen(COS_COLOR, width=2.5), symbol="s", symbolSize=10,
                                 symbolBrush=COS_COLOR, symbolPen=None, name="variance explained by the c/2 model",
                                 connect="finite"))
    if constant.any():
        plot.addItem(pg.ScatterPlotItem(x[constant], np.zeros(constant.sum()), symbol="x", size=12,
                                        pen=pg.mkPen("#777", width=2), brush=None))
        _legend(plot).addItem(pg.ScatterPlotItem(symbol="x", pen=pg.mkPen("#777", width=2)),
                              "constant at = (no (a, b) dependence)")
    plot.addItem(pg.InfiniteLine(0, angle=0, pen=pg.mkPen("#bbb")))
    axis = row_label_axis(plot, "bottom")  # long hook names side by side collide: staggered rows
    axis.set_labels([AxisLabel(float(i), display_hook_label(label), hook)
                     for i, (label, hook) in enumerate(zip(symmetry["labels"], symmetry["hooks"]))])
    axis.setStyle(tickTextOffset=6)
    when = f" at epoch {epoch}" if epoch is not None else ""
    style_plot(plot, f"Where the c/2 symmetry appears: hooks at the = position{when}",
               f"hook (forward order: {' → … → '.join(display_hook_label(symmetry['labels'][i]) for i in (0, -1))})"
               if symmetry["labels"] else "hook", "score / fraction (1 = symmetric / fully explained)")
    plot.setYRange(min(-0.1, float(np.nanmin(np.r_[score, explained, 0.0])) - 0.05), 1.08, padding=0)
    plot.setXRange(-0.6, len(x) - 0.4, padding=0)


# ----------------------------------------------------------------------------- [c, a] slice

def slice_dims(resid_ca: np.ndarray, count: int = 5) -> list:
    """The d_model directions with the most variance over (c, a): the ones worth plotting."""
    values = np.nan_to_num(resid_ca.reshape(-1, resid_ca.shape[-1]))
    return [int(d) for d in np.argsort(-values.var(axis=0))[:count]]


def slice_csv(symmetry: dict, c: int, dims: list) -> CurveData:
    p = symmetry["p"]
    data = symmetry["resid_post_ca"][c]
    out = CurveData(x_label="a", comment=f"resid_post at =, c = {c}; symmetry points a = {c / 2 % p:g} and "
                                         f"{(c / 2 + p / 2) % p:g}")
    for d in dims:
        out.add(f"d_model {d}", np.arange(p), data[:, d])
    return out


def draw_ca_slice(plot: pg.PlotItem, symmetry: dict, c: int, dims: list | None = None) -> list:
    """resid_post at = over a for one answer c, a few directions as lines with markers, c/2 markers."""
    from grokviz.gui.explorer.symmetry import symmetry_points

    resid = symmetry["resid_post_ca"]
    p = resid.shape[1]
    answer, operand = symmetry.get("slice_layout", "ca")
    mirrors = symmetry.get("mirrors", True)
    dims = slice_dims(resid) if dims is None else dims
    a = np.arange(p)
    _legend(plot)
    for i, d in enumerate(dims):
        color = colormaps.series_color(i)
        plot.addItem(curve(a, resid[c, :, d], pen=pg.mkPen(color, width=2), symbol="o", symbolSize=5,
                                     symbolBrush=color, symbolPen=None, name=f"d_model {d}", connect="finite"))
    for point in (symmetry_points(c, p) if mirrors else ()):  # only where they are mirrors (design.md §6a)
        plot.addItem(pg.InfiniteLine(point, angle=90, pen=pg.mkPen(colormaps.MARKER_COLOR, width=2,
                                                                   style=QtCore.Qt.PenStyle.DashLine),
                                     label=f"{operand} = {point:g}", labelOpts={"position": 0.04, "color": colormaps.MARKER_COLOR,
                                                                              "fill": (255, 255, 255, 200)}))
    if operand == "a":
        what, x_label = "over a (b = c − a)", "a (token, b = c − a mod p)"
    else:
        what = f"over {operand} = {'a^m' if answer == 'c' else 'log a'} (the partner is {answer} − {operand})"
        x_label = f"{operand} = {'a^m' if answer == 'c' else 'log a'} (coordinate of a in Z_{p})"
    marks = f"; dashed: {operand} = {answer}/2 and {answer}/2 + {'p' if p == symmetry['p'] else 'n'}/2" if mirrors else \
        "; no c/2 markers: they are not mirrors for this task"
    style_plot(plot, f"resid_post at = for the answer {answer} = {c} {what}{marks}", x_label,
               "activation (d_model direction)")
    plot.setXRange(-0.5, p - 0.5, padding=0.01)
    return dims


# ----------------------------------------------------------------------------- attention

def attention_csv(attention: dict) -> CurveData:
    maps = attention["maps"]
    heads = maps.shape[0]
    out = CurveData(x_label="row a*p+b", comment="attention from the = query per head to keys a, b, = over all (a, b)")
    rows = np.arange(maps.shape[2] * maps.shape[3])
    for h in range(heads):
        for j, key in enumerate(attention["keys"]):
            out.add(f"head {h} → {key}", rows, maps[h, j].reshape(-1))
    for j, key in enumerate(attention["keys"]):
        out.add(f"head average → {key}", rows, attention["average"][j].reshape(-1))
    return out


def attention_summary_csv(attention: dict) -> ImageData:
    mean = attention["mean"]
    return ImageData(np.vstack([mean, mean.mean(axis=0, keepdims=True)]),
                     row_labels=[f"head {h}" for h in range(mean.shape[0])] + ["average"],
                     column_labels=[f"to {k}" for k in attention["keys"]], row_axis="head", column_axis="key",
                     comment="mean attention from = over all inputs")


def draw_attention_map(plot: pg.PlotItem, values: np.ndarray, title: str, labels: bool = True) -> pg.ImageItem:
    """One p×p attention map [a, b] (rows a, columns b), 0..1."""
    image = _image(plot, values, colormaps.sequential(), (0.0, 1.0))
    plot.setTitle(title, size="10pt", color="#000")
    style_plot(plot, "", "b" if labels else "", "a" if labels else "")
    plot.getViewBox().invertY(True)
    p = values.shape[0]
    plot.setRange(xRange=(-0.5, p - 0.5), yRange=(-0.5, p - 0.5), padding=0)
    return image


def fill_attention_layout(layout: pg.GraphicsLayout, attention: dict, white: bool = True) -> list:
    """Columns: each head and the head average; rows: attention to a, b, = as [a, b] maps; a colour bar."""
    maps, average, mean = attention["maps"], attention["average"], attention["mean"]
    plots = []
    heads = maps.shape[0]
    keys = attention["keys"]
    image = None
    for j, key in enumerate(keys):
        for h in range(heads + 1):
            values = maps[h, j] if h < heads else average[j]
            share = mean[h, j] if h < heads else mean[:, j].mean()
            who = f"head {h}" if h < heads else "mean of heads"
            plot = layout.addPlot(row=j, col=h)
            image = draw_attention_map(plot, values, f"{who} → {key}: {share:.2f}", labels=False)
            plot.setMinimumWidth(60)
            if j == len(keys) - 1:
                plot.getAxis("bottom").setLabel("b", **LABEL_STYLE)
            if h == 0:
                plot.getAxis("left").setLabel("a", **LABEL_STYLE)
            plots.append(plot)
    bar = pg.ColorBarItem(values=(0, 1), colorMap=colormaps.sequential(), interactive=False, width=15)
    bar.setImageItem(image)
    layout.addItem(bar, row=0, col=heads + 1, rowspan=len(keys))
    bar.axis.setLabel("attention weight", color="#000" if white else None)
    if white:
        bar.axis.setTextPen(pg.mkPen("#000"))
    return plots


# ----------------------------------------------------------------------------- progress

def add_phases(plot: pg.PlotItem, phases: list, labels: bool = True, legend: bool = False) -> None:
    """Shade each phase and draw its end line (named when ``labels``); legend entries when ``legend``."""
    for name, start, end in phases:
        base = name.split(" (")[0]
        region = pg.LinearRegionItem((start, end), movable=False, brush=PHASE_BRUSHES.get(base, (128, 128, 128, 25)),
                                     pen=pg.mkPen(None))
        region.setZValue(-20)
        plot.addItem(region)
        if legend and plot.legend is not None:
            solid = tuple(PHASE_BRUSHES.get(base, (128, 128, 128, 25))[:3]) + (90,)
            plot.legend.addItem(pg.BarGraphItem(x=[0], height=[1], width=1, brush=solid, pen=None), name)
        if base != name:  # open-ended (e.g. clean-up not finished): no end line
            continue
        line = pg.InfiniteLine(end, angle=90, pen=pg.mkPen("#555", width=1.5, style=QtCore.Qt.PenStyle.DashLine),
                               label=(f"{name} ends {end:,.0f}" if labels else None),
                               labelOpts={"position": 0.04, "color": "#333", "rotateAxis": (1, 0), "anchors": [(0, 0), (0, 0)]})
        plot.addItem(line)


def loss_csv(progress: dict) -> CurveData:
    out = CurveData(x_label="epoch", comment=f"cross-entropy (nats) per epoch; phases {progress['phases']}")
    out.add("train loss", progress["history_epoch"], progress["history_train_loss"])
    out.add("test loss", progress["history_epoch"], progress["history_test_loss"])
    return out


def draw_losses(plot: pg.PlotItem, progress: dict, title: str | None = None) -> None:
    """Train and test loss per epoch (log y) with the phases."""
    plot.setLogMode(y=True)
    _legend(plot)
    for name, key in (("train", "history_train_loss"), ("test", "history_test_loss")):
        y = np.clip(np.asarray(progress[key], dtype=float), 1e-30, None)
        plot.addItem(curve(progress["history_epoch"], y, pen=pg.mkPen(LOSS_COLORS[name], width=2),
                                     name=f"{name} loss"))
    add_phases(plot, progress["phases"], legend=True)
    style_plot(plot, title or "Loss curves with the phases of grokking", "epoch", "cross-entropy loss (nats, log scale)")


def progress_csv(progress: dict) -> CurveData:
    out = CurveData(x_label="epoch", comment=f"progress measures per checkpoint; key frequencies {progress['key_freqs']}; "
                                             f"phases {progress['phases']}")
    x = progress["epochs"]
    for name in ("train_loss", "test_loss", "restricted_loss", "excluded_loss", "weight_norm", "gini_W_E", "gini_W_L",
                 "cos_sim", "residual"):
        if name in progress:
            out.add(name, x, progress[name])
    for k, values in progress["cos_coef"].items():
        out.add(f"cos_coef k={k}", x, values)
    return out


def progress_loss_series(progress: dict) -> list:
    """(name, epochs, values) of the Progress losses panel (log y: clipped at 1e-30)."""
    return [(f"{name} loss", progress["epochs"], np.clip(np.asarray(progress[f"{name}_loss"], dtype=float), 1e-30, None))
            for name in ("train", "test", "restricted", "excluded")]


def cos_coefficient_series(progress: dict) -> list:
    return [(f"k = {k}", progress["epochs"], values) for k, values in progress["cos_coef"].items()]


def weight_norm_series(progress: dict) -> list:
    return [("Σθ²", progress["epochs"], progress["weight_norm"])]


def gini_series(progress: dict) -> list:
    return [("W_E", progress["epochs"], progress["gini_W_E"]), ("W_L = (W_out·W_U)ᵀ", progress["epochs"], progress["gini_W_L"])]


def draw_progress_losses(plot: pg.PlotItem, progress: dict) -> None:
    plot.setLogMode(y=True)
    _legend(plot)
    for (name, x, y), key in zip(progress_loss_series(progress), ("train", "test", "restricted", "excluded")):
        plot.addItem(curve(x, y, pen=pg.mkPen(LOSS_COLORS[key], width=2), symbol="o", symbolSize=4,
                           symbolBrush=LOSS_COLORS[key], symbolPen=None, name=name))
    add_phases(plot, progress["phases"])
    style_plot(plot, "Train, test, restricted and excluded loss", "epoch", "loss (nats, log scale)")


def draw_cos_coefficients(plot: pg.PlotItem, progress: dict) -> None:
    series = cos_coefficient_series(progress)
    if series:
        _legend(plot, offset=(10, 10))  # top left: the coefficients start near 0 (top right: the cursor's label)
    if plot.legend is not None:
        plot.legend.setVisible(bool(series))  # no empty box
    for i, (name, x, y) in enumerate(series):
        plot.addItem(curve(x, y, pen=pg.mkPen(colormaps.series_color(i), width=2), name=name))
    if not series and len(progress["epochs"]):
        note = pg.TextItem("no key frequencies yet (no neuron cluster confirms one)", color="#555", anchor=(0, 0.5))
        note.setPos(float(progress["epochs"][0]), 0.5)  # the empty view's middle, from the first epoch
        plot.addItem(note)
    add_phases(plot, progress["phases"], labels=False)
    style_plot(plot, f"Logits' coefficient on cos(w_k({progress['cos_argument']}))", "epoch",
               "coefficient (logit units)")


def draw_weight_norm(plot: pg.PlotItem, progress: dict) -> None:
    for name, x, y in weight_norm_series(progress):  # one curve: no legend
        plot.addItem(curve(x, y, pen=pg.mkPen("#000", width=2), name=name))
    add_phases(plot, progress["phases"], labels=False)
    style_plot(plot, "Total weight norm Σθ²", "epoch", "Σθ² (sum of squared parameters)")


def draw_gini(plot: pg.PlotItem, progress: dict) -> None:
    _legend(plot, offset=(10, 10))  # top left: sparsity grows over training, so the curves start low
    for (name, x, y), color in zip(gini_series(progress), (SIN_COLOR, COS_COLOR)):
        plot.addItem(curve(x, y, pen=pg.mkPen(color, width=2), name=name))
    add_phases(plot, progress["phases"], labels=False)
    style_plot(plot, "Gini coefficient of the Fourier-component norms", "epoch", "Gini (0 = spread, 1 = sparse)")
    # a Gini coefficient's whole range: auto-ranged on early checkpoints (0.03–0.07) the ticks
    # "0.030"… were wider than the axis and showed as "30"…
    plot.setYRange(0.0, 1.0, padding=0.02)


PROGRESS_SERIES = {draw_progress_losses: progress_loss_series, draw_cos_coefficients: cos_coefficient_series,
                   draw_weight_norm: weight_norm_series, draw_gini: gini_series}


def update_series(plot: pg.PlotItem, series: list) -> bool:
    """Give the plot's curves new data in place when it already has exactly these named curves
    (live updates: rebuilding curves, legend and labels costs ~40 ms a panel); False otherwise."""
    items = {item.name(): item for item in plot.listDataItems()}
    if set(items) != {name for name, _, _ in series}:
        return False
    for name, x, y in series:
        items[name].setData(x, y)
    return True


PROGRESS_PANELS = (draw_progress_losses, draw_cos_coefficients, draw_weight_norm, draw_gini)


def add_cursor(plot: pg.PlotItem, epoch) -> pg.InfiniteLine | None:
    if epoch is None:
        return None
    line = pg.InfiniteLine(float(epoch), angle=90, pen=pg.mkPen("#d62728", width=2),
                           label=f"epoch {int(epoch)}", labelOpts={"position": 0.5, "color": "#d62728",
                                                                   "anchors": [(1.05, 0.5), (1.05, 0.5)]})
    line.setZValue(20)
    plot.addItem(line)
    return line


# ----------------------------------------------------------------------------- the figure set

@dataclass
class FigureRecord:
    name: str
    title: str
    caption: str
    files: list = field(default_factory=list)


def ensure_application():
    """A QApplication, offscreen when there is no display (must run before any QApplication exists)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        if not os.environ.get("QT_QPA_PLATFORM") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        app = QtWidgets.QApplication([])
    from grokviz.gui.offscreen import close_views_at_exit

    close_views_at_exit()  # no segfault at exit (gui/offscreen.py)
    return app


def new_canvas(size=FIGURE_SIZE) -> pg.GraphicsLayoutWidget:
    canvas = pg.GraphicsLayoutWidget()
    canvas.setBackground("w")
    canvas.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    canvas.resize(*size)
    canvas.grokviz_size = tuple(size)
    canvas.ci.setContentsMargins(12, 12, 12, 12)
    return canvas


def _settle(canvas):
    canvas.show()
    for _ in range(3):
        QtWidgets.QApplication.processEvents()
    canvas.resize(*getattr(canvas, "grokviz_size", FIGURE_SIZE))
    QtWidgets.QApplication.processEvents()


def save_canvas(canvas, directory, name, formats, csv_data) -> list:
    """Write ``name``.png/.svg (as asked) and ``name``.csv (or several CSVs from a dict)."""
    _settle(canvas)
    files = []
    base = os.path.join(directory, name)
    if "png" in formats:
        files.append(export_png(canvas, base + ".png", scale=1.0))
    if "svg" in formats:
        files.append(export_svg(canvas, base + ".svg", title=name))
    if isinstance(csv_data, dict):
        for suffix, data in csv_data.items():
            files.append(export_csv(data, f"{base}{suffix}.csv"))
    elif csv_data is not None:
        files.append(export_csv(csv_data, base + ".csv"))
    canvas.hide()
    canvas.deleteLater()
    return files


def _run_label(run) -> str:
    name = os.path.basename(run.path) if getattr(run, "path", None) else "run"
    return f"{name} · {run.task.formula if hasattr(run.task, 'formula') else run.task.spec} (p = {run.p})"


def build_figures(run, epoch=None, report=None, max_checkpoints: int = 150) -> dict:
    """All the data of the standard set (slow part, no Qt): the run session's spectrum, symmetry,
    attention, progress and phases reports, gathered as the tabs gather them."""
    from grokviz.analysis.reports.key_frequencies import run_key_frequencies
    from grokviz.analysis.session import session_of
    from grokviz.gui import report_arrays

    def say(fraction, text):
        if report is not None:
            report(fraction, text)

    session = session_of(run)
    epoch = session.resolve_epoch(epoch)
    say(0.0, "Spectrum…")
    spectrum = report_arrays.spectrum_view(session, epoch)
    say(0.1, "Symmetry…")
    symmetry = report_arrays.symmetry_view(session, epoch)
    say(0.2, "Attention…")
    attention = report_arrays.attention_view(session, epoch)
    progress = report_arrays.progress_view(session, max_checkpoints, report=lambda f, t: say(0.25 + 0.7 * f, t))
    return {"epoch": epoch, "spectrum": spectrum, "symmetry": symmetry, "attention": attention, "progress": progress,
            "key_freqs": run_key_frequencies(session), "label": _run_label(run)}


def figure_writer(directory, formats, label: str, records: list, colspan: int):
    """``figure(name, title, caption, draw, csv_data)``: a titled canvas drawn by ``draw(layout)`` (a
    ``pg.GraphicsLayout`` whose row 0 holds the title, ``colspan`` columns wide; ``draw`` fills rows 1…),
    saved in ``formats`` with its CSVs, its FigureRecord appended to ``records``.

    The figure sets call the writer they are given (default this one), so
    :mod:`grokviz.gui.compare.figures` can collect the same figures and draw two runs side by side."""

    def figure(name, title, caption, draw, csv_data):
        canvas = new_canvas()
        canvas.ci.addLabel(f"{label} · {title}", row=0, col=0, colspan=colspan, size="10pt", color="#555")
        draw(canvas.ci)
        record = FigureRecord(name, title, caption)
        record.files = save_canvas(canvas, directory, name, formats, csv_data)
        records.append(record)

    return figure


def render_figures(data: dict, directory, formats=("png", "svg"), slice_c: int = DEFAULT_SLICE_C,
                   writer=figure_writer) -> list:
    """Draw the standard set from :func:`build_figures` data into ``directory``; returns FigureRecords
    (or what ``writer``, see :func:`figure_writer`, appends)."""
    ensure_application()
    os.makedirs(directory, exist_ok=True)
    epoch, label = data["epoch"], data["label"]
    spectrum, symmetry, attention, progress = data["spectrum"], data["symmetry"], data["attention"], data["progress"]
    records = []
    figure = writer(directory, formats, label, records, colspan=4)

    def draw_losses_canvas(layout):
        plot = layout.addPlot(row=1, col=0)
        draw_losses(plot, progress)
        add_cursor(plot, epoch)

    phase_text = "; ".join(f"{n} {s:,.0f}–{e:,.0f}" for n, s, e in progress["phases"]) or "none detected"
    figure("01_loss_curves", "Loss curves", f"Train and test cross-entropy per epoch (log scale). Phases: {phase_text}.",
           draw_losses_canvas, loss_csv(progress))

    def draw_keys(layout):
        for row, matrix in enumerate(("W_E", "W_U", "W_logit"), start=1):
            plot = layout.addPlot(row=row, col=0)
            title = {"W_E": "W_E (embedding, number tokens): norm per Fourier component",
                     "W_U": "W_U (unembedding): norm per Fourier component over the output c",
                     "W_logit": "W_logit = W_out·W_U: norm per Fourier component over the output c"}[matrix]
            draw_fourier_norms(plot, spectrum, matrix, title=title, x_label=(matrix == "W_logit"), legend=(row == 1))
            plot.getAxis("left").setWidth(80)
    figure("02_key_frequencies", f"Key frequencies {data['key_freqs']} (epoch {epoch})",
           "Norm of W_E, W_U and W_logit per Fourier component (sin k left, cos k right), key frequencies shaded.",
           draw_keys, norms_csv(spectrum))

    def draw_neurons(layout):
        draw_neuron_heatmap(layout.addPlot(row=1, col=0), spectrum)
    figure("03_neuron_spectra", f"Neuron spectra (epoch {epoch})",
           f"Fraction of each MLP neuron's variance over (a, b) explained by frequency k, neurons sorted by cluster; "
           f"cluster sizes {spectrum['cluster_sizes']}.", draw_neurons, neuron_heatmap_csv(spectrum))

    def draw_sym(layout):
        draw_symmetry(layout.addPlot(row=1, col=0), symmetry, epoch)
    figure("04_symmetry", f"Symmetry along the forward pass (epoch {epoch})",
           "Per hook at the = position: operand-swap symmetry corr(x(a, b), x(b, a)) (for add the [c, a] vs "
           "[c, c − a] score), and the variance "
           "explained by the c/2 cosine model on the key frequencies. × = constant over inputs. For scores and "
           "pattern the key axis (a, b, =) is not swapped with the inputs, so attending equally to a and b shows "
           "as a negative score there.",
           draw_sym, symmetry_csv(symmetry))

    if symmetry["resid_post_ca"] is not None and not symmetry["ragged"]:
        c = slice_c if slice_c < symmetry["p"] else symmetry["p"] // 2
        dims = slice_dims(symmetry["resid_post_ca"])

        def draw_slice(layout):
            draw_ca_slice(layout.addPlot(row=1, col=0), symmetry, c, dims)
        figure("05_resid_post_slice", f"resid_post [c, a] slice at c = {c} (epoch {epoch})",
               f"resid_post at = for answer c = {c}, the {len(dims)} highest-variance directions over a; dashed lines "
               "mark the symmetry points a = c/2 and c/2 + p/2.", draw_slice, slice_csv(symmetry, c, dims))

    def draw_attn(layout):
        inner = layout.addLayout(row=1, col=0)
        fill_attention_layout(inner, attention)
    mean = attention["mean"]
    figure("06_attention", f"Attention from = (epoch {epoch})",
           "Per head and averaged: attention weight from the = query to a, b and = over all inputs (rows a, columns b). "
           "Mean per head: " + "; ".join(f"head {h}: a {m[0]:.2f}, b {m[1]:.2f}, = {m[2]:.2f}" for h, m in enumerate(mean)),
           draw_attn, {"": attention_csv(attention), "_summary": attention_summary_csv(attention)})

    def draw_prog(layout):
        for i, draw in enumerate(PROGRESS_PANELS):
            plot = layout.addPlot(row=1 + i // 2, col=i % 2)
            draw(plot, progress)
            add_cursor(plot, epoch)
    figure("07_progress_measures", f"Progress measures (key frequencies {progress['key_freqs']})",
           f"Over checkpoints: train/test/restricted/excluded loss (log), cos(w_k({progress['cos_argument']})) "
           "coefficients of the logits per key frequency k, "
           "total weight norm and Gini coefficients of W_E and W_L; shaded: " + phase_text + ".",
           draw_prog, progress_csv(progress))
    return records


def write_index(directory, records, title: str, notes: list = ()) -> str:
    """index.html showing every figure with its caption and links to its files."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1260px;margin:auto;padding:1em}"
             "figure{margin:2em 0;border-bottom:1px solid #ddd;padding-bottom:1em}"
             "img{max-width:100%;border:1px solid #eee}figcaption{color:#333}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for note in notes:
        parts.append(f"<p>{html.escape(note)}</p>")
    for record in records:
        image = next((f for f in record.files if f.endswith(".png")), None) or next(
            (f for f in record.files if f.endswith(".svg")), None)
        parts.append(f"<figure id='{record.name}'><h2>{html.escape(record.title)}</h2>")
        if image:
            parts.append(f"<img src='{html.escape(os.path.basename(image))}' alt='{html.escape(record.title)}'>")
        links = " · ".join(f"<a href='{html.escape(os.path.basename(f))}'>{html.escape(os.path.basename(f))}</a>"
                           for f in record.files)
        parts.append(f"<figcaption>{html.escape(record.caption)}<br>{links}</figcaption></figure>")
    parts.append("</body></html>")
    path = os.path.join(directory, "index.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return path


def figure_set_notes(data: dict) -> list:
    """The index.html notes of a figure set from :func:`build_figures` data (checkpoint, key
    frequencies, why a figure is missing)."""
    notes = [f"Checkpoint epoch {data['epoch']}; key frequencies {data['key_freqs']}; "
             f"progress measures at {len(data['progress']['epochs'])} checkpoints."]
    if data["symmetry"]["ragged"]:
        notes.append("No [c, a] slice: " + data["symmetry"]["note"])
    return notes


def export_figure_set(run, directory, formats=("png", "svg"), epoch=None, report=None,
                      max_checkpoints: int = 150, slice_c: int = DEFAULT_SLICE_C, extra_figures=()) -> list:
    """The standard figure set of ``run`` at ``epoch`` (final by default) into ``directory``;
    returns every written path (index.html last). ``report(fraction, text)`` hears progress.
    ``extra_figures``: more ``render(run, directory, formats, epoch) -> [FigureRecord]`` (e.g.
    :func:`grokviz.gui.mechanism_figures.render_mechanism_figures`) drawn into the same set."""
    data = build_figures(run, epoch, report=report, max_checkpoints=max_checkpoints)
    records = render_figures(data, directory, formats, slice_c=slice_c)
    for render in extra_figures:
        records += render(run, directory, formats, data["epoch"])
    index = write_index(directory, records, f"grokviz figures — {data['label']}", figure_set_notes(data))
    return [f for record in records for f in record.files] + [index]
