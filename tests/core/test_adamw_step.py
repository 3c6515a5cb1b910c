"""DirectAdamW against torch.optim.AdamW(fused=True) itself."""

import torch

from grokviz.core.adamw_step import DirectAdamW


def _params(seed):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator).requires_grad_() for shape in ((7, 5), (5,), (3, 4, 2))]


def _run(direct: bool, steps: int = 6, lrs=None):
    params = _params(0)
    optimizer = torch.optim.AdamW(params, lr=1e-2, weight_decay=1.0, betas=(0.9, 0.98), fused=True)
    stepper = DirectAdamW(optimizer)
    generator = torch.Generator().manual_seed(1)
    for i in range(steps):
        if lrs:
            optimizer.param_groups[0]["lr"] = lrs[i]
        for parameter in params:
            parameter.grad = torch.randn(parameter.shape, generator=generator)
        stepper.step() if direct else optimizer.step()
    return params, optimizer


def test_direct_steps_equal_the_optimizers_bit_for_bit():
    lrs = [1e-3 * (i + 1) for i in range(6)]  # a warm-up changes lr between steps
    ours, ours_optimizer = _run(True, lrs=lrs)
    theirs, their_optimizer = _run(False, lrs=lrs)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    ours_state, their_state = ours_optimizer.state_dict()["state"], their_optimizer.state_dict()["state"]
    for key in their_state:
        for name in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(ours_state[key][name], their_state[key][name])
    assert float(ours_state[0]["step"]) == 6


def test_unusual_optimizers_take_their_own_path():
    params = _params(0)
    optimizer = torch.optim.AdamW(params, lr=1e-2, amsgrad=True)
    stepper = DirectAdamW(optimizer)
    for _ in range(2):
        for parameter in params:
            parameter.grad = torch.ones_like(parameter)
        stepper.step()
    assert stepper._lists is None
    assert float(optimizer.state_dict()["state"][0]["step"]) == 2


def test_the_cpu_trainer_steps_directly_after_its_first_step(monkeypatch):
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task
    from grokviz.core.training import Trainer

    calls = []
    original = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    run = Trainer(Task("add", 7), SplitSpec(), ModelConfig(p=7), TrainConfig(epochs=12, device="cpu")).run()
    assert run.epochs_trained == 12 and len(calls) == 1
