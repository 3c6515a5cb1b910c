"""Explorer on a pow run: task-coordinate orderings offered and c/2 markers only where they are mirrors."""

from grokviz.gui.explorer import presenter
from grokviz.gui.explorer.data import prepare
from grokviz.gui.explorer.model import ExplorerContext, ExplorerModel
from grokviz.gui.explorer.source import AnalysisExplorerSource
from tests.gui.tab_helpers import _tab, state_with


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
    from grokviz.gui.tabs.spectrum import SpectrumView

    state = state_with(pow_run)
    tab = _tab(qtbot, SpectrumView, state)
    basis = tab.result["token_basis"]
    assert basis["a"]["best"] == "power" and set(basis["a"]["concentration"]) == {"additive", "power", "discrete_log"}
    assert "power" in tab.basis_plot.getPlotItem().titleLabel.text
    assert len(tab.basis_plot.getPlotItem().listDataItems()) == 2  # a and b bars
    panel = RunPanel(state)
    qtbot.addWidget(panel)
    state.set_summary(state.session.report("summary"))  # what the app's summary job delivers
    assert "power" in panel.values["basis"].text() and "additive" in panel.values["basis"].text()
    assert "epoch" in panel.values["grokked"].text()


def test_spectrum_tab_draws_neurons_in_task_coordinates(qtbot, pow_run):
    """pow m = n = 3: one neuron's pre/post over (u, v) = (a³, b³) with axes naming the coordinate,
    its 2-D Fourier map in those coordinates (the neuron frequency fraction's basis, design.md §6a)."""
    import numpy as np

    from grokviz.gui.tabs.spectrum import SpectrumView

    tab = _tab(qtbot, SpectrumView, state_with(pow_run), size=(1050, 800))
    result, p = tab.result, pow_run.p
    neuron = int(np.argmax(result["neuron_fraction"]))
    tab.select_neuron(neuron)
    post = result["post"][:, :, neuron]
    for a, b in ((2, 5), (7, 11), (0, 3)):
        u, v = pow(a, 3, p), pow(b, 3, p)
        assert tab._images["post"][u, v] == post[a, b]  # cell (u, v) holds input (a, b)
    item = tab.post_image.getPlotItem()
    assert item.getAxis("left").labelText == "u = a^3 mod 23" and item.getAxis("bottom").labelText == "v = b^3 mod 23"
    assert "(u, v)" in item.titleLabel.text
    assert tab.fourier_image.getPlotItem().getAxis("left").labelText == "frequency of u"
    # the Fourier map is the neuron frequency fraction's: the {0, k}² block share is that fraction
    squares = tab._images["fourier"] ** 2
    k = int(result["neuron_frequency"][neuron])
    block = squares[np.ix_([0, k], [0, k])].sum() / squares.sum()
    assert abs(block - result["neuron_fraction"][neuron]) < 1e-4
    assert tab.basis_box.width() == tab.basis_box.minimumWidth() > 0  # a fixed column, never squeezed


def test_window_fits_1400_px_with_a_pow_run(qtbot, window, pow_run):
    """A tab page's minimum width is the window's: the Explorer's control row wraps instead."""
    window.state.set_run(pow_run)
    for name in ("Explorer", "Spectrum"):
        window.tabs.setCurrentWidget(window.views[name])
        qtbot.wait(200)
    assert window.minimumSizeHint().width() <= 1400


def test_symmetry_tab_on_pow_names_the_coordinate_and_opens_cu(qtbot, pow_run):
    """The slice is over u = a³ with the mirrors there; a clicked hook opens in [c, u], never [c, a]."""
    from grokviz.gui.tabs.symmetry import SymmetryView

    tab = _tab(qtbot, SymmetryView, state_with(pow_run))
    assert tab.result["slice_layout"] == "cu"
    assert tab.slice_label.text().startswith("over u") and "u = c/2" in tab.slice_label.text()
    with qtbot.waitSignal(tab.openInExplorer, timeout=1000) as blocker:
        tab.open_hook("blocks.0.hook_resid_mid")
    assert blocker.args == ["blocks.0.hook_resid_mid", "=", "[c, u]"]


def test_spectrum_tab_on_mul_draws_over_discrete_logs(qtbot, mul_run):
    """mul: (u, v) = (log_g a, log_g b) in Z_22; the zero tokens are outside the group (no cell)."""
    import numpy as np

    from grokviz.core.coordinates import primitive_root
    from grokviz.gui.tabs.spectrum import SpectrumView

    tab = _tab(qtbot, SpectrumView, state_with(mul_run))
    image = tab._images["post"]
    assert image.shape == (22, 22) and np.isfinite(image).all()
    g = primitive_root(23)
    neuron = tab.neuron
    assert image[1, 2] == tab.result["post"][g, g * g % 23, neuron]  # u = 1 ↔ a = g, v = 2 ↔ b = g²
    assert tab.post_image.getPlotItem().getAxis("left").labelText == f"u = log_{g} a (in Z_22)"
