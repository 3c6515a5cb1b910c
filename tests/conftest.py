import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch

# Test models are tiny: one intra-op thread avoids OpenMP spin contention with other processes.
torch.set_num_threads(1)

from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec
from grokviz.core.model import GrokTransformer
from grokviz.core.tasks import Task

SMALL_DIMS = dict(d_model=32, n_heads=2, d_head=16, d_mlp=64)


@pytest.fixture(scope="session")
def small_run():
    """A really trained small model: add mod 23, 800 epochs (reaches 100 % train accuracy)."""
    from grokviz.core.training import train

    task = Task("add", 23)
    return train(task, SplitSpec(frac_train=0.5), ModelConfig(p=23, **SMALL_DIMS),
                 TrainConfig(epochs=800, checkpoint_every=200, device="cpu"))


@pytest.fixture(scope="session")
def small_run_file(small_run, tmp_path_factory):
    from grokviz.core.runfile import save_run

    path = tmp_path_factory.mktemp("runs") / "small.pt"
    save_run(small_run, path)
    return path


def randomised(cfg, seed=0, scale=0.2):
    """Random weights and non-zero biases (the demo's TransformerLens files have biases)."""
    model = GrokTransformer(cfg)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            std = scale if "W_" in name else scale / 4
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
    return model


def _trained_at_23(task_name, m=1, n=1):
    """A small model really trained on ``task`` mod 23 (Grokfast, frac_train 0.8: groks in ~1.9k epochs)."""
    from grokviz.core.config import GrokfastConfig
    from grokviz.core.training import train

    return train(Task(task_name, 23, m, n), SplitSpec(frac_train=0.8), ModelConfig(p=23, **SMALL_DIMS),
                 TrainConfig(epochs=2000, checkpoint_every=1000, lr=3e-3, grokfast=GrokfastConfig(enabled=True),
                             device="cpu"))


@pytest.fixture(scope="session")
def pow_run():
    """pow m = n = 3 mod 23, trained 2000 epochs (task coordinates: u = a³, design.md §6a)."""
    return _trained_at_23("pow", 3, 3)


@pytest.fixture(scope="session")
def mul_run():
    """mul mod 23, trained 2000 epochs (task coordinates: discrete logs, n = 22)."""
    return _trained_at_23("mul")
