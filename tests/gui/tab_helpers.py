"""Shared by the analysis-tab tests: a shown tab whose first background computation has finished
(the ``state`` fixture, an AppState on the small trained run, is in conftest.py)."""

TIMEOUT = 60_000


def _tab(qtbot, cls, state):
    tab = cls(state)
    qtbot.addWidget(tab)
    tab.resize(1200, 800)
    tab.show()
    qtbot.waitUntil(lambda: tab.result is not None and not tab.busy, timeout=TIMEOUT)
    return tab
