"""Small really-trained pow and mul runs (p = 23) analysed in their own coordinates (design.md §6a)."""

import math

import pytest

from grokviz.analysis.session import RunSession


@pytest.mark.parametrize("fixture, best", [("pow_run", "power"), ("mul_run", "discrete_log")])
def test_trained_runs_in_their_coordinates(request, fixture, best):
    run = request.getfixturevalue(fixture)
    session = RunSession(run)
    basis = session.report("token_basis")
    assert basis["a"].best == best == basis["b"].best
    assert basis["a"].concentration[best] > basis["a"].concentration["additive"] + 0.2
    keys = session.report("key_frequencies")
    assert keys.frequencies, keys.notes
    n = run.task.coordinates().n
    assert all(1 <= k <= n // 2 for k in keys.frequencies)
    # the key-frequency circuit carries the model: keeping it is far better than removing it
    measures = session.report("measures")
    assert measures["restricted_loss"] < measures["excluded_loss"]
    symmetry = session.report("symmetry", hooks=("blocks.0.hook_resid_mid",))
    assert symmetry.defined
    assert symmetry.score[0] > 0.9  # after attention: x(a, b) ≈ x(b, a)
    assert math.isfinite(symmetry.explained[0])
