"""Drawing and CSV for the §6b analyses (clock vs pizza, embedding circles, …), shared by their tabs
and ``grokviz export``. Every number comes from a report (:mod:`grokviz.analysis.reports`); this
module only presents it (pyqtgraph, on a given ``PlotItem``)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from grokviz.analysis.session import session_of
from grokviz.gui import colormaps
from grokviz.gui.export import CurveData, ImageData
from grokviz.gui.figures import _colorbar, _font, _image, _legend, add_cursor, curve, style_plot

S_G_COLOR = "#0072B2"
Q_COLOR = "#D55E00"
CIRCLES_MAX_FREQUENCIES = 6


# ----------------------------------------------------------------------------- clock vs pizza

def clock_pizza_csv(history) -> CurveData:
    out = CurveData(x_label="epoch", comment=f"clock vs pizza (Zhong et al. 2023) over checkpoints; "
                                            f"{history.n_triples} random (a, b, c), seed {history.seed}")
    out.add("gradient_symmetricity", history.epochs, history.gradient_symmetricity)
    out.add("distance_irrelevance", history.epochs, history.distance_irrelevance)
    return out


def draw_clock_pizza_history(plot: pg.PlotItem, history, epoch=None):
    """s_g and q over training, with the paper's clock / pizza values as dotted guides."""
    from grokviz.analysis.clock_pizza import PAPER_VALUES

    _legend(plot, offset=(-10, -10))  # bottom right: the guides' labels sit at the left
    epochs = np.asarray(history.epochs, dtype=float)
    plot.addItem(curve(epochs, np.asarray(history.gradient_symmetricity, dtype=float), pen=pg.mkPen(S_G_COLOR, width=2),
                       symbol="o", symbolSize=4, symbolBrush=S_G_COLOR, symbolPen=None, name="gradient symmetricity s_g"))
    plot.addItem(curve(epochs, np.asarray(history.distance_irrelevance, dtype=float), pen=pg.mkPen(Q_COLOR, width=2),
                       symbol="s", symbolSize=4, symbolBrush=Q_COLOR, symbolPen=None, name="distance irrelevance q"))
    for name, (s_g, q) in PAPER_VALUES.items():
        for value, color in ((s_g, S_G_COLOR), (q, Q_COLOR)):
            line = pg.InfiniteLine(value, angle=0, pen=pg.mkPen(color, width=1, style=QtCore.Qt.PenStyle.DotLine),
                                   label=f"{name}", labelOpts={"position": 0.02, "color": color, "anchors": [(0, 1), (0, 1)]})
            plot.addItem(line)
    style_plot(plot, f"Clock vs pizza over training ({history.n_triples} random (a, b, c), seed {history.seed})",
               "epoch", "score")
    plot.setYRange(-0.05, 1.1, padding=0)
    return add_cursor(plot, epoch)


def clock_pizza_grid_csv(result) -> ImageData:
    grid = result.correct_logit
    rows, cols = grid.axes
    return ImageData(grid.data.numpy(), row_labels=[str(i) for i in range(rows.size)],
                     column_labels=[str(i) for i in range(cols.size)], row_axis=rows.name, column_axis=cols.name,
                     comment=f"correct-class logit; s_g {result.gradient_symmetricity:.4f}, "
                             f"q {result.distance_irrelevance:.4f}, verdict {result.verdict}")


def draw_clock_pizza_grid(plot: pg.PlotItem, result, epoch=None, colorbar=True):
    """The correct-class logit over [a + b, a − b]: a clock is flat along a − b, a pizza striped.

    ``colorbar``: True adds one, an existing ``ColorBarItem`` is re-bound; returns the bar (or None)."""
    grid = result.correct_logit
    values = grid.data.numpy()
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    image = _image(plot, values, colormaps.sequential(), (low, high))
    if isinstance(colorbar, pg.ColorBarItem):  # a tab redrawing: rebind its bar
        colorbar.setImageItem(image)
        colorbar.setLevels((low, high))
    elif colorbar:
        colorbar = _colorbar(plot, image, colormaps.sequential(), (low, high), "correct-class logit")
    rows, cols = grid.axes
    at = f" at epoch {epoch}" if epoch is not None else ""
    style_plot(plot, f"Correct logit{at}: s_g {result.gradient_symmetricity:.2f}, q {result.distance_irrelevance:.2f} "
                     f"→ {result.verdict}", f"{cols.name} (mod {cols.size})", f"{rows.name} (mod {rows.size})")
    plot.setXRange(-0.5, cols.size - 0.5, padding=0)
    plot.setYRange(-0.5, rows.size - 0.5, padding=0)
    return colorbar


# ----------------------------------------------------------------------------- embedding circles

def circles_csv(frame, epoch=None) -> CurveData:
    """One long table: per operand and frequency, each token's (x, y) on the plane."""
    out = CurveData(x_label="x", comment="W_E on each key frequency's (cos k, sin k) plane"
                                         + (f" at epoch {epoch}" if epoch is not None else "")
                                         + "; series = operand_k_axis, rows = tokens 0…p−1")
    for circles in frame.operands:
        points = circles.points.numpy()
        tokens = np.arange(points.shape[1])
        for j, k in enumerate(frame.frequencies):
            out.add(f"{circles.operand}_k{k}_x (circularity {circles.circularity[j]:.4f})", tokens, points[j, :, 0])
            out.add(f"{circles.operand}_k{k}_y", tokens, points[j, :, 1])
    return out


def _text_symbol(text: str) -> QtGui.QPainterPath:
    """A token label as a scatter symbol: the text's outline, above the point (symbol units)."""
    path = QtGui.QPainterPath()
    path.addText(0, 0, _font(7), text)
    box = path.boundingRect()
    scale = 1.0 / max(box.height(), 1e-9)
    transform = QtGui.QTransform().scale(scale, scale).translate(-box.center().x(), -box.bottom() - box.height() * 0.9)
    return transform.map(path)


class CirclePlot:
    """One frequency's scatter with token labels; :meth:`show` moves the points (cheap per frame).

    Points and labels are two ScatterPlotItems (labels as text-outline symbols, which pyqtgraph
    renders from a cached atlas), brushes are built once per colouring, and the view range is
    fixed by :meth:`set_radius`, so a frame only moves points: ≥ 30 frames/s at p = 113 with every
    token labelled (``grokviz bench gui``, ``circles_animation``)."""

    def __init__(self, plot: pg.PlotItem, p: int, label_every: int = 1):
        self.plot = plot
        self.p = p
        self.scatter = pg.ScatterPlotItem(size=7, pen=None)
        plot.addItem(self.scatter)
        self.label_tokens = np.arange(0, p, max(1, label_every)) if label_every and label_every <= p else np.arange(0)
        self.labels = pg.ScatterPlotItem(size=11, pen=None, brush=pg.mkBrush("#333"))
        self._label_symbols = [_text_symbol(str(t)) for t in range(p)]
        plot.addItem(self.labels)
        self._colors = colormaps.cyclic().map(np.linspace(0, 1, p, endpoint=False), mode="qcolor")
        self._brushes_key = None
        self._brushes = []
        self._radius = None
        # the per-frame score goes in a TextItem: changing a PlotItem title re-lays out the plot (~2 ms)
        self.score = pg.TextItem("", color="#000", anchor=(0, 0))
        self.score.setFont(_font(9))
        plot.addItem(self.score, ignoreBounds=True)
        plot.setAspectLocked(True)
        plot.hideButtons()
        plot.getViewBox().setMouseEnabled(False, False)
        style_plot(plot)

    def set_radius(self, radius: float) -> None:
        """Fix the view to ±``radius`` (×1.2) on both axes."""
        radius = float(radius) * 1.2 if radius and np.isfinite(radius) and radius > 0 else 1.0
        if radius != self._radius:
            self._radius = radius
            self.plot.setRange(xRange=(-radius, radius), yRange=(-radius, radius), padding=0)
            self.score.setPos(-radius, radius)

    def _brushes_for(self, coordinate: np.ndarray, inside: np.ndarray, n: int, k: int) -> list:
        key = (k, n, inside.tobytes(), coordinate.tobytes())
        if key != self._brushes_key:
            order = (k * coordinate) % n
            self._brushes = [pg.mkBrush(self._colors[int(order[t] * self.p / n) % self.p]) for t in np.flatnonzero(inside)]
            self._brushes_key = key
        return self._brushes

    def show(self, points: np.ndarray, coordinate, n: int, k: int, score: float, operand: str = "a",
             title: bool = True):
        """``points`` [token, 2]; colours follow the position k·u mod n on the ideal circle."""
        coordinate = np.asarray(coordinate)
        inside = (coordinate >= 0) & np.isfinite(points).all(1)
        labelled = self.label_tokens[inside[self.label_tokens]]
        key = (k, n, inside.tobytes(), coordinate.tobytes())
        if key == self._brushes_key:  # same points, same colours: only move them
            _move(self.scatter, points[inside])
            _move(self.labels, points[labelled])
        else:
            self.scatter.setData(pos=points[inside], brush=self._brushes_for(coordinate, inside, n, k))
            self.labels.setData(pos=points[labelled], symbol=[self._label_symbols[t] for t in labelled])
        if self._radius is None:
            self.set_radius(float(np.abs(points[inside]).max()) if inside.any() else 1.0)
        text = f"k = {k} ({operand})"
        if title and text != getattr(self, "_title", None):
            self._title = text
            self.plot.setTitle(text, size="10pt", color="#000")
        self.score.setText(f"circularity {score:.2f}")


def _move(scatter: pg.ScatterPlotItem, positions: np.ndarray) -> None:
    """New positions for a scatter's existing points (no per-point restyling, unlike ``setData``)."""
    scatter.data["x"] = positions[:, 0]
    scatter.data["y"] = positions[:, 1]
    scatter.prepareGeometryChange()
    scatter.bounds = [None, None]
    scatter.invalidate()


def circle_layout(layout: pg.GraphicsLayout, frame, p: int, label_every: int = 1, columns: int = 3,
                  frames=None) -> list:
    """One :class:`CirclePlot` per (operand, frequency) of ``frame`` in ``layout``; returns them.

    With ``frames`` (every frame to be shown) each plot's range fits all of them, so it stays put."""
    plots = []
    count = 0
    for i, circles in enumerate(frame.operands):
        for j, k in enumerate(frame.frequencies[:CIRCLES_MAX_FREQUENCIES]):
            item = layout.addPlot(row=count // columns, col=count % columns)
            plot = CirclePlot(item, p, label_every)
            if frames:
                plot.set_radius(max(float(np.nanmax(np.abs(f.operands[i].points[j].numpy()))) for f in frames))
            plots.append((circles.operand, j, plot))
            count += 1
    return plots


def show_circles(plots: list, frame) -> None:
    by_operand = {c.operand: c for c in frame.operands}
    for operand, j, plot in plots:
        circles = by_operand[operand]
        plot.show(circles.points[j].numpy(), circles.coordinate, circles.n, frame.frequencies[j],
                  circles.circularity[j], operand)


# ----------------------------------------------------------------------------- learned epochs

TRAIN_COLOR = "#0072B2"
TEST_COLOR = "#D55E00"


def learned_grid(result, task, layout: str = "ab", inputs: str = "all", by_epoch=None) -> tuple:
    """(values [rows, cols] float with NaN for blank cells, row name, column name, note).

    ``layout`` "ab" (rows a, columns b) or "ca" (rows c, columns a); ``inputs`` all / train / test;
    ``by_epoch`` blanks inputs not yet learned for good by then (the tab's checkpoint)."""
    from grokviz.analysis.labelled import LabelledTensor
    from grokviz.analysis.reorder import reorder

    values = result.learned.data.double()
    values = values.masked_fill(values < 0, float("nan"))
    keep = result.valid.clone()
    if inputs == "train":
        keep &= result.train
    elif inputs == "test":
        keep &= ~result.train
    if by_epoch is not None:
        keep &= (result.learned.data >= 0) & (result.learned.data <= int(by_epoch))
    values = values.masked_fill(~keep, float("nan"))
    grid = LabelledTensor(values, result.learned.axes)
    note = ""
    if layout == "ca":
        grid = reorder(grid, task, "ca")
        note = grid.note
    return grid.data.double().numpy(), grid.names[0], grid.names[1], note


def learned_grid_csv(result, task, layout: str = "ab") -> ImageData:
    values, rows, cols, note = learned_grid(result, task, layout)
    train = result.train.double().numpy()
    p = values.shape[0]
    return ImageData(values, row_labels=[str(i) for i in range(p)], column_labels=[str(i) for i in range(p)],
                     row_axis=rows, column_axis=cols,
                     comment="epoch from which the input is predicted correctly at every later checkpoint "
                             f"(empty: wrong at the final one); {int(train.sum())} training inputs. {note}")


def draw_learned_grid(plot: pg.PlotItem, result, task, layout="ab", inputs="all", by_epoch=None, colorbar=True):
    """Heatmap of the learned epoch; blank = not learned (yet). Returns the colour bar (see the clock grid)."""
    values, rows, cols, note = learned_grid(result, task, layout, inputs, by_epoch)
    unit = 1000.0 if result.epochs[-1] >= 10_000 else 1.0  # five-digit tick labels do not fit the bar's axis
    levels = (result.epochs[0] / unit, max(result.epochs[-1], result.epochs[0] + 1) / unit)
    image = _image(plot, values / unit, colormaps.sequential(), levels)
    if isinstance(colorbar, pg.ColorBarItem):
        colorbar.setImageItem(image)
    elif colorbar:
        colorbar = _colorbar(plot, image, colormaps.sequential(), levels,
                             "epoch learned" + (" (thousands)" if unit > 1 else ""))
    shown = int(np.isfinite(values).sum())
    upto = f" by epoch {by_epoch}" if by_epoch is not None else ""
    style_plot(plot, f"Learned for good{upto}: {shown} {inputs if inputs != 'all' else ''} inputs"
                     + (f" ({note})" if note else ""), cols, rows)
    p = values.shape[0]
    plot.setXRange(-0.5, p - 0.5, padding=0)
    plot.setYRange(-0.5, p - 0.5, padding=0)
    return colorbar


def learned_histogram_csv(result) -> CurveData:
    histogram = result.histogram()
    out = CurveData(x_label="epoch", comment="inputs learned for good at each stored checkpoint; never: "
                                            f"{histogram['never']}")
    out.add("train", histogram["epochs"], histogram["train"])
    out.add("test", histogram["epochs"], histogram["test"])
    return out


def draw_learned_histogram(plot: pg.PlotItem, result, epoch=None):
    """Inputs learned for good per checkpoint, train and test stacked."""
    histogram = result.histogram()
    epochs = np.asarray(histogram["epochs"], dtype=float)
    width = float(np.median(np.diff(epochs))) * 0.8 if len(epochs) > 1 else 1.0
    train, test = np.asarray(histogram["train"], float), np.asarray(histogram["test"], float)
    _legend(plot)
    plot.addItem(pg.BarGraphItem(x=epochs, height=train, width=width, brush=TRAIN_COLOR, pen=None, name="train"))
    plot.addItem(pg.BarGraphItem(x=epochs, y0=train, height=test, width=width, brush=TEST_COLOR, pen=None, name="test"))
    never = histogram["never"]
    style_plot(plot, f"When inputs are learned (never: train {never['train']}, test {never['test']})",
               "epoch", "inputs learned for good")
    return add_cursor(plot, epoch)


# ----------------------------------------------------------------------------- training dynamics

GROUP_LABELS = {"model": "whole model", "embed": "embed (W_E, W_pos)", "attention": "attention (W_Q, W_K, W_V, W_O)",
                "mlp": "MLP (W_in, W_out)", "unembed": "unembed (W_U)"}


def _own_loss_curve(history):
    """The collapse under a StableMax run's own loss (None for cross-entropy runs: it is the softmax's)."""
    own = getattr(history, "own_loss_collapsed", None)
    return own if own is not None and getattr(history, "training_loss", "cross_entropy") != "cross_entropy" else None


def collapse_csv(history) -> CurveData:
    data = CurveData(x_label="epoch", comment="fraction of training inputs whose float32 softmax gives the correct "
                                              "class exactly 1.0 (Prieto et al. 2025)"
                                              + (f"; {history.note}" if getattr(history, "note", None) else "")).add(
        "collapsed_fraction", history.epochs, history.collapsed)
    own = _own_loss_curve(history)
    if own is not None:
        data.add(f"collapsed_under_{history.training_loss}", history.epochs, own)
    return data


def draw_collapse(plot: pg.PlotItem, history, epoch=None):
    own = _own_loss_curve(history)
    if own is not None:  # a StableMax run: the softmax's collapse is not its loss's, both shown
        _legend(plot)
    plot.addItem(curve(history.epochs, history.collapsed, pen=pg.mkPen("#CC79A7", width=2), symbol="o", symbolSize=4,
                       symbolBrush="#CC79A7", symbolPen=None, name="softmax" if own is not None else None))
    if own is not None:
        plot.addItem(curve(history.epochs, own, pen=pg.mkPen("#009E73", width=2), symbol="t", symbolSize=5,
                           symbolBrush="#009E73", symbolPen=None, name=f"{history.training_loss} (the run's loss)"))
    style_plot(plot, "Softmax collapse: training inputs with p_correct = 1.0 in float32", "epoch", "fraction")
    plot.setYRange(0, 1.02, padding=0)
    return add_cursor(plot, epoch)


def trajectory_csv(trajectory, group: str = "model") -> CurveData:
    path = trajectory.paths[group].numpy()
    out = CurveData(x_label="epoch", comment=f"{GROUP_LABELS[group]}: PCA of the flattened weights over checkpoints "
                                            f"(explained {trajectory.explained[group]}); step = ‖θ_t − θ_(t−1)‖")
    out.add("pc1", trajectory.epochs, path[:, 0]).add("pc2", trajectory.epochs, path[:, 1])
    out.add("step_from_previous", trajectory.epochs, [float("nan")] + list(trajectory.steps[group]))
    return out


def draw_trajectory(plot: pg.PlotItem, trajectory, group: str = "model", epoch=None):
    """The 2-D PCA path coloured by epoch (dark → light), the current checkpoint ringed."""
    path = trajectory.paths[group].numpy()
    epochs = np.asarray(trajectory.epochs, dtype=float)
    plot.addItem(curve(path[:, 0], path[:, 1], pen=pg.mkPen("#999", width=1)))
    span = max(epochs[-1] - epochs[0], 1.0)
    colors = colormaps.sequential().map((epochs - epochs[0]) / span, mode="qcolor")
    plot.addItem(pg.ScatterPlotItem(x=path[:, 0], y=path[:, 1], size=8, pen=None, brush=[pg.mkBrush(c) for c in colors]))
    marker = pg.ScatterPlotItem(size=16, pen=pg.mkPen("#d62728", width=2), brush=None)
    plot.addItem(marker)
    for index in (0, len(epochs) - 1):
        text = pg.TextItem(f"epoch {int(epochs[index])}", color="#333", anchor=(0, 1))
        text.setPos(float(path[index, 0]), float(path[index, 1]))
        plot.addItem(text)
    shares = trajectory.explained[group]
    style_plot(plot, f"Weight trajectory, {GROUP_LABELS[group]} (colour = epoch)",
               f"PC 1 ({100 * shares[0]:.0f} % of variance)", f"PC 2 ({100 * shares[1]:.0f} %)")
    move_trajectory_marker(marker, trajectory, group, epoch)
    return marker


def move_trajectory_marker(marker, trajectory, group, epoch):
    if epoch is None:
        return
    index = int(np.argmin(np.abs(np.asarray(trajectory.epochs) - int(epoch))))
    point = trajectory.paths[group][index].numpy()
    marker.setData(x=[point[0]], y=[point[1]])


def draw_steps(plot: pg.PlotItem, trajectory, group: str = "model", epoch=None):
    epochs = np.asarray(trajectory.epochs[1:], dtype=float)
    plot.addItem(curve(epochs, trajectory.steps[group], pen=pg.mkPen("#009E73", width=2), stepMode=None))
    style_plot(plot, f"Step size per checkpoint interval, {GROUP_LABELS[group]}", "epoch (end of interval)",
               "‖θ_t − θ_(t−1)‖")
    return add_cursor(plot, epoch)


def neuron_dynamics_csv(dynamics) -> ImageData:
    values = dynamics.final_fraction.numpy().T[dynamics.order]
    final = dynamics.cluster[-1]
    return ImageData(values, row_labels=[f"n{n} (k={int(final[n]) or '-'}, committed {int(dynamics.commitment[n])}, "
                                         f"{int(dynamics.switches[n])} switches)" for n in dynamics.order],
                     column_labels=[str(e) for e in dynamics.epochs], row_axis="neuron (sorted by final cluster)",
                     column_axis="epoch", comment="fraction of each neuron's variance in its final cluster's frequency")


def draw_neuron_dynamics(plot: pg.PlotItem, dynamics, epoch=None, colorbar=True):
    """Neuron × checkpoint: the share of each neuron's variance in its final cluster's frequency,
    neurons sorted by final cluster (then commitment); unclustered neurons last (0)."""
    values = dynamics.final_fraction.numpy().T[dynamics.order]  # [neuron, checkpoint]
    epochs = np.asarray(dynamics.epochs, dtype=float)
    step = float(np.median(np.diff(epochs))) if len(epochs) > 1 else 1.0
    image = _image(plot, values, colormaps.sequential(), (0.0, 1.0), x0=epochs[0], dx=step)
    if isinstance(colorbar, pg.ColorBarItem):
        colorbar.setImageItem(image)
    elif colorbar:
        colorbar = _colorbar(plot, image, colormaps.sequential(), (0.0, 1.0), "fraction at final cluster")
    summary = dynamics.to_json()
    median = summary["median_commitment_epoch"]
    # a short title: a wide one would squeeze the colour bar's layout column to nothing
    style_plot(plot, f"Neuron commitment: {summary['committed_neurons']} committed"
                     + (f", median epoch {median:,.0f}" if median is not None else ""),
               "epoch", "neuron (sorted by final cluster)")
    add_cursor(plot, epoch)
    return colorbar


# ----------------------------------------------------------------------------- export

def _panel(layout, row: int, col: int, colspan: int = 1) -> pg.PlotItem:
    """A plot of a multi-panel figure, with 11 pt titles (15 pt ones would widen the columns past the canvas)."""
    plot = layout.addPlot(row=row, col=col, colspan=colspan)
    plot.grokviz_title_size = "11pt"
    return plot


def render_mechanism_figures(run, directory, formats=("png", "svg"), epoch=None, report=None, writer=None) -> list:
    """The §6b figures of ``run`` at ``epoch`` (final by default) into ``directory``; returns FigureRecords
    (or what ``writer``, see :func:`grokviz.gui.figures.figure_writer`, appends)."""
    from grokviz.gui.figures import _run_label, figure_writer

    session = session_of(run)
    epoch = session.resolve_epoch(epoch)
    records = []
    figure = (writer or figure_writer)(directory, formats, _run_label(run), records, colspan=2)

    if report is not None:
        report(0.0, "Clock vs pizza over checkpoints…")
    history = session.report("clock_pizza_history", max_checkpoints=100)
    current = session.report("clock_pizza", epoch)

    def draw_clock_pizza(layout):
        draw_clock_pizza_history(_panel(layout, 1, 0), history, epoch)
        draw_clock_pizza_grid(_panel(layout, 1, 1), current, epoch)
    figure("08_clock_pizza", f"Clock vs pizza (epoch {epoch}): {current.verdict}",
           f"Gradient symmetricity s_g {current.gradient_symmetricity:.3f} and distance irrelevance q "
           f"{current.distance_irrelevance:.3f} ({current.n_triples} random (a, b, c), seed {current.seed}) → "
           f"{current.verdict}; paper: clock 0.33 / 0.85, pizza 0.99 / 0.17. Right: the correct-class logit "
           "ordered by (a + b, a − b).", draw_clock_pizza,
           {"": clock_pizza_csv(history), "_correct_logit": clock_pizza_grid_csv(current)})

    if report is not None:
        report(0.5, "Embedding circles…")
    circles = session.report("embedding_circles", epoch, frequencies=tuple(_circle_frequencies(session)))
    if circles.frequencies:
        def draw_circles(layout):
            inner = layout.addLayout(row=1, col=0)
            show_circles(circle_layout(inner, circles, run.p), circles)
        scores = ", ".join(f"k={k}: {s:.2f}" for k, s in zip(circles.frequencies, circles.operands[0].circularity))
        figure("09_embedding_circles", f"Embedding circles (epoch {epoch})",
               f"W_E's number tokens on each key frequency's (cos k, sin k) plane, coloured by k·a mod p; "
               f"circularity (1 = equal radii at equal angles in order k·a) {scores}.", draw_circles,
               circles_csv(circles, epoch))
    if report is not None:
        report(0.7, "When each input is learned…")
    learned = session.report("learned_epochs")

    def draw_learned(layout):
        draw_learned_grid(_panel(layout, 1, 0), learned, run.task, "ab")
        draw_learned_grid(_panel(layout, 1, 1), learned, run.task, "ca")
        draw_learned_histogram(_panel(layout, 2, 0, 2), learned, epoch)
    summary = learned.to_json()["summary"]
    figure("10_learned_epochs", "When each input is learned",
           "Per input, the epoch from which it is predicted correctly at every later stored checkpoint, over "
           f"[a, b] and [c, a], and as a histogram; train median {summary['train']['median_epoch']}, test median "
           f"{summary['test']['median_epoch']}, never learned: train {summary['train']['never']}, test "
           f"{summary['test']['never']}.", draw_learned,
           {"": learned_grid_csv(learned, run.task, "ab"), "_ca": learned_grid_csv(learned, run.task, "ca"),
            "_histogram": learned_histogram_csv(learned)})
    if report is not None:
        report(0.8, "Training dynamics…")
    collapse = session.report("softmax_collapse_history")
    trajectory = session.report("weight_trajectory")
    dynamics = session.report("neuron_dynamics", max_checkpoints=100)

    def draw_dynamics(layout):
        draw_trajectory(_panel(layout, 1, 0), trajectory, "model", epoch)
        draw_steps(_panel(layout, 1, 1), trajectory, "model", epoch)
        draw_collapse(_panel(layout, 2, 0), collapse, epoch)
        draw_neuron_dynamics(_panel(layout, 2, 1), dynamics, epoch)
    csvs = {"_collapse": collapse_csv(collapse), "_neurons": neuron_dynamics_csv(dynamics)}
    csvs.update({f"_trajectory_{group}": trajectory_csv(trajectory, group) for group in trajectory.paths})
    figure("11_training_dynamics", "Training dynamics",
           "Weight trajectory (PCA of the flattened weights over checkpoints; per-group paths in the CSVs), step size "
           "per checkpoint interval, the fraction of training inputs whose float32 softmax has collapsed "
           f"(final {collapse.collapsed[-1]:.3f}), and per neuron the share of its variance in its final cluster."
           + (f" Note: {collapse.note}." if collapse.note else ""),
           draw_dynamics, csvs)
    return records


def _circle_frequencies(session) -> list:
    from grokviz.analysis.reports.key_frequencies import run_circle_frequencies

    return run_circle_frequencies(session)


ANIMATION_FORMATS = ("gif", "mp4")
MP4_HELP = ("MP4 needs an ffmpeg encoder: pip install imageio-ffmpeg (its wheels bundle ffmpeg; a grokviz "
            "dependency), or point IMAGEIO_FFMPEG_EXE at an ffmpeg binary; --animate-format gif needs neither")


def ffmpeg_executable() -> str:
    """The ffmpeg that writes MP4s (imageio-ffmpeg's bundled binary, else $IMAGEIO_FFMPEG_EXE or one on
    PATH); ValueError with :data:`MP4_HELP` when there is none. Nothing is downloaded."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as error:
        raise ValueError(f"{MP4_HELP} ({error})") from None


def circle_animation_frames(run, size=(1200, 800), report=None):
    """The Circles tab's animation over every checkpoint: yields one RGB QImage per stored epoch."""
    from PySide6 import QtGui, QtWidgets

    from grokviz.gui.figures import _run_label, new_canvas

    history = session_of(run).report("embedding_circles_history")
    if not history.frequencies:
        raise ValueError("the final model has no key frequencies: no circles to animate")
    canvas = new_canvas(size)
    title = canvas.ci.addLabel("", row=0, col=0, size="11pt", color="#333")
    inner = canvas.ci.addLayout(row=1, col=0)
    plots = circle_layout(inner, history.frames[0], run.p, frames=history.frames)
    canvas.show()
    try:
        for index, (epoch, frame) in enumerate(zip(history.epochs, history.frames)):
            title.setText(f"{_run_label(run)} · embedding circles · epoch {epoch}")
            show_circles(plots, frame)
            QtWidgets.QApplication.processEvents()
            yield canvas.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
            if report is not None:
                report((index + 1) / len(history.epochs), f"frame {index + 1}/{len(history.epochs)}")
    finally:
        canvas.hide()
        canvas.deleteLater()


def _rgb_bytes(image, width: int, height: int) -> bytes:
    """Rows of a Format_RGB888 QImage without their padding, cropped to width × height."""
    line, stride = 3 * image.width(), image.bytesPerLine()
    data = bytes(image.constBits())[: image.sizeInBytes()]
    return b"".join(data[row * stride: row * stride + line][: 3 * width] for row in range(height))


def write_circles_animation(run, path, fps: int = 10, size=(1200, 800), report=None) -> str:
    """The Circles tab's animation at ``path``: a GIF (Pillow), or an MP4 (H.264 through ffmpeg,
    :func:`ffmpeg_executable`) when ``path`` ends in ``.mp4``."""
    from pathlib import Path

    kind = Path(path).suffix.lower().lstrip(".")
    if kind not in ANIMATION_FORMATS:
        raise ValueError(f"an animation is written as {' or '.join(ANIMATION_FORMATS)}, not {kind or 'no suffix'!r}")
    if kind == "mp4":
        return _write_mp4(run, path, fps, size, report)
    from PIL import Image

    frames = []
    for image in circle_animation_frames(run, size, report):
        frames.append(Image.frombytes("RGB", (image.width(), image.height()),
                                      _rgb_bytes(image, image.width(), image.height())).quantize(colors=128))
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0, optimize=False)
    return str(path)


def _write_mp4(run, path, fps, size, report) -> str:
    import imageio_ffmpeg

    ffmpeg_executable()  # before any frame is drawn: a missing encoder is one line, not a half-written file
    writer = None
    try:
        for image in circle_animation_frames(run, size, report):
            if writer is None:  # yuv420p needs even sides: crop a pixel off odd ones
                width, height = image.width() // 2 * 2, image.height() // 2 * 2
                writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=fps, macro_block_size=2,
                                                     ffmpeg_log_level="error")
                writer.send(None)
            writer.send(_rgb_bytes(image, width, height))
    finally:
        if writer is not None:
            writer.close()
    return str(path)
