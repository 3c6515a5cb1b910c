"""Explorer (issue 6): axis roles, markers, Fourier mode, overlays, sources, keys (pytest-qt, offscreen)."""

import math

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

from grokviz.analysis import fourier  # noqa: E402
from grokviz.analysis.labelled import Axis, LabelledTensor  # noqa: E402
from grokviz.core.tasks import Task  # noqa: E402
from grokviz.gui.explorer import ExplorerContext, ExplorerWidget, StaticSource, prepare  # noqa: E402
from grokviz.gui.explorer import symmetry  # noqa: E402
from grokviz.gui.explorer.demo import wave_tensor  # noqa: E402


def small_tensor(p=7, heads=3, extra=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = ([extra] if extra else []) + [heads, p, p]
    axes = ([Axis("layer", extra)] if extra else []) + [
        Axis("head", heads, "index", tuple(f"h{i}" for i in range(heads))), Axis("c", p, "token"), Axis("a", p, "token")]
    return LabelledTensor(torch.randn(shape, generator=g), tuple(axes), title="small")


@pytest.fixture
def explorer(qtbot):
    widget = ExplorerWidget()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    return widget


def expected_slice(t: LabelledTensor, state):
    """The reference slice: select slider axes, then order as [series?, y?, x]."""
    data = t.data.numpy()
    order = list(state.slider_dims) + ([state.series_dim] if state.series_dim is not None else []) + \
        ([state.y_dim] if state.y_dim is not None else []) + [state.x_dim]
    arr = np.transpose(data, order)
    return arr[tuple(state.indices[d] for d in state.slider_dims)]


def test_every_axis_role_combination(explorer):
    t = small_tensor(p=5, heads=2, extra=3)
    explorer.set_tensor(t)
    st = explorer.state
    nd = t.data.dim()
    combos = 0
    for x in range(nd):
        for y in [None] + [d for d in range(nd) if d != x]:
            series_choices = [None] if y is not None else [None] + [d for d in range(nd) if d != x]
            for series in series_choices:
                st.set_roles(x, y, series)
                assert set(st.slider_dims) == set(range(nd)) - {x, y, series}
                assert sorted(explorer.sliders.rows) == sorted(st.slider_dims)
                for d in st.slider_dims:  # move every slider somewhere non-trivial
                    st.set_index(d, t.shape[d] - 1)
                want = expected_slice(t, st)
                if y is not None:
                    np.testing.assert_allclose(explorer.canvas.image.image, want, rtol=1e-6)
                    assert explorer.canvas.image.isVisible() and explorer.canvas.colorbar.isVisible()
                elif series is None:
                    np.testing.assert_allclose(explorer.canvas.curves[0].getData()[1], want, rtol=1e-6)
                else:
                    assert len(explorer.canvas.curves) == t.shape[series]
                    for i, curve in enumerate(explorer.canvas.curves):
                        np.testing.assert_allclose(curve.getData()[1], want[i], rtol=1e-6)
                for d in st.slider_dims:
                    st.set_index(d, 0)
                combos += 1
    assert combos == 4 * (4 + 3)


def test_role_combo_boxes_drive_state(explorer):
    t = small_tensor()
    explorer.set_tensor(t)
    st = explorer.state
    assert (st.x_dim, st.y_dim, st.series_dim) == (2, None, None)
    explorer.view_controls.y_combo.setCurrentIndex(2)  # y = c
    assert (st.x_dim, st.y_dim) == (2, 1)
    explorer.view_controls.y_combo.setCurrentIndex(0)  # back to lines
    explorer.view_controls.series_combo.setCurrentIndex(1)  # series = head
    assert st.series_dim == 0 and st.slider_dims == (1,)
    explorer.view_controls.x_combo.setCurrentIndex(0)  # x = head displaces the series role
    assert st.x_dim == 0 and st.series_dim is None


def test_slider_steps_never_recompute(explorer):
    explorer.set_tensor(wave_tensor(13, 6))
    st = explorer.state
    st.set_fourier(st.x_dim, True)
    misses = explorer.cache.misses
    for i in range(20):
        st.step(1, 1)
        st.step(0, 1)
    assert explorer.cache.misses == misses
    assert explorer.prepared.arr.flags["C_CONTIGUOUS"]
    assert explorer.prepared.frame(st.indices).flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("p,c", [(7, 4), (7, 3), (8, 4), (8, 3), (113, 10), (113, 11)])
def test_symmetry_points_even_and_odd_c(p, c):
    s1, s2 = symmetry.symmetry_points(c, p)
    assert s1 == pytest.approx(c / 2)
    assert s2 == pytest.approx((c / 2 + p / 2) % p)
    # both are fixed points of a -> c - a on the circle
    for s in (s1, s2):
        assert ((c - s) - s) % p == pytest.approx(0) or ((c - s) - s) % p == pytest.approx(p)
    assert (s1 % 1 == 0.5) == (c % 2 == 1)


@pytest.mark.parametrize("c", [4, 3])
def test_markers_in_line_view(explorer, c):
    p = 7
    task = Task("add", p)
    explorer.set_tensor(small_tensor(p=p), context=ExplorerContext(task=task))
    st = explorer.state
    st.set_index(1, c)
    s1, s2 = symmetry.symmetry_points(c, p)
    assert [line.value() for line in explorer.canvas.sym_lines] == pytest.approx([s1, s2])
    assert all(line.isVisible() for line in explorer.canvas.sym_lines)
    xs = sorted(pt.pos().x() for pt in explorer.canvas.point_markers.points())
    assert xs == sorted([0, c])  # current a = 0 and b = c - 0
    assert task.equation(0, c) in explorer.canvas.marker_label.text()
    st.set_probe(2)
    xs = sorted(pt.pos().x() for pt in explorer.canvas.point_markers.points())
    assert xs == sorted([2, (c - 2) % p])
    assert f"2 + {(c - 2) % p} mod 7 = {c}" in explorer.canvas.marker_label.text()
    # Fourier x: no markers
    st.set_fourier(st.x_dim, True)
    assert not any(line.isVisible() for line in explorer.canvas.sym_lines)


def test_markers_need_c_on_a_slider(explorer):
    t = small_tensor(p=7)
    explorer.set_tensor(t, context=ExplorerContext(task=Task("add", 7)))
    explorer.state.set_roles(1)  # x = c: not an a/b axis
    assert not any(line.isVisible() for line in explorer.canvas.sym_lines)


def test_markers_for_other_task_solve_partner():
    task = Task("sub", 7)
    assert symmetry.solve_b(task, 5, 2, 7) == 3  # 5 - 3 = 2
    assert symmetry.resolve_input({"c": 2, "b": 3}, task, 7) == (5, 3, 2)
    mul = Task("mul", 7)
    assert symmetry.resolve_input({"c": 6, "a": 3}, mul, 7) == (3, 2, 6)


def test_heatmap_diagonals_over_c_a(explorer):
    p = 8
    explorer.set_tensor(small_tensor(p=p), context=ExplorerContext(task=Task("add", p)))
    explorer.state.set_roles(2, 1)  # x = a, y = c
    assert explorer.canvas.diagonals.isVisible()
    x, y = explorer.canvas.diagonals.getData()
    # segments a = c/2 and a = c/2 + p/2, as (a, c) pairs
    for (a0, a1), (c0, c1) in zip(x.reshape(-1, 2), y.reshape(-1, 2)):
        assert a1 - a0 == pytest.approx((c1 - c0) / 2)
    assert x.reshape(-1, 2)[1][0] - x.reshape(-1, 2)[0][0] == pytest.approx(p / 2)
    explorer.state.set_roles(1, 2)  # x = c, y = a: transposed
    x2, y2 = explorer.canvas.diagonals.getData()
    np.testing.assert_allclose(x2, y)
    np.testing.assert_allclose(y2, x)
    explorer.state.set_roles(2, 0)  # head x a: no diagonals; but c on a slider -> vertical lines
    assert not explorer.canvas.diagonals.isVisible()
    assert all(line.isVisible() for line in explorer.canvas.sym_lines)


@pytest.mark.parametrize("n", [7, 8])
def test_fourier_modes_match_analysis_library(explorer, n):
    t = small_tensor(p=n, heads=2)
    explorer.set_tensor(t)
    st = explorer.state
    st.set_index(0, 1)
    st.set_index(1, 3)
    st.set_fourier(2, True)
    coeffs = fourier.fourier_transform(t.data, -1)
    mag = fourier.frequency_magnitude(coeffs, -1)
    np.testing.assert_allclose(explorer.canvas.curves[0].getData()[1], mag[1, 3].numpy(), rtol=1e-5, atol=1e-6)
    assert explorer.prepared.x.size == n // 2 + 1
    st.set_component("phase")
    np.testing.assert_allclose(explorer.canvas.curves[0].getData()[1], fourier.frequency_phase(coeffs, -1)[1, 3].numpy(),
                               rtol=1e-5, atol=1e-5)
    st.set_component("coefficients")
    np.testing.assert_allclose(explorer.canvas.curves[0].getData()[1], coeffs[1, 3].numpy(), rtol=1e-5, atol=1e-6)
    assert explorer.prepared.x.ticks == fourier.fourier_basis(n)[1]
    # heatmap: 2-D transform
    st.set_component("magnitude")
    st.set_roles(2, 1)
    st.set_fourier(1, True)
    mag2 = fourier.frequency_magnitude_2d(fourier.fourier_2d(t.data, (1, 2)), (1, 2))
    np.testing.assert_allclose(explorer.canvas.image.image, mag2[1].numpy(), rtol=1e-5, atol=1e-6)
    # one axis Fourier in a heatmap: magnitude along that axis only
    st.set_fourier(1, False)
    np.testing.assert_allclose(explorer.canvas.image.image, mag[1].numpy(), rtol=1e-5, atol=1e-6)


def test_key_frequencies_highlighted(explorer):
    explorer.set_tensor(wave_tensor(113, 4), context=ExplorerContext(key_frequencies=(14, 35)))
    st = explorer.state
    st.set_fourier(st.x_dim, True)
    shown = [r.getRegion() for r in explorer.canvas.regions.get("vertical", []) if r.isVisible()]
    assert sorted(round(sum(r) / 2) for r in shown) == [14, 35]
    assert "key frequencies" in explorer.canvas.message_label.text()


def test_waves_have_energy_only_at_key_frequencies():
    t = wave_tensor(113, 8, noise=0.0)
    prepared = prepare(t, 2, None, None, (2,), "magnitude")
    energy = (prepared.arr ** 2).sum(axis=(0, 1))
    top = set(np.argsort(energy)[-5:].tolist())
    assert top == {14, 35, 41, 42, 52}
    assert energy[sorted(top)].sum() / energy.sum() > 0.999


def test_fixed_y_range_does_not_jump(explorer):
    explorer.set_tensor(wave_tensor(31, 5))
    st = explorer.state
    vb = explorer.plot.getViewBox()
    before = vb.viewRange()[1]
    for _ in range(10):
        st.step(1, 3)
        st.step(0, 1)
    assert vb.viewRange()[1] == pytest.approx(before)
    lo, hi = explorer.prepared.vmin, explorer.prepared.vmax
    assert before[0] <= lo and before[1] >= hi
    assert lo == pytest.approx(float(explorer.state.tensor.data.min()), rel=1e-5)


def test_heatmap_cells_centred_on_indices(explorer):
    explorer.set_tensor(small_tensor(p=7))
    explorer.state.set_roles(2, 1)
    rect = explorer.canvas.image.mapRectToView(explorer.canvas.image.boundingRect())
    assert (rect.left(), rect.top(), rect.width(), rect.height()) == pytest.approx((-0.5, -0.5, 7, 7))
    explorer.state.set_roles(2, 0)  # a x head: 7 x 3
    rect = explorer.canvas.image.mapRectToView(explorer.canvas.image.boundingRect())
    assert (rect.width(), rect.height()) == pytest.approx((7, 3))


def test_heatmap_levels_symmetric_about_zero(explorer):
    t = small_tensor()
    explorer.set_tensor(t)
    explorer.state.set_roles(2, 1)
    lo, hi = explorer.canvas.colorbar.levels()
    assert lo == pytest.approx(-hi)
    assert hi == pytest.approx(float(t.data.abs().max()), rel=1e-5)
    explorer.state.set_y_range_mode("auto")
    explorer.state.set_index(0, 2)
    lo, hi = explorer.canvas.colorbar.levels()
    assert hi == pytest.approx(float(t.data[2].abs().max()), rel=1e-5) and lo == pytest.approx(-hi)


def test_overlays_same_shape_with_legend(explorer):
    t = wave_tensor(13, 4)
    model = wave_tensor(13, 4, clean=True)
    explorer.set_tensor(t, {"c/2 cosine model": model})
    st = explorer.state
    st.set_index(1, 5)
    st.set_index(0, 2)
    overlay = explorer.canvas.overlay_curves[0]
    np.testing.assert_allclose(overlay.getData()[1], model.data[2, 5].numpy(), rtol=1e-6)
    names = [label.text for _, label in explorer.canvas.legend.items]
    assert "c/2 cosine model" in names
    color_before = overlay.opts["pen"].color().name()
    st.step(1, 1)
    assert explorer.canvas.overlay_curves[0].opts["pen"].color().name() == color_before
    with pytest.raises(ValueError):
        explorer.add_overlay("bad", small_tensor())
    # with a series axis, overlays follow every series
    st.set_roles(2, None, 0)
    assert len(explorer.canvas.overlay_curves) == 4


def test_ragged_tensor_shows_gaps():
    t = small_tensor(p=5)
    valid = torch.ones(5, 5, dtype=torch.bool)
    valid[1, 2] = False
    ragged = LabelledTensor(t.data, t.axes, valid=valid, note="ragged [c, a] grid")
    prepared = prepare(ragged, 2)
    assert math.isnan(prepared.frame([0, 1, 0])[2])
    assert "ragged" in prepared.note


def test_hover_readout_names_the_input(explorer):
    p = 7
    explorer.set_tensor(small_tensor(p=p), context=ExplorerContext(task=Task("add", p)))
    st = explorer.state
    st.set_index(1, 5)
    vb = explorer.plot.getViewBox()
    y = float(explorer.canvas.curves[0].getData()[1][3])
    explorer._on_mouse_moved(vb.mapViewToScene(QtCore.QPointF(3, y)))
    text = explorer.readout.text()
    assert "a=3" in text and "c=5" in text and "input (a=3, b=2, c=5)" in text and "3 + 2 mod 7 = 5" in text
    st.set_roles(2, 1)  # heatmap [c, a]
    explorer._on_mouse_moved(vb.mapViewToScene(QtCore.QPointF(4, 6)))
    assert "input (a=4, b=2, c=6)" in explorer.readout.text()


def test_keyboard_steps_focused_axis_and_space_plays(explorer, qtbot):
    explorer.set_tensor(small_tensor(p=7))
    st = explorer.state
    assert explorer.state.focus_dim == 1  # c gets the focus
    explorer.setFocus()
    qtbot.keyClick(explorer, QtCore.Qt.Key.Key_Right)
    qtbot.keyClick(explorer, QtCore.Qt.Key.Key_Right)
    assert st.indices[1] == 2
    qtbot.keyClick(explorer, QtCore.Qt.Key.Key_Left)
    assert st.indices[1] == 1
    qtbot.keyClick(explorer, QtCore.Qt.Key.Key_Up)
    assert explorer.state.focus_dim == 0
    qtbot.keyClick(explorer, QtCore.Qt.Key.Key_Space)
    assert explorer.sliders.playing_dim == 0 and explorer.sliders.timer.isActive()
    explorer.sliders.rows[0].fps.setValue(100)
    qtbot.waitUntil(lambda: st.indices[0] != 0, timeout=2000)
    qtbot.keyClick(explorer, QtCore.Qt.Key.Key_Space)
    assert explorer.sliders.playing_dim is None and not explorer.sliders.timer.isActive()


def test_play_without_loop_stops_at_end(explorer, qtbot):
    explorer.set_tensor(small_tensor(p=5))
    row = explorer.sliders.rows[1]
    row.loop.setChecked(False)
    row.fps.setValue(120)
    row.play_button.setChecked(True)
    qtbot.waitUntil(lambda: not row.play_button.isChecked(), timeout=3000)
    assert explorer.state.indices[1] == 4


def test_source_controls_and_checkpoint_following(qtbot):
    calls = []

    def resid(position, ordering, epoch):
        calls.append((position, ordering, epoch))
        t = small_tensor(p=5, seed=epoch or 0)
        return t

    weights = LabelledTensor(torch.randn(6, 4), (Axis("vocab", 6, "token"), Axis("d_model", 4)), title="W_E")
    source = StaticSource({"blocks.0.hook_resid_post": resid, "W_E": weights},
                          context=ExplorerContext(task=Task("add", 5)),
                          positions=("a", "b", "="), orderings=("[a, b]", "[c, a]"), epochs=[100, 200])
    widget = ExplorerWidget(source=source)
    qtbot.addWidget(widget)
    assert widget.source_controls.hook_combo.isEnabled() and widget.source_controls.hook_combo.count() == 2
    assert calls[-1] == ("=", "[c, a]", 200)
    assert widget.source_controls.epoch_label.text() == "checkpoint: epoch 200"
    widget.state.set_index(1, 3)
    widget.set_epoch(100)
    widget.set_epoch(200)  # rapid changes are coalesced: one load, of the last epoch
    widget.set_epoch(100)
    n = len(calls)
    qtbot.waitUntil(lambda: calls[-1] == ("=", "[c, a]", 100), timeout=2000)
    assert len(calls) == n + 1
    assert widget.state.indices[1] == 3  # same layout: the view is kept
    widget.select(hook="W_E")
    assert widget.state.tensor is weights
    assert not widget.source_controls.position_combo.isEnabled() and not widget.source_controls.ordering_combo.isEnabled()
    widget.select(hook="blocks.0.hook_resid_post", ordering="[a, b]")
    assert calls[-1] == ("=", "[a, b]", 100)
    n = len(calls)
    widget.select(ordering="[a, b]")  # already shown: no reload
    assert len(calls) == n
    widget.select(hook="blocks.0.hook_resid_post", ordering="[q, r]")  # not offered: said, not raised
    assert "offers no ordering '[q, r]'" in widget.canvas.message_label.text() and len(calls) == n


def test_no_source_disables_source_controls(explorer):
    assert not explorer.source_controls.boxes[0].isEnabled()


def test_bench_runs_small():
    from grokviz.gui.explorer.benchmark import measure_redraw

    result = measure_redraw(shape=(3, 13, 13), steps=4, warmup=1, size=(500, 400))
    assert set(result["modes"]) == {"lines-space", "lines-fourier", "heatmap-space", "heatmap-fourier"}
    for row in result["modes"].values():
        assert row["p95_ms"] >= row["p50_ms"] > 0


def test_heatmap_of_overlay_and_residual(explorer):
    t = wave_tensor(13, 3)
    model = wave_tensor(13, 3, clean=True)
    explorer.set_tensor(t, {"model": model})
    assert not explorer.view_controls.image_combo.isEnabled()  # lines: overlays are curves
    st = explorer.state
    st.set_roles(2, 1)
    st.set_index(0, 2)
    assert explorer.view_controls.image_combo.isEnabled()
    explorer.view_controls.image_combo.setCurrentText("tensor − model")
    np.testing.assert_allclose(explorer.canvas.image.image, (t.data[2] - model.data[2]).numpy(), rtol=1e-5, atol=1e-6)
    misses = explorer.cache.misses
    st.step(0, 1)
    assert explorer.cache.misses == misses
    explorer.view_controls.image_combo.setCurrentText("model")
    np.testing.assert_allclose(explorer.canvas.image.image, model.data[0].numpy(), rtol=1e-6)
    explorer.view_controls.image_combo.setCurrentText("tensor")
    np.testing.assert_allclose(explorer.canvas.image.image, t.data[0].numpy(), rtol=1e-6)


def test_one_dimensional_tensor_and_many_series(explorer):
    bias = LabelledTensor(torch.arange(6.0), (Axis("d_model", 6),), title="b_out")
    explorer.set_tensor(bias)
    assert explorer.state.slider_dims == () and not explorer.sliders.rows
    np.testing.assert_array_equal(explorer.canvas.curves[0].getData()[1], np.arange(6.0))
    big = LabelledTensor(torch.randn(40, 5), (Axis("neuron", 40), Axis("a", 5, "token")), title="many")
    explorer.set_tensor(big, {"zero": big.with_data(torch.zeros(40, 5))})
    explorer.state.set_roles(1, None, 0)
    assert len(explorer.canvas.curves) == 32 and "first 32 of 40" in explorer.canvas.message_label.text()
    assert len(explorer.canvas.legend.items) <= 1  # no 32-row legend
    data = explorer.current_data()
    assert data.curves[0][0] == "neuron 0" and data.curves[-1][0] == "zero [neuron 31]"
