"""The batched ensemble (the GPU path) on CPU: per-model losses and gradients = each model alone, and
its training through the recipe's schedule = the per-cell trainer's (its logits: test_lastpos_family)."""

import torch

from grokviz.core.config import ModelConfig
from grokviz.core.lastpos import InputLayout, last_position_logits
from grokviz.core.model import GrokTransformer
from grokviz.core.engines import EnsembleEngine, cross_entropy_float64
from grokviz.core.lastpos.batched import stack_models

DIMS = dict(d_model=16, n_heads=2, d_head=8, d_mlp=32)


def _models(p=7, count=3):
    models = []
    for seed in range(count):
        model = GrokTransformer(ModelConfig(p=p, seed=seed, **DIMS))
        with torch.no_grad():  # non-zero biases so every term is exercised
            for name, parameter in model.named_parameters():
                if name.split(".")[-1].startswith("b_"):
                    parameter.normal_(0, 0.1, generator=torch.Generator().manual_seed(seed))
        models.append(model)
    return models


def test_per_model_inputs_and_gradients():
    p = 7
    models = _models(p, 2)
    rows = torch.stack([torch.randperm(p * p, generator=torch.Generator().manual_seed(s))[:20] for s in (3, 4)])
    labels = torch.randint(0, p, (2, 20), generator=torch.Generator().manual_seed(5))
    params, buffers = stack_models(models)
    engine = EnsembleEngine(params, buffers, rows, rows, labels, labels, p)
    result = engine.step(evaluating=True)
    assert result.test_acc.shape == result.train_acc.shape == result.loss.shape == (2,)
    for i, model in enumerate(models):
        single = cross_entropy_float64(last_position_logits(model, InputLayout.from_rows(rows[i], p)), labels[i])
        torch.testing.assert_close(result.loss[i], single.detach(), rtol=1e-6, atol=1e-9)
        single.backward()
        for name, parameter in model.named_parameters():
            torch.testing.assert_close(params[name].grad[i], parameter.grad, rtol=1e-4, atol=1e-6)


def test_ensemble_training_matches_per_cell_trainer(tmp_path):
    """The GPU ensemble trainer, run on CPU, gives each cell (nearly) the per-cell Trainer's run."""
    from grokviz.core.runfile import load_run
    from grokviz.sweep.cell import run_cell
    from grokviz.sweep.ensemble import train_ensemble
    from grokviz.sweep.spec import SweepSpec

    spec = SweepSpec.from_mapping({"task": "pow", "m": "1..2", "p": 11, "seeds": [1, 2], "epochs": 40,
                                   "frac_train": 0.5, "grokfast": True, "checkpoint_every": 20, "eval_every": 10,
                                   "d_model": 16, "n_heads": 2, "d_head": 8, "d_mlp": 32})
    cells = spec.cells()[:3]
    (tmp_path / "e").mkdir(), (tmp_path / "s").mkdir()
    records = train_ensemble(cells, tmp_path / "e", torch.device("cpu"))
    assert [r["status"] for r in records] == ["finished"] * 3
    for cell in cells:
        run_cell(cell, str(tmp_path / "s"))
        ensemble, single = load_run(tmp_path / "e" / f"{cell.name}.pt"), load_run(tmp_path / "s" / f"{cell.name}.pt")
        assert ensemble.checkpoint_epochs == single.checkpoint_epochs == [0, 20, 40]
        for key, value in single.checkpoints[0].items():  # same initialisation (seed), exactly
            torch.testing.assert_close(ensemble.checkpoints[0][key], value, rtol=0, atol=1e-7)
        # Same recipe, different float32 op order: AdamW turns round-off in near-zero gradients
        # into ±lr steps, so after 40 epochs weights agree to a few lr (init std is 0.2)
        for key, value in single.final_state_dict.items():
            torch.testing.assert_close(ensemble.final_state_dict[key], value, rtol=0, atol=1e-2)
        torch.testing.assert_close(torch.as_tensor(ensemble.history.test_loss),
                                   torch.as_tensor(single.history.test_loss), rtol=2e-2, atol=1e-3)
        assert ensemble.resume_state["optimizer"]["state"].keys() == single.resume_state["optimizer"]["state"].keys()


def test_ensemble_stops_when_asked_and_keeps_valid_runs(tmp_path):
    from grokviz.core.runfile import load_run
    from grokviz.sweep.ensemble import train_ensemble
    from grokviz.sweep.spec import SweepSpec

    spec = SweepSpec.from_mapping({"task": "add", "p": 7, "seeds": [1, 2], "epochs": 500, "frac_train": 0.5,
                                   "eval_every": 10, "d_model": 16, "n_heads": 2, "d_head": 8, "d_mlp": 32})
    cells = spec.cells()
    seen = []
    records = train_ensemble(cells, tmp_path, torch.device("cpu"), stop=lambda: len(seen) >= 2,
                             on_progress=lambda *progress: seen.append(progress))
    assert [(r["status"], r["epochs_done"]) for r in records] == [("pending", 11)] * 2  # the sweep resumes them
    assert [epoch for epoch, _, _ in seen] == [0, 10]
    for cell in cells:
        run = load_run(tmp_path / f"{cell.name}.pt")
        assert run.status == "cancelled" and run.epochs_trained == 11 and run.history.epoch[-1] == 11
        assert run.resume_state["optimizer"]["state"]
