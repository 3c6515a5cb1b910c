"""How views plug into the main window.

The main window has one tab per name in :data:`VIEW_NAMES`. "Training" is built in; the others
start as a :class:`PlaceholderView` until a real widget is installed, either directly::

    window.set_view("Explorer", ExplorerWidget(window.state))

or by registering a factory, called with the shared :class:`~grokviz.gui.state.AppState` once
the engine (torch) has loaded::

    from grokviz.gui.views import register_view
    register_view("Explorer", lambda state: ExplorerWidget(state))

Without either, the window looks for ``create_view(state) -> QWidget`` in the module named in
:data:`DEFAULT_VIEW_MODULES` (e.g. ``grokviz.gui.explorer``), so a module that defines it needs
no other wiring.

The view protocol (all optional, duck-typed):

* ``set_app_state(state)`` — called by ``set_view`` when the widget was not built with the state;
  connect to ``state.run_changed(run)`` and ``state.checkpoint_changed(epoch)`` there and read
  ``state.run`` / ``state.checkpoint_epoch`` / ``state.model()`` for the current values.
* ``view_activated()`` — the tab became visible (do deferred, expensive work here).
* ``export_view(parent)`` — File ▸ Export current view… (default: a PNG/SVG of the widget).
* ``export_figures(directory) -> list[str]`` — File ▸ Export figure set… (default: one PNG).
* signal ``statusMessage(str)`` — shown in the status bar.
* signal ``openInExplorer(hook, position, ordering)`` — the window switches to the Explorer tab and
  calls its ``show_hook(hook, position, ordering)`` if it has one.
* signal ``openInputInExplorer(a, b)`` — the window switches to the Explorer tab and calls its
  ``show_input(a, b)`` (the Learned tab's grid).
"""

from __future__ import annotations

import importlib
from typing import Callable

from PySide6 import QtCore, QtWidgets

VIEW_NAMES = ("Training", "Explorer", "Spectrum", "Symmetry", "Attention", "Progress", "Clock-Pizza", "Circles", "Learned", "Dynamics")

DEFAULT_VIEW_MODULES = {
    "Explorer": "grokviz.gui.explorer",
    "Spectrum": "grokviz.gui.tabs.spectrum",
    "Symmetry": "grokviz.gui.tabs.symmetry",
    "Attention": "grokviz.gui.tabs.attention",
    "Progress": "grokviz.gui.tabs.progress",
    "Clock-Pizza": "grokviz.gui.tabs.clock_pizza",
    "Circles": "grokviz.gui.tabs.circles",
    "Learned": "grokviz.gui.tabs.learned",
    "Dynamics": "grokviz.gui.tabs.dynamics",
}

VIEW_DESCRIPTIONS = {
    "Training": "loss and accuracy curves — live while a run trains",
    "Explorer": "activations of any hook, re-ordered by answer and operands, at the current checkpoint",
    "Spectrum": "Fourier spectra of embeddings and neurons; key frequencies",
    "Symmetry": "the c/2 symmetry of activations after attention",
    "Attention": "attention patterns of the = token per head",
    "Progress": "progress measures over checkpoints (restricted and excluded loss, Gini, weight norm)",
    "Clock-Pizza": "clock vs pizza over training: gradient symmetricity, distance irrelevance, the correct logit",
    "Circles": "the token embeddings on each key frequency's plane, animated over checkpoints",
    "Learned": "when each input is learned for good, over [a, b] and [c, a], and as a histogram",
    "Dynamics": "weight trajectory, step sizes, softmax collapse and neuron commitment over training",
}

_FACTORIES: dict[str, Callable] = {}


def register_view(name: str, factory: Callable) -> None:
    """Register ``factory(state) -> QWidget`` for the tab ``name`` (before or after the window exists)."""
    _FACTORIES[name] = factory
    for window in _windows():
        if window.engine_ready:
            window.install_view(name)


def view_factory(name: str) -> Callable | None:
    """The registered factory, else ``create_view`` of the default module (None if there is none).

    Raises whatever the module raises on import if it exists but is broken.
    """
    if name in _FACTORIES:
        return _FACTORIES[name]
    module_name = DEFAULT_VIEW_MODULES.get(name)
    if not module_name:
        return None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            return None
        raise
    return getattr(module, "create_view", None)


_window_refs: list = []


def _windows():
    alive = []
    for window in list(_window_refs):
        try:
            window.objectName()
            alive.append(window)
        except RuntimeError:
            _window_refs.remove(window)
    return alive


def track_window(window) -> None:
    _window_refs.append(window)


class PlaceholderView(QtWidgets.QWidget):
    """Stands in for a view that is not installed (yet): says what will be here."""

    def __init__(self, name: str, message: str | None = None, parent=None):
        super().__init__(parent)
        self.name = name
        self.is_placeholder = True
        title = QtWidgets.QLabel(name)
        title.setObjectName("placeholderTitle")
        title.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        description = QtWidgets.QLabel(VIEW_DESCRIPTIONS.get(name, ""))
        description.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        description.setWordWrap(True)
        description.setObjectName("placeholderText")
        self.message = QtWidgets.QLabel(message or "This view is not available in this build yet.")
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setObjectName("hint")
        self.message.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        layout.addWidget(description)
        layout.addSpacing(6)
        layout.addWidget(self.message)
        layout.addStretch(3)

    def set_message(self, text: str) -> None:
        self.message.setText(text)
