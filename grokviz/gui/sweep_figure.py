"""The (m, n) sweep as a publication figure (issue 15): in the style of the run figures (:mod:`figures`).

Panel 1, one cell per swept pair: the grokking epoch (colour, scale labelled in epochs) or, where the
run never grokked, grey with its final test accuracy; each cell also names the token basis the model
learned (``token_basis`` report) and its key frequencies (``key_frequencies`` report), both read
from the cell's run file through a :class:`~grokviz.analysis.session.RunSession`. Panel 2: every
finished cell's test loss per epoch. ``sweep_grokked_epoch.csv`` holds the numbers per cell.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from grokviz.gui import colormaps, figures

FIGURE_NAME = "sweep_grokked_epoch"
BASIS_SHORT = {"additive": "additive", "power": "power", "discrete_log": "disc. log"}
CSV_COLUMNS = ("name", "m", "n", "p", "seed", "status", "grokked_epoch", "test_acc", "test_loss", "basis_a",
               "basis_b", "concentration_a", "key_freqs", "note")


def cell_science(directory, cell: dict) -> dict:
    """Learned basis and key frequencies of one finished cell's final model (reports; {} when unreadable)."""
    from grokviz.analysis.session import open_session
    from grokviz.core.errors import GrokvizError

    if cell.get("status") != "finished" or not cell.get("file"):
        return {}
    try:
        session = open_session(os.path.join(directory, cell["file"]))
        basis = session.report("token_basis")
        keys = session.report("key_frequencies")
    except (GrokvizError, OSError, ValueError) as error:
        return {"note": f"not analysed: {error}"}
    return {"basis_a": basis["a"].best, "basis_b": basis["b"].best,
            "concentration_a": basis["a"].concentration, "key_freqs": list(keys.frequencies),
            "history": session.run.history}


def cell_label(cell: dict, science: dict) -> str:
    epoch = cell.get("grokked_epoch")
    if epoch is not None:
        first = f"{int(epoch):,}"
    elif cell.get("status") == "finished":
        acc = cell.get("test_acc")
        first = "never" + (f" · acc {acc * 100:.0f} %" if acc is not None else "")
    else:
        first = str(cell.get("status", ""))
    lines = [first]
    if science.get("basis_a"):
        basis = BASIS_SHORT[science["basis_a"]]
        if science["basis_b"] != science["basis_a"]:
            basis += f" / {BASIS_SHORT[science['basis_b']]}"
        lines.append(basis)
        keys = science.get("key_freqs") or []
        lines.append("k " + (", ".join(map(str, keys[:6])) + ("…" if len(keys) > 6 else "") if keys else "none"))
    return "\n".join(lines)


def draw_sweep_grid(plot: pg.PlotItem, model, science: dict) -> None:
    """Heat map of the grokking epoch with per-cell labels (basis, key frequencies); grey = never grokked."""
    xs, ys, values, cells = model.grid()
    x_key, y_key = model.axes()
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if high <= low:  # one grokked cell: a scale from 0 keeps the colour bar readable
        low, high = 0.0, max(high, 1.0)
    shown = np.where(np.isfinite(values), values, np.nan)
    image = figures._image(plot, shown, colormaps.sequential(), (low, high))
    rgba_never = np.zeros(values.shape + (4,), dtype=np.ubyte)
    for i in range(len(ys)):
        for j in range(len(xs)):
            cell = cells[i][j]
            if cell is not None and not np.isfinite(values[i, j]):
                grey = (170, 170, 170) if cell.get("status") == "finished" else (235, 235, 235)
                rgba_never[i, j] = (*grey, 255)
    never = pg.ImageItem(rgba_never, axisOrder="row-major")
    never.setRect(QtCore.QRectF(-0.5, -0.5, len(xs), len(ys)))
    plot.addItem(never)
    if finite.size:
        figures._colorbar(plot, image, colormaps.sequential(), (low, high), "grokking epoch (epochs)")
    for i in range(len(ys)):
        for j in range(len(xs)):
            cell = cells[i][j]
            if cell is None:
                continue
            dark = np.isfinite(values[i, j]) and (values[i, j] - low) / (high - low) < 0.6
            text = pg.TextItem(cell_label(cell, science.get(cell.get("name"), {})), color="#fff" if dark else "#000",
                               anchor=(0.5, 0.5))
            text.setFont(_font(10))
            text.setPos(j, i)
            plot.addItem(text)
    plot.getAxis("bottom").setTicks([[(j, str(v)) for j, v in enumerate(xs)]])
    plot.getAxis("left").setTicks([[(i, str(v)) for i, v in enumerate(ys)]])
    plot.setXRange(-0.5, len(xs) - 0.5, padding=0.02)
    plot.setYRange(-0.5, len(ys) - 0.5, padding=0.02)
    plot.setMouseEnabled(False, False)
    figures.style_plot(plot, "Grokking epoch (test accuracy ≥ 99 %), learned basis and key frequencies",
                       f"{x_key} (exponent of a)" if x_key == "m" else x_key,
                       f"{y_key} (exponent of b)" if y_key == "n" else y_key)


def _font(points: int):
    from PySide6 import QtGui

    font = QtGui.QFont()
    font.setPointSize(points)
    return font


def draw_sweep_losses(plot: pg.PlotItem, model, science: dict) -> None:
    """Test loss per epoch of every finished cell (log scale)."""
    x_key, y_key = model.axes()
    index = 0
    figures._legend(plot)
    for cell in model.cells:
        history = science.get(cell.get("name"), {}).get("history")
        if history is None or not len(history):
            continue
        loss = np.asarray(history.test_loss, dtype=float)
        keep = np.isfinite(loss)
        plot.addItem(figures.curve(np.asarray(history.epoch)[keep], np.log10(np.maximum(loss[keep], 1e-12)),
                                   pen=pg.mkPen(colormaps.series_color(index), width=2),
                                   name=f"{x_key} = {cell.get(x_key)}, {y_key} = {cell.get(y_key)}"))
        index += 1
    figures.style_plot(plot, "Test loss per epoch", "epoch", "test cross-entropy (nats, log₁₀)")


def write_sweep_csv(path, model, science: dict) -> str:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for cell in model.cells:
            facts = science.get(cell.get("name"), {})
            row = []
            for key in CSV_COLUMNS:
                value = facts.get(key, cell.get(key))
                if key == "concentration_a" and isinstance(value, dict):
                    value = "; ".join(f"{name} {v:.3f}" for name, v in value.items())
                elif key == "key_freqs" and isinstance(value, list):
                    value = " ".join(map(str, value))
                row.append("" if value is None else value)
            writer.writerow(row)
    return os.fspath(path)


def export_sweep_figure(directory, out, formats=("png", "svg")) -> list:
    """Write the sweep figure (PNG/SVG), its per-cell CSV and index.html into ``out``; returns the paths."""
    from grokviz.gui.sweep_view import SweepModel

    figures.ensure_application()
    os.makedirs(out, exist_ok=True)
    model = SweepModel(directory)
    model.reload()
    science = {cell.get("name"): cell_science(directory, cell) for cell in model.cells}
    canvas = figures.new_canvas((1200, 1000))
    canvas.ci.addLabel(f"sweep {os.path.basename(os.path.abspath(directory))}", row=0, col=0, size="10pt",
                       color="#555")
    grid = canvas.addPlot(row=1, col=0)
    draw_sweep_grid(grid, model, science)
    losses = canvas.addPlot(row=2, col=0)
    draw_sweep_losses(losses, model, science)
    canvas.ci.layout.setRowStretchFactor(1, 3)
    canvas.ci.layout.setRowStretchFactor(2, 2)
    files = figures.save_canvas(canvas, out, FIGURE_NAME, formats, None)
    files.append(write_sweep_csv(os.path.join(out, FIGURE_NAME + ".csv"), model, science))
    record = figures.FigureRecord(FIGURE_NAME, "Grokking across the sweep",
                                  "Per cell: the epoch at which test accuracy first reached 99 % (colour, in epochs) "
                                  "or, in grey, the final test accuracy of a run that never grokked; the token basis "
                                  "W_E is sparsest in (additive: waves in t; power: waves in tᵐ, the polar/De Moivre "
                                  "solution; disc. log: waves in log t) and the key frequencies. Below: test loss per "
                                  "epoch of every finished cell.", files)
    notes = [f"{sum(1 for c in model.cells if c.get('grokked_epoch') is not None)} of {len(model.cells)} cells grokked."]
    notes += [f"{name}: {facts['note']}" for name, facts in science.items() if facts.get("note")]
    index = figures.write_index(out, [record], f"grokviz sweep — {os.path.basename(os.path.abspath(directory))}", notes)
    return files + [index]
