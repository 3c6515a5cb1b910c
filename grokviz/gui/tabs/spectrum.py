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
BASIS_COLUMN_WIDTH = 280  # px: the learned-basis bars (three labelled orderings) and what each means


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
        self.basis_plot = _plot()
        from grokviz.analysis.spectrum import BASIS_MEANINGS

        self.basis_plot.setToolTip("W_E's rows ordered by each coordinate; the most concentrated ordering is the basis "
                                   "the model learned (design.md §6a).\n"
                                   + "\n".join(f"{figures.BASIS_LABELS[k]}: {v}" for k, v in BASIS_MEANINGS.items()))
        # what each ordering would mean, under the bars: the basis the model learned is the most
        # concentrated one (issue 15 §3); a fixed-width column, so the plot and text never squeeze
        self.basis_note = QtWidgets.QLabel("<br>".join(f"<b>{figures.BASIS_LABELS[k]}</b>: {v}"
                                                     for k, v in BASIS_MEANINGS.items()))
        self.basis_note.setToolTip("Which basis did the model learn? W_E's rows ordered by each coordinate; "
                                   "the most concentrated ordering (top-5 share) is the one it learned.")
        self.basis_note.setWordWrap(True)
        self.basis_note.setObjectName("hint")
        self.basis_note.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.basis_note.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        basis_box = QtWidgets.QWidget()
        basis_box.setFixedWidth(BASIS_COLUMN_WIDTH)
        basis_layout = QtWidgets.QVBoxLayout(basis_box)
        basis_layout.setContentsMargins(0, 0, 0, 0)
        basis_layout.addWidget(self.basis_plot, 1)
        basis_layout.addWidget(self.basis_note)
        self.basis_box = basis_box
        plots = QtWidgets.QHBoxLayout()  # overview: the model-wide plots side by side, full width
        plots.addWidget(self.norms_plot, 1)
        plots.addWidget(self.heatmap, 1)
        plots.addWidget(basis_box, 0)
        left_layout.addLayout(plots, 1)
        # right: neuron details + table
        self.neuron_label = QtWidgets.QLabel("Click a neuron in the heatmap or the table.")
        self.neuron_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.filter_magnitude = _plot("spectral filter: magnitude", "frequency k", "amplitude")
        self.filter_phase = _plot("spectral filter: phase (where ≥ 10 % of the peak)", "frequency k", "phase (rad)")
        self.pre_image = _plot("pre-activation over (a, b)", "b", "a")
        self.post_image = _plot("post-activation (ReLU) over (a, b)", "b", "a")
        self.fourier_image = _plot("2-D Fourier magnitude of post", "frequency of b", "frequency of a")
        self.filter_phase.getPlotItem().setTitle("spectral filter: phase", size="11pt", color="#000")
        self.filter_phase.setToolTip("phase per frequency, shown where the magnitude is ≥ 10 % of its peak")
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
        splitter.setSizes([440, 460])
        self.body.addWidget(splitter, 1)
        self.add_plot_export("fourier_norms", self.norms_plot, lambda: figures.norms_csv(self.result))
        self.add_plot_export("neuron_spectra", self.heatmap, lambda: figures.neuron_heatmap_csv(self.result))
        self.add_plot_export("token_basis", self.basis_plot, lambda: self._basis_csv())
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
        matrices = list(result["norms"])
        if [self.matrix_combo.itemText(i) for i in range(self.matrix_combo.count())] != matrices:
            current = self.matrix_combo.currentText()
            self.matrix_combo.blockSignals(True)
            self.matrix_combo.clear()
            self.matrix_combo.addItems(matrices)  # "W_E (b)" too when a and b have their own maps
            self.matrix_combo.setCurrentText(current if current in matrices else matrices[0])
            self.matrix_combo.blockSignals(False)
        self._draw_norms()
        basis = self.basis_plot.getPlotItem()
        basis.clear()
        if basis.legend is not None:
            basis.legend.clear()
        figures.draw_token_basis(basis, result["token_basis"])
        basis.setLabel("left", "top-5 share of W_E")  # the figure's longer labels do not fit the column
        basis.setLabel("bottom", "ordering (a blue, b orange)")
        basis.setYRange(0, 1.22, padding=0)  # room for the value over a bar near 1
        heatmap = self.heatmap.getPlotItem()
        heatmap.clear()
        figures.draw_neuron_heatmap(heatmap, result, colorbar=not hasattr(self, "_bar_done"))
        # the figure's titles are long: a pyqtgraph scene is never narrower than its title, so at a
        # normal window size they pushed the plots past their columns; the long form is the tooltip
        self.heatmap.setToolTip(heatmap.titleLabel.text)
        clustered = sum(result["cluster_sizes"].values())
        heatmap.setTitle(f"Neuron spectra ({clustered}/{len(result['neuron_order'])} clustered)", size="11pt",
                         color="#000")
        heatmap.setLabel("bottom", "neuron (sorted by cluster)")
        self._bar_done = True
        self.table_model.set_spectrum(result)
        if self.neuron is not None and self.neuron < len(result["neuron_order"]):
            neuron = self.neuron
        else:  # start with the most single-frequency neuron
            neuron = int(np.argmax(result["neuron_fraction"]))
        self.select_neuron(neuron)

    def clear(self):
        for widget in (self.norms_plot, self.heatmap, self.basis_plot, self.filter_magnitude, self.filter_phase,
                       self.pre_image, self.post_image, self.fourier_image):
            widget.getPlotItem().clear()
        self.table_model.set_spectrum(None)

    def _draw_norms(self, *_):
        if self.result is None:
            return
        plot = self.norms_plot.getPlotItem()
        plot.clear()
        if plot.legend is not None:
            plot.legend.clear()
        matrix = self.matrix_combo.currentText()
        figures.draw_fourier_norms(plot, self.result, matrix, legend=False)  # the legend hid key bars
        self.norms_plot.setToolTip(plot.titleLabel.text)
        plot.setTitle(f"{matrix}: norm per Fourier component", size="11pt", color="#000")  # short: see show_result
        plot.setLabel("bottom", f"frequency k: <span style='color:{figures.SIN_COLOR}'>sin</span> / "
                                f"<span style='color:{figures.COS_COLOR}'>cos</span>, key shaded")

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
            if plot.legend is None:  # top left: the peaks (key frequencies) sit further right
                plot.addLegend(offset=(5, 5), labelTextColor="#000", brush=(255, 255, 255, 200))
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
        # activations over the task's coordinates (u, v) (or (a, b) for add) and their 2-D Fourier map
        grid = result["grid"]
        from grokviz.gui.report_arrays import neuron_on_grid

        pre, post = result["pre"][:, :, neuron], result["post"][:, :, neuron]
        self._images = {"pre": neuron_on_grid(pre, grid), "post": neuron_on_grid(post, grid),
                        "fourier": self._fourier(post, grid["coordinates"])}
        self._label_images(grid)
        for widget, key in ((self.pre_image, "pre"), (self.post_image, "post"), (self.fourier_image, "fourier")):
            plot = widget.getPlotItem()
            plot.clear()
            values = self._images[key]
            if key == "pre":
                bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
                cmap, levels = colormaps.diverging(), (-(bound or 1.0), bound or 1.0)
            else:
                top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
                cmap, levels = colormaps.sequential(), (0.0, top or 1.0)
            image = pg.ImageItem(values.astype(np.float32), axisOrder="row-major")
            image.setColorMap(cmap)
            image.setLevels(levels)
            image.setRect(QtCore.QRectF(-0.5, -0.5, values.shape[1], values.shape[0]))
            plot.addItem(image)
            plot.setRange(xRange=(-0.5, values.shape[1] - 0.5), yRange=(-0.5, values.shape[0] - 0.5), padding=0)
        self.neuronSelected.emit(self.neuron)

    @staticmethod
    def _fourier(post, coordinates=None):
        from grokviz.gui.report_arrays import neuron_fourier_map

        values = neuron_fourier_map(post, coordinates)
        values[0, 0] = 0.0  # the constant dwarfs everything; shown as 0
        return values

    def _label_images(self, grid) -> None:
        """Titles and axis labels naming the coordinates drawn (design.md §6a: pow's u = a^m, …)."""
        rows, columns, name = grid["row_label"], grid["column_label"], grid["name"]
        row_symbol, column_symbol = name.strip("()").split(", ")
        for widget, what in ((self.pre_image, "pre-activation"), (self.post_image, "post-activation (ReLU)")):
            item = widget.getPlotItem()
            item.setTitle(f"{what} over {name}", size="11pt", color="#000")
            item.setLabel("left", rows)
            item.setLabel("bottom", columns)
            tip = f"rows: {rows}; columns: {columns}"
            widget.setToolTip(tip + (f"\n{grid['note']}" if grid["note"] else ""))
        item = self.fourier_image.getPlotItem()
        item.setTitle("2-D Fourier magnitude of post", size="11pt", color="#000")
        item.setLabel("left", f"frequency of {row_symbol}")
        item.setLabel("bottom", f"frequency of {column_symbol}")

    def _basis_csv(self) -> CurveData:
        basis = self.result["token_basis"]
        names = list(basis["a"]["concentration"])
        out = CurveData(x_label="ordering", x_ticks=names,
                        comment="share of W_E's non-constant Fourier norm in the top 5 frequencies per token ordering")
        for operand in ("a", "b"):
            out.add(f"operand {operand}", np.arange(len(names)), [basis[operand]["concentration"][n] for n in names])
        return out

    def _filter_csv(self, key) -> CurveData:
        p = self.result["p"]
        out = CurveData(x_label="frequency k", comment=f"neuron {self.neuron}: spectral filter {key}")
        for pos in ("a", "b"):
            out.add(f"input from {pos}", np.arange(p // 2 + 1), self.result["filters"][pos][key][self.neuron])
        return out

    def _image_csv(self, key) -> ImageData:
        values = self._images[key]
        grid = self.result["grid"]
        row_symbol, column_symbol = grid["name"].strip("()").split(", ")
        axes = ((f"frequency of {row_symbol}", f"frequency of {column_symbol}") if key == "fourier"
                else (grid["row_label"], grid["column_label"]))
        return ImageData(values, row_axis=axes[0], column_axis=axes[1], comment=f"neuron {self.neuron}: {key}")


def create_view(state):
    return SpectrumView(state)
