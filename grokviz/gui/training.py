"""Training from the app, and the Training tab (live or recorded loss/accuracy curves).

:class:`TrainingJob` trains in a child process (:mod:`grokviz.training_process`, started with
QProcess): the trainer runs the same code at the same speed as ``grokviz train`` and a crash
there cannot take the window down. The child streams JSON lines (progress records, checkpoint
notices, live progress measures, save notices); QProcess delivers them in the GUI thread, which
only parses them into deques (:class:`TrainingView` drains them from a UI timer at most ten
times per second). Pause / resume / cancel are lines on the child's stdin. The child saves
through ``save_run`` (atomic), so a cancelled or crashed run keeps everything saved so far;
when it has ended the run is loaded from its file in a worker and opened.

Why a child process, and the measurements: :mod:`grokviz.training_process`.
"""

from __future__ import annotations

import collections
import json
import math
import sys
import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from grokviz.core.history import GROKKED_ACCURACY
from grokviz.core.progressbar import format_duration

UPDATE_INTERVAL_MS = 100  # at most ~10 redraws per second
TRAIN_COLOR = "#0072B2"
TEST_COLOR = "#D55E00"
PHASE_COLOR = "#555555"
CHECKPOINT_COLOR = "#009E73"
STDERR_TAIL = 4000  # characters of the child's stderr kept for the error details
CANCEL_GRACE_MS = 60_000  # after this a cancelled child that has not exited is killed


class TrainingJob(QtCore.QObject):
    """Train one run in a child process and save it to ``out_path`` (``resume_from``: continue that file).

    Signals: ``finished_run(object, dict)`` → (run, summary) when training ended (finished or
    cancelled; the file is written and read back); ``failed(str, str)`` → (message, details),
    also when the child died; ``saved(str)`` after each crash-safe save (its path: a fallback
    file when the output could not be written); ``save_problem(str)`` for each new save failure;
    ``unsaved(str)`` when training ended and nothing could be saved (answer with :meth:`save_as`
    or :meth:`discard`); ``measured(dict)`` per live progress record; ``done()`` at the end in
    every case.
    """

    finished_run = QtCore.Signal(object, dict)
    failed = QtCore.Signal(str, str)
    saved = QtCore.Signal(str)
    save_problem = QtCore.Signal(str)
    unsaved = QtCore.Signal(str)
    measured = QtCore.Signal(dict)
    done = QtCore.Signal()

    def __init__(self, task, split, model_config, train_config, out_path, parent=None, threads: int | None = None,
                 resume_from: str | None = None, live_progress: bool = True):
        super().__init__(parent)
        self.task, self.split = task, split
        self.model_config, self.train_config = model_config, train_config
        self.out_path = str(out_path)
        self.threads = threads
        self.resume_from = resume_from
        self.live_progress = live_progress
        self.pending: collections.deque = collections.deque()
        self.measures: list = []  # live progress records, in order
        self.latest = None
        self.last_saved_epoch: int | None = None
        self.saved_path: str | None = None  # where the run is saved (a fallback after a failed save)
        self.run_result = None
        self.outcome: dict | None = None  # the child's "finished" / "failed" line
        self.load_result = True  # False: do not read the run back (closing the app)
        self.started_at = None
        self.ended = False
        self._paused = self._cancelled = False
        self._stderr = ""
        self._loader = None
        self.process = QtCore.QProcess(self)
        self.process.setProgram(sys.executable)
        self.process.setArguments(["-m", "grokviz.training_process"])
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._process_finished)
        self.process.errorOccurred.connect(self._process_error)

    def spec(self) -> dict:
        train = self.train_config.to_dict()
        return {"task": self.task.to_dict(), "split": self.split.to_dict(),
                "model_config": self.model_config.to_dict(),
                "train_config": {"epochs": train["epochs"]} if self.resume_from else train,
                "out": self.out_path, "resume": self.resume_from, "threads": self.threads,
                "live_progress": self.live_progress}

    def start(self) -> None:
        from grokviz.training_process import child_environment

        self.started_at = time.perf_counter()
        environment = QtCore.QProcessEnvironment()
        for key, value in child_environment().items():
            environment.insert(key, value)
        self.process.setProcessEnvironment(environment)
        self.process.start()
        self.process.write((json.dumps(self.spec()) + "\n").encode())

    # -- controls (GUI thread) -------------------------------------------------------------
    def _command(self, command: str) -> None:
        if self.process.state() != QtCore.QProcess.ProcessState.NotRunning:
            self.process.write((command + "\n").encode())

    def save_as(self, path) -> None:
        """Answer ``unsaved``: save the run that waits in the child to ``path``."""
        self._command("save_as " + json.dumps(str(path)))

    def discard(self) -> None:
        """Answer ``unsaved``: give the run up."""
        self._command("discard")

    def pause(self) -> None:
        self._paused = True
        self._command("pause")

    def resume(self) -> None:
        self._paused = False
        self._command("resume")

    def cancel(self) -> None:
        self._cancelled = True
        self._paused = False
        self._command("cancel")

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def isRunning(self) -> bool:  # noqa: N802 - the QThread-style name main_window uses
        return self.started_at is not None and not self.ended

    def take_progress(self) -> list:
        """Drain the progress records collected since the last call (GUI thread)."""
        items = []
        while self.pending:
            items.append(self.pending.popleft())
        return items

    def wait(self, timeout_ms: int = CANCEL_GRACE_MS) -> bool:
        """Block (processing events) until the job has ended; kill the child after ``timeout_ms``."""
        deadline = time.perf_counter() + timeout_ms / 1000
        while not self.ended:
            if self.process.state() != QtCore.QProcess.ProcessState.NotRunning:
                self.process.waitForFinished(50)
                if time.perf_counter() > deadline:
                    self.process.kill()
                    self.process.waitForFinished(5000)
            elif self._loader is not None:
                self._loader.wait(50)
            QtCore.QCoreApplication.sendPostedEvents()
            QtCore.QCoreApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if time.perf_counter() > deadline + 30:
                return False
        return True

    # -- from the child (GUI thread) -------------------------------------------------------
    def _read(self) -> None:
        from grokviz.core.training import Progress

        while self.process.canReadLine():
            line = bytes(self.process.readLine()).decode(errors="replace").strip()
            if not line.startswith("{"):
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue
            kind = message.pop("type", None)
            if kind == "progress":
                progress = Progress(**message)
                self.latest = progress
                self.pending.append(progress)
            elif kind == "measures":
                self.measures.append(message["record"])
                self.measured.emit(message["record"])
            elif kind == "saved":
                self.last_saved_epoch = int(message["epoch"])
                self.saved_path = str(message["path"])
                self.saved.emit(message["path"])
            elif kind == "save_problem":
                self.save_problem.emit(str(message.get("message", "")))
            elif kind == "unsaved":
                self.unsaved.emit(str(message.get("message", "")))
            elif kind in ("finished", "failed"):
                self.outcome = {"type": kind, **message}

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode(errors="replace")
        self._stderr = (self._stderr + text)[-STDERR_TAIL:]

    def _process_error(self, error) -> None:
        if error == QtCore.QProcess.ProcessError.FailedToStart:
            self._end_with_failure("Could not start the training process.", self.process.errorString())

    def _process_finished(self, exit_code: int, exit_status) -> None:
        self._read()
        self._read_stderr()
        outcome = self.outcome or {}
        if outcome.get("type") == "finished":
            if self.load_result:
                self._load_run()
            else:
                self._end()
            return
        if outcome.get("type") == "failed":
            self._end_with_failure(outcome.get("message", "training failed"), outcome.get("details", ""))
            return
        crashed = exit_status == QtCore.QProcess.ExitStatus.CrashExit
        how = "was killed or crashed" if crashed else f"exited with status {exit_code}"
        self._end_with_failure(f"The training process {how} before it finished.", self._stderr.strip())

    def _load_run(self) -> None:
        from grokviz.gui.workers import Job, open_run

        job = Job(open_run(self.saved_path or self.out_path), "Reading the trained run")
        job.succeeded.connect(self._loaded)
        job.failed.connect(self._end_with_failure)
        job.done.connect(lambda: self._end() if not self.ended else None)
        self._loader = job
        job.start()

    def _loaded(self, result) -> None:
        run, summary = result
        self.run_result = run
        self.finished_run.emit(run, summary)

    def _end_with_failure(self, message: str, details: str) -> None:
        self.failed.emit(message, details)
        self._end()

    def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.done.emit()


class _Curves:
    """Growing numpy columns of the history shown in the Training tab."""

    def __init__(self):
        self.clear()

    def clear(self):
        self.epoch = np.zeros(0)
        self.train_loss = np.zeros(0)
        self.test_loss = np.zeros(0)
        self.train_acc = np.zeros(0)
        self.test_acc = np.zeros(0)

    def set(self, epoch, train_loss, test_loss, train_acc, test_acc):
        self.epoch = np.asarray(epoch, dtype=float)
        self.train_loss = np.asarray(train_loss, dtype=float)
        self.test_loss = np.asarray(test_loss, dtype=float)
        self.train_acc = np.asarray(train_acc, dtype=float)
        self.test_acc = np.asarray(test_acc, dtype=float)

    def extend(self, records):
        rows = np.array([(r.epoch, r.train_loss, r.test_loss, r.train_acc, r.test_acc) for r in records], dtype=float)
        self.set(*(np.concatenate([old, rows[:, i]]) for i, old in
                   enumerate((self.epoch, self.train_loss, self.test_loss, self.train_acc, self.test_acc))))

    def first_epoch(self, column: np.ndarray) -> float | None:
        hits = np.nonzero(column >= GROKKED_ACCURACY)[0]
        return float(self.epoch[hits[0]]) if len(hits) else None


def _positive(values: np.ndarray) -> np.ndarray:
    """Loss values for a log axis: non-positive or non-finite values become NaN (gaps)."""
    out = np.array(values, dtype=float)
    out[~(out > 0) | ~np.isfinite(out)] = np.nan
    return np.maximum(out, 1e-30)


ACCURACY_SYMBOL_SIZE = 7


class TrainingView(QtWidgets.QWidget):
    """Loss (log y) and accuracy against epoch, with phase lines and the current checkpoint.

    A history that records losses only (Nanda's and the Grokking demo's formats) has no accuracy
    curve: the accuracy plot shows the ``checkpoint_accuracy`` report (computed from the weights
    at every stored checkpoint, in a worker once the run is open) as points, not joined by lines,
    and the phase lines are the ``phases`` report's (memorisation ends at the test-loss peak,
    "grokked by" the 0.01·ln 2 loss bound).

    Shows a loaded run's history, or a running :class:`TrainingJob` live (``attach_job``) with a
    progress bar, ETA and Pause/Resume/Cancel. Dragging the green line moves the shared checkpoint.
    """

    pause_requested = QtCore.Signal()
    resume_requested = QtCore.Signal()
    cancel_requested = QtCore.Signal()

    def __init__(self, state=None, parent=None):
        super().__init__(parent)
        self.state = None
        self.job: TrainingJob | None = None
        self.curves = _Curves()
        self.redraw_count = 0
        self._last_progress = None
        self.points_mode = False  # accuracies from checkpoint evaluation: drawn as points
        self.checkpoint_accuracy = None  # the checkpoint_accuracy report of the run shown (points mode)
        self.phases = None  # the phases report of the loaded run (None while training live)
        self._accuracy_jobs = None
        self._accuracy_points_drawn = False

        self.title = QtWidgets.QLabel("No run open")
        self.title.setObjectName("viewTitle")
        self.title.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)

        self.loss_plot = pg.PlotWidget()
        self.acc_plot = pg.PlotWidget()
        self._setup_plot(self.loss_plot, "loss", log_y=True, name="loss")
        self._setup_plot(self.acc_plot, "accuracy", log_y=False, name="accuracy")
        self.acc_plot.getPlotItem().setXLink(self.loss_plot.getPlotItem())
        self.acc_plot.getPlotItem().enableAutoRange(axis="y", enable=False)
        self.acc_plot.setYRange(-0.02, 1.02, padding=0)
        self.acc_plot.getPlotItem().getAxis("left").setTicks([[(v, f"{int(v * 100)} %") for v in (0, 0.25, 0.5, 0.75, 1.0)]])

        self.loss_curves = {
            "train": self.loss_plot.plot(pen=pg.mkPen(TRAIN_COLOR, width=2), name="train loss"),
            "test": self.loss_plot.plot(pen=pg.mkPen(TEST_COLOR, width=2), name="test loss"),
        }
        self.acc_curves = {
            "train": self.acc_plot.plot(pen=pg.mkPen(TRAIN_COLOR, width=2), name="train accuracy"),
            "test": self.acc_plot.plot(pen=pg.mkPen(TEST_COLOR, width=2), name="test accuracy"),
        }
        self.phase_lines = {}
        for key, label in (("memorised", "memorised"), ("grokked", "grokked")):
            lines = []
            for plot, show_label in ((self.loss_plot, True), (self.acc_plot, False)):
                line = pg.InfiniteLine(angle=90, movable=False,
                                       pen=pg.mkPen(PHASE_COLOR, width=1, style=QtCore.Qt.PenStyle.DashLine),
                                       label=label if show_label else None,
                                       labelOpts={"position": 0.93, "color": PHASE_COLOR, "anchors": [(0, 0), (0, 0)]})
                line.setVisible(False)
                plot.addItem(line, ignoreBounds=True)
                lines.append(line)
            self.phase_lines[key] = lines
        self.checkpoint_lines = []
        for plot in (self.loss_plot, self.acc_plot):
            line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(CHECKPOINT_COLOR, width=2),
                                   hoverPen=pg.mkPen(CHECKPOINT_COLOR, width=4))
            line.setToolTip("current checkpoint — drag to scrub")
            line.setVisible(False)
            line.sigPositionChangeFinished.connect(self._checkpoint_dragged)
            plot.addItem(line, ignoreBounds=True)
            self.checkpoint_lines.append(line)

        # live-training controls
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.eta_label = QtWidgets.QLabel("")
        self.eta_label.setMinimumWidth(260)
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.pause_button.clicked.connect(self._toggle_pause)
        self.cancel_button.clicked.connect(self._cancel)
        self.controls = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(self.controls)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress, 1)
        row.addWidget(self.eta_label)
        row.addWidget(self.pause_button)
        row.addWidget(self.cancel_button)
        self.controls.setVisible(False)

        self.stats = QtWidgets.QLabel("")
        self.stats.setObjectName("viewSubtitle")
        self.stats.setWordWrap(True)  # a long line must not set the window's minimum width

        plots = QtWidgets.QWidget()
        plots_layout = QtWidgets.QVBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.title)
        plots_layout.addWidget(self.stats)
        plots_layout.addWidget(self.controls)
        plots_layout.addWidget(self.loss_plot, 3)
        plots_layout.addWidget(self.acc_plot, 2)
        self.empty = QtWidgets.QWidget()
        empty_layout = QtWidgets.QVBoxLayout(self.empty)
        empty_title = QtWidgets.QLabel("No run open")
        empty_title.setObjectName("placeholderTitle")
        empty_title.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        empty_text = QtWidgets.QLabel("Open a run file (File ▸ Open…, Ctrl+O) or drop one onto the window\n"
                                      "to see its loss and accuracy curves, or start a new training run\n"
                                      "(File ▸ New training run…, Ctrl+N) and watch it live here.")
        empty_text.setObjectName("placeholderText")
        empty_text.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        empty_layout.addStretch(2)
        empty_layout.addWidget(empty_title)
        empty_layout.addWidget(empty_text)
        empty_layout.addStretch(3)
        self.pages = QtWidgets.QStackedLayout()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(plots)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(self.pages)
        self.plots_page = plots

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(UPDATE_INTERVAL_MS)
        self.timer.timeout.connect(self.poll)
        if state is not None:
            self.set_app_state(state)

    @staticmethod
    def _setup_plot(widget: pg.PlotWidget, ylabel: str, log_y: bool, name: str) -> None:
        item = widget.getPlotItem()
        # A GridItem behind the curves instead of showGrid(): with the axis-drawn grid every curve
        # update repaints both axes (their grid overlaps the curves), twice the paint cost.
        grid = pg.GridItem(pen=pg.mkPen("#dedede"), textPen=None)
        grid.setZValue(-100)
        item.addItem(grid, ignoreBounds=True)
        item.setLabel("left", ylabel)
        item.setLabel("bottom", "epoch")
        item.setLogMode(x=False, y=log_y)
        item.getAxis("left").setWidth(62)
        item.addLegend(offset=(-10, 10) if log_y else (-10, -10), labelTextColor="#222222",
                       brush=pg.mkBrush(255, 255, 255, 210), pen=pg.mkPen("#cccccc"))
        item.setMenuEnabled(True)
        item.getViewBox().setMouseMode(pg.ViewBox.RectMode)

    def install_export_menus(self) -> None:
        """Add Export PNG/SVG/CSV to the plots' context menus (after start-up: the export module
        is not imported before the window shows)."""
        if getattr(self, "_export_menus", False):
            return
        from grokviz.gui import export

        for widget, name in ((self.loss_plot, "training_loss"), (self.acc_plot, "training_accuracy")):
            export.add_export_menu(widget, name=name)
        self._export_menus = True

    # -- view protocol ---------------------------------------------------------------------
    def set_app_state(self, state) -> None:
        self.state = state
        state.run_changed.connect(self.on_run_changed)
        state.checkpoint_changed.connect(self.on_checkpoint_changed)
        if state.run is not None:
            self.on_run_changed(state.run)
            if state.checkpoint_epoch is not None:
                self.on_checkpoint_changed(state.checkpoint_epoch)

    def on_run_changed(self, run) -> None:
        if self.job is not None:
            return  # live curves keep the tab while training
        self.checkpoint_accuracy = None
        self.phases = None
        self.points_mode = False
        if self._accuracy_jobs is not None:
            self._accuracy_jobs.cancel()
        if run is None:
            self.curves.clear()
            self.title.setText("No run open")
            self.stats.setText("")
        else:
            from grokviz.analysis.phases import is_loss_only
            from grokviz.analysis.session import session_of

            history = run.history
            self.curves.set(history.epoch, history.train_loss, history.test_loss, history.train_acc, history.test_acc)
            self.phases = session_of(run).report("phases", with_progress=False)  # history only: milliseconds
            self.points_mode = is_loss_only(history)
            name = run.path or "unsaved run"
            self.title.setText(f"{run.task.formula}  ·  {name}")
            self.stats.setText(self._stats_text(run))
            if self.points_mode:
                self._request_checkpoint_accuracy(run)
        self.redraw()
        self.pages.setCurrentWidget(self.plots_page if run is not None else self.empty)
        for line in self.checkpoint_lines:
            line.setVisible(run is not None)

    def show_preview(self, preview) -> None:
        """A run's recorded curves read without torch (:mod:`grokviz.core.quickread`), until it opens."""
        if self.job is not None or (self.state is not None and self.state.run is not None):
            return
        history = preview.history
        self.curves.set(history.epoch, history.train_loss, history.test_loss, history.train_acc, history.test_acc)
        self.title.setText(f"{preview.task_spec}, p = {preview.p}  ·  {preview.path}")
        last = history.last()
        if last["epoch"] is not None:
            self.stats.setText(f"{preview.status} · {preview.epochs_trained} epochs · train loss {last['train_loss']:.3g} · "
                               f"test loss {last['test_loss']:.3g} · test accuracy {last['test_acc'] * 100:.1f} % · "
                               "loading the weights…")
        self.redraw()
        self.pages.setCurrentWidget(self.plots_page)

    def _stats_text(self, run) -> str:
        last = run.history.last()
        if last["epoch"] is None:
            return f"{run.status}, {run.epochs_trained} epochs (no history recorded)"
        phases = self.phases
        grokked = phases.grokked_epoch if phases is not None else run.grokked_epoch()
        if grokked is None:
            grokked_text = "grokked at —"
        elif phases is None or phases.basis == "accuracy":
            grokked_text = f"grokked at {grokked:,}"
        elif phases.basis == "loss bound":
            grokked_text = f"grokked by {grokked:,} (bound: test loss < 0.01·ln 2 ⇒ acc ≥ 99 %)"
        else:
            grokked_text = f"grokked by {grokked:,} ({phases.basis})"
        accuracy = f"test accuracy {last['test_acc'] * 100:.1f} %"
        known = np.nonzero(np.isfinite(np.asarray(run.history.test_acc, dtype=float)))[0]
        if not math.isfinite(last["test_acc"]):  # losses-only: the history ends past the last weights
            accuracy = (f"test accuracy {run.history.test_acc[known[-1]] * 100:.1f} % at epoch "
                        f"{int(run.history.epoch[known[-1]]):,}" if len(known) else "test accuracy —")
        text = (f"{run.status} · {run.epochs_trained} epochs · train loss {last['train_loss']:.3g} · "
                f"test loss {last['test_loss']:.3g} · {accuracy} · {grokked_text}")
        if self.points_mode:
            text += "\nlosses-only history: accuracy from the weights at each stored checkpoint, drawn as points"
        return text

    # -- accuracies of a losses-only history (points) ----------------------------------------
    def _request_checkpoint_accuracy(self, run) -> None:
        from grokviz.analysis.session import session_of
        from grokviz.gui.workers import LatestRequest

        if self._accuracy_jobs is None:
            self._accuracy_jobs = LatestRequest("Checkpoint accuracy", self)
            self._accuracy_jobs.succeeded.connect(self._on_checkpoint_accuracy)
            self._accuracy_jobs.progress.connect(self._on_accuracy_progress)
        session = session_of(run)

        def compute(context):
            return session.report("checkpoint_accuracy", on_progress=context.report,
                                  cancel=lambda: context.cancelled)

        self._accuracy_jobs.request(id(run), compute)

    def _on_accuracy_progress(self, fraction, text) -> None:
        if self.state is not None and self.state.run is not None and self.job is None:
            self.stats.setText(self._stats_text(self.state.run) + f" · {text}")

    def _on_checkpoint_accuracy(self, key, result) -> None:
        run = self.state.run if self.state is not None else None
        if run is None or key != id(run) or self.job is not None:
            return
        self.checkpoint_accuracy = result
        self.stats.setText(self._stats_text(run) + f" ({len(result.epochs)} checkpoints)")
        self.redraw()

    @property
    def accuracy_busy(self) -> bool:
        return self._accuracy_jobs is not None and self._accuracy_jobs.busy

    def _accuracy_series(self):
        """(epochs, train_acc, test_acc) the accuracy plot shows."""
        c = self.curves
        if not self.points_mode:
            return c.epoch, c.train_acc, c.test_acc
        if self.checkpoint_accuracy is not None:
            r = self.checkpoint_accuracy
            return (np.asarray(r.epochs, dtype=float), np.asarray(r.train_acc, dtype=float),
                    np.asarray(r.test_acc, dtype=float))
        known = np.isfinite(c.test_acc)  # until the report arrives: the epochs the history has (the final)
        return c.epoch[known], c.train_acc[known], c.test_acc[known]

    def _accuracy_style(self, key: str) -> dict:
        """setData style of the ``key`` ("train"/"test") accuracy: a line, or in points mode
        symbols with no line (pen None: pyqtgraph then draws no curve at all)."""
        color = TRAIN_COLOR if key == "train" else TEST_COLOR
        legend = self.acc_plot.getPlotItem().legend
        label = legend.getLabel(self.acc_curves[key]) if legend is not None else None
        if label is not None:
            label.setText(f"{key} accuracy" + (" (stored checkpoints)" if self.points_mode else ""))
        if self.points_mode:
            return {"pen": None, "symbol": "o", "symbolSize": ACCURACY_SYMBOL_SIZE, "symbolBrush": pg.mkBrush(color),
                    "symbolPen": pg.mkPen(color)}
        return {"pen": pg.mkPen(color, width=2), "symbol": None}

    def on_checkpoint_changed(self, epoch: int) -> None:
        for line in self.checkpoint_lines:
            line.blockSignals(True)
            line.setValue(epoch)
            line.blockSignals(False)

    def _checkpoint_dragged(self, line) -> None:
        if self.state is not None:
            self.state.set_checkpoint_epoch(int(round(line.value())))
            if self.state.checkpoint_epoch is not None:
                self.on_checkpoint_changed(self.state.checkpoint_epoch)

    # -- drawing ---------------------------------------------------------------------------
    def redraw(self) -> None:
        c = self.curves
        self.loss_curves["train"].setData(c.epoch, _positive(c.train_loss), connect="finite")
        self.loss_curves["test"].setData(c.epoch, _positive(c.test_loss), connect="finite")
        epochs, train_acc, test_acc = self._accuracy_series()
        if self._accuracy_points_drawn != self.points_mode:  # the style changes only with the run
            self._accuracy_points_drawn = self.points_mode
            for key in ("train", "test"):
                self.acc_curves[key].setData([], [], **self._accuracy_style(key))
        self.acc_curves["train"].setData(epochs, train_acc, connect="finite")
        self.acc_curves["test"].setData(epochs, test_acc, connect="finite")
        phase_epochs = self.phase_epochs()
        bound = self.phases is not None and self.job is None and self.phases.basis != "accuracy"
        for key, epoch in phase_epochs.items():
            for line in self.phase_lines[key]:
                line.setVisible(epoch is not None)
                if epoch is not None:
                    line.setValue(epoch)
                if getattr(line, "label", None) is not None:
                    line.label.setFormat("grokked by (loss bound)" if key == "grokked" and bound else key)
        self.redraw_count += 1

    def phase_epochs(self) -> dict:
        """Epochs of the phase lines: the loaded run's ``phases`` report, else (live) the curves'
        first accuracy ≥ 99 %."""
        if self.phases is not None and self.job is None:
            return {"memorised": self.phases.memorised_epoch, "grokked": self.phases.grokked_epoch}
        if not len(self.curves.epoch):
            return {"memorised": None, "grokked": None}
        return {"memorised": self.curves.first_epoch(self.curves.train_acc),
                "grokked": self.curves.first_epoch(self.curves.test_acc)}

    # -- export (File ▸ Export current view… / figure set…) -----------------------------------
    def export_figures(self, directory) -> list[str]:
        """loss and accuracy plots as PNG and SVG, and the history as CSV, into ``directory``."""
        import os

        from grokviz.gui import export

        written = []
        for name, widget in (("training_loss", self.loss_plot), ("training_accuracy", self.acc_plot)):
            base = os.path.join(str(directory), name)
            written.append(export.export_png(widget, base + ".png"))
            written.append(export.export_svg(widget, base + ".svg", title=name.replace("_", " ")))
        c = self.curves
        data = export.CurveData(x_label="epoch")
        for column in ("train_loss", "test_loss"):
            data.add(column, c.epoch, getattr(c, column))
        epochs, train_acc, test_acc = self._accuracy_series()  # points mode: at the stored checkpoints
        data.add("train_acc", epochs, train_acc)
        data.add("test_acc", epochs, test_acc)
        written.append(export.export_csv(data, os.path.join(str(directory), "training_history.csv")))
        return written

    def export_view(self, parent=None):
        from PySide6.QtWidgets import QFileDialog

        directory = QFileDialog.getExistingDirectory(parent or self, "Export the training curves into")
        return self.export_figures(directory) if directory else []

    # -- live training ---------------------------------------------------------------------
    def attach_job(self, job: TrainingJob, title: str = "") -> None:
        self.job = job
        self.pages.setCurrentWidget(self.plots_page)
        self.curves.clear()
        self.points_mode, self.phases, self.checkpoint_accuracy = False, None, None
        self._last_progress = None
        self.redraw()
        for line in self.checkpoint_lines:
            line.setVisible(False)
        self.title.setText(title or "Training…")
        self.stats.setText("starting…")
        self.progress.setValue(0)
        self.progress.setFormat("epoch 0")
        self.eta_label.setText("")
        self.pause_button.setText("Pause")
        self.pause_button.setEnabled(True)
        self.cancel_button.setEnabled(True)
        self.controls.setVisible(True)
        self.timer.start()

    def detach_job(self) -> None:
        self.poll()
        self.timer.stop()
        self.job = None
        self.controls.setVisible(False)
        self._live_ranges = None
        self.loss_plot.getPlotItem().enableAutoRange(axis="xy", enable=True)
        self.acc_plot.getPlotItem().enableAutoRange(axis="x", enable=True)

    def _fix_live_ranges(self, total_epochs: int) -> None:
        """While training, x spans the whole run and the loss axis moves in whole decades, so the
        axes (tick text, the costly part of a repaint) are re-laid out only when that changes."""
        losses = np.concatenate([self.curves.train_loss, self.curves.test_loss])
        losses = losses[np.isfinite(losses) & (losses > 0)]
        if not len(losses):
            return
        low = math.floor(math.log10(losses.min()))
        high = math.ceil(math.log10(losses.max()))
        high = max(high, low + 1)
        ranges = (total_epochs, low, high)
        if getattr(self, "_live_ranges", None) == ranges:
            return
        self._live_ranges = ranges
        loss_item = self.loss_plot.getPlotItem()
        loss_item.enableAutoRange(axis="xy", enable=False)
        loss_item.setXRange(0, total_epochs, padding=0.01)
        loss_item.setYRange(low, high, padding=0.02)
        self.acc_plot.getPlotItem().enableAutoRange(axis="x", enable=False)

    def poll(self) -> None:
        """Drain the job's progress records and redraw (timer, ≤ 10×/s)."""
        job = self.job
        if job is None:
            return
        records = job.take_progress()
        if not records:
            if job.paused:
                self.eta_label.setText("paused")
            return
        self.curves.extend(records)
        last = records[-1]
        self._fix_live_ranges(last.total_epochs)
        self._last_progress = last
        fraction = last.epoch / max(last.total_epochs, 1)
        self.progress.setValue(int(round(fraction * 1000)))
        self.progress.setFormat(f"epoch {last.epoch:,} / {last.total_epochs:,}  ({fraction * 100:.0f} %)")
        self.eta_label.setText("paused" if job.paused else
                               f"{last.ms_per_epoch:.1f} ms/epoch · elapsed {format_duration(last.elapsed)} · "
                               f"ETA {format_duration(last.eta)}")
        self.stats.setText(f"train loss {last.train_loss:.3g} · test loss {last.test_loss:.3g} · "
                           f"train accuracy {last.train_acc * 100:.1f} % · test accuracy {last.test_acc * 100:.1f} %")
        self.redraw()

    def _toggle_pause(self) -> None:
        if self.job is None:
            return
        if self.job.paused:
            self.resume_requested.emit()
            self.pause_button.setText("Pause")
            self.eta_label.setText("resuming…")
        else:
            self.pause_requested.emit()
            self.pause_button.setText("Resume")
            self.eta_label.setText("paused")

    def _cancel(self) -> None:
        if self.job is not None:
            self.cancel_requested.emit()
            self.cancel_button.setEnabled(False)
            self.pause_button.setEnabled(False)
            self.eta_label.setText("cancelling — saving the run…")
