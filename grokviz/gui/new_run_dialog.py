"""File ▸ New training run…: every parameter of a run, validated inline by the engine's own rules.

Validation builds the engine's config objects (Task, SplitSpec, ModelConfig, TrainConfig) and
shows each ``ParameterError`` in red under its field, with OK disabled — never an exception.
Needs the engine loaded (the action is enabled once it is).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from grokviz.gui.choice_combo import choice_combo

ERROR_STYLE = "color: #c62828;"

# ParameterError.parameter → the field whose error label shows it
_FIELD_OF_PARAMETER = {
    "task": "task", "p": "p", "m": "pow", "n": "pow", "epochs": "epochs", "seed": "seed",
    "split": "split", "frac_train": "frac_train", "lr": "lr", "weight_decay": "weight_decay",
    "checkpoint_every": "checkpoint_every", "eval_every": "checkpoint_every",
    "device": "device", "grokfast_alpha": "grokfast", "grokfast_lambda": "grokfast",
    "loss": "loss", "optimizer": "optimizer",
    "d_model": "model", "n_heads": "model", "d_head": "model", "d_mlp": "model", "out": "out",
}


OUTPUT_DIRECTORY_KEY = "new_run/output_directory"


def inside_package(directory: Path) -> bool:
    import grokviz

    package = Path(grokviz.__file__).resolve().parent
    directory = directory.resolve()
    return directory == package or package in directory.parents


def default_output_directory(settings) -> str:
    """Where a new run is saved by default: the directory last used for a new run (QSettings),
    else the current directory — never inside the installed package (its bundled example lives
    there, and after a pip install that is site-packages)."""
    remembered = settings.value(OUTPUT_DIRECTORY_KEY, "") if settings is not None else ""
    for candidate in (remembered, os.getcwd(), str(Path.home())):
        if candidate and Path(str(candidate)).is_dir() and not inside_package(Path(str(candidate))):
            return str(candidate)
    return str(Path.home())


def remember_output_directory(settings, directory) -> None:
    if settings is not None and not inside_package(Path(directory)):
        settings.set_value(OUTPUT_DIRECTORY_KEY, str(directory))


def inline_row(*items, stretch: bool = False) -> QtWidgets.QWidget:
    """Widgets (and strings, shown as labels) side by side in one form row."""
    row = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for item in items:
        layout.addWidget(QtWidgets.QLabel(item) if isinstance(item, str) else item)
    if stretch:
        layout.addStretch(1)
    return row


class NewRunDialog(QtWidgets.QDialog):
    def __init__(self, parent=None, directory: str | None = None, defaults: dict | None = None):
        super().__init__(parent)
        from grokviz.core.config import LOSS_TITLES, LOSSES, OPTIMIZER_TITLES, OPTIMIZERS
        from grokviz.core.device import available_devices
        from grokviz.core.tasks import TASK_NAMES

        self.setWindowTitle("New training run")
        self.setMinimumWidth(520)
        self.directory = directory or os.getcwd()
        self.errors: dict[str, QtWidgets.QLabel] = {}
        self.current_errors: dict[str, str] = {}
        form = QtWidgets.QFormLayout()
        form.setLabelAlignment(QtCore.Qt.AlignmentFlag.AlignRight)

        def spin(lo, hi, value, step=1):
            box = QtWidgets.QSpinBox()
            box.setRange(lo, hi)
            box.setValue(value)
            box.setSingleStep(step)
            box.setGroupSeparatorShown(True)
            return box

        # task
        self.task = QtWidgets.QComboBox()
        labels = {"add": "add — (a + b) mod p", "sub": "sub — (a − b) mod p", "mul": "mul — (a · b) mod p",
                  "div": "div — (a · b⁻¹) mod p, prime p", "pow": "pow — (aᵐ + bⁿ) mod p"}
        for name in TASK_NAMES:
            self.task.addItem(labels.get(name, name), name)
        self.m = spin(1, 10_000, 2)
        self.n = spin(1, 10_000, 2)
        pow_row = inline_row("m", self.m, "n", self.n, stretch=True)
        self.pow_row = pow_row
        self.p = spin(2, 100_000, 113)
        self.formula = QtWidgets.QLabel("")
        self.formula.setStyleSheet("color: #444;")

        # model
        self.d_model = spin(1, 4096, 128)
        self.n_heads = spin(1, 64, 4)
        self.d_head = spin(1, 1024, 32)
        self.d_mlp = spin(1, 16384, 512)
        model_row = inline_row("d_model", self.d_model, "heads", self.n_heads, "d_head", self.d_head,
                               "d_mlp", self.d_mlp)

        # training
        self.epochs = spin(1, 10_000_000, 25_000, 1000)
        self.seed = spin(0, 2**31 - 1, 999)
        self.data_seed = spin(0, 2**31 - 1, 598)
        self.split = QtWidgets.QComboBox()
        self.split.addItem("randperm (seed notebook)", "randperm")
        self.split.addItem("shuffle (Nanda)", "shuffle")
        self.frac_train = QtWidgets.QDoubleSpinBox()
        self.frac_train.setRange(0.0, 1.0)
        self.frac_train.setDecimals(3)
        self.frac_train.setSingleStep(0.05)
        self.frac_train.setValue(0.3)
        self.lr = QtWidgets.QLineEdit("1e-3")
        self.weight_decay = QtWidgets.QLineEdit("1.0")
        self.checkpoint_every = spin(1, 10_000_000, 100, 10)
        self.eval_every = spin(1, 10_000_000, 10)
        cadence = inline_row("checkpoint every", self.checkpoint_every, "evaluate every", self.eval_every, "epochs")

        self.device = QtWidgets.QComboBox()
        devices = available_devices()
        has_cuda = "cuda" in devices
        self.device.addItem(f"auto ({'cuda' if has_cuda else 'cpu'})", "auto")
        self.device.addItem("cpu", "cpu")
        self.device.addItem("cuda" if has_cuda else "cuda (not available)", "cuda")
        if not has_cuda:
            self.device.model().item(2).setEnabled(False)

        self.grokfast = QtWidgets.QCheckBox("Grokfast-EMA gradient filter")
        self.grokfast_alpha = QtWidgets.QDoubleSpinBox()
        self.grokfast_alpha.setRange(0.0, 0.9999)
        self.grokfast_alpha.setDecimals(4)
        self.grokfast_alpha.setValue(0.98)
        self.grokfast_lambda = QtWidgets.QDoubleSpinBox()
        self.grokfast_lambda.setRange(0.0, 100.0)
        self.grokfast_lambda.setValue(2.0)
        grokfast_row = QtWidgets.QWidget()
        grokfast_layout = QtWidgets.QHBoxLayout(grokfast_row)
        grokfast_layout.setContentsMargins(0, 0, 0, 0)
        grokfast_layout.addWidget(self.grokfast)
        grokfast_layout.addWidget(QtWidgets.QLabel("α"))
        grokfast_layout.addWidget(self.grokfast_alpha)
        grokfast_layout.addWidget(QtWidgets.QLabel("λ"))
        grokfast_layout.addWidget(self.grokfast_lambda)
        grokfast_layout.addStretch(1)

        # Prieto et al.'s remedies for softmax collapse (design.md §6b); the defaults are the notebooks'
        self.loss = choice_combo({name: LOSS_TITLES[name] for name in LOSSES},
                                 "StableMax replaces exp in the softmax with s(x) = x + 1 (x ≥ 0), 1/(1 − x) (x < 0), "
                                 "so float32 probabilities never round to exactly 1 (softmax collapse).")
        self.optimizer = choice_combo({name: OPTIMIZER_TITLES[name] for name in OPTIMIZERS},
                                      "⊥Grad removes from each weight's gradient its component along that weight, "
                                      "g ← g − (g·θ/θ·θ) θ, before the AdamW step.")

        self.out = QtWidgets.QLineEdit()
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QtWidgets.QWidget()
        out_layout = QtWidgets.QHBoxLayout(out_row)
        out_layout.setContentsMargins(0, 0, 0, 0)
        out_layout.addWidget(self.out, 1)
        out_layout.addWidget(browse)

        def add(label, widget, key=None):
            if key is None:
                form.addRow(label, widget)
                return
            cell = QtWidgets.QWidget()
            cell_layout = QtWidgets.QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(1)
            cell_layout.addWidget(widget)
            error = QtWidgets.QLabel("")
            error.setStyleSheet(ERROR_STYLE)
            error.setWordWrap(True)
            error.setVisible(False)
            error.setObjectName(f"error_{key}")
            cell_layout.addWidget(error)
            self.errors[key] = error
            form.addRow(label, cell)

        add("Task", self.task, "task")
        add("Exponents", self.pow_row, "pow")
        add("Modulus p", self.p, "p")
        form.addRow("", self.formula)
        add("Model", model_row, "model")
        add("Epochs", self.epochs, "epochs")
        add("Model seed", self.seed, "seed")
        add("Data seed", self.data_seed, "data_seed")
        add("Split", self.split, "split")
        add("Train fraction", self.frac_train, "frac_train")
        add("Learning rate", self.lr, "lr")
        add("Weight decay", self.weight_decay, "weight_decay")
        add("Cadence", cadence, "checkpoint_every")
        add("Device", self.device, "device")
        add("Grokfast", grokfast_row, "grokfast")
        add("Loss", self.loss, "loss")
        add("Optimizer", self.optimizer, "optimizer")
        add("Output file", out_row, "out")

        self.buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok |
                                                  QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Start training")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

        if defaults:
            self.set_values(defaults)
        if not self.out.text():
            self.out.setText(self._default_out())
        for widget in (self.task, self.split, self.device, self.loss, self.optimizer):
            widget.currentIndexChanged.connect(self.validate)
        for widget in (self.m, self.n, self.p, self.d_model, self.n_heads, self.d_head, self.d_mlp, self.epochs,
                       self.seed, self.data_seed, self.checkpoint_every, self.eval_every):
            widget.valueChanged.connect(self.validate)
        for widget in (self.frac_train, self.grokfast_alpha, self.grokfast_lambda):
            widget.valueChanged.connect(self.validate)
        for widget in (self.lr, self.weight_decay, self.out):
            widget.textChanged.connect(self.validate)
        self.grokfast.toggled.connect(self.validate)
        self._out_edited = False
        self.out.textEdited.connect(lambda _t: setattr(self, "_out_edited", True))
        self.validate()

    # -- values --------------------------------------------------------------------------
    def set_values(self, values: dict) -> None:
        """Set fields by name (task, m, n, p, d_model, …, lr, weight_decay, out, grokfast, device, loss, optimizer)."""
        if "out" in values:
            self._out_edited = True
        for key, value in values.items():
            widget = getattr(self, key)
            if isinstance(widget, QtWidgets.QComboBox):
                widget.setCurrentIndex(max(widget.findData(value), 0))
            elif isinstance(widget, QtWidgets.QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QtWidgets.QLineEdit):
                widget.setText(str(value))
            else:
                widget.setValue(value)

    def _default_out(self) -> str:
        name = f"{self.task.currentData()}_p{self.p.value()}.pt"
        return os.path.join(self.directory, name)

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save the run as", self.out.text() or self.directory,
                                                        "grokviz run (*.pt)")
        if path:
            if not path.endswith(".pt"):
                path += ".pt"
            self.out.setText(path)
            self._out_edited = True

    @staticmethod
    def _float(text: str, name: str) -> float:
        from grokviz.core.errors import ParameterError

        try:
            return float(text.strip())
        except ValueError:
            raise ParameterError(name, f"not a number: {text.strip()!r}") from None

    def build(self):
        """(task, split, model_config, train_config, out_path); raises ParameterError."""
        from grokviz.core.atomic import check_writable
        from grokviz.core.config import GrokfastConfig, ModelConfig, TrainConfig
        from grokviz.core.data import SplitSpec
        from grokviz.core.errors import ParameterError
        from grokviz.core.tasks import Task

        errors = {}

        def attempt(function):
            try:
                return function()
            except ParameterError as error:
                field = _FIELD_OF_PARAMETER.get(error.parameter, "task")
                errors.setdefault(field, str(error).split(": ", 1)[-1])
                return None

        name = self.task.currentData()
        task = attempt(lambda: Task(name, self.p.value(), self.m.value() if name == "pow" else 1,
                                    self.n.value() if name == "pow" else 1))
        split = attempt(lambda: SplitSpec(self.split.currentData(), self.data_seed.value(), self.frac_train.value()))
        if task is not None and split is not None and task.p <= 400:
            from grokviz.core.data import split_indices

            attempt(lambda: split_indices(task, split))
        model_config = attempt(lambda: ModelConfig(p=self.p.value(), d_model=self.d_model.value(),
                                                   n_heads=self.n_heads.value(), d_head=self.d_head.value(),
                                                   d_mlp=self.d_mlp.value(), seed=self.seed.value()))

        def train_config():
            grokfast = GrokfastConfig(self.grokfast.isChecked(), self.grokfast_alpha.value(), self.grokfast_lambda.value())
            return TrainConfig(epochs=self.epochs.value(), lr=self._float(self.lr.text(), "lr"),
                               weight_decay=self._float(self.weight_decay.text(), "weight_decay"),
                               checkpoint_every=self.checkpoint_every.value(), eval_every=self.eval_every.value(),
                               grokfast=grokfast, device=self.device.currentData(), loss=self.loss.currentData(),
                               optimizer=self.optimizer.currentData())

        config = attempt(train_config)
        out = self.out.text().strip()
        if not out:
            errors["out"] = "choose where to save the run"
        else:
            try:
                check_writable(Path(out).expanduser())
            except OSError as error:
                errors["out"] = f"cannot write here: {error}"
        return (task, split, model_config, config, str(Path(out).expanduser()) if out else ""), errors

    def validate(self, *_args) -> bool:
        if not getattr(self, "_out_edited", True):
            self.out.setText(self._default_out())
        self.pow_row.setEnabled(self.task.currentData() == "pow")
        self.grokfast_alpha.setEnabled(self.grokfast.isChecked())
        self.grokfast_lambda.setEnabled(self.grokfast.isChecked())
        _values, errors = self.build()
        self.current_errors = errors
        for key, label in self.errors.items():
            label.setText(errors.get(key, ""))
            label.setVisible(key in errors)
        if "task" not in errors and "p" not in errors and "pow" not in errors:
            from grokviz.core.tasks import Task

            name = self.task.currentData()
            task = Task(name, self.p.value(), self.m.value() if name == "pow" else 1, self.n.value() if name == "pow" else 1)
            self.formula.setText(f"{task.formula} · {self.p.value() ** 2:,} inputs")
        else:
            self.formula.setText("")
        self.ok_button.setEnabled(not errors)
        return not errors

    def values(self):
        """The validated (task, split, model_config, train_config, out_path)."""
        values, errors = self.build()
        if errors:
            from grokviz.core.errors import ParameterError

            key, message = next(iter(errors.items()))
            raise ParameterError(key, message)
        return values

    def accept(self) -> None:
        if self.validate():
            super().accept()
