"""The Explorer tensor viewer (issue 6): scroll any axis of a LabelledTensor as lines or a
heatmap, in space or Fourier, with c/2 symmetry markers, overlays and export.

Embed: ``ExplorerWidget(parent, source=None)``; feed ``set_source(ExplorerSource)`` and
``set_epoch(epoch)`` (follow the shared checkpoint), or ``set_tensor(LabelledTensor, overlays,
ExplorerContext)`` directly.
"""

from grokviz.gui.explorer.data import Prepared, PreparedCache, prepare
from grokviz.gui.explorer.source import ORDERINGS, POSITIONS, AnalysisExplorerSource, ExplorerSource, StaticSource
from grokviz.gui.explorer.state import ExplorerContext, ExplorerState
from grokviz.gui.explorer.widget import ExplorerWidget

__all__ = ["ExplorerWidget", "ExplorerState", "ExplorerContext", "ExplorerSource", "StaticSource", "AnalysisExplorerSource", "create_view",
           "Prepared", "PreparedCache", "prepare", "POSITIONS", "ORDERINGS"]


def create_view(app_state):
    """The main window's factory for the Explorer tab (grokviz.gui.views protocol)."""
    return ExplorerWidget(app_state)
