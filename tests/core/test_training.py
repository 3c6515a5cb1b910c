import numpy as np
import pytest
import torch

from grokviz.core.config import GrokfastConfig, ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec
from grokviz.core.tasks import Task
from grokviz.core.training import Trainer, TrainingControl, train
from tests.conftest import SMALL_DIMS

TINY = ModelConfig(p=11, **SMALL_DIMS)


def test_short_training_reaches_full_train_accuracy(small_run):
    last = small_run.history.last()
    assert last["train_acc"] == 1.0
    assert last["train_loss"] < 0.01
    assert small_run.epochs_trained == 800
    assert small_run.checkpoint_epochs == [0, 200, 400, 600, 800]
    # evaluation at least every 10 epochs, the curves stay detailed
    assert np.all(np.diff(small_run.history.epoch) <= 10)
    # the initial loss is that of a near-uniform prediction
    assert abs(small_run.history.train_loss[0] - np.log(23)) < 0.2


def test_deterministic_on_cpu():
    config = TrainConfig(epochs=60, checkpoint_every=20, device="cpu")
    first = train(Task("add", 11), SplitSpec(frac_train=0.5), TINY, config)
    second = train(Task("add", 11), SplitSpec(frac_train=0.5), TINY, config)
    for key, value in first.final_state_dict.items():
        assert torch.equal(value, second.final_state_dict[key]), key
    np.testing.assert_array_equal(first.history.test_loss, second.history.test_loss)


def test_grokfast_and_warmup_change_training_but_stay_finite():
    base = TrainConfig(epochs=40, device="cpu")
    plain = train(Task("sub", 11), SplitSpec(frac_train=0.5), TINY, base)
    fast = train(Task("sub", 11), SplitSpec(frac_train=0.5), TINY,
                 TrainConfig(epochs=40, device="cpu", grokfast=GrokfastConfig(True), warmup_steps=10))
    assert not torch.equal(plain.final_state_dict["embed.W_E"], fast.final_state_dict["embed.W_E"])
    assert np.isfinite(fast.history.train_loss).all()
    # warm-up: lr = 0 at the first step, exactly as Nanda's LambdaLR(min(step/10, 1))
    assert fast.history.train_loss[0] == plain.history.train_loss[0]


def test_biases_stay_frozen(small_run):
    for name, value in small_run.final_state_dict.items():
        if name.split(".")[-1].startswith("b_"):
            assert not value.any(), name


def test_cancel_stops_at_next_epoch_and_keeps_a_valid_run():
    control = TrainingControl()
    seen = []

    def on_progress(progress):
        seen.append(progress.epoch)
        if progress.epoch >= 30:
            control.cancel()

    run = Trainer(Task("add", 11), SplitSpec(frac_train=0.5), TINY, TrainConfig(epochs=1000, device="cpu"),
                  control=control, on_progress=on_progress).run()
    assert run.status == "cancelled"
    assert 30 < run.epochs_trained <= 32
    assert run.history.epoch[-1] == run.epochs_trained
    assert run.resume_state is not None


def test_progress_reports_eta_and_losses():
    reports = []
    train(Task("mul", 11), SplitSpec(frac_train=0.5), TINY, TrainConfig(epochs=30, device="cpu"),
          on_progress=reports.append)
    assert [r.epoch for r in reports] == [0, 10, 20, 30]
    assert reports[-1].eta == 0 and reports[1].eta > 0
    assert all(np.isfinite([r.train_loss, r.test_loss]).all() for r in reports)


def test_cuda_without_cuda_is_a_parameter_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from grokviz.core.errors import ParameterError

    with pytest.raises(ParameterError) as error:
        Trainer(Task("add", 11), SplitSpec(), TINY, TrainConfig(device="cuda"))
    assert error.value.parameter == "device"


def test_float64_loss_gradient_matches_autograd():
    from grokviz.core.engines import cross_entropy_float64

    generator = torch.Generator().manual_seed(0)
    logits = (torch.randn(64, 11, generator=generator) * 4).requires_grad_()
    labels = torch.randint(0, 11, (64,), generator=generator)
    ours = cross_entropy_float64(logits, labels)
    reference = torch.nn.functional.cross_entropy(logits.double(), labels)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=0)
    (grad_ours,) = torch.autograd.grad(ours * 3.0, logits)
    (grad_reference,) = torch.autograd.grad(reference * 3.0, logits)
    torch.testing.assert_close(grad_ours, grad_reference, rtol=1e-6, atol=1e-9)


def test_training_flushes_float32_denormals():
    """Memorised runs underflow into denormals (2× slower steps on x86); the trainer flushes them."""
    task = Task("add", 7)
    train(task, SplitSpec(frac_train=0.5), ModelConfig(p=7, **SMALL_DIMS), TrainConfig(epochs=2, eval_every=1))
    assert float(torch.tensor([1e-39]) * 1.0) == 0.0


def test_autograd_engine_trains_where_the_hand_written_engine_does():
    """The autograd step (the one CUDA runs), forced on the CPU: the same recipe (warm-up and
    Grokfast included) gives the hand-written engine's curves and weights to float32 round-off."""
    config = TrainConfig(epochs=200, checkpoint_every=100, device="cpu", grokfast=GrokfastConfig(True), warmup_steps=10)
    hand, auto = (Trainer(Task("add", 11), SplitSpec(frac_train=0.5), TINY, config, engine=engine).run()
                  for engine in ("hand-written", "autograd"))
    assert hand.history.last()["train_acc"] == 1.0  # far enough to have moved every weight
    assert auto.checkpoint_epochs == hand.checkpoint_epochs == [0, 100, 200]
    np.testing.assert_array_equal(auto.history.epoch, hand.history.epoch)
    np.testing.assert_allclose(auto.history.train_loss, hand.history.train_loss, rtol=1e-5)
    np.testing.assert_allclose(auto.history.test_loss, hand.history.test_loss, rtol=1e-5)
    np.testing.assert_array_equal(auto.history.train_acc, hand.history.train_acc)
    np.testing.assert_array_equal(auto.history.test_acc, hand.history.test_acc)
    for key, value in hand.final_state_dict.items():
        torch.testing.assert_close(auto.final_state_dict[key], value, rtol=0, atol=1e-4, msg=key)
    assert not torch.equal(auto.final_state_dict["embed.W_E"], hand.final_state_dict["embed.W_E"])  # two code paths


def test_autograd_engine_resumes_bit_for_bit():
    config = TrainConfig(epochs=60, checkpoint_every=20, device="cpu")
    whole = Trainer(Task("mul", 11), SplitSpec(frac_train=0.5), TINY, config, engine="autograd").run()
    control = TrainingControl()

    def stop_early(progress):
        if progress.epoch >= 30:
            control.cancel()

    part = Trainer(Task("mul", 11), SplitSpec(frac_train=0.5), TINY, config, control=control, on_progress=stop_early,
                   engine="autograd").run()
    assert part.status == "cancelled" and part.epochs_trained < 60
    resumed = Trainer(Task("mul", 11), SplitSpec(frac_train=0.5), TINY, config, resume_from=part, engine="autograd").run()
    for key, value in whole.final_state_dict.items():
        assert torch.equal(resumed.final_state_dict[key], value), key
    np.testing.assert_array_equal(resumed.history.test_loss, whole.history.test_loss)


def test_unknown_engine_is_a_parameter_error():
    from grokviz.core.errors import ParameterError

    with pytest.raises(ParameterError) as error:
        Trainer(Task("add", 11), SplitSpec(), TINY, TrainConfig(device="cpu"), engine="jax")
    assert error.value.parameter == "engine"
