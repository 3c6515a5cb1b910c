"""Small really-trained pow and mul runs (p = 23) analysed in their own coordinates (design.md §6a)."""

import math

import pytest

from grokviz.analysis.reports import to_json
from grokviz.analysis.session import RunSession


@pytest.mark.parametrize("fixture, best", [("pow_run", "power"), ("mul_run", "discrete_log")])
def test_trained_runs_in_their_coordinates(request, fixture, best):
    run = request.getfixturevalue(fixture)
    report = to_json(RunSession(run).report("analyze"))
    assert report["token_basis"]["a"]["best"] == best == report["token_basis"]["b"]["best"]
    concentration = report["token_basis"]["a"]["concentration"]
    assert concentration[best] > concentration["additive"] + 0.2
    assert report["key_freqs"], report["notes"]
    n = run.task.coordinates().n
    assert all(1 <= k <= n // 2 for k in report["key_freqs"])
    # the key-frequency circuit carries the model: keeping it is far better than removing it
    assert report["restricted_loss"] < report["excluded_loss"]
    assert report["symmetry_definition"]["defined"]
    assert report["symmetry"]["blocks.0.hook_resid_mid"] > 0.9  # after attention: x(a, b) ≈ x(b, a)
    assert math.isfinite(report["c2_model_r2"]["blocks.0.hook_resid_mid"])
