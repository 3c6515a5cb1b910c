"""Circles tab: the token embeddings on each key frequency's (cos k, sin k) plane, animated over
checkpoints (design.md §6b). Every checkpoint's points are computed once per run (W_E only, cheap);
moving the checkpoint, or playing, only moves the points."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from grokviz.analysis.session import session_of
from grokviz.gui import mechanism_figures as mf
from grokviz.gui.tabs.base import AnalysisTab

DEFAULT_FPS = 10


class CirclesView(AnalysisTab):
    title = "Circles"
    follows_checkpoint = False  # the whole run at once; checkpoint changes redraw (checkpoint_moved)

    def build(self):
        controls = QtWidgets.QHBoxLayout()
        self.play_button = QtWidgets.QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Step through the checkpoints (wraps around at the end)")
        self.play_button.toggled.connect(self._toggle_play)
        self.fps = QtWidgets.QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(DEFAULT_FPS)
        self.fps.setSuffix(" checkpoints/s")
        self.fps.valueChanged.connect(lambda v: self.timer.setInterval(int(1000 / v)))
        self.labels_box = QtWidgets.QCheckBox("token labels")
        self.labels_box.setChecked(True)
        self.labels_box.toggled.connect(self._rebuild)
        self.epoch_label = QtWidgets.QLabel("")
        controls.addWidget(self.play_button)
        controls.addWidget(self.fps)
        controls.addWidget(self.labels_box)
        controls.addWidget(self.epoch_label, 1)
        self.body.addLayout(controls)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground("w")
        self.body.addWidget(self.canvas, 1)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(int(1000 / DEFAULT_FPS))
        self.timer.timeout.connect(self._advance)
        self.circle_plots: list = []
        self.frame_index = None
        self.add_plot_export("embedding", self.canvas, lambda: mf.circles_csv(self._frame(), self._frame_epoch()))

    # -- work (worker thread) -------------------------------------------------------------------
    def compute(self, run, epoch, context):
        session = session_of(run)
        return session.report("embedding_circles_history")

    def describe(self, result):
        if not result.frequencies:
            return "No key frequencies in the final model: nothing to draw"
        return (f"{len(result.epochs)} checkpoints · key frequencies {result.frequencies} (of the final model) · "
                "points coloured by their place k·a mod p on the ideal circle · Play animates")

    # -- drawing (GUI thread) ---------------------------------------------------------------------
    def show_result(self, result):
        self._rebuild()

    def _rebuild(self, *_):
        self.canvas.clear()
        self.circle_plots = []
        result = self.result
        if result is None or not result.frames:
            return
        p = len(result.frames[0].operands[0].coordinate)
        every = 1 if self.labels_box.isChecked() else 0
        self.circle_plots = mf.circle_layout(self.canvas.ci, result.frames[0], p, label_every=every or p + 1,
                                             frames=result.frames)
        self.frame_index = None
        self.checkpoint_moved(self.epoch)

    def checkpoint_moved(self, epoch):
        result = self.result
        if result is None or not result.frames or epoch is None:
            return
        index = min(range(len(result.epochs)), key=lambda i: abs(result.epochs[i] - int(epoch)))
        self.show_frame(index)

    def show_frame(self, index: int) -> None:
        """Move every plot's points to checkpoint ``index`` of the precomputed frames."""
        self.frame_index = index
        frame = self.result.frames[index]
        mf.show_circles(self.circle_plots, frame)
        self.epoch_label.setText(f"epoch {self.result.epochs[index]}")

    def _frame(self):
        return self.result.frames[self.frame_index if self.frame_index is not None else -1]

    def _frame_epoch(self):
        return self.result.epochs[self.frame_index if self.frame_index is not None else -1]

    def clear(self):
        self.timer.stop()
        self.canvas.clear()
        self.circle_plots = []

    # -- play -------------------------------------------------------------------------------------
    def _toggle_play(self, playing: bool):
        self.play_button.setText("Pause" if playing else "Play")
        if playing:
            self.timer.start()
        else:
            self.timer.stop()

    def _advance(self):
        if self.result is None or not self.result.epochs:
            return
        index = ((self.frame_index if self.frame_index is not None else -1) + 1) % len(self.result.epochs)
        epoch = self.result.epochs[index]
        if self.state is not None:
            self.state.set_checkpoint_epoch(epoch)  # every view follows; checkpoint_moved redraws here
        else:
            self.epoch = epoch
            self.show_frame(index)


def create_view(state):
    return CirclesView(state)
