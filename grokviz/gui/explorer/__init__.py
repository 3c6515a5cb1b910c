"""The Explorer tensor viewer (issues 6, 14): scroll any axis of a LabelledTensor as lines or a
heatmap, in space or Fourier, with c/2 symmetry markers, overlays and export.

Parts, one job each: :mod:`.model` (the Qt-free view state with events, saved as a dict),
:mod:`.presenter` (pure text and geometry), :mod:`.data` (the prepared arrays), :mod:`.loader`
(keyed requests, newest wins), :mod:`.source` (where tensors come from), and the widgets
:mod:`.widget`, :mod:`.controls`, :mod:`.canvas`, :mod:`.sliders`.

Embed: ``ExplorerWidget(parent, source=None)``; feed ``set_source(ExplorerSource)`` and
``set_epoch(epoch)`` (follow the shared checkpoint), or ``set_tensor(LabelledTensor, overlays,
ExplorerContext)`` directly. Names are imported on first use, so ``grokviz.gui.explorer.model``
can be used without loading the widgets.
"""

import importlib

_EXPORTS = {
    "ExplorerWidget": "widget",
    "ExplorerModel": "model", "ExplorerContext": "model",
    "ExplorerSource": "source", "StaticSource": "source", "AnalysisExplorerSource": "source",
    "POSITIONS": "source", "ORDERINGS": "source",
    "ExplorerLoader": "loader",
    "Prepared": "data", "PreparedCache": "data", "prepare": "data",
}

__all__ = [*_EXPORTS, "create_view"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def create_view(app_state):
    """The main window's factory for the Explorer tab (grokviz.gui.views protocol)."""
    from grokviz.gui.explorer.widget import ExplorerWidget

    return ExplorerWidget(app_state)
