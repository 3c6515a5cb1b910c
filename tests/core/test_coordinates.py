"""Task coordinates (design.md §6a): χ(f(a, b)) = φ(a) + ψ(b) mod n, exhaustively on small p."""

import math

import pytest

from grokviz.core.coordinates import (OUTSIDE, primitive_root, swap_symmetric, task_coordinates,
                                      token_orderings)
from grokviz.core.tasks import Task

TASKS = [Task("add", 13), Task("sub", 13), Task("mul", 13), Task("div", 13), Task("pow", 13, 3, 3),
         Task("pow", 13, 2, 5), Task("pow", 13, 4, 4), Task("pow", 11, 1, 3), Task("add", 12), Task("sub", 10)]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: f"{t.spec}-{t.p}")
def test_the_label_is_the_sum_in_coordinates(task):
    coords = task_coordinates(task)
    phi, psi, chi, n = coords.phi.values, coords.psi.values, coords.chi.values, coords.n
    checked = 0
    for a in range(task.p):
        for b in range(task.p):
            c = task.label(a, b)
            if c < 0 or OUTSIDE in (phi[a], psi[b]):
                continue
            assert chi[c] != OUTSIDE
            assert chi[c] == (phi[a] + psi[b]) % n, (a, b, c)
            checked += 1
    # only mul/div lose inputs: those with a zero operand (c = 0 is outside the group)
    expected = (task.p - 1) ** 2 if task.name in ("mul", "div") else task.p ** 2
    assert checked == expected


def test_discrete_log_is_a_bijection_onto_z_p_minus_1():
    for p in (5, 7, 13, 23, 113):
        g = primitive_root(p)
        assert len({pow(g, k, p) for k in range(p - 1)}) == p - 1
        coords = task_coordinates(Task("mul", p))
        assert coords.n == p - 1 and coords.phi.values[0] == OUTSIDE and coords.phi.is_bijection
        assert all(pow(g, coords.phi.values[t], p) == t for t in range(1, p))


def test_power_map_groups_tokens_by_gcd():
    p = 13
    for m in (1, 2, 3, 4, 5, 6):
        phi = task_coordinates(Task("pow", p, m, 1)).phi
        g = math.gcd(m, p - 1)
        sizes = sorted({len(tokens) for value, tokens in enumerate(phi.preimages()) if tokens and value != 0})
        assert sizes == [g]
        assert phi.values[0] == 0  # 0^m = 0: in the additive group Z_p
        assert phi.is_bijection == (g == 1)


def test_identity_for_add_and_swap_rules():
    assert task_coordinates(Task("add", 7)).is_identity
    assert not task_coordinates(Task("sub", 7)).is_identity
    assert swap_symmetric(Task("add", 7))[0] and swap_symmetric(Task("mul", 7))[0]
    assert swap_symmetric(Task("pow", 7, 3, 3))[0]
    for task in (Task("sub", 7), Task("div", 7), Task("pow", 7, 2, 3)):
        defined, reason = swap_symmetric(task)
        assert not defined and "undefined" in reason
    # swap-symmetric tasks really are: f(a, b) = f(b, a) everywhere; the others are not
    for task in TASKS:
        table = task.labels().view(task.p, task.p)
        assert bool((table == table.T).all()) == swap_symmetric(task)[0]


def test_orderings_and_ticks():
    orderings = token_orderings(Task("pow", 13, 3, 2), "b")
    assert set(orderings) == {"additive", "power", "discrete_log"}
    assert orderings["power"].values == tuple(pow(t, 2, 13) for t in range(13))
    assert set(token_orderings(Task("add", 12), "a")) == {"additive"}
    phi = task_coordinates(Task("pow", 13, 2, 2)).phi
    assert phi.tick(1) == "1 (a=1,12)" and phi.tick(2) == "2 (—)"
    assert Task("mul", 13).coordinates().n == 12


@pytest.mark.parametrize("task, argument", [
    (Task("add", 13), "a+b−c"), (Task("sub", 13), "a−b−c"), (Task("pow", 13, 3, 2), "a^3+b^2−c"),
    (Task("mul", 13), "log_2 a+log_2 b−log_2 c"), (Task("div", 13), "log_2 a−log_2 b−log_2 c")])
def test_cos_argument_is_written_in_the_task_coordinates(task, argument):
    assert task_coordinates(task).cos_argument() == argument
