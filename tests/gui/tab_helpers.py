"""Shared by the analysis-tab tests: a shown tab whose first background computation has finished
(the ``state`` fixture, an AppState on the small trained run, is in conftest.py)."""

TIMEOUT = 60_000


def _tab(qtbot, cls, state, size=(1200, 800)):
    tab = cls(state)
    qtbot.addWidget(tab)
    tab.resize(*size)
    tab.show()
    qtbot.waitUntil(lambda: tab.result is not None and not tab.busy, timeout=TIMEOUT)
    return tab


def state_with(run):
    """An AppState with ``run`` open (for tabs on runs other than the ``state`` fixture's)."""
    from grokviz.gui.state import AppState

    state = AppState()
    state.set_run(run)
    return state
