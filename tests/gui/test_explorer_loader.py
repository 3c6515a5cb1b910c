"""The Explorer's loader (issue 14): keyed requests in the background, the newest wins."""

import threading

import pytest
import torch

pytest.importorskip("pytestqt")

from grokviz.analysis.labelled import Axis, LabelledTensor  # noqa: E402
from grokviz.gui.explorer import StaticSource  # noqa: E402
from grokviz.gui.explorer.loader import ExplorerLoader  # noqa: E402


def held_source():
    """A source whose tensors wait for their epoch's gate; records which epochs were computed."""
    gates = {epoch: threading.Event() for epoch in (100, 200, 300)}
    computed = []

    def resid(position, ordering, epoch):
        computed.append(epoch)
        gates[epoch].wait(30)
        return LabelledTensor(torch.full((2, 3), float(epoch)), (Axis("c", 2), Axis("a", 3)), title=str(epoch))

    return StaticSource({"resid": resid}, epochs=[100, 200, 300]), gates, computed


def test_newest_request_wins_and_stale_results_are_dropped(qtbot):
    source, gates, computed = held_source()
    loader = ExplorerLoader(background=True)
    loader.set_source(source)
    delivered = []
    loader.loaded.connect(lambda key, tensor, overlays, context: delivered.append((key[3], float(tensor.data[0, 0]))))
    loader.request(("resid", None, None, 100))
    qtbot.waitUntil(lambda: computed == [100], timeout=5_000)
    loader.request(("resid", "a", None, 200))  # supersedes 100 while it runs
    loader.request(("resid", "b", None, 300))  # ... and replaces 200 before it starts
    gates[100].set()
    gates[300].set()
    qtbot.waitUntil(lambda: bool(delivered) and not loader.busy, timeout=10_000)
    assert computed == [100, 300] and delivered == [(300, 300.0)]
    assert loader.shown_key == ("resid", "b", None, 300)
    loader.request(("resid", "b", None, 300))  # on show: nothing to do
    assert not loader.busy and computed == [100, 300]


def test_rapid_epoch_changes_load_only_the_last(qtbot):
    source, gates, computed = held_source()
    for gate in gates.values():
        gate.set()
    loader = ExplorerLoader(background=True)
    loader.set_source(source)
    delivered = []
    loader.loaded.connect(lambda key, *rest: delivered.append(key[3]))
    loader.request(("resid", "=", "[c, a]", 100))
    qtbot.waitUntil(lambda: delivered == [100], timeout=5_000)
    for epoch in (200, 300, 200, 300):  # a playing checkpoint slider
        loader.request(("resid", "=", "[c, a]", epoch))
    qtbot.waitUntil(lambda: len(delivered) == 2 and not loader.busy, timeout=5_000)
    assert delivered == [100, 300] and computed == [100, 300]


def test_a_failing_hook_is_reported_not_raised(qtbot):
    def broken(position, ordering, epoch):
        raise KeyError("no such hook in this run")

    loader = ExplorerLoader(background=True)
    loader.set_source(StaticSource({"broken": broken}))
    with qtbot.waitSignal(loader.failed, timeout=5_000) as blocker:
        loader.request(("broken", None, None, None))
    assert blocker.args[0][0] == "broken" and "no such hook" in blocker.args[1]
