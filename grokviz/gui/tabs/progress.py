"""Progress tab: Nanda et al.'s progress measures over checkpoints, with phases and a checkpoint cursor.

While a run trains, the tab shows the measures the training process computes at each checkpoint
(:mod:`grokviz.analysis.live`, streamed by :class:`grokviz.gui.training.TrainingJob`) as they
arrive; a run that stores them (``progress`` in the run file) opens without recomputing.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from grokviz.gui import figures
from grokviz.gui.export import CurveData
from grokviz.gui.tabs.base import AnalysisTab

LIVE_REFRESH_MS = 1000
MAX_CHECKPOINTS = 125  # evenly spread (first and last kept): ~1–3 s per checkpoint at p = 113 on a busy CPU

PANELS = (("losses", figures.draw_progress_losses), ("cos_coefficients", figures.draw_cos_coefficients),
          ("weight_norm", figures.draw_weight_norm), ("gini", figures.draw_gini))


class ProgressView(AnalysisTab):
    """Progress tab (issue 7 §4): computed once per run in a worker (with progress); the cursor follows
    the shared checkpoint; clicking a plot sets the checkpoint for every view."""

    title = "Progress"
    follows_checkpoint = False
    max_checkpoints = MAX_CHECKPOINTS

    def build(self):
        from PySide6 import QtWidgets

        grid = QtWidgets.QGridLayout()
        self.panels = {}
        self.cursors = {}
        first = None
        for i, (name, _draw) in enumerate(PANELS):
            widget = pg.PlotWidget(background="w")
            widget.setToolTip("Click to move every view to the nearest checkpoint")
            widget.scene().sigMouseClicked.connect(lambda event, w=widget: self._clicked(w, event))
            if first is None:
                first = widget
            else:
                widget.getPlotItem().setXLink(first.getPlotItem())
            grid.addWidget(widget, i // 2, i % 2)
            self.panels[name] = widget
            self.add_plot_export(name, widget, lambda n=name: self._csv(n))
        self.body.addLayout(grid, 1)

    # -- live, while training ----------------------------------------------------------------
    def attach_job(self, job) -> None:
        """Show ``job``'s live progress measures (refreshed once a second) until :meth:`detach_job`."""
        self.cancel()
        self.job = job
        self._live_count, self._live_drawn, self._live_keys = 0, False, None
        self.result = None
        self.clear()
        self.status.setText("Training: progress measures appear at each checkpoint…")
        if getattr(self, "live_timer", None) is None:
            self.live_timer = QtCore.QTimer(self)
            self.live_timer.setInterval(LIVE_REFRESH_MS)
            self.live_timer.timeout.connect(self.refresh_live)
        self.live_timer.start()

    def detach_job(self) -> None:
        self.refresh_live()
        if getattr(self, "live_timer", None) is not None:
            self.live_timer.stop()
        self.job = None
        self._computed_key = None

    def refresh_live(self) -> None:
        """Draw the records that arrived since the last refresh — only while the tab is shown (a
        redraw costs the window's thread 40–150 ms; :meth:`showEvent` catches up)."""
        job = getattr(self, "job", None)
        if job is None or len(job.measures) == self._live_count or not self.isVisible():
            return
        self._live_count = len(job.measures)
        result = live_progress_data(job.measures, job.task)
        self.result = result
        if not self._update_live(result):
            self.show_result(result)
        last = job.measures[-1]
        self.status.setText(f"live · {len(job.measures)} checkpoints · epoch {last['epoch']:,} · key frequencies "
                            f"{result['key_freqs'] or 'none yet'} (of this checkpoint) · restricted loss "
                            f"{last['restricted_loss']:.3g} · excluded loss {last['excluded_loss']:.3g}")

    def _update_live(self, result) -> bool:
        """New data for the curves already drawn, when the key frequencies are unchanged (one
        :func:`~grokviz.gui.figures.update_series` per panel); False: draw afresh."""
        if not self._live_drawn or self._live_keys != result["key_freqs"]:
            self._live_drawn, self._live_keys = True, list(result["key_freqs"])
            return False
        plots = [(self.panels[name].getPlotItem(), figures.PROGRESS_SERIES[draw](result)) for name, draw in PANELS]
        return all(figures.update_series(plot, series) for plot, series in plots)

    def showEvent(self, event):
        super().showEvent(event)
        if getattr(self, "job", None) is not None:
            QtCore.QTimer.singleShot(0, self.refresh_live)

    def request(self, force: bool = False) -> None:
        if getattr(self, "job", None) is not None:
            return  # the live measures own the tab while training
        super().request(force)

    def compute(self, run, epoch, context):
        from grokviz.analysis.session import session_of
        from grokviz.gui import report_arrays

        report = context.report if context is not None else None
        cancelled = (lambda: context.cancelled) if context is not None else None
        return report_arrays.progress_view(session_of(run), self.max_checkpoints, report=report, cancelled=cancelled)

    def describe(self, result):
        phases = "; ".join(f"{n} {s:,.0f}–{e:,.0f}" for n, s, e in result["phases"]) or "no phases detected"
        of = len(self.run.epochs) if self.run is not None else len(result["epochs"])
        return (f"{len(result['epochs'])} of {of} checkpoints · key frequencies {result['key_freqs']} · {phases} · "
                "click a plot to move the checkpoint")

    def show_result(self, result):
        self.cursors = {}
        for name, draw in PANELS:
            plot = self.panels[name].getPlotItem()
            plot.clear()
            if plot.legend is not None:
                plot.legend.clear()
            draw(plot, result)
            live = getattr(self, "job", None) is not None  # the slider belongs to the open run, not the trained one
            self.cursors[name] = None if live else figures.add_cursor(plot, self.epoch)

    def checkpoint_moved(self, epoch):
        for cursor in self.cursors.values():
            if cursor is not None:
                cursor.setValue(float(epoch))
                cursor.label.setFormat(f"epoch {int(epoch)}")

    def clear(self):
        for widget in self.panels.values():
            widget.getPlotItem().clear()
        self.cursors = {}

    def _clicked(self, widget, event):
        if self.result is None or self.run is None:
            return
        view = widget.getPlotItem().getViewBox()
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return
        epoch = view.mapSceneToView(event.scenePos()).x()
        self.set_epoch(int(round(epoch)))
        if self.state is None:
            self.checkpoint_moved(self.epoch)

    def _csv(self, name) -> CurveData:
        data = figures.progress_csv(self.result)
        wanted = {"losses": ("train_loss", "test_loss", "restricted_loss", "excluded_loss"),
                  "weight_norm": ("weight_norm",), "gini": ("gini_W_E", "gini_W_L")}.get(name)
        if wanted is None:  # cos coefficients
            data.curves = [c for c in data.curves if c[0].startswith("cos_coef")]
        else:
            data.curves = [c for c in data.curves if c[0] in wanted]
        return data


def live_progress_data(records: list, task) -> dict:
    """The tab's result dict from live records (:mod:`grokviz.analysis.live`) of a run of ``task``:
    every measure per checkpoint, the cos-coefficients at the latest checkpoint's key frequencies;
    no phases yet."""
    epochs = np.array([r["epoch"] for r in records], dtype=float)
    result = {"epochs": epochs, "phases": [], "key_freqs": [int(k) for k in records[-1]["key_freqs"]],
              "cos_argument": task.coordinates().cos_argument()}
    for name in ("train_loss", "test_loss", "restricted_loss", "excluded_loss", "weight_norm", "gini_W_E", "gini_W_L"):
        result[name] = np.array([r[name] for r in records], dtype=float)
    result["cos_coef"] = {k: np.array([r["cos_coeffs"][k - 1] for r in records], dtype=float)
                          for k in result["key_freqs"]}
    return result


def create_view(state):
    return ProgressView(state)
