"""When each input is learned, checked against per-checkpoint accuracy on a run saved every 10 epochs."""

import json

import pytest
import torch

from grokviz.analysis.learned_epochs import NEVER, learned_epochs_from
from grokviz.analysis.session import RunSession


@pytest.fixture(scope="module")
def run_every_10():
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task
    from grokviz.core.training import train
    from tests.conftest import SMALL_DIMS

    return train(Task("add", 13), SplitSpec(frac_train=0.6), ModelConfig(p=13, **SMALL_DIMS),
                 TrainConfig(epochs=200, checkpoint_every=10, device="cpu"))


def test_learned_epochs_from_a_known_table():
    correct = torch.tensor([[0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 1, 0]], dtype=torch.bool)  # [checkpoint, input]
    assert learned_epochs_from(correct, [0, 10, 20]).tolist() == [10, 20, 0, NEVER]


def test_learned_epochs_match_per_checkpoint_accuracy(run_every_10):
    run = run_every_10
    assert run.epochs[:3] == [0, 10, 20] and len(run.epochs) == 21
    result = RunSession(run).report("learned_epochs")
    p, labels = run.p, run.labels()
    learned = result.learned.data.reshape(-1)
    for index, epoch in enumerate(run.epochs):
        logits = run.model(epoch)(run.tokens())[:, -1]  # the hooked model, not the fast path
        right = logits.argmax(-1) == labels
        assert torch.equal(right, result.correct[index])
        # an input learned by now is right now; the count learned is at most the number right
        done = (learned >= 0) & (learned <= epoch)
        assert bool(right[done].all())
        assert int(done.sum()) <= int(right.sum())
    final_right = result.correct[-1]
    assert torch.equal(learned >= 0, final_right)  # learned for good ⇔ right at the end
    # the checkpoint just before an input's learned epoch had it wrong
    index = {e: i for i, e in enumerate(run.epochs)}
    assert int((learned > 0).sum()) > 20  # inputs learned at many different checkpoints
    for row in torch.nonzero(learned > 0).flatten().tolist():
        assert not bool(result.correct[index[int(learned[row])] - 1, row])
    histogram = result.histogram()
    assert sum(histogram["train"]) + histogram["never"]["train"] == int(result.train.sum())
    payload = json.loads(json.dumps(RunSession(run).report_json("learned_epochs")))
    assert payload["summary"]["train"]["inputs"] + payload["summary"]["test"]["inputs"] == p * p
