"""The Run panel: what the open run is, and the checkpoint slider every view follows."""

from __future__ import annotations

import os

from PySide6 import QtCore, QtWidgets

from grokviz.core.config import recipe_text  # no torch either
from grokviz.core.history import GROKKED_ACCURACY  # numpy only: no torch before the window shows

DEFAULT_FPS = 8
TRAINING_REFRESH_MS = 500


def _fmt_loss(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def _fmt_pct(value) -> str:
    return "—" if value is None or value != value else f"{value * 100:.2f} %"  # None or NaN (not evaluated there)


def _preview_recipe(train_config: dict) -> str:
    """The recipe read straight from a file (not validated yet: a malformed one shows as "…")."""
    try:
        return recipe_text(train_config, "\n")
    except (KeyError, TypeError, ValueError, AttributeError):
        return "…"


def _elide_path(path: str, width: int = 34) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1):]


class CheckpointSlider(QtWidgets.QWidget):
    """Slider over ``state.epochs`` with first/previous/next/last and play (timer, fps)."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setTracking(True)
        self.slider.setPageStep(10)
        self.label = QtWidgets.QLabel("epoch —")
        self.label.setObjectName("epochLabel")
        self.label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        style = self.style()
        icon = QtWidgets.QStyle.StandardPixmap

        def button(pixmap, tip, slot):
            b = QtWidgets.QToolButton()
            b.setIcon(style.standardIcon(pixmap))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            return b

        self.first_button = button(icon.SP_MediaSkipBackward, "First checkpoint (Home)", lambda: state.set_checkpoint_index(0))
        self.prev_button = button(icon.SP_MediaSeekBackward, "Previous checkpoint ([)", lambda: state.step_checkpoint(-1))
        self.play_button = button(icon.SP_MediaPlay, "Play through checkpoints (P)", self.toggle_play)
        self.next_button = button(icon.SP_MediaSeekForward, "Next checkpoint (])", lambda: state.step_checkpoint(1))
        self.last_button = button(icon.SP_MediaSkipForward, "Last checkpoint (End)", lambda: state.set_checkpoint_index(len(state.epochs) - 1))
        self.fps = QtWidgets.QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(DEFAULT_FPS)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("playback speed (checkpoints per second)")
        self.fps.valueChanged.connect(lambda v: self.timer.setInterval(int(1000 / v)))
        self.loop = QtWidgets.QCheckBox("loop")

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(int(1000 / DEFAULT_FPS))
        self.timer.timeout.connect(self._advance)

        buttons = QtWidgets.QHBoxLayout()
        buttons.setSpacing(2)
        for b in (self.first_button, self.prev_button, self.play_button, self.next_button, self.last_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.loop)
        buttons.addWidget(self.fps)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.slider)
        layout.addLayout(buttons)

        self.slider.valueChanged.connect(self._slider_moved)
        state.run_changed.connect(self._run_changed)
        state.checkpoint_changed.connect(self._checkpoint_changed)
        self._run_changed(state.run)
        if state.checkpoint_epoch is not None:  # made for a state that already shows a run (a comparison)
            self._checkpoint_changed(state.checkpoint_epoch)

    def _run_changed(self, run) -> None:
        self.stop()
        epochs = self.state.epochs
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(epochs) - 1, 0))
        self.slider.blockSignals(False)
        self.setEnabled(bool(epochs))
        if not epochs:
            self.label.setText("epoch —")

    def _checkpoint_changed(self, epoch: int) -> None:
        index = self.state.checkpoint_index
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        epochs = self.state.epochs
        self.label.setText(f"epoch <b>{epoch:,}</b> of {epochs[-1]:,}  <span style='color:#666'>"
                           f"(checkpoint {index + 1} / {len(epochs)})</span>")

    def _slider_moved(self, index: int) -> None:
        self.state.set_checkpoint_index(index)

    # -- play -------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def toggle_play(self) -> None:
        if self.playing:
            self.stop()
        else:
            self.play()

    def play(self) -> None:
        epochs = self.state.epochs
        if len(epochs) < 2:
            return
        if self.state.checkpoint_index >= len(epochs) - 1:
            self.state.set_checkpoint_index(0)
        self.timer.start()
        self.play_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPause))
        self.play_button.setToolTip("Pause playback (P)")

    def stop(self) -> None:
        self.timer.stop()
        self.play_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setToolTip("Play through checkpoints (P)")

    def _advance(self) -> None:
        epochs = self.state.epochs
        index = self.state.checkpoint_index
        if index >= len(epochs) - 1:
            if self.loop.isChecked():
                self.state.set_checkpoint_index(0)
            else:
                self.stop()
            return
        self.state.step_checkpoint(1)


BASIS_NAMES = {"additive": "additive", "power": "power", "discrete_log": "discrete log"}


def _grokked_text(epoch, basis) -> str:
    if epoch is None:
        return "not grokked"
    if basis in (None, "accuracy"):
        return f"epoch {epoch:,}"
    if basis == "loss bound":
        return f"by epoch {epoch:,}\n(bound: test loss < 0.01·ln 2 ⇒ acc ≥ 99 %)"
    return f"by epoch {epoch:,} ({basis})"


def _basis_text(token_basis, ready: bool) -> str:
    """E.g. ``power (0.88; additive 0.14, discrete log 0.09)``, per operand when a and b differ."""
    if not token_basis:
        return "…" if not ready else "—"

    def one(found):
        best = found["best"]
        others = ", ".join(f"{BASIS_NAMES[name]} {value:.2f}" for name, value in found["concentration"].items()
                           if name != best)
        return f"{BASIS_NAMES[best]} ({found['concentration'][best]:.2f}" + (f"; {others})" if others else ")")

    a, b = token_basis["a"], token_basis["b"]
    return one(a) if a == b else f"a: {one(a)}\nb: {one(b)}"


class RunPanel(QtWidgets.QWidget):
    """Summary of the open run (task, formula, dims, metrics, grokked epoch, key frequencies)
    above the checkpoint slider."""

    FIELDS = (
        ("task", "Task"), ("formula", "Formula"), ("p", "p"), ("model", "Model"), ("split", "Split"),
        ("recipe", "Training"), ("epochs", "Epochs"), ("train", "Train"), ("test", "Test"), ("grokked", "Grokked at"),
        ("key_freqs", "Key frequencies"), ("basis", "Learned basis"), ("status", "Status"), ("file", "File"),
    )

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.heading = QtWidgets.QLabel("No run open")
        self.heading.setObjectName("panelHeading")
        self.heading.setWordWrap(True)
        self.hint = QtWidgets.QLabel("Open a run file (Ctrl+O), drop one onto the window, "
                                     "or start a new training run (Ctrl+N).")
        self.hint.setWordWrap(True)
        self.hint.setObjectName("hint")

        form_box = QtWidgets.QWidget()
        self.form = QtWidgets.QFormLayout(form_box)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setLabelAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        self.form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.DontWrapRows)
        self.values: dict[str, QtWidgets.QLabel] = {}
        for key, title in self.FIELDS:
            value = QtWidgets.QLabel("—")
            value.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
            name = QtWidgets.QLabel(title)
            name.setObjectName("fieldName")
            self.form.addRow(name, value)
            self.values[key] = value
        self.details = form_box

        self.slider_box = QtWidgets.QGroupBox("Checkpoint")
        self.checkpoints = CheckpointSlider(state)
        box_layout = QtWidgets.QVBoxLayout(self.slider_box)
        box_layout.addWidget(self.checkpoints)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(self.heading)
        layout.addWidget(self.hint)
        layout.addSpacing(4)
        layout.addWidget(self.details)
        layout.addStretch(1)
        layout.addWidget(self.slider_box)

        self.training_job = None
        self.preview = None  # the history/facts read before the engine loaded (launch.py)
        self.training_timer = QtCore.QTimer(self)
        self.training_timer.setInterval(TRAINING_REFRESH_MS)
        self.training_timer.timeout.connect(self._show_training_facts)
        state.run_changed.connect(self.update_from_state)
        state.summary_changed.connect(lambda _summary: self.update_from_state())
        self.update_from_state()

    # -- while training: the run being trained, not the open one ---------------------------
    def show_training(self, job) -> None:
        """Show ``job``'s run (refreshed twice a second) until called with None."""
        self.training_job = job
        self._training_grokked = None
        self.slider_box.setVisible(job is None)  # the open run's checkpoints, not the trained run's
        if job is None:
            self.training_timer.stop()
            self.update_from_state()
            return
        self.training_timer.start()
        self._show_training_facts()

    def _show_training_facts(self) -> None:
        job = self.training_job
        if job is None:
            return
        task, cfg, split, config = job.task, job.model_config, job.split, job.train_config
        latest = job.latest
        self.hint.setVisible(False)
        self.details.setVisible(True)
        self.heading.setText(f"Training {os.path.basename(job.out_path)}")
        grokked = getattr(self, "_training_grokked", None)
        if latest is not None and grokked is None and latest.test_acc >= GROKKED_ACCURACY:
            self._training_grokked = grokked = latest.epoch
        keys = job.measures[-1]["key_freqs"] if job.measures else None
        texts = {
            "task": task.spec, "formula": task.formula, "p": str(task.p),
            "model": f"d_model {cfg.d_model}, d_mlp {cfg.d_mlp}\n{cfg.n_heads} heads × d_head {cfg.d_head}",
            "split": f"{split.kind}, seed {split.seed}\n{split.frac_train * 100:g} % train",
            "recipe": recipe_text(config.to_dict(), "\n"),
            "epochs": (f"{latest.epoch:,} of {latest.total_epochs:,}" if latest is not None
                       else f"starting… (of {config.epochs:,})"),
            "train": (f"loss {_fmt_loss(latest.train_loss)} · acc {_fmt_pct(latest.train_acc)}" if latest else "—"),
            "test": (f"loss {_fmt_loss(latest.test_loss)} · acc {_fmt_pct(latest.test_acc)}" if latest else "—"),
            "grokked": f"epoch {grokked:,}" if grokked is not None else "not yet",
            "key_freqs": ", ".join(map(str, keys)) if keys else ("none yet" if job.measures else "…"),
            "basis": "when training ends",
            "status": "paused" if job.paused else ("cancelling…" if job.cancelled else "training"),
            "file": _elide_path(job.out_path),
        }
        for key, text in texts.items():
            self.values[key].setText(text)
        self.values["file"].setToolTip(job.out_path)

    # -- before the engine has loaded ------------------------------------------------------
    def show_preview(self, preview) -> None:
        """Facts read straight from a run file (:mod:`grokviz.core.quickread`) until the run opens."""
        self.preview = preview
        if self.state.run is not None or self.training_job is not None:
            return
        history = preview.history
        last = history.last()
        grokked = history.first_epoch_where("test_acc", GROKKED_ACCURACY)
        cfg, split = preview.model_config, preview.split
        self.hint.setVisible(False)
        self.details.setVisible(True)
        self.heading.setText(os.path.basename(preview.path))
        texts = {
            "task": preview.task_spec, "formula": "…", "p": str(preview.p),
            "model": f"d_model {cfg['d_model']}, d_mlp {cfg['d_mlp']}\n{cfg['n_heads']} heads × d_head {cfg['d_head']}",
            "split": f"{split['kind']}, seed {split['seed']}\n{split['frac_train'] * 100:g} % train",
            "recipe": _preview_recipe(preview.train_config),
            "epochs": f"{preview.epochs_trained:,} ({preview.n_checkpoints} checkpoints)",
            "train": f"loss {_fmt_loss(last['train_loss'])} · acc {_fmt_pct(last['train_acc'])}",
            "test": f"loss {_fmt_loss(last['test_loss'])} · acc {_fmt_pct(last['test_acc'])}",
            "grokked": f"epoch {grokked:,}" if grokked is not None else "not grokked",
            "key_freqs": "…", "status": f"{preview.status} · grokviz (loading weights…)",
            "file": _elide_path(preview.path),
        }
        for key, text in texts.items():
            self.values[key].setText(text)
        self.values["file"].setToolTip(preview.path)

    def update_from_state(self, *_args) -> None:
        if self.training_job is not None:
            return self._show_training_facts()
        run, summary = self.state.run, self.state.summary
        has_run = run is not None
        self.hint.setVisible(not has_run)
        self.details.setVisible(has_run)
        if not has_run:
            if self.preview is not None:
                return self.show_preview(self.preview)
            self.heading.setText("No run open")
            return
        self.preview = None
        task = run.task
        cfg = run.model_config
        self.heading.setText(os.path.basename(run.path) if run.path else task.formula)
        last = run.history.last()
        grokked = run.grokked_epoch()
        phases = (summary or {}).get("phases") or {}
        if phases.get("basis") not in (None, "accuracy"):  # losses-only history: an upper bound
            grokked = phases.get("grokked_epoch")
        keys = summary.get("key_freqs") if summary else None
        split = run.split
        texts = {
            "task": task.spec,
            "formula": task.formula,
            "p": str(task.p),
            "model": f"d_model {cfg.d_model}, d_mlp {cfg.d_mlp}\n{cfg.n_heads} heads × d_head {cfg.d_head}",
            "split": f"{split.kind}, seed {split.seed}\n{split.frac_train * 100:g} % train",
            "recipe": recipe_text(run.train_config.to_dict(), "\n"),
            "epochs": f"{run.epochs_trained:,} ({len(run.checkpoint_epochs)} checkpoints)",
            "train": f"loss {_fmt_loss(last['train_loss'])} · acc {_fmt_pct(last['train_acc'])}",
            "test": f"loss {_fmt_loss(last['test_loss'])} · acc {_fmt_pct(last['test_acc'])}",
            "grokked": _grokked_text(grokked, phases.get("basis")),
            "basis": _basis_text(summary.get("token_basis") if summary else None, bool(summary)),
            "key_freqs": ("…" if keys is None and not summary else
                          (", ".join(map(str, keys)) if keys else "none")),
            "status": f"{run.status} · {run.source_format}",
            "file": _elide_path(run.path) if run.path else "unsaved",
        }
        for key, text in texts.items():
            self.values[key].setText(text)
        self.values["file"].setToolTip(run.path or "")
        from grokviz.analysis.spectrum import BASIS_MEANINGS

        self.values["basis"].setToolTip("The ordering of the tokens in which W_E is sparsest: share of its non-constant "
                                        "Fourier norm in the top 5 frequencies (design.md §6a).\n"
                                        + "\n".join(f"{BASIS_NAMES[k]}: {v}" for k, v in BASIS_MEANINGS.items()))
