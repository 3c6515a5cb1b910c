"""The Explorer's presenter (issue 14): text and geometry as pure functions, no widgets."""

import math

import numpy as np
import pytest
import torch

from grokviz.analysis import fourier
from grokviz.analysis.labelled import Axis, LabelledTensor
from grokviz.core.tasks import Task
from grokviz.gui.explorer import presenter
from grokviz.gui.explorer.data import prepare
from grokviz.gui.explorer.model import ExplorerContext, ExplorerModel


def model_of(t, roles=None, task=None, keys=(), fourier_dims=(), component="magnitude", overlays=None):
    m = ExplorerModel()
    m.set_tensor(t, overlays, ExplorerContext(task=task, key_frequencies=keys))
    if roles is not None:
        m.set_roles(*roles)
    m.set_fourier_dims(fourier_dims)
    m.set_component(component)
    p = prepare(t, m.x_dim, m.y_dim, m.series_dim, m.fourier_dims(), m.component, m.overlays)
    return m, p


def grid(p=7, heads=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    axes = (Axis("head", heads, "index", tuple(f"h{i}" for i in range(heads))), Axis("c", p, "token"),
            Axis("a", p, "token"))
    return LabelledTensor(torch.randn(heads, p, p, generator=g), axes, title="grid")


def test_ticks_numeric_labelled_and_fourier():
    _, p = model_of(grid())
    assert presenter.ticks_for(p.x) is None  # 0…p−1: numeric ticks
    _, p = model_of(grid(heads=3), roles=(0,))
    major, minor = presenter.ticks_for(p.x)
    assert [label for _, label in minor] == ["h0", "h1", "h2"]
    _, p = model_of(grid(p=31), fourier_dims=(2,), component="coefficients")
    major, minor = presenter.ticks_for(p.x)
    assert [label for _, label in minor] == fourier.fourier_basis(31)[1]
    assert major[0] == (0, "const") and all(label.startswith("cos") for _, label in major[1:])


def test_levels_and_ranges():
    t = grid()
    _, p = model_of(t, roles=(2, 1))
    lo, hi = presenter.levels_for(p)
    assert lo == pytest.approx(-hi) and hi == pytest.approx(float(t.data.abs().max()), rel=1e-5)
    frame = p.frame([1, 0, 0])
    assert presenter.levels_for(p, frame)[1] == pytest.approx(float(t.data[1].abs().max()), rel=1e-5)
    _, mag = model_of(t, fourier_dims=(2,))
    assert presenter.levels_for(mag)[0] == 0.0 and presenter.colormap_kind(mag) == "sequential"
    _, phase = model_of(t, fourier_dims=(2,), component="phase")
    assert presenter.levels_for(phase) == (-math.pi, math.pi) and presenter.value_name(phase) == "phase (rad)"
    _, lines = model_of(t)
    lo, hi = presenter.fixed_y_range(lines)
    span = lines.vmax - lines.vmin
    assert (lo, hi) == pytest.approx((lines.vmin - 0.05 * span, lines.vmax + 0.05 * span))
    _, heat = model_of(grid(p=7, heads=3), roles=(2, 0))
    assert presenter.cell_rect(heat) == (-0.5, -0.5, 7.0, 3.0)


@pytest.mark.parametrize("c", [3, 4])
def test_markers_on_an_a_axis_with_c_on_a_slider(c):
    n = 7
    m, p = model_of(grid(p=n), task=Task("add", n))
    m.set_index(1, c)
    m.set_probe(2)
    marks = presenter.markers(m, p)
    assert marks.lines == pytest.approx((c / 2, c / 2 + n / 2))
    assert [(x, filled) for x, _, filled in marks.points] == [(2, True), ((c - 2) % n, False)]
    assert marks.points[0][1] == pytest.approx(float(m.tensor.data[0, c, 2]))
    assert f"2 + {(c - 2) % n} mod 7 = {c}" in marks.text
    m.set_fourier(2, True)
    _, fp = model_of(m.tensor, fourier_dims=(2,))
    assert presenter.markers(m, fp).lines == ()  # no markers on a Fourier axis
    m2, p2 = model_of(grid(p=n), roles=(1,), task=Task("add", n))
    assert presenter.marker_geometry(m2, p2) is None  # x = c is not an operand axis


def test_markers_say_when_no_partner_exists():
    n = 7
    m, p = model_of(grid(p=n), task=Task("mul", n))
    m.set_index(1, 3)
    m.set_probe(0)  # 0 · b = 0 ≠ 3 for every b
    marks = presenter.markers(m, p)
    assert len(marks.points) == 1 and "no b gives c = 3 for a = 0" in marks.text


def test_diagonals_over_c_a_and_transposed():
    n = 8
    _, p = model_of(grid(p=n), roles=(2, 1))
    xs, ys, other = presenter.diagonals(p)
    assert other == "a"
    for (a0, a1), (c0, c1) in zip(xs.reshape(-1, 2), ys.reshape(-1, 2)):
        assert a1 - a0 == pytest.approx((c1 - c0) / 2)
    _, transposed = model_of(grid(p=n), roles=(1, 2))
    xs2, ys2, _ = presenter.diagonals(transposed)
    np.testing.assert_allclose(xs2, ys)
    np.testing.assert_allclose(ys2, xs)
    _, heads = model_of(grid(p=n), roles=(2, 0))
    assert presenter.diagonals(heads) is None


def test_readout_names_the_input_and_the_values():
    n = 7
    m, p = model_of(grid(p=n), task=Task("add", n))
    m.set_index(1, 5)
    text = presenter.readout(m, p, 3.2, 0.0)
    want = presenter.fmt_value(float(m.tensor.data[0, 5, 3]))
    assert "head=h0" in text and "c=5" in text and f"value {want}" in text
    assert "input (a=3, b=2, c=5): 3 + 2 mod 7 = 5" in text
    assert presenter.readout(m, p, 9.0, 0.0) is None  # outside the data
    m.set_roles(2, 1)
    _, heat = model_of(m.tensor, roles=(2, 1), task=Task("add", n))
    assert "input (a=4, b=2, c=6)" in presenter.readout(m, heat, 4.0, 6.0)


def test_message_series_truncation_and_key_frequencies():
    big = LabelledTensor(torch.randn(40, 9), (Axis("neuron", 40), Axis("a", 9, "token")), title="many")
    m, p = model_of(big, roles=(1, None, 0))
    text = presenter.message("many", m, p)
    assert "<b>many</b>" in text and "first 32 of 40 neuron series" in text
    assert len(presenter.series_names(big, p)) == presenter.MAX_SERIES
    m, p = model_of(grid(p=9), keys=(2, 3))
    assert "key frequencies" not in presenter.message("t", m, p)
    m, p = model_of(grid(p=9), keys=(2, 3), fourier_dims=(2,))
    assert "2, 3" in presenter.message("t", m, p)
    assert presenter.key_bands(p, (2, 3)) == {"vertical": [(1.5, 2.5), (2.5, 3.5)], "horizontal": []}


def test_heatmap_of_the_residual():
    t = grid()
    fit = t.with_data(t.data * 0.25)
    m, _ = model_of(t, roles=(2, 1), overlays={"fit": fit})
    assert presenter.heatmap_tensor(m) == (t, m.overlays)
    m.set_heatmap("tensor − fit")
    shown, overlays = presenter.heatmap_tensor(m)
    torch.testing.assert_close(shown.data, t.data * 0.75)
    assert overlays == {} and shown.title == "grid − fit"
    m.set_heatmap("fit")
    assert presenter.heatmap_tensor(m)[0] is fit
