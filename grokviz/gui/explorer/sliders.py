"""The Explorer's sliders (napari's QtDims): one row per non-displayed axis — name, slider,
index / size with tick label, play button with fps, loop — bound to the model's indices and
focused axis; :class:`SliderPanel` also plays one axis at a time."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class AxisSliderRow(QtWidgets.QFrame):
    """Slider for axis ``dim``.  Emits ``indexRequested(dim, index)`` when the user moves it,
    ``playToggled(dim, playing)`` and ``focusRequested(dim)``."""

    indexRequested = QtCore.Signal(int, int)
    playToggled = QtCore.Signal(int, bool)
    focusRequested = QtCore.Signal(int)

    def __init__(self, dim: int, axis, index: int = 0, parent=None):
        super().__init__(parent)
        self.dim = dim
        self.axis = axis
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setObjectName("axisSliderRow")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 1, 6, 1)
        layout.setSpacing(8)

        self.name_label = QtWidgets.QLabel(axis.name)
        self.name_label.setMinimumWidth(64)
        font = self.name_label.font()
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setToolTip(f"axis {axis.name!r} ({axis.kind}), size {axis.size}")

        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(0, axis.size - 1))
        self.slider.setPageStep(max(1, axis.size // 10))
        self.slider.setValue(index)
        self.slider.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.slider.valueChanged.connect(lambda v: self.indexRequested.emit(self.dim, v))
        self.slider.sliderPressed.connect(lambda: self.focusRequested.emit(self.dim))

        self.index_label = QtWidgets.QLabel()
        self.index_label.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        # fixed size: the text changes every frame and must not re-layout the row
        self.index_label.setFixedWidth(self.index_label.fontMetrics().horizontalAdvance("0" * 22))

        self.play_button = QtWidgets.QToolButton()
        self.play_button.setCheckable(True)
        self.play_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setToolTip(f"play along {axis.name} (space)")
        self.play_button.toggled.connect(self._on_play)

        self.fps = QtWidgets.QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(10)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("frames per second while playing")

        self.loop = QtWidgets.QCheckBox("loop")
        self.loop.setChecked(True)

        layout.addWidget(self.name_label)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.index_label)
        layout.addWidget(self.play_button)
        layout.addWidget(self.fps)
        layout.addWidget(self.loop)
        self.set_index(index)
        self.set_focused(False)

    def _on_play(self, playing: bool):
        icon = QtWidgets.QStyle.StandardPixmap.SP_MediaPause if playing else QtWidgets.QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.focusRequested.emit(self.dim)
        self.playToggled.emit(self.dim, playing)

    def set_playing(self, playing: bool):
        if self.play_button.isChecked() != playing:
            self.play_button.setChecked(playing)

    def set_index(self, index: int):
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        tick = self.axis.tick(index)
        text = f"{index:>3} / {self.axis.size}"
        if tick != str(index):
            text += f"  {tick}"
        self.index_label.setText(text)

    def set_focused(self, focused: bool):
        self.setStyleSheet("#axisSliderRow { background: #e3eefa; border: 1px solid #9cbde3; border-radius: 3px; }"
                           if focused else "#axisSliderRow { border: 1px solid transparent; }")
        self.name_label.setText(("▸ " if focused else "  ") + self.axis.name)


class SliderPanel(QtWidgets.QWidget):
    """The rows of the model's slider axes. Moving a slider sets the model's index (and focus);
    the model's ``index_changed`` / ``focus_changed`` move and highlight the rows. Playing an
    axis steps it at its row's fps until stopped (or, without loop, at its end)."""

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.rows: dict[int, AxisSliderRow] = {}
        self.playing_dim: int | None = None
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.layout_ = QtWidgets.QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(1)
        model.tensor_changed.connect(self.rebuild)
        model.roles_changed.connect(self.rebuild)
        model.index_changed.connect(self._on_index)
        model.focus_changed.connect(self._on_focus)

    def rebuild(self) -> None:
        self.stop()
        for row in self.rows.values():
            row.setParent(None)
            row.deleteLater()
        self.rows = {}
        m = self.model
        if m.tensor is None:
            return
        for dim in m.slider_dims:
            row = AxisSliderRow(dim, m.tensor.axes[dim], m.indices[dim], self)
            row.indexRequested.connect(self._on_request)
            row.playToggled.connect(self._on_play_toggled)
            row.focusRequested.connect(m.set_focus)
            self.layout_.addWidget(row)
            self.rows[dim] = row
        self._on_focus(m.focus_dim)

    def _on_request(self, dim: int, index: int) -> None:
        self.model.set_focus(dim)
        self.model.set_index(dim, index)

    def _on_index(self, dim: int, index: int) -> None:
        row = self.rows.get(dim)
        if row is not None:
            row.set_index(index)

    def _on_focus(self, dim) -> None:
        for d, row in self.rows.items():
            row.set_focused(d == dim)

    def loops(self, dim) -> bool:
        row = self.rows.get(dim)
        return row is None or row.loop.isChecked()

    # -- playing ------------------------------------------------------------------------
    def toggle_play(self, dim: int | None = None) -> None:
        dim = self.model.focus_dim if dim is None else dim
        if dim in self.rows:
            self.rows[dim].set_playing(self.playing_dim != dim)

    def _on_play_toggled(self, dim: int, playing: bool) -> None:
        if playing:
            if self.playing_dim not in (None, dim) and self.playing_dim in self.rows:
                self.rows[self.playing_dim].set_playing(False)
            self.playing_dim = dim
            self.timer.start(int(1000 / self.rows[dim].fps.value()))
        elif self.playing_dim == dim:
            self.playing_dim = None
            self.timer.stop()

    def _tick(self) -> None:
        dim = self.playing_dim
        if dim not in self.rows:
            self.timer.stop()
            return
        row = self.rows[dim]
        interval = int(1000 / row.fps.value())
        if self.timer.interval() != interval:
            self.timer.setInterval(interval)
        if not self.model.step(dim, 1, loop=row.loop.isChecked()):
            row.set_playing(False)

    def stop(self) -> None:
        if self.playing_dim in self.rows:
            self.rows[self.playing_dim].set_playing(False)
        self.playing_dim = None
        self.timer.stop()
