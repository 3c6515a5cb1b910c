"""Sweeps with ``loss`` / ``optimizer``: the spec checks them, and the ensemble trains them as the per-cell trainer."""

import pytest
import torch

from grokviz.core.errors import ParameterError
from grokviz.sweep.spec import SweepSpec

TINY = {"d_model": 16, "n_heads": 2, "d_head": 8, "d_mlp": 32}


def test_spec_takes_and_checks_the_options():
    spec = SweepSpec.from_mapping({"task": "add", "p": 11, "loss": "stablemax", "optimizer": "orthoadamw", **TINY})
    from grokviz.sweep.cell import build_configs

    config = build_configs(spec.cells()[0])[3]
    assert (config.loss, config.optimizer) == ("stablemax", "orthoadamw")
    with pytest.raises(ParameterError, match="loss"):
        SweepSpec.from_mapping({"task": "add", "p": 11, "loss": "hinge", **TINY})
    with pytest.raises(ParameterError, match="optimizer"):
        SweepSpec.from_mapping({"task": "add", "p": 11, "optimizer": "sgd", **TINY})


def test_ensemble_with_stablemax_and_orthograd_matches_the_per_cell_trainer(tmp_path):
    """⊥Grad projects each stacked model on its own weights, so each cell gets its own run's recipe."""
    from grokviz.core.runfile import load_run
    from grokviz.sweep.cell import run_cell
    from grokviz.sweep.ensemble import train_ensemble

    spec = SweepSpec.from_mapping({"task": "add", "p": 11, "seeds": [1, 2], "epochs": 30, "frac_train": 0.5,
                                   "checkpoint_every": 30, "eval_every": 10, "loss": "stablemax",
                                   "optimizer": "orthoadamw", **TINY})
    cells = spec.cells()
    (tmp_path / "e").mkdir(), (tmp_path / "s").mkdir()
    assert [r["status"] for r in train_ensemble(cells, tmp_path / "e", torch.device("cpu"))] == ["finished"] * 2
    for cell in cells:
        run_cell(cell, str(tmp_path / "s"))
        ensemble, single = load_run(tmp_path / "e" / f"{cell.name}.pt"), load_run(tmp_path / "s" / f"{cell.name}.pt")
        assert (ensemble.train_config.loss, ensemble.train_config.optimizer) == ("stablemax", "orthoadamw")
        # as test_ensemble's: float32 op order differs, AdamW turns that into a few lr of weight difference
        for key, value in single.final_state_dict.items():
            torch.testing.assert_close(ensemble.final_state_dict[key], value, rtol=0, atol=1e-2)
        torch.testing.assert_close(torch.as_tensor(ensemble.history.train_loss),
                                   torch.as_tensor(single.history.train_loss), rtol=2e-2, atol=1e-3)
