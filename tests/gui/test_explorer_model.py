"""The Explorer's view-state model (issue 14): Qt-free, driven and checked without qtbot."""

import json
import os
import subprocess
import sys

import pytest
import torch

from grokviz.analysis.labelled import Axis, LabelledTensor
from grokviz.gui.explorer.model import ExplorerContext, ExplorerModel

MODEL_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "grokviz", "gui", "explorer", "model.py")


def tensor(names=("head", "c", "a"), sizes=(3, 7, 7), seed=0):
    g = torch.Generator().manual_seed(seed)
    return LabelledTensor(torch.randn(sizes, generator=g), tuple(Axis(n, s) for n, s in zip(names, sizes)), title="t")


class Menu:
    """An ExplorerSource's menu part: hooks, their positions and orderings, defaults."""

    default_hook = "resid"

    def hook_names(self):
        return ["W_E", "resid", "mlp"]

    def positions(self, hook):
        return () if hook == "W_E" else ("a", "b", "=")

    def orderings(self, hook):
        return () if hook == "W_E" else ("[a, b]", "[c, a]")

    def default_position(self, hook):
        return "="

    def default_ordering(self, hook):
        return "[c, a]"


def recorder(signal):
    calls = []
    signal.connect(lambda *args: calls.append(args))
    return calls


def test_the_model_module_imports_no_qt():
    """Loaded on its own in a fresh interpreter, the model works and PySide6 never loads."""
    code = f"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("explorer_model", {os.path.abspath(MODEL_FILE)!r})
module = importlib.util.module_from_spec(spec)
sys.modules["explorer_model"] = module
spec.loader.exec_module(module)
import torch
from grokviz.analysis.labelled import Axis, LabelledTensor
m = module.ExplorerModel()
m.set_tensor(LabelledTensor(torch.zeros(2, 5, 5), (Axis("head", 2), Axis("c", 5), Axis("a", 5))))
m.assign("y", 1)
again = module.ExplorerModel.from_dict(json.loads(json.dumps(m.as_dict())))
assert again.as_dict() == m.as_dict()
print(sorted(name for name in sys.modules if name.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6")))
"""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_role_conflicts_the_new_role_wins():
    m = ExplorerModel()
    m.set_tensor(tensor())
    assert (m.x_dim, m.y_dim, m.series_dim) == (2, None, None) and m.slider_dims == (0, 1)
    m.assign("y", 1)  # y = c: a heatmap
    assert (m.x_dim, m.y_dim) == (2, 1)
    m.assign("y", 2)  # y takes x's axis: x takes y's old axis
    assert (m.x_dim, m.y_dim) == (1, 2)
    m.assign("y", None)
    m.assign("series", 0)
    assert m.series_dim == 0 and m.slider_dims == (2,)
    m.assign("x", 0)  # x takes the series axis: the series role goes
    assert m.x_dim == 0 and m.series_dim is None
    m.assign("series", 0)  # a series on x's axis moves x to the first free axis
    assert (m.x_dim, m.series_dim) == (1, 0)
    m.assign("y", 2)  # a heatmap has no series
    assert (m.x_dim, m.y_dim, m.series_dim) == (1, 2, None)
    m.assign("series", 0)  # series are lines: y goes
    assert (m.y_dim, m.series_dim) == (None, 0)
    with pytest.raises(ValueError):
        m.set_roles(1, 1)
    with pytest.raises(IndexError):
        m.set_roles(5)


def test_same_layout_keeps_the_view_and_a_new_layout_resets_it():
    m = ExplorerModel()
    m.set_tensor(tensor())
    m.set_roles(2, 1)
    m.set_fourier(2, True)
    m.set_index(0, 2)
    m.set_tensor(tensor(sizes=(2, 7, 7), seed=1))  # same names: roles kept, index clamped
    assert (m.x_dim, m.y_dim, m.fourier_dims(), m.indices[0]) == (2, 1, (2,), 1)
    m.set_tensor(tensor(names=("neuron", "c", "a")))
    assert (m.x_dim, m.y_dim, m.fourier, m.indices) == (2, None, set(), [0, 0, 0])


def test_events_fire_once_per_change_and_never_for_no_change():
    m = ExplorerModel()
    index, roles, probe = recorder(m.index_changed), recorder(m.roles_changed), recorder(m.probe_changed)
    m.set_tensor(tensor())
    m.set_index(1, 3)
    m.set_index(1, 3)
    m.set_index(1, 99)  # clamped to the last index
    assert index == [(1, 3), (1, 6)]
    assert m.step(1, 1, loop=True) and m.indices[1] == 0
    assert not m.step(1, -1, loop=False) and m.indices[1] == 0
    m.set_roles(2)
    m.set_component("phase")
    m.set_component("phase")
    assert len(roles) == 1
    m.set_probe(4)
    m.set_probe(4)
    m.set_roles(1)  # a new x axis clears the probe
    assert len(probe) == 1 and m.probe is None
    with pytest.raises(ValueError):
        m.set_component("real part")


def test_focus_prefers_c_and_moves_over_the_sliders():
    m = ExplorerModel()
    focus = recorder(m.focus_changed)
    m.set_tensor(tensor())
    assert m.focus_dim == 1 and focus[-1] == (1,)
    m.move_focus(1)
    assert m.focus_dim == 0
    m.move_focus(1)
    assert m.focus_dim == 1
    assert m.step_focused(1) and m.indices[1] == 1
    m.set_roles(1)  # c displayed: the focus moves to a remaining slider
    assert m.focus_dim in m.slider_dims
    with pytest.raises(ValueError):
        m.set_focus(1)


def test_selection_follows_the_menu():
    m = ExplorerModel()
    changed = recorder(m.selection_changed)
    m.set_menu(Menu())
    assert (m.hook, m.position, m.ordering) == ("resid", "=", "[c, a]")
    assert m.positions == ("a", "b", "=") and m.hooks == ("W_E", "resid", "mlp")
    assert m.select(position="a") and m.select(hook="mlp")
    assert (m.position, m.ordering) == ("a", "[c, a]")  # kept across hooks that offer them
    m.select(hook="W_E")
    assert (m.position, m.ordering, m.positions) == (None, None, ())
    assert not m.select(hook="W_E")
    m.set_epoch(200)
    assert m.request_key == ("W_E", None, None, 200)
    with pytest.raises(ValueError):
        m.select(hook="nope")
    with pytest.raises(ValueError):
        m.select(hook="resid", ordering="[q, a]")
    assert len(changed) == 5


def test_view_round_trip_through_json():
    m = ExplorerModel()
    m.set_menu(Menu())
    m.select(hook="mlp", position="b", ordering="[a, b]")
    m.set_epoch(1200)
    t = tensor()
    m.set_tensor(t, {"fit": t.with_data(t.data * 0.5)}, ExplorerContext(key_frequencies=(1, 2)))
    m.set_roles(2, 1)
    m.set_fourier_dims({1, 2})
    m.set_component("coefficients")
    m.set_index(0, 2)
    m.set_heatmap("tensor − fit")
    m.set_y_range_mode("auto")
    saved = json.loads(json.dumps(m.as_dict()))
    assert saved["x"] == "a" and saved["y"] == "c" and saved["indices"]["head"] == 2 and saved["fourier"] == ["c", "a"]
    again = ExplorerModel.from_dict(saved)
    assert again.as_dict() == saved
    again.set_menu(Menu())
    assert again.request_key == ("mlp", "b", "[a, b]", 1200)
    again.set_tensor(t, {"fit": t.with_data(t.data * 0.5)})  # the saved layout: the view is kept
    assert again.as_dict() == saved
    assert (again.x_dim, again.y_dim, again.fourier_dims(), again.heatmap) == (2, 1, (1, 2), "tensor − fit")


def test_a_restored_view_waits_for_its_layout():
    m = ExplorerModel()
    m.set_tensor(tensor(names=("neuron", "c", "a")))
    saved = {"version": 1, "axes": ["head", "c", "a"], "x": "a", "y": "c", "indices": {"head": 1}}
    m.restore(saved)
    assert m.tensor is None  # the tensor on show has another layout
    m.set_tensor(tensor())
    assert (m.x_dim, m.y_dim, m.indices) == (2, 1, [1, 0, 0])


@pytest.mark.parametrize("bad, words", [
    ([], "JSON object"),
    ({"version": 9}, "version"),
    ({"version": 1, "axes": ["a", "a"], "x": "a"}, "distinct"),
    ({"version": 1, "axes": ["c", "a"], "x": "b"}, "'b'"),
    ({"version": 1, "axes": ["c", "a"], "x": "a", "y": "a"}, "different"),
    ({"version": 1, "axes": ["c", "a"], "x": "a", "indices": {"c": -1}}, "indices"),
    ({"version": 1, "axes": ["c", "a"], "x": "a", "component": "real"}, "component"),
    ({"version": 1, "axes": ["c", "a"], "x": "a", "focus": "a"}, "slider"),
])
def test_bad_views_are_refused_in_one_line_and_change_nothing(bad, words):
    m = ExplorerModel()
    m.set_tensor(tensor())
    m.set_roles(2, 1)
    before = m.as_dict()
    with pytest.raises(ValueError) as error:
        m.restore(bad)
    assert words in str(error.value) and "\n" not in str(error.value)
    assert m.as_dict() == before


def test_heatmap_choice_follows_the_overlays():
    m = ExplorerModel()
    t = tensor()
    m.set_tensor(t, {"fit": t})
    assert m.heatmap_choices == ("tensor", "fit", "tensor − fit")
    m.set_heatmap("fit")
    m.remove_overlay("fit")
    assert m.heatmap == "tensor"
    with pytest.raises(ValueError):
        m.set_heatmap("fit")
    with pytest.raises(ValueError):
        m.add_overlay("small", tensor(sizes=(1, 7, 7)))


def test_show_input_puts_a_and_b_on_sliders_now_or_when_the_ab_tensor_arrives():
    m = ExplorerModel()
    m.set_menu(Menu())
    m.select(hook="W_E")  # no orderings: show_input picks an activation hook
    m.show_input(4, 5)
    assert (m.hook, m.ordering) == ("resid", "[a, b]")
    m.set_tensor(tensor(("d_model", "a", "b"), (6, 7, 7)))
    assert m.axis_names[m.x_dim] == "d_model" and m.y_dim is None
    assert (m.index_of("a"), m.index_of("b")) == (4, 5) and m.focus_dim == 1
    roles = recorder(m.roles_changed)
    m.show_input(6, 0)  # already on [a, b]: applied at once, one event
    assert (m.index_of("a"), m.index_of("b")) == (6, 0) and len(roles) == 1
    m.set_tensor(tensor(("a", "b"), (7, 7)))  # no other axis: b on x, the probe at b
    m.show_input(2, 3)
    assert (m.axis_names[m.x_dim], m.index_of("a"), m.probe) == ("b", 2, 3)
    m.show_input(1, 1)
    m.select(ordering="[c, a]")  # moved on before the tensor came: the input is dropped
    m.set_tensor(tensor(("d_model", "c", "a"), (6, 7, 7)))
    m.set_tensor(tensor(("d_model", "a", "b"), (6, 7, 7), seed=1))
    assert m.x_dim == 2 and m.indices == [0, 0, 0]  # a fresh layout's defaults, not the dropped input
