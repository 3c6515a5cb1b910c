import pytest

from tests.conftest import SMALL_DIMS


def _trained(task_name, m=1, n=1):
    """A small model really trained on ``task`` mod 23 (Grokfast, frac_train 0.8: ~1.9k epochs to grok)."""
    from grokviz.core.config import GrokfastConfig, ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task
    from grokviz.core.training import train

    return train(Task(task_name, 23, m, n), SplitSpec(frac_train=0.8), ModelConfig(p=23, **SMALL_DIMS),
                 TrainConfig(epochs=2000, checkpoint_every=1000, lr=3e-3, grokfast=GrokfastConfig(enabled=True),
                             device="cpu"))


@pytest.fixture(scope="session")
def pow_run():
    return _trained("pow", 3, 3)


@pytest.fixture(scope="session")
def mul_run():
    return _trained("mul")
