"""The Explorer's control rows, bound to its :class:`~grokviz.gui.explorer.model.ExplorerModel`.

User edits go to the model (``select``, ``assign``, ``set_displayed_fourier``, …); model events
refill and set the boxes with their signals blocked, so a control never echoes its own change.

* :class:`SourceControls` — hook, position and ordering (the choices come from the model's
  menu, i.e. the source and the analysis layer's orderings) and the shared checkpoint.
* :class:`ViewControls` — x / y / series axis roles, Fourier x / y, what a Fourier axis shows,
  what a heatmap shows, the y range mode, reset zoom.
"""

from __future__ import annotations

import contextlib

from PySide6 import QtCore, QtWidgets

from grokviz.gui.flow_layout import FlowLayout

from grokviz.gui.explorer.model import COMPONENTS, TENSOR

NONE_LABEL = "—"
RANGE_LABELS = {"fixed": "fixed over tensor", "auto": "auto per slice"}


def combo(items=(), tooltip="") -> QtWidgets.QComboBox:
    box = QtWidgets.QComboBox()
    box.addItems(list(items))
    box.setToolTip(tooltip)
    box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
    return box


def labelled(text, widget) -> QtWidgets.QWidget:
    box = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    label = QtWidgets.QLabel(text)
    label.setBuddy(widget)
    layout.addWidget(label)
    layout.addWidget(widget)
    return box


@contextlib.contextmanager
def blocked(*widgets):
    """Signals of ``widgets`` off inside the block (nests: each is restored to its old state)."""
    before = [widget.blockSignals(True) for widget in widgets]
    try:
        yield
    finally:
        for widget, was in zip(widgets, before):
            widget.blockSignals(was)


def fill(box: QtWidgets.QComboBox, items, current) -> None:
    """Set ``box``'s items (only if they changed) and current text, without signals."""
    items = [str(i) for i in items]
    with blocked(box):
        if [box.itemText(i) for i in range(box.count())] != items:
            box.clear()
            box.addItems(items)
        if current is not None:
            box.setCurrentText(str(current))


class SourceControls(QtWidgets.QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.hook_combo = combo(tooltip="hook, weight or derived matrix to explore")
        self.hook_combo.setMinimumContentsLength(22)
        self.position_combo = combo(tooltip="token position (a, b or =)")
        self.ordering_combo = combo(tooltip="how the p² inputs are laid out on two axes (design.md §6)")
        self.epoch_label = QtWidgets.QLabel("checkpoint: —")
        self.epoch_label.setToolTip("the shared checkpoint (set in the main window)")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.boxes = [labelled("Hook", self.hook_combo), labelled("Position", self.position_combo),
                      labelled("Ordering", self.ordering_combo)]
        for box in self.boxes:
            layout.addWidget(box)
        layout.addStretch(1)
        layout.addWidget(self.epoch_label)
        self.hook_combo.currentTextChanged.connect(lambda text: text and model.select(hook=text))
        self.position_combo.currentTextChanged.connect(lambda text: text and model.select(position=text))
        self.ordering_combo.currentTextChanged.connect(lambda text: text and model.select(ordering=text))
        model.selection_changed.connect(self.sync)
        self.sync()

    def sync(self) -> None:
        m = self.model
        fill(self.hook_combo, m.hooks, m.hook)
        fill(self.position_combo, m.positions, m.position)
        fill(self.ordering_combo, m.orderings, m.ordering)
        enabled = m.menu is not None
        for box in self.boxes:
            box.setEnabled(enabled)
        self.position_combo.setEnabled(enabled and bool(m.positions))
        self.ordering_combo.setEnabled(enabled and bool(m.orderings))
        self.epoch_label.setEnabled(enabled)
        self.epoch_label.setText(f"checkpoint: epoch {m.epoch}" if m.epoch is not None else "checkpoint: —")


class ViewControls(QtWidgets.QWidget):
    reset_zoom = QtCore.Signal()

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.x_combo = combo(tooltip="axis along x")
        self.y_combo = combo(tooltip="axis along y: a heatmap (— for line plots)")
        self.series_combo = combo(tooltip="axis drawn as overlaid curves (line plots)")
        for box in (self.x_combo, self.y_combo, self.series_combo):
            box.setMinimumContentsLength(9)
        self.fourier_x = QtWidgets.QCheckBox("Fourier x")
        self.fourier_x.setToolTip("show the x axis in the Fourier basis (design.md §6)")
        self.fourier_y = QtWidgets.QCheckBox("Fourier y")
        self.component_combo = combo(COMPONENTS, "what a Fourier axis shows: magnitude per frequency, "
                                                 "phase per frequency, or the signed basis coefficients")
        self.image_combo = combo((TENSOR,), "what the heatmap shows when overlays exist: the tensor, "
                                            "an overlay, or the tensor minus an overlay (the residual)")
        self.range_combo = combo(RANGE_LABELS.values(),
                                 "fixed: the y range / colour levels cover the whole tensor (no jumping)")
        self.reset_button = QtWidgets.QToolButton()
        self.reset_button.setText("Reset zoom")
        self.reset_button.clicked.connect(self.reset_zoom)
        # wraps onto a second row when narrow: in one row these controls alone need ~1,140 px,
        # which set the whole window's minimum width (a tab widget is as wide as its widest page)
        layout = FlowLayout(self, spacing=10, stretch_last=True)
        for widget in (labelled("x", self.x_combo), labelled("y", self.y_combo),
                       labelled("series", self.series_combo), self.fourier_x, self.fourier_y,
                       labelled("show", self.component_combo), labelled("heatmap of", self.image_combo),
                       labelled("range", self.range_combo), self.reset_button):
            layout.addWidget(widget)
        self.x_combo.currentIndexChanged.connect(lambda i: self._assign("x", i))
        self.y_combo.currentIndexChanged.connect(lambda i: self._assign("y", i - 1))
        self.series_combo.currentIndexChanged.connect(lambda i: self._assign("series", i - 1))
        self.fourier_x.toggled.connect(self._on_fourier)
        self.fourier_y.toggled.connect(self._on_fourier)
        self.component_combo.currentTextChanged.connect(model.set_component)
        self.image_combo.currentTextChanged.connect(lambda text: text and model.set_heatmap(text))
        self.range_combo.currentIndexChanged.connect(lambda i: model.set_y_range_mode(tuple(RANGE_LABELS)[i]))
        for event in (model.tensor_changed, model.roles_changed, model.range_mode_changed, model.heatmap_changed):
            event.connect(self.sync)
        self.sync()

    def _assign(self, role: str, index: int) -> None:
        if self.model.tensor is None or index < -1 or (role == "x" and index < 0):
            return
        try:
            self.model.assign(role, None if index < 0 else index)
        except (ValueError, IndexError, StopIteration):  # e.g. y on a 1-d tensor: nothing to swap
            pass
        self.sync()  # the model changes nothing when the choice is its current one: show that

    def _on_fourier(self) -> None:
        if self.model.tensor is not None:
            self.model.set_displayed_fourier(self.fourier_x.isChecked(), self.fourier_y.isChecked())

    def sync(self, *_args) -> None:
        m = self.model
        boxes = (self.x_combo, self.y_combo, self.series_combo, self.fourier_x, self.fourier_y,
                 self.component_combo, self.image_combo, self.range_combo)
        with blocked(*boxes):
            names = [] if m.tensor is None else [f"{a.name} ({a.size})" for a in m.tensor.axes]
            fill(self.x_combo, names, None)
            fill(self.y_combo, [NONE_LABEL] + names, None)
            fill(self.series_combo, [NONE_LABEL] + names, None)
            if m.tensor is not None:
                self.x_combo.setCurrentIndex(m.x_dim)
                self.y_combo.setCurrentIndex(0 if m.y_dim is None else m.y_dim + 1)
                self.series_combo.setCurrentIndex(0 if m.series_dim is None else m.series_dim + 1)
                self.fourier_x.setChecked(m.x_dim in m.fourier)
                self.fourier_y.setChecked(m.y_dim is not None and m.y_dim in m.fourier)
            self.series_combo.setEnabled(m.y_dim is None)
            self.fourier_y.setEnabled(m.y_dim is not None)
            self.component_combo.setCurrentText(m.component)
            self.component_combo.setEnabled(bool(m.fourier_dims()))
            choices = m.heatmap_choices if m.tensor is not None else (TENSOR,)
            fill(self.image_combo, choices, m.heatmap)
            self.image_combo.setEnabled(m.y_dim is not None and len(choices) > 1)
            self.range_combo.setCurrentIndex(tuple(RANGE_LABELS).index(m.y_range))
