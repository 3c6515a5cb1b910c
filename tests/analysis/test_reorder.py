import pytest
import torch

from grokviz.analysis.cache import token_axis
from grokviz.analysis.labelled import Axis, LabelledTensor
from grokviz.analysis.reorder import LAYOUTS, layout_table, reorder
from grokviz.core.tasks import Task


def row_tensor(p, extra=2):
    """[a, b, k] tensor holding the row index a·p + b (and k) so re-indexing can be decoded."""
    rows = torch.arange(p * p, dtype=torch.float64).view(p, p, 1) + torch.zeros(1, 1, extra, dtype=torch.float64)
    return LabelledTensor(rows, (token_axis("a", p), token_axis("b", p), Axis("k", extra)))


@pytest.mark.parametrize("name", ["add", "sub"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_bijection(name, layout):
    p = 11
    task = Task(name, p)
    out = reorder(row_tensor(p), task, layout)
    assert out.names == ("k", layout[0], layout[1])
    assert out.valid is None and out.note == ""
    labels = task.labels()
    rows = out.data[0].long()
    assert sorted(rows.flatten().tolist()) == list(range(p * p))  # a permutation
    for x in range(p):
        for y in range(p):
            row = int(rows[x, y])
            values = {"a": row // p, "b": row % p, "c": int(labels[row])}
            assert (values[layout[0]], values[layout[1]]) == (x, y)


def test_real_hook_axes_and_position():
    p = 5
    data = torch.randn(p, p, 3, 2, 4)
    tensor = LabelledTensor(data, (token_axis("a", p), token_axis("b", p), Axis("pos", 3), Axis("head", 2),
                                   Axis("d_head", 4)))
    out = reorder(tensor, Task("add", p), "ca", position="=")
    assert out.names == ("head", "d_head", "c", "a")
    c, a = 3, 4
    b = (c - a) % p
    assert torch.equal(out.data[:, :, c, a], data[a, b, 2])
    assert out.axis("c").ticks[2] == "2"


def test_mul_ragged():
    p = 7
    task = Task("mul", p)
    out = reorder(row_tensor(p), task, "ca")
    assert out.ragged and "ragged" in out.note
    valid = out.valid
    assert not valid[:, 0].any()  # a = 0: c is 0 for every b
    assert valid[:, 1:].all()
    assert torch.isnan(out.data[0, :, 0]).all()
    assert out.meta["counts"][0, 0] == p


def test_pow_ragged_when_gcd_gt_1():
    p = 11
    task = Task("pow", p, 1, 2)  # b² : gcd(2, 10) = 2, so c − a leaves two b
    ca = reorder(row_tensor(p), task, "ca")
    assert ca.ragged and ca.note
    rows = ca.data[0]
    labels = task.labels()
    ok = ca.valid
    for c in range(p):
        for a in range(p):
            if ok[c, a]:
                row = int(rows[c, a])
                assert row // p == a and int(labels[row]) == c
    assert not reorder(row_tensor(p), task, "cb").ragged  # a = c − b² is unique
    assert not reorder(row_tensor(p), Task("pow", p, 1, 3), "ca").ragged  # gcd(3, 10) = 1


def test_div_excludes_b_zero():
    p = 7
    out = reorder(row_tensor(p), Task("div", p), "ca")
    assert out.ragged
    # a = 0 gives c = 0 for every b ≠ 0; c = 0 needs a = 0
    assert not out.valid[:, 0].any() and not out.valid[0].any() and out.valid[1:, 1:].all()
    _, valid, _ = layout_table(Task("div", p), "ab")
    assert not valid[:, 0].any()


def test_bad_layout():
    with pytest.raises(ValueError):
        reorder(row_tensor(5), Task("add", 5), "cc")


@pytest.mark.parametrize("task, layout", [(Task("pow", 11, 3, 3), "cu"), (Task("pow", 11, 3, 7), "uv"),
                                          (Task("pow", 11, 3, 3), "vc"), (Task("mul", 11), "wu"),
                                          (Task("div", 11), "wv"), (Task("sub", 11), "cv")])
def test_coordinate_layouts_are_bijections_onto_z_n(task, layout):
    """design.md §6a: [c, u], [u, v], [w, u] … index each cell by its coordinates."""
    p = task.p
    coords = task.coordinates()
    maps = {"u": coords.phi.values, "v": coords.psi.values, "w": coords.chi.values}
    out = reorder(row_tensor(p), task, layout)
    assert out.valid is None and out.note == ""  # one-to-one maps: no raggedness
    labels = task.labels()
    rows = out.data[0].long()
    for x in range(rows.shape[0]):
        for y in range(rows.shape[1]):
            row = int(rows[x, y])
            a, b = row // p, row % p
            values = {"a": a, "b": b, "c": int(labels[row]), "u": maps["u"][a], "v": maps["v"][b],
                      "w": maps["w"][int(labels[row])]}
            assert (values[layout[0]], values[layout[1]]) == (x, y)
    assert rows.shape == tuple(coords.n if name in "uvw" else p for name in layout)


def test_coordinate_ticks_ragged_and_mirrors():
    from grokviz.analysis.reorder import coordinate_layouts, has_mirrors

    pow_task, square, mul = Task("pow", 11, 3, 3), Task("pow", 11, 2, 2), Task("mul", 11)
    out = reorder(row_tensor(11), pow_task, "cu")
    assert out.axis("u").tick(8) == "8 (a=2)" and out.axis("c").tick(3) == "3"
    assert out.meta["mirrors"] and not reorder(row_tensor(11), pow_task, "ca").meta["mirrors"]
    ragged = reorder(row_tensor(11), square, "cu")  # u = a² is 2-to-one: (c, u) leaves b's sign open
    assert ragged.ragged and "ragged" in ragged.note and ragged.axis("u").tick(1) == "1 (a=1,10)"
    assert has_mirrors(Task("add", 11), "ca") and not has_mirrors(Task("sub", 11), "ca")
    assert has_mirrors(mul, "wu") and not has_mirrors(mul, "ca") and not has_mirrors(Task("pow", 11, 3, 7), "cu")
    assert coordinate_layouts(Task("add", 11)) == ()
    assert coordinate_layouts(pow_task) == ("cu", "cv", "uv") and coordinate_layouts(mul) == ("wu", "wv", "uv")
    with pytest.raises(ValueError):
        reorder(row_tensor(11), pow_task, "au")


def test_input_of_cell_inverts_the_layout():
    from grokviz.analysis.reorder import input_of_cell

    add, mul = Task("add", 7), Task("mul", 7)
    assert input_of_cell(add, "ab", 2, 5) == (2, 5)
    assert input_of_cell(add, "ca", 1, 3) == (3, 5)  # c = 1, a = 3 → b = 5 (3 + 5 = 8 ≡ 1)
    assert input_of_cell(add, "[c, a]", 1, 3) == (3, 5)
    assert input_of_cell(mul, "ca", 0, 0) is None  # 0·b = 0 for every b: no single input
    assert input_of_cell(add, "ab", 7, 0) is None
