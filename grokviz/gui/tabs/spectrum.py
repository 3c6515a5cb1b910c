"""Spectrum tab: Fourier norms of W_E / W_U / W_logit, neuron spectra, per-neuron details, neuron table."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from grokviz.gui import colormaps, figures
from grokviz.gui.figures import curve
from grokviz.gui.export import CurveData, ImageData
from grokviz.gui.tabs.base import AnalysisTab

NEURON_COLUMNS = ("neuron", "frequency", "fraction", "cluster", "output norm")


class NeuronTableModel(QtCore.QAbstractTableModel):
    """One row per neuron: id, dominant frequency, its fraction, cluster (0 = none), ‖W_out[n]‖."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows = np.zeros((0, len(NEURON_COLUMNS)))

    def set_spectrum(self, spectrum: dict | None):
        self.beginResetModel()
        if spectrum is None:
            self._rows = np.zeros((0, len(NEURON_COLUMNS)))
        else:
            n = len(spectrum["neuron_frequency"])
            self._rows = np.column_stack([np.arange(n), spectrum["neuron_frequency"], spectrum["neuron_fraction"],
                                          spectrum["neuron_cluster"], spectrum["output_norm"]]).astype(float)
        self.endResetModel()

    def rowCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(NEURON_COLUMNS)

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        value = self._rows[index.row(), index.column()]
        column = index.column()
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            if column in (0, 1):
                return str(int(value))
            if column == 3:
                return str(int(value)) if value else "–"
            return f"{value:.3f}" if column == 2 else f"{value:.4g}"
        if role == QtCore.Qt.ItemDataRole.UserRole:  # numeric sort key
            return float(value)
        if role == QtCore.Qt.ItemDataRole.TextAlignmentRole:
            return int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section, orientation, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if role == QtCore.Qt.ItemDataRole.DisplayRole and orientation == QtCore.Qt.Orientation.Horizontal:
            return NEURON_COLUMNS[section]
        if role == QtCore.Qt.ItemDataRole.ToolTipRole and orientation == QtCore.Qt.Orientation.Horizontal:
            return ("MLP neuron index", "frequency k with the largest fraction of the neuron's variance",
                    "that fraction (design.md §6)",
                    "cluster frequency when that fraction exceeds the cluster threshold (0.85, design.md §6; – = none)",
                    "‖W_out[n]‖: size of the neuron's output weights")[section]
        return None

    def neuron(self, row: int) -> int:
        return int(self._rows[row, 0])


class NeuronFilterProxy(QtCore.QSortFilterProxyModel):
    """Numeric sorting; the search box matches ``k=14`` (frequency), ``n=3`` (neuron) or any column text."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(QtCore.Qt.ItemDataRole.UserRole)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        self._query = ""

    def set_query(self, text: str):
        self._query = text.strip().lower()
        self.invalidateFilter()

    def filterAcceptsRow(self, row, parent):
        query = self._query
        if not query:
            return True
        model = self.sourceModel()
        values = [model.data(model.index(row, c, parent)) for c in range(model.columnCount())]
        for term in query.replace(",", " ").split():
            if "=" in term:
                key, _, wanted = term.partition("=")
                column = {"n": 0, "neuron": 0, "k": 1, "f": 1, "freq": 1, "frequency": 1, "c": 3, "cluster": 3}.get(key)
                if column is None or values[column] != wanted:
                    return False
            elif not any(term in str(v).lower() for v in values):
                return False
        return True


def _plot(title="", x="", y="") -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w")
    figures.style_plot(widget.getPlotItem(), "", x, y)
    if title:
        widget.getPlotItem().setTitle(title, size="11pt", color="#000")
    return widget


class SpectrumView(AnalysisTab):
    """Spectrum tab (issue 7 §1). ``neuronSelected(int)`` when a neuron is picked."""

    title = "Spectrum"
    neuronSelected = QtCore.Signal(int)

    def build(self):
        self.neuron = None
        # left: Fourier norms and neuron heatmap
        self.matrix_combo = QtWidgets.QComboBox()
        self.matrix_combo.addItems(["W_E", "W_U", "W_logit"])
        self.matrix_combo.setToolTip("W_E: number-token embeddings; W_U: unembedding (over the output c); "
                                     "W_logit = W_out·W_U (over c)")
        self.matrix_combo.currentTextChanged.connect(self._draw_norms)
        self.norms_plot = _plot()
        self.heatmap = _plot()
        self.heatmap.scene().sigMouseClicked.connect(self._heatmap_clicked)
        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Fourier components of"))
        row.addWidget(self.matrix_combo)
        row.addStretch(1)
        left_layout.addLayout(row)
        plots = QtWidgets.QHBoxLayout()  # overview: the two model-wide plots side by side, full width
        plots.addWidget(self.norms_plot, 1)
        plots.addWidget(self.heatmap, 1)
        left_layout.addLayout(plots, 1)
        # right: neuron details + table
        self.neuron_label = QtWidgets.QLabel("Click a neuron in the heatmap or the table.")
        self.filter_magnitude = _plot("spectral filter: magnitude", "frequency k", "amplitude")
        self.filter_phase = _plot("spectral filter: phase (where ≥ 10 % of the peak)", "frequency k", "phase (rad)")
        self.pre_image = _plot("pre-activation over (a, b)", "b", "a")
        self.post_image = _plot("post-activation (ReLU) over (a, b)", "b", "a")
        self.fourier_image = _plot("2-D Fourier magnitude of post", "frequency of b", "frequency of a")
        for widget in (self.pre_image, self.post_image, self.fourier_image):
            widget.getPlotItem().getViewBox().setAspectLocked(True)
            widget.getPlotItem().getViewBox().invertY(True)
        grid = QtWidgets.QGridLayout()
        grid.addWidget(self.filter_magnitude, 0, 0)
        grid.addWidget(self.filter_phase, 0, 1)
        grid.addWidget(self.fourier_image, 0, 2)
        grid.addWidget(self.pre_image, 1, 0)
        grid.addWidget(self.post_image, 1, 1)
        self.table_model = NeuronTableModel(self)
        self.proxy = NeuronFilterProxy(self)
        self.proxy.setSourceModel(self.table_model)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(2, QtCore.Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._table_row_changed)
        self.search = QtWidgets.QLineEdit()
        self.search.setPlaceholderText("Search neurons: k=14, n=3, cluster=35, or any text")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_query)
        table_box = QtWidgets.QWidget()
        table_layout = QtWidgets.QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.search)
        table_layout.addWidget(self.table)
        grid.addWidget(table_box, 1, 2)
        right = QtWidgets.QWidget()
        right_layout = QtWidgets.QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.neuron_label)
        right_layout.addLayout(grid, 1)
        # overview on top, the selected neuron below: both get the full width (side by side, the
        # 57-frequency bars and the 512-neuron heatmap were clipped at 1600 px)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 5)
        splitter.setSizes([400, 500])
        self.body.addWidget(splitter, 1)
        self.add_plot_export("fourier_norms", self.norms_plot, lambda: figures.norms_csv(self.result))
        self.add_plot_export("neuron_spectra", self.heatmap, lambda: figures.neuron_heatmap_csv(self.result))
        self.add_plot_export("filter_magnitude", self.filter_magnitude, lambda: self._filter_csv("magnitude"))
        self.add_plot_export("filter_phase", self.filter_phase, lambda: self._filter_csv("phase"))
        self.add_plot_export("neuron_pre", self.pre_image, lambda: self._image_csv("pre"))
        self.add_plot_export("neuron_post", self.post_image, lambda: self._image_csv("post"))
        self.add_plot_export("neuron_fourier", self.fourier_image, lambda: self._image_csv("fourier"))

    # -- compute / show ---------------------------------------------------------------------
    def compute(self, run, epoch, context):
        from grokviz.analysis.session import session_of
        from grokviz.gui import report_arrays

        return report_arrays.spectrum_view(session_of(run), epoch)

    def describe(self, result):
        sizes = ", ".join(f"k={k}: {n}" for k, n in result["cluster_sizes"].items()) or "none"
        return f"Epoch {self.epoch} · key frequencies {result['key_freqs']} · neuron clusters (>{result['cluster_threshold']:g}) {sizes}"

    def show_result(self, result):
        self._draw_norms()
        self.heatmap.getPlotItem().clear()
        figures.draw_neuron_heatmap(self.heatmap.getPlotItem(), result, colorbar=not hasattr(self, "_bar_done"))
        self._bar_done = True
        self.table_model.set_spectrum(result)
        if self.neuron is not None and self.neuron < len(result["neuron_order"]):
            neuron = self.neuron
        else:  # start with the most single-frequency neuron
            neuron = int(np.argmax(result["neuron_fraction"]))
        self.select_neuron(neuron)

    def clear(self):
        for widget in (self.norms_plot, self.heatmap, self.filter_magnitude, self.filter_phase, self.pre_image,
                       self.post_image, self.fourier_image):
            widget.getPlotItem().clear()
        self.table_model.set_spectrum(None)

    def _draw_norms(self, *_):
        if self.result is None:
            return
        plot = self.norms_plot.getPlotItem()
        plot.clear()
        if plot.legend is not None:
            plot.legend.clear()
        figures.draw_fourier_norms(plot, self.result, self.matrix_combo.currentText())

    # -- neuron selection ---------------------------------------------------------------------
    def _heatmap_clicked(self, event):
        if self.result is None:
            return
        view = self.heatmap.getPlotItem().getViewBox()
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return
        x = view.mapSceneToView(event.scenePos()).x()
        column = int(round(x))
        order = self.result["neuron_order"]
        if 0 <= column < len(order):
            self.select_neuron(int(order[column]))

    def _table_row_changed(self, current, _previous):
        if current.isValid():
            neuron = self.table_model.neuron(self.proxy.mapToSource(current).row())
            if neuron != self.neuron:
                self.select_neuron(neuron)

    def select_neuron(self, neuron: int):
        result = self.result
        if result is None:
            return
        self.neuron = int(neuron)
        p = result["p"]
        freq, fraction = int(result["neuron_frequency"][neuron]), float(result["neuron_fraction"][neuron])
        cluster = int(result["neuron_cluster"][neuron])
        self.neuron_label.setText(
            f"<b>Neuron {neuron}</b> · dominant frequency k = {freq} ({fraction:.1%} of its variance)"
            f"{'' if cluster else ' · in no cluster'} · ‖W_out‖ = {result['output_norm'][neuron]:.3g}"
            f"{' · dead (never active)' if result['neuron_dead'][neuron] else ''}")
        # spectral filter
        ks = np.arange(p // 2 + 1)
        for widget, key, unit in ((self.filter_magnitude, "magnitude", "amplitude"), (self.filter_phase, "phase", "rad")):
            plot = widget.getPlotItem()
            plot.clear()
            if plot.legend is None:
                plot.addLegend(offset=(-5, 5), labelTextColor="#000", brush=(255, 255, 255, 200))
            for i, pos in enumerate(("a", "b")):
                values = result["filters"][pos][key][neuron]
                if key == "phase":  # a phase means nothing where the filter passes (almost) nothing
                    magnitude = result["filters"][pos]["magnitude"][neuron]
                    values = np.where(magnitude >= 0.1 * magnitude.max(), values, np.nan)
                color = colormaps.series_color(i)
                plot.addItem(curve(ks, values, pen=pg.mkPen(color, width=1.5) if key == "magnitude" else None,
                                             symbol="o", symbolSize=5, symbolBrush=color, symbolPen=None,
                                             name=f"input from {pos}"))
            for k in result["key_freqs"]:
                plot.addItem(pg.InfiniteLine(k, angle=90, pen=pg.mkPen((230, 160, 0), width=1)))
        # activations over (a, b) and the 2-D Fourier map
        pre, post = result["pre"][:, :, neuron], result["post"][:, :, neuron]
        self._images = {"pre": pre, "post": post, "fourier": self._fourier(post)}
        for widget, key in ((self.pre_image, "pre"), (self.post_image, "post"), (self.fourier_image, "fourier")):
            plot = widget.getPlotItem()
            plot.clear()
            values = self._images[key]
            if key == "pre":
                bound = float(np.abs(values).max()) or 1.0
                cmap, levels = colormaps.diverging(), (-bound, bound)
            else:
                cmap, levels = colormaps.sequential(), (0.0, float(values.max()) or 1.0)
            image = pg.ImageItem(values.astype(np.float32), axisOrder="row-major")
            image.setColorMap(cmap)
            image.setLevels(levels)
            image.setRect(QtCore.QRectF(-0.5, -0.5, values.shape[1], values.shape[0]))
            plot.addItem(image)
            plot.setRange(xRange=(-0.5, values.shape[1] - 0.5), yRange=(-0.5, values.shape[0] - 0.5), padding=0)
        self.neuronSelected.emit(self.neuron)

    @staticmethod
    def _fourier(post):
        from grokviz.gui.report_arrays import neuron_fourier_map

        values = neuron_fourier_map(post)
        values[0, 0] = 0.0  # the constant dwarfs everything; shown as 0
        return values

    def _filter_csv(self, key) -> CurveData:
        p = self.result["p"]
        out = CurveData(x_label="frequency k", comment=f"neuron {self.neuron}: spectral filter {key}")
        for pos in ("a", "b"):
            out.add(f"input from {pos}", np.arange(p // 2 + 1), self.result["filters"][pos][key][self.neuron])
        return out

    def _image_csv(self, key) -> ImageData:
        values = self._images[key]
        axes = ("frequency of a", "frequency of b") if key == "fourier" else ("a", "b")
        return ImageData(values, row_axis=axes[0], column_axis=axes[1], comment=f"neuron {self.neuron}: {key}")


def create_view(state):
    return SpectrumView(state)
