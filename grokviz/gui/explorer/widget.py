"""The Explorer: scroll any axis of a LabelledTensor as lines or a heatmap, in space or Fourier.

A thin widget (napari's QtDims over Dims): the view state lives in an
:class:`~grokviz.gui.explorer.model.ExplorerModel` (``widget.state``), the tensors come from a
:class:`~grokviz.gui.explorer.loader.ExplorerLoader`, the text and geometry from
:mod:`~grokviz.gui.explorer.presenter`. This module composes the parts, top to bottom: source
controls and view controls (:mod:`~grokviz.gui.explorer.controls`), the message line and plot
(:class:`~grokviz.gui.explorer.canvas.ExplorerCanvas`), one slider row per remaining axis
(:class:`~grokviz.gui.explorer.sliders.SliderPanel`) and a hover readout — and routes model events
to them: a new tensor or new roles re-prepare (:mod:`~grokviz.gui.explorer.data`, once), a
slider move only redraws.
"""

from __future__ import annotations

import json
import os

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from grokviz.analysis.labelled import LabelledTensor
from grokviz.gui.explorer import presenter
from grokviz.gui.explorer.canvas import ExplorerCanvas
from grokviz.gui.explorer.controls import SourceControls, ViewControls
from grokviz.gui.explorer.data import PreparedCache
from grokviz.gui.explorer.loader import ExplorerLoader
from grokviz.gui.explorer.model import ExplorerContext, ExplorerModel
from grokviz.gui.explorer.sliders import SliderPanel
from grokviz.gui.export import CurveData, ImageData, add_export_menu

VIEW_SUFFIX = ".view.json"  # the saved view written next to an exported figure


class ExplorerWidget(QtWidgets.QWidget):
    """Interactive tensor viewer.

    ``ExplorerWidget(app_state=None, parent=None, *, source=None, model=None)``.
    In the app: ``ExplorerWidget(window.state)`` follows the shared
    :class:`~grokviz.gui.state.AppState`: a new run becomes an
    :class:`~grokviz.gui.explorer.source.AnalysisExplorerSource` over the run's session, the
    checkpoint is followed, tensors load in the background and only while the tab is shown.
    Standalone: feed an ExplorerSource (:meth:`set_source`, :meth:`set_epoch`; loads run here) or
    a tensor directly (:meth:`set_tensor`). Signals: ``statusMessage(str)`` (hover readout),
    ``frameDrawn()``.
    """

    statusMessage = QtCore.Signal(str)
    frameDrawn = QtCore.Signal()

    def __init__(self, app_state=None, parent=None, *, source=None, model: ExplorerModel | None = None):
        if isinstance(app_state, QtWidgets.QWidget) and parent is None:  # ExplorerWidget(parent)
            app_state, parent = None, app_state
        super().__init__(parent)
        self.state = self.model = model or ExplorerModel()
        self.app_state = None
        self.source = None
        self.prepared = None
        self.cache = PreparedCache()
        self._pending_load = False  # a load deferred until the view is shown
        self._heatmap_memo = None  # (tensor, choice, derived tensor, overlays): keeps the cache's ids stable
        self.loader = ExplorerLoader(self, background=app_state is not None)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self.loader.loading.connect(self._on_loading)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self._build_ui()
        m = self.model
        m.selection_changed.connect(self._load)
        m.tensor_changed.connect(self._reprepare)
        m.roles_changed.connect(self._reprepare)
        m.heatmap_changed.connect(self._reprepare)
        m.index_changed.connect(self._draw_frame)
        m.probe_changed.connect(self._draw_markers)
        m.context_changed.connect(self._on_context_changed)
        m.range_mode_changed.connect(self._on_range_mode_changed)
        if source is not None:
            self.set_source(source)
        self._reprepare()
        if app_state is not None:
            self.set_app_state(app_state)

    def _build_ui(self):
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.setSpacing(3)
        self.source_controls = SourceControls(self.model)
        self.view_controls = ViewControls(self.model)
        self.view_controls.reset_zoom.connect(self._reset_zoom)
        self.canvas = ExplorerCanvas()
        self.sliders = SliderPanel(self.model)
        self.readout = QtWidgets.QLabel(" ")
        self.readout.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        self.readout.setFixedHeight(self.readout.fontMetrics().height() + 4)
        for widget, stretch in ((self.source_controls, 0), (self.view_controls, 0), (self.canvas, 1),
                                (self.sliders, 0), (self.readout, 0)):
            outer.addWidget(widget, stretch)
        self.plot, self.graphics = self.canvas.plot, self.canvas.graphics
        scene = self.graphics.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        self.export_actions = add_export_menu(self.plot, self.current_data, render_target=self.graphics,
                                              name="explorer")

    # ================================================================== public API
    def set_tensor(self, tensor: LabelledTensor | None, overlays: dict | None = None,
                   context: ExplorerContext | None = None):
        """Show ``tensor`` (with optional same-shape ``overlays`` {name: LabelledTensor} and
        ``context``). Keeps the roles / slider positions when the axis names are unchanged."""
        self.model.set_tensor(tensor, overlays, context)

    def set_context(self, context: ExplorerContext):
        self.model.set_context(context)

    def add_overlay(self, name: str, overlay: LabelledTensor):
        self.model.add_overlay(name, overlay)

    def set_source(self, source):
        """Use ``source`` (an ExplorerSource) for the hook / position / ordering choices."""
        self.source = source
        self.loader.set_source(source)
        if source is not None and self.model.epoch is None:
            epochs = list(source.epochs() or [])
            if epochs:
                self.model.epoch = epochs[-1]
        self.model.set_menu(source)

    def set_epoch(self, epoch: int | None):
        """Follow the shared checkpoint (rapid changes are coalesced by the loader)."""
        self.model.set_epoch(epoch)

    @property
    def epoch(self):
        return self.model.epoch

    def select(self, hook: str | None = None, position: str | None = None, ordering: str | None = None):
        """Pick the hook / position / ordering programmatically (as if from the combo boxes); a
        choice the source does not offer is reported on the message line."""
        try:
            self.model.select(hook, position, ordering)
        except ValueError as error:
            self.canvas.message_label.setText(f"<span style='color:#b00'>{error}</span>")

    def show_hook(self, hook: str, position: str | None = None, ordering: str | None = None):
        """Main-window entry (e.g. from the Symmetry tab): show ``hook`` at position/ordering."""
        self.select(hook, position, ordering)

    def show_input(self, a: int, b: int):
        """Main-window entry (e.g. a click on the Learned tab's grid): show the input (a, b)."""
        try:
            self.model.show_input(a, b)
        except ValueError as error:
            self.canvas.message_label.setText(f"<span style='color:#b00'>{error}</span>")

    def view_state(self) -> dict:
        """The view as JSON-safe data (:meth:`ExplorerModel.as_dict`)."""
        return self.model.as_dict()

    def restore_view(self, data: dict):
        """Apply a saved view; in the app the shared checkpoint moves to its epoch."""
        self.model.restore(data)
        if self.app_state is not None and self.model.epoch is not None:
            self.app_state.set_checkpoint_epoch(self.model.epoch)

    def current_data(self) -> CurveData | ImageData:
        """Exactly what is displayed (for CSV export): curves or the image with axis labels."""
        p, m = self.prepared, self.model
        if p is None:
            return CurveData()
        comment = f"{m.tensor.title} [{presenter.slice_label(m, p)}] {presenter.value_name(p)}".strip()
        if p.y is not None:
            return ImageData(np.array(p.frame(m.indices), dtype=float), p.y.ticks, p.x.ticks, p.y.name, p.x.name,
                             comment)
        out = CurveData(x_label=p.x.name, x_ticks=p.x.ticks, comment=comment)
        xs = np.arange(p.x.size, dtype=float)
        for name, curve in self.canvas.curve_entries(m, p):
            out.add(name, xs, curve.getData()[1])
        return out

    # ---------------------------------------------------------------- export
    def export_view(self, parent=None):
        """File ▸ Export current view…: PNG, SVG or CSV by the chosen file's extension, with the
        view state written next to it."""
        from grokviz.gui import export

        path = export._ask_path(parent or self, "Export Explorer view", "explorer.png",
                                "PNG image (*.png);;SVG vector image (*.svg);;CSV of the displayed data (*.csv)")
        if not path:
            return None
        written = self.export_to(path)
        self.write_view_state(os.path.splitext(written)[0] + VIEW_SUFFIX)
        return written

    def export_to(self, path: str) -> str:
        from grokviz.gui import export

        lower = str(path).lower()
        if lower.endswith(".svg"):
            return export.export_svg(self.graphics, path, title="grokviz Explorer")
        if lower.endswith(".csv"):
            return export.export_csv(self.current_data(), path)
        if not lower.endswith(".png"):
            path = f"{path}.png"
        return export.export_png(self.graphics, path)

    def write_view_state(self, path) -> str:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.view_state(), handle, indent=1)
        return os.fspath(path)

    def export_figures(self, directory) -> list:
        """File ▸ Export figure set…: the current view as PNG, SVG and CSV, and its view state."""
        if self.prepared is None:
            return []
        base = os.path.join(os.fspath(directory), "explorer")
        written = [self.export_to(base + ext) for ext in (".png", ".svg", ".csv")]
        return written + [self.write_view_state(base + VIEW_SUFFIX)]

    # ================================================================== the app's view protocol
    def set_app_state(self, app_state):
        """Follow the main window's shared state (run and checkpoint; views.py protocol).
        Idempotent (MainWindow.set_view calls it again)."""
        if app_state is self.app_state:
            return
        if self.app_state is not None:
            for signal, slot in ((self.app_state.run_changed, self._on_run_changed),
                                 (self.app_state.checkpoint_changed, self.set_epoch),
                                 (self.app_state.summary_changed, self._on_summary_changed)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.app_state = app_state
        self.loader.background = True
        app_state.run_changed.connect(self._on_run_changed)
        app_state.checkpoint_changed.connect(self.set_epoch)
        app_state.summary_changed.connect(self._on_summary_changed)
        if app_state.run is not None:
            self._on_run_changed(app_state.run)

    def _on_run_changed(self, run):
        if run is None:
            self.set_source(None)
            self.model.set_tensor(None)
            return
        from grokviz.analysis.session import session_of
        from grokviz.gui.explorer.source import AnalysisExplorerSource

        session = getattr(self.app_state, "session", None) or session_of(run)  # the app's one session
        keys = (self.app_state.summary or {}).get("key_freqs")
        self.model.epoch = self.app_state.checkpoint_epoch
        self.set_source(AnalysisExplorerSource(session, key_frequencies=keys))

    def _on_summary_changed(self, summary: dict):
        keys = summary.get("key_freqs") if summary else None
        if keys and hasattr(self.source, "set_key_frequencies"):
            self.source.set_key_frequencies(keys)
            self.model.set_key_frequencies(keys)

    def view_activated(self):
        """The tab became visible: do a load that was deferred while hidden."""
        if self._pending_load:
            self._pending_load = False
            self._load()

    def showEvent(self, event):
        super().showEvent(event)
        if self._pending_load:
            QtCore.QTimer.singleShot(0, self.view_activated)

    # ================================================================== loading
    def _load(self):
        if self.source is None:
            return
        if self.app_state is not None and not self.isVisible():
            self._pending_load = True  # running the model on p² inputs waits until the tab is shown
            return
        self.loader.request(self.model.request_key)

    def _on_loading(self, key):
        self.canvas.message_label.setText(f"computing {key[0]} at epoch {key[3]} over all inputs…")

    def _on_loaded(self, key, tensor, overlays, context):
        if key == self.model.request_key:
            self.model.set_tensor(tensor, overlays, context)

    def _on_load_failed(self, key, message):
        self.canvas.message_label.setText(f"<span style='color:#b00'>cannot load {key[0]}: {message}</span>")

    # ================================================================== model -> view
    def _reprepare(self, *_args):
        m = self.model
        if m.tensor is None:
            self.prepared = None
            self.canvas.clear()
            return
        shown, overlays = self._heatmap_tensor()
        self.prepared = self.cache.get(shown, m.x_dim, m.y_dim, m.series_dim, m.fourier_dims(), m.component,
                                       overlays)
        self.canvas.setup(m, self.prepared, shown.title or "tensor")
        self._draw_frame()
        self._reset_zoom()

    def _heatmap_tensor(self):
        m = self.model
        memo = self._heatmap_memo
        if memo is not None and memo[0] is m.tensor and memo[1] == m.heatmap and memo[4] == m.y_dim:
            return memo[2], memo[3]
        shown, overlays = presenter.heatmap_tensor(m)
        self._heatmap_memo = (m.tensor, m.heatmap, shown, overlays, m.y_dim)
        return shown, overlays

    def _on_context_changed(self):
        if self.prepared is not None:
            self.canvas.setup(self.model, self.prepared, self.canvas.title)
            self._draw_frame()

    def _on_range_mode_changed(self):
        if self.prepared is not None:
            self.canvas.apply_range(self.model, self.prepared)
            self._draw_frame()

    def _draw_frame(self, *_args):
        if self.prepared is not None:
            self.canvas.draw(self.model, self.prepared)
            self.frameDrawn.emit()

    def _draw_markers(self):
        if self.prepared is not None:
            self.canvas.draw_markers(self.model, self.prepared)

    def _reset_zoom(self):
        if self.prepared is not None:
            self.canvas.reset_zoom(self.model, self.prepared)

    # ================================================================== interaction
    def _on_mouse_moved(self, scene_pos):
        hit = self.canvas.view_point(scene_pos)
        if hit is None:
            return
        text = presenter.readout(self.model, self.prepared, *hit)
        if text is not None:
            self.readout.setText(text)
            self.statusMessage.emit(text)

    def _on_mouse_clicked(self, event):
        p = self.prepared
        if (p is None or event.button() != QtCore.Qt.MouseButton.LeftButton
                or presenter.marker_geometry(self.model, p) is None):
            return
        hit = self.canvas.view_point(event.scenePos())
        if hit is not None and 0 <= int(round(hit[0])) < p.x.size:
            self.model.set_probe(int(round(hit[0])))

    def keyPressEvent(self, event):
        """←/→ step the focused slider, ↑/↓ move the focus, space plays the focused axis."""
        key, m = event.key(), self.model
        if key in (QtCore.Qt.Key.Key_Left, QtCore.Qt.Key.Key_Right) and m.focus_dim is not None:
            m.step_focused(-1 if key == QtCore.Qt.Key.Key_Left else 1, loop=self.sliders.loops(m.focus_dim))
        elif key in (QtCore.Qt.Key.Key_Up, QtCore.Qt.Key.Key_Down) and m.slider_dims:
            m.move_focus(-1 if key == QtCore.Qt.Key.Key_Up else 1)
        elif key == QtCore.Qt.Key.Key_Space and m.focus_dim is not None:
            self.sliders.toggle_play(m.focus_dim)
        else:
            super().keyPressEvent(event)

    def toggle_play(self, dim: int | None = None):
        self.sliders.toggle_play(dim)
