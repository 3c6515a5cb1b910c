"""Explorer on a pow run: task-coordinate orderings offered and c/2 markers only where they are mirrors."""

from grokviz.gui.explorer import presenter
from grokviz.gui.explorer.data import prepare
from grokviz.gui.explorer.model import ExplorerContext, ExplorerModel
from grokviz.gui.explorer.source import AnalysisExplorerSource


def markers_for(tensor, task):
    model = ExplorerModel()
    model.set_tensor(tensor, None, ExplorerContext(task=task, key_frequencies=(1,)))
    model.set_roles(tensor.data.dim() - 1)  # x = the last axis (a or u), the answer on a slider
    prepared = prepare(tensor, model.x_dim, model.y_dim, model.series_dim, model.fourier_dims(), model.component,
                       model.overlays)
    return presenter.markers(model, prepared), prepared


def test_pow_orderings_ticks_markers_and_overlay(pow_run):
    source = AnalysisExplorerSource(pow_run)
    hook = "blocks.0.hook_resid_mid"
    offered = source.orderings(hook)
    assert "[c, u]" in offered and "[u, v]" in offered and "[c, a]" in offered
    assert source.default_ordering(hook) == "[c, u]"
    cu = source.get(hook, "=", "[c, u]")
    assert cu.names[-2:] == ("c", "u")
    assert cu.axis("u").tick(8) == "8 (a=2)"  # 2³ = 8 mod 23
    marks, _ = markers_for(cu, pow_run.task)
    assert marks.lines and "c/2" in marks.text and "u + v = c mod 23" in marks.text  # mirrors on [c, u]
    ca = source.get(hook, "=", "[c, a]")
    marks, prepared = markers_for(ca, pow_run.task)
    assert marks.lines == () and not ca.meta["mirrors"]  # never over a for pow
    assert presenter.diagonals(prepared, presenter.mirrors(ca)) is None
    assert source.overlays(hook, "=", "[c, u]")  # the c/2 model in coordinates
    assert source.overlays(hook, "=", "[c, a]") == {}


def test_spectrum_tab_and_run_panel_show_the_learned_basis(qtbot, pow_run):
    from grokviz.gui.run_panel import RunPanel
    from grokviz.gui.state import AppState
    from grokviz.gui.tabs.spectrum import SpectrumView

    state = AppState()
    state.set_run(pow_run)
    tab = SpectrumView(state)
    qtbot.addWidget(tab)
    tab.resize(1200, 800)
    tab.show()
    qtbot.waitUntil(lambda: tab.result is not None and not tab.busy, timeout=60_000)
    basis = tab.result["token_basis"]
    assert basis["a"]["best"] == "power" and set(basis["a"]["concentration"]) == {"additive", "power", "discrete_log"}
    assert "power" in tab.basis_plot.getPlotItem().titleLabel.text
    assert len(tab.basis_plot.getPlotItem().listDataItems()) == 2  # a and b bars
    panel = RunPanel(state)
    qtbot.addWidget(panel)
    state.set_summary(state.session.report("summary"))  # what the app's summary job delivers
    assert "power" in panel.values["basis"].text() and "additive" in panel.values["basis"].text()
    assert "epoch" in panel.values["grokked"].text()
