"""Shared behaviour of the analysis tabs: follow the app state, recompute in a worker, export.

A tab subclasses :class:`AnalysisTab`, implements ``compute(run, epoch, context)`` (worker
thread, no Qt) and ``show_result(result)`` (GUI thread), and lists its plots in ``self.plots``
(name → (plot widget, csv provider, render target)) for the export menu and the figure set.

Used with the shared :class:`~grokviz.gui.state.AppState` (``Tab(state)``) or standalone
(``Tab(run=run, epoch=epoch)``). Work is deferred while the tab is hidden and done when it
becomes visible (``view_activated``/``showEvent``); the work runs through a
:class:`~grokviz.gui.workers.LatestRequest` keyed by (run, epoch): a newer request cancels the
running one, whose result is dropped, and runs when it has ended.
"""

from __future__ import annotations

import os

from PySide6 import QtCore, QtWidgets

from grokviz.gui.export import add_export_menu, export_csv, export_png, export_svg
from grokviz.gui.workers import LatestRequest

TAB_TITLE_SIZE = "11pt"


class AnalysisTab(QtWidgets.QWidget):
    """Base class: state wiring, one background job at a time, status line, export."""

    title = "Analysis"
    computed = QtCore.Signal()  # a result has been shown
    statusMessage = QtCore.Signal(str)

    follows_checkpoint = True  # False: recompute only when the run changes (Progress)

    def __init__(self, state=None, run=None, epoch=None, parent=None):
        super().__init__(parent)
        self.state = None
        self.run = None
        self.epoch = None
        self.result = None
        self.plots: dict = {}
        self.jobs = LatestRequest(self.title, self)
        self.jobs.progress.connect(self._on_progress)
        self.jobs.succeeded.connect(self._on_result)
        self.jobs.failed.connect(self._on_failed)
        self.jobs.idle.connect(self._on_idle)
        self._dirty = False
        self._computed_key = None
        self.status = QtWidgets.QLabel("Open a run to see this view.")
        self.status.setObjectName("hint")
        # a long description is cut at the tab's edge instead of widening the tab (e.g. a comparison's half)
        self.status.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setMaximumWidth(240)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        status_row = QtWidgets.QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.progress_bar)
        self.body = QtWidgets.QVBoxLayout(self)
        self.body.setContentsMargins(6, 6, 6, 6)
        self.build()
        self.body.addLayout(status_row)
        if state is not None:
            self.set_app_state(state)
        elif run is not None:
            self.set_run(run, epoch)

    # -- to implement ---------------------------------------------------------------------
    def build(self):  # pragma: no cover - abstract
        """Create the widgets (add them to ``self.body``)."""

    def compute(self, run, epoch, context):  # pragma: no cover - abstract
        """Worker thread: return the result for (run, epoch)."""
        raise NotImplementedError

    def show_result(self, result):  # pragma: no cover - abstract
        """GUI thread: draw ``result``."""

    def clear(self):
        """Drop what is shown (no run)."""

    # -- state ----------------------------------------------------------------------------
    def set_app_state(self, state) -> None:
        self.state = state
        state.run_changed.connect(self._on_run_changed)
        state.checkpoint_changed.connect(self._on_checkpoint_changed)
        self.run = state.run
        self.epoch = state.checkpoint_epoch
        if self.run is not None:
            self.request()

    def set_run(self, run, epoch=None) -> None:
        """Standalone use (no app state): show ``run`` at ``epoch`` (final by default)."""
        self.run = run
        self.epoch = (run.epochs[-1] if epoch is None else run.nearest_epoch(epoch)) if run is not None else None
        self._computed_key = None
        self.request()

    def x_at_click(self, plot_widget, event) -> float | None:
        """The data x under a mouse click inside ``plot_widget``'s view box (None: elsewhere, or no result)."""
        point = self.point_at_click(plot_widget, event)
        return None if point is None else point[0]

    def point_at_click(self, plot_widget, event) -> tuple[float, float] | None:
        """The data (x, y) under a mouse click inside ``plot_widget``'s view box (None: elsewhere, or no result)."""
        if self.result is None:
            return None
        view = plot_widget.getPlotItem().getViewBox()
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return None
        point = view.mapSceneToView(event.scenePos())
        return point.x(), point.y()

    def set_epoch(self, epoch) -> None:
        if self.state is not None:
            self.state.set_checkpoint_epoch(epoch)
        elif self.run is not None:
            self.epoch = self.run.nearest_epoch(epoch)
            self.request()

    def _on_run_changed(self, run):
        self.run = run
        self.result = None
        self._computed_key = None
        if run is None:
            self.cancel()
            self.clear()
            self.status.setText("Open a run to see this view.")

    def _on_checkpoint_changed(self, epoch):
        self.epoch = epoch
        if self.follows_checkpoint or self._computed_key is None:
            self.request()
        else:
            self.checkpoint_moved(epoch)

    def checkpoint_moved(self, epoch):
        """The checkpoint changed but the tab does not recompute (e.g. move a cursor)."""

    def _key(self):
        return (id(self.run), self.epoch if self.follows_checkpoint else None)

    # -- work -----------------------------------------------------------------------------
    def view_activated(self):
        if self._dirty:
            self.request()

    def showEvent(self, event):
        super().showEvent(event)
        if self._dirty:
            QtCore.QTimer.singleShot(0, self.request)

    def request(self, force: bool = False) -> None:
        """Recompute for the current (run, epoch) in a worker (deferred while hidden)."""
        if self.run is None:
            return
        if not force and self._key() == self._computed_key and self.result is not None:
            return
        if not self.isVisible():
            self._dirty = True
            return
        self._dirty = False
        run, epoch = self.run, self.epoch
        self.status.setText(f"Computing {self.title.lower()} at epoch {epoch}…" if epoch is not None else "Computing…")
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.jobs.request(self._key(), lambda context: self.compute(run, epoch, context), force=force)

    def compute_now(self):
        """Synchronous variant (tests, figure export): compute and show in this thread."""
        result = self.compute(self.run, self.epoch, None)
        self._on_result(self._key(), result)
        return result

    def cancel(self):
        self.jobs.cancel()

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def _on_progress(self, fraction, text):
        if fraction < 0:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * fraction))
        if text:
            self.status.setText(text)

    def _on_result(self, key, result):
        if key != self._key() or result is None:
            return  # superseded
        self.result = result
        self._computed_key = key
        self.show_result(result)
        self.status.setText(self.describe(result))
        self.computed.emit()

    def describe(self, result) -> str:
        return f"Epoch {self.epoch}"

    def _on_failed(self, message, details):
        self.status.setText(f"Failed: {message}")
        self.status.setToolTip(details)

    def _on_idle(self):
        self.progress_bar.hide()

    def closeEvent(self, event):
        self.cancel()
        self.jobs.wait(5000)
        super().closeEvent(event)

    # -- export ---------------------------------------------------------------------------
    def add_plot_export(self, name: str, plot_widget, data_provider=None, render_target=None):
        """Register a plot: right-click Export PNG/SVG/CSV, and part of :meth:`export_figures`."""
        self.plots[name] = (plot_widget, data_provider, render_target)
        if hasattr(plot_widget, "getPlotItem"):
            plot_widget.getPlotItem().grokviz_title_size = TAB_TITLE_SIZE
        add_export_menu(plot_widget, data_provider=self._guarded(data_provider) if data_provider else None,
                        render_target=render_target, name=f"{self.title.lower()}_{name}")

    def _guarded(self, provider):
        def call():
            if self.result is None:
                raise RuntimeError("nothing computed yet")
            return provider()
        return call

    def export_figures(self, directory) -> list:
        """File ▸ Export figure set…: every plot of this tab as PNG, SVG and CSV."""
        if self.result is None:
            return []
        written = []
        for name, (widget, provider, target) in self.plots.items():
            base = os.path.join(directory, f"{self.title.lower()}_{name}")
            target = target if target is not None else widget
            written.append(export_png(target, base + ".png"))
            written.append(export_svg(target, base + ".svg", title=f"{self.title}: {name}"))
            if provider is not None:
                written.append(export_csv(provider(), base + ".csv"))
        return written
