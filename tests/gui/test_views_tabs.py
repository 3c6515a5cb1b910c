"""The analysis tabs (issue 7): Spectrum, Symmetry, Attention, Progress on a small trained model."""

import os

import numpy as np
import pyqtgraph as pg
import pytest


from grokviz.gui.state import AppState
from tests.gui.tab_helpers import TIMEOUT, _tab


def test_spectrum_tab(qtbot, state, small_run):
    from grokviz.gui.tabs.spectrum import SpectrumView

    tab = _tab(qtbot, SpectrumView, state)
    result = tab.result
    p, d_mlp = small_run.p, small_run.model_config.d_mlp
    assert result["fractions"].shape == (p // 2, d_mlp)
    assert np.all(result["fractions"] >= -1e-6) and np.all(result["fractions"].sum(0) <= 1 + 1e-4)
    assert sorted(result["neuron_order"]) == list(range(d_mlp))
    assert tab.table_model.rowCount() == d_mlp
    # clicking (selecting) a neuron fills its details
    tab.select_neuron(5)
    assert tab.neuron == 5 and "Neuron 5" in tab.neuron_label.text()
    assert tab._images["post"].shape == (p, p)
    # searchable: k=<freq> keeps only neurons of that frequency; sortable by fraction
    freq = int(result["neuron_frequency"][5])
    tab.search.setText(f"k={freq}")
    assert tab.proxy.rowCount() == int((result["neuron_frequency"] == freq).sum())
    tab.search.setText("")
    tab.proxy.sort(2)
    fractions = [float(tab.proxy.index(r, 2).data()) for r in range(tab.proxy.rowCount())]
    assert fractions == sorted(fractions)
    # the table row selects the neuron
    tab.table.setCurrentIndex(tab.proxy.index(0, 0))
    assert tab.neuron == int(tab.proxy.index(0, 0).data())


def test_symmetry_tab_recomputes_and_opens_explorer(qtbot, state, small_run):
    from grokviz.gui.tabs.symmetry import SymmetryView

    tab = _tab(qtbot, SymmetryView, state)
    result = tab.result
    assert result["hooks"][0] == "hook_embed" and result["hooks"][-2:] == ["blocks.0.hook_resid_post", "logits"]
    assert result["constant"][0]  # the embedding at = is the same for every input
    resid_post = result["score"][-2]
    assert 0.5 < resid_post <= 1.0  # after attention the = position is (nearly) a↔b symmetric
    with qtbot.waitSignal(tab.openInExplorer, timeout=1000) as blocker:
        tab.open_hook("blocks.0.hook_resid_mid")
    assert blocker.args == ["blocks.0.hook_resid_mid", "=", "[c, a]"]
    # a checkpoint change recomputes in the worker
    first = small_run.epochs[0]
    state.set_checkpoint_epoch(first)
    qtbot.waitUntil(lambda: tab._computed_key == tab._key() and not tab.busy, timeout=TIMEOUT)
    assert tab.epoch == first and "Epoch 0" in tab.status.text()


def test_attention_tab(qtbot, state, small_run):
    from grokviz.gui.tabs.attention import AttentionView

    tab = _tab(qtbot, AttentionView, state)
    maps = tab.result["maps"]
    heads = small_run.model_config.n_heads
    assert maps.shape == (heads, 3, small_run.p, small_run.p)
    np.testing.assert_allclose(maps.sum(1), 1.0, atol=1e-5)  # softmax over keys a, b, =
    assert tab.summary.rowCount() == heads + 1
    assert float(tab.summary.item(0, 0).text()) == pytest.approx(maps[0, 0].mean(), abs=1e-3)


def test_progress_tab_cursor_and_click(qtbot, state, small_run):
    from grokviz.gui.tabs.progress import ProgressView

    tab = _tab(qtbot, ProgressView, state)
    result = tab.result
    assert list(result["epochs"]) == [float(e) for e in small_run.epochs]
    assert np.all(result["train_loss"] > 0) and np.isfinite(result["restricted_loss"]).all()
    assert tab.cursors["losses"].value() == state.checkpoint_epoch
    # the checkpoint moves the cursor without recomputing
    state.set_checkpoint_epoch(200)
    assert tab.cursors["losses"].value() == 200 and not tab.busy
    # setting an epoch from the tab (what a click does) moves every view
    tab.set_epoch(590)
    assert state.checkpoint_epoch == 600


def test_progress_tab_names_the_cos_cubes_in_the_task_coordinates(qtbot, pow_run):
    from grokviz.gui.tabs.progress import ProgressView

    state = AppState()
    state.set_run(pow_run)
    tab = _tab(qtbot, ProgressView, state)
    title = tab.panels["cos_coefficients"].getPlotItem().titleLabel.text
    assert "cos(w_k(a^3+b^3−c))" in title  # pow m = n = 3: the phase is a³ + b³ − c, not a + b − c


def test_live_progress_redraws_in_place_and_only_when_shown(qtbot, small_run):
    """While training, a new checkpoint's record moves the drawn curves' data (rebuilding four
    panels' items cost the window's thread 40–150 ms); new key frequencies redraw; hidden, nothing."""
    import copy
    from types import SimpleNamespace

    from grokviz.analysis.live import LiveProgress
    from grokviz.gui.tabs.progress import ProgressView

    run = copy.copy(small_run)
    LiveProgress(run.task, *run.indices()).finalize(run)
    records = run.progress
    tab = ProgressView(AppState())
    qtbot.addWidget(tab)
    tab.resize(1000, 700)
    tab.show()
    job = SimpleNamespace(measures=records[:2], task=run.task)
    tab.attach_job(job)
    tab.refresh_live()
    losses = tab.panels["losses"].getPlotItem()
    drawn = losses.listDataItems()
    job.measures = records[:3]
    tab.refresh_live()
    assert losses.listDataItems() == drawn and len(drawn[0].getData()[0]) == 3  # same items, new data
    other = [k for k in range(1, run.p // 2 + 1) if k not in records[3]["key_freqs"]][:1]
    job.measures = [*records[:3], {**records[3], "key_freqs": other}]
    tab.refresh_live()
    assert losses.listDataItems() != drawn  # another key set: drawn afresh
    assert [item.name() for item in tab.panels["cos_coefficients"].getPlotItem().listDataItems()] == [f"k = {other[0]}"]
    job.measures = [*job.measures, {**records[4], "key_freqs": []}]  # none confirmed at this checkpoint
    tab.refresh_live()
    cos = tab.panels["cos_coefficients"].getPlotItem()
    notes = [item.toPlainText() for item in cos.items if isinstance(item, pg.TextItem)]
    assert not cos.listDataItems() and not cos.legend.isVisible() and notes == [
        "no key frequencies yet (no neuron cluster confirms one)"]
    tab.hide()
    job.measures = records[:4]
    tab.refresh_live()
    assert len(tab.result["epochs"]) == 5  # hidden: not drawn
    tab.show()
    qtbot.waitUntil(lambda: len(tab.result["epochs"]) == 4, timeout=5000)  # shown: it catches up
    tab.detach_job()


def test_tab_export_files(qtbot, tmp_path, small_run):
    """Standalone use (run + epoch) and export_figures: PNG not blank, SVG with paths, CSV numbers."""
    import xml.etree.ElementTree as ET

    from PySide6 import QtGui

    from grokviz.gui.tabs.symmetry import SymmetryView

    tab = SymmetryView(run=small_run, epoch=small_run.epochs[-1])
    qtbot.addWidget(tab)
    tab.resize(1000, 700)
    tab.show()
    qtbot.waitUntil(lambda: tab.result is not None, timeout=TIMEOUT)
    files = tab.export_figures(str(tmp_path))
    assert {os.path.splitext(f)[1] for f in files} == {".png", ".svg", ".csv"}
    image = QtGui.QImage(os.path.join(tmp_path, "symmetry_chart.png"))
    pixels = np.array([image.pixel(x, y) & 0xFFFFFF for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)])
    assert pixels.std() > 0
    root = ET.parse(os.path.join(tmp_path, "symmetry_chart.svg")).getroot()
    assert any(el.tag.endswith("path") for el in root.iter())
    rows = [line.split(",") for line in open(os.path.join(tmp_path, "symmetry_chart.csv")) if not line.startswith("#")]
    scores = [float(r[2]) if r[2] else np.nan for r in rows[1:]]
    np.testing.assert_allclose(scores, tab.result["score"], equal_nan=True)


def test_register_views_installs_tabs(qtbot):
    from grokviz.gui import views
    from grokviz.gui.tabs import TAB_MODULES, register_views

    register_views()
    try:
        for name in TAB_MODULES:
            widget = views.view_factory(name)(AppState())
            qtbot.addWidget(widget)
            assert widget.title == name
    finally:
        for name in TAB_MODULES:
            views._FACTORIES.pop(name, None)


def test_tabs_in_main_window(qtbot, window, small_run_file, tmp_path):
    """Registered with grokviz.gui.views, the tabs follow the window's shared state."""
    from grokviz.gui import views
    from grokviz.gui.tabs import TAB_MODULES, register_views
    from tests.gui.conftest import open_and_wait

    register_views()
    try:
        run = open_and_wait(qtbot, window, small_run_file)
        for name in TAB_MODULES:
            tab = window.view(name)
            assert tab.title == name and tab.state is window.state
            window.tabs.setCurrentWidget(tab)
            qtbot.waitUntil(lambda: tab.result is not None and not tab.busy, timeout=TIMEOUT)
        spectrum = window.view("Spectrum")
        window.tabs.setCurrentWidget(spectrum)
        window.state.set_checkpoint_epoch(run.epochs[1])
        qtbot.waitUntil(lambda: spectrum._computed_key == spectrum._key() and not spectrum.busy, timeout=TIMEOUT)
        assert spectrum.epoch == run.epochs[1]
        # hidden tabs defer their work until shown
        assert window.view("Attention")._dirty
        files = window.view("Progress").export_figures(str(tmp_path))
        assert any(f.endswith("progress_losses.svg") for f in files)
    finally:
        for name in TAB_MODULES:
            views._FACTORIES.pop(name, None)
