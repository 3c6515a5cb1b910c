"""Sweep view: heat map of the grokked epoch over two swept parameters, a cell table, loss curves.

Standalone widget (the main window can embed it): ``SweepView(directory)``. It reads the sweep's
``index.json`` (polled, so it updates live while the sweep runs). Cells that never grokked are
drawn grey with a ✕, unfinished cells hatched with their status; hovering a cell shows its numbers;
double-clicking emits :attr:`SweepView.run_requested` with the run file's path. Selecting a row
or column of the heat map overlays the test-loss curves of its cells.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from grokviz.gui import colormaps

TABLE_COLUMNS = ("name", "m", "n", "p", "seed", "status", "grokked_epoch", "test_acc", "test_loss", "wall_time", "error")
NEVER_COLOR = (170, 170, 170)
PENDING_COLOR = (235, 235, 235)


class SweepModel:
    """The index of a sweep directory as a grid over two axes (plain Python, no Qt)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.cells: list[dict] = []
        self.mtime = None

    def reload(self) -> bool:
        """Re-read the sweep index (:func:`grokviz.sweep.index.read_index`); True when it changed."""
        from grokviz.core.errors import RunFileError
        from grokviz.sweep.index import INDEX_JSON, read_index

        try:
            mtime = (self.directory / INDEX_JSON).stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if mtime == self.mtime:
            return False
        try:
            payload = read_index(self.directory)
        except RunFileError:
            return False  # mid-replace on an odd filesystem: next poll
        self.mtime, self.cells = mtime, list(payload["cells"])
        return True

    def axes(self) -> tuple[str, str]:
        """The two swept parameters (varying the most), default m × n."""
        candidates = ["m", "n", "p", "seed", "data_seed", "frac_train", "lr", "weight_decay", "grokfast_lambda"]
        varying = [k for k in candidates if len({c.get(k) for c in self.cells}) > 1]
        if len(varying) >= 2:
            return varying[0], varying[1]
        if len(varying) == 1:
            return varying[0], next(k for k in candidates if k != varying[0])
        return "m", "n"

    def grid(self):
        """(x values, y values, epochs [ny, nx] with nan = no value, cells [ny][nx] or None)."""
        x_key, y_key = self.axes()
        xs = sorted({c.get(x_key) for c in self.cells}, key=_sort_key)
        ys = sorted({c.get(y_key) for c in self.cells}, key=_sort_key)
        values = np.full((len(ys), len(xs)), np.nan)
        cells = [[None] * len(xs) for _ in ys]
        for cell in self.cells:
            i, j = ys.index(cell.get(y_key)), xs.index(cell.get(x_key))
            if cells[i][j] is None:  # first seed wins; seeds are listed in the table
                cells[i][j] = cell
                if cell.get("grokked_epoch") is not None:
                    values[i, j] = float(cell["grokked_epoch"])
        return xs, ys, values, cells

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(TABLE_COLUMNS)
        for cell in self.cells:
            writer.writerow(["" if cell.get(k) is None else cell.get(k) for k in TABLE_COLUMNS])
        return buffer.getvalue()


def _sort_key(value):
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def cell_text(cell: dict) -> str:
    grokked = cell.get("grokked_epoch")
    acc = cell.get("test_acc")
    lines = [cell.get("name", ""), f"status: {cell.get('status')}",
             f"grokked at epoch: {grokked if grokked is not None else 'never'}",
             f"epochs: {cell.get('epochs_done')}/{cell.get('epochs')}"]
    if acc is not None:
        lines.append(f"test acc {acc * 100:.1f} %, test loss {cell.get('test_loss') or float('nan'):.3g}")
    if cell.get("error"):
        lines.append(f"error: {cell['error']}")
    return "\n".join(lines)


class SweepView(QtWidgets.QWidget):
    run_requested = QtCore.Signal(str)

    def __init__(self, directory, parent=None, poll_ms: int = 2000):
        super().__init__(parent)
        self.model = SweepModel(directory)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground("w")
        self.plot = self.layout_widget.addPlot(row=0, col=0)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        # the heat map is pre-coloured RGBA (never-grokked / unfinished cells need their own colours),
        # so the colour bar stands alone with the same map and the epoch range as its levels
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=colormaps.sequential(), label="grokked epoch",
                                        interactive=False)
        self.layout_widget.addItem(self.colorbar, row=0, col=1)
        self.curves = self.layout_widget.addPlot(row=1, col=0)
        self.curves.setLogMode(y=True)
        self.curves.setLabel("bottom", "epoch")
        self.curves.setLabel("left", "test loss")
        self.curves.addLegend(offset=(-10, 10))
        self.table = QtWidgets.QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.cellDoubleClicked.connect(lambda row, _: self._open(self.model.cells[row]))
        self.status = QtWidgets.QLabel()
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.layout_widget)
        splitter.addWidget(self.table)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status, 0)
        self.overlays: list = []
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        if poll_ms > 0:  # 0: a static snapshot (e.g. for export), no live polling
            self.timer.start(poll_ms)
        self.refresh()

    # -- drawing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        if not self.model.reload() and self.overlays:
            return
        for item in self.overlays:
            self.plot.removeItem(item)
        self.overlays = []
        xs, ys, values, cells = self.model.grid()
        self.xs, self.ys, self.values, self.grid_cells = xs, ys, values, cells
        x_key, y_key = self.model.axes()
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if high <= low:
            high = low + 1
        rgba = np.zeros(values.shape + (4,), dtype=np.ubyte)
        lut = colormaps.sequential().getLookupTable(nPts=256, alpha=True)
        for i in range(len(ys)):
            for j in range(len(xs)):
                cell = cells[i][j]
                if cell is None:
                    rgba[i, j] = (255, 255, 255, 255)
                elif np.isfinite(values[i, j]):
                    rgba[i, j] = lut[int(round((values[i, j] - low) / (high - low) * 255))]
                elif cell.get("status") == "finished":
                    rgba[i, j] = (*NEVER_COLOR, 255)
                else:
                    rgba[i, j] = (*PENDING_COLOR, 255)
        # ImageItem is [x, y]; row i of the grid is y
        self.image.setImage(np.transpose(rgba, (1, 0, 2)), autoLevels=False)
        self.image.setRect(QtCore.QRectF(-0.5, -0.5, len(xs), len(ys)))
        self.colorbar.setLevels((low, high))
        for i in range(len(ys)):
            for j in range(len(xs)):
                cell = cells[i][j]
                if cell is None:
                    continue
                if np.isfinite(values[i, j]):
                    text, color = f"{int(values[i, j])}", "#fff" if (values[i, j] - low) / (high - low) < 0.6 else "#000"
                elif cell.get("status") == "finished":
                    acc = cell.get("test_acc")
                    text = "✕ never" + (f" (test acc {acc * 100:.0f} %)" if acc is not None else "")
                    color = "#000"
                else:
                    text, color = cell.get("status", ""), "#555"
                label = pg.TextItem(text, color=color, anchor=(0.5, 0.5))
                label.setPos(j, i)
                self.plot.addItem(label)
                self.overlays.append(label)
        axis_x, axis_y = self.plot.getAxis("bottom"), self.plot.getAxis("left")
        axis_x.setTicks([[(j, str(v)) for j, v in enumerate(xs)]])
        axis_y.setTicks([[(i, str(v)) for i, v in enumerate(ys)]])
        self.plot.setLabel("bottom", x_key)
        self.plot.setLabel("left", y_key)
        self.plot.setTitle(f"epoch of grokking (test acc ≥ 99 %) — {self.model.directory.name}")
        self.plot.setXRange(-0.5, len(xs) - 0.5, padding=0.02)
        self.plot.setYRange(-0.5, len(ys) - 0.5, padding=0.02)
        self._fill_table()
        counts = {s: sum(c.get("status") == s for c in self.model.cells) for s in ("finished", "running", "pending", "failed")}
        self.status.setText(", ".join(f"{v} {k}" for k, v in counts.items()) + "  — grey ✕ = never grokked")

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self.model.cells))
        for row, cell in enumerate(self.model.cells):
            for column, key in enumerate(TABLE_COLUMNS):
                value = cell.get(key)
                if isinstance(value, float):
                    value = f"{value:.4g}"
                self.table.setItem(row, column, QtWidgets.QTableWidgetItem("" if value is None else str(value)))
        self.table.resizeColumnsToContents()

    # -- interaction --------------------------------------------------------------------------
    def cell_at(self, scene_pos):
        point = self.plot.vb.mapSceneToView(scene_pos)
        j, i = int(round(point.x())), int(round(point.y()))
        if 0 <= i < len(self.ys) and 0 <= j < len(self.xs):
            return i, j, self.grid_cells[i][j]
        return None

    def _hover(self, scene_pos) -> None:
        hit = self.cell_at(scene_pos)
        self.layout_widget.setToolTip(cell_text(hit[2]) if hit and hit[2] else "")

    def _clicked(self, event) -> None:
        hit = self.cell_at(event.scenePos())
        if not hit or hit[2] is None:
            return
        if event.double():
            self._open(hit[2])
        else:
            self.show_curves(row=hit[0])

    def _open(self, cell: dict) -> None:
        self.run_requested.emit(str(self.model.directory / cell["file"]))

    def show_curves(self, row: int | None = None, column: int | None = None) -> list[str]:
        """Overlay the test-loss curves of a heat-map row (or column); returns the names shown."""
        from grokviz.core.errors import GrokvizError
        from grokviz.core.runfile import load_run

        self.curves.clear()
        chosen = self.grid_cells[row] if row is not None else [r[column] for r in self.grid_cells]
        shown = []
        for index, cell in enumerate(c for c in chosen if c):
            try:
                run = load_run(self.model.directory / cell["file"])
            except GrokvizError:
                continue
            history = run.history
            self.curves.plot(history.epoch, np.maximum(history.test_loss, 1e-12),
                             pen=pg.mkPen(colormaps.series_color(index), width=2),
                             name=f"m={cell.get('m')}, n={cell.get('n')}")
            shown.append(cell["name"])
        return shown

    # -- export -------------------------------------------------------------------------------
    def export_csv(self, path) -> None:
        Path(path).write_text(self.model.to_csv())

    def export_png(self, path) -> None:
        self.grab().save(str(path), "PNG")
