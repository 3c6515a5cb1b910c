import numpy as np

from grokviz.analysis.phases import cleanup_end, detect_phases
from grokviz.analysis.progress import ProgressTable
from grokviz.core.history import History


def make_table(epochs, test, restricted, norm):
    columns = {"test_loss": np.array(test), "restricted_loss": np.array(restricted), "weight_norm": np.array(norm)}
    return ProgressTable([1], np.array(epochs), columns, np.zeros((len(epochs), 1)), np.zeros((len(epochs), 1)))


def test_phases_from_history_and_progress():
    epochs = list(range(0, 20001, 1000))
    train_acc = [0.1, 0.5] + [1.0] * 19
    test_acc = [0.0] * 9 + [0.995] + [1.0] * 11
    history = History.from_columns(epoch=epochs, train_loss=[1] * 21, test_loss=[1] * 21, train_acc=train_acc,
                                   test_acc=test_acc)
    # test loss catches up with the restricted loss at 11k; the weight norm flattens at 13k
    test = [5.0] * 11 + [0.1] * 10
    restricted = [1.0] * 21
    norm = [100.0] * 9 + [90, 80, 70, 60, 50] + [49.0] * 7
    phases = detect_phases(history, make_table(epochs, test, restricted, norm))
    assert phases.memorised_epoch == 2000
    assert phases.grokked_epoch == 9000
    assert phases.cleanup_end_epoch == 13000
    assert phases.to_dict()["cleanup_end_epoch"] == 13000
    assert detect_phases(history).cleanup_end_epoch is None
    assert cleanup_end(make_table(epochs, [50.0] * 21, restricted, norm), 9000) is None


# -- losses-only histories (design.md §6b): a Nanda-format look-alike written to disk and read back

def nanda_like_losses(n_epochs=15000):
    """Train loss every epoch, test loss every 10: peak at 1.4k, below 0.01·ln 2 from 9.4k on."""
    epochs = np.arange(n_epochs)
    train = 2.0 * np.exp(-epochs / 200.0) + 1e-7
    test_epochs = np.arange(0, n_epochs, 10)
    rise = 4.7 + (30.0 - 4.7) * np.clip(test_epochs / 1400.0, 0, 1)
    # log-linear fall from 30 at 1.4k to 0.005 at 9.4k, then on to ~3e-7
    fall = np.exp(np.log(30.0) + (np.log(0.005) - np.log(30.0)) * (test_epochs - 1400) / 8000.0)
    test = np.where(test_epochs <= 1400, rise, np.maximum(fall, 3e-7))
    return train.tolist(), test.tolist()


def write_nanda_like(path, n_state_dicts=1, epochs=(0, 1000, 2000, 3000, 4000)):
    """The losses above, with state dicts at the last ``n_state_dicts`` of ``epochs`` and a final model."""
    import torch

    from tests.core.test_importers import nanda_dict, nanda_model

    models = [nanda_model(7, seed) for seed in range(10, 10 + len(epochs))]
    data = nanda_dict(models, final=models[-1])
    train, test = nanda_like_losses()
    data["train_losses"], data["test_losses"] = train, test
    data["config"]["num_epochs"] = len(train)
    data["config"]["save_every"] = 1000
    data["epochs"] = list(epochs)[-n_state_dicts:]
    data["state_dicts"] = data["state_dicts"][-n_state_dicts:]
    torch.save(data, path)


def test_losses_only_history_phases(tmp_path):
    import grokviz
    from grokviz.analysis.phases import LOSS_BOUND, NEEDS_CHECKPOINTS, is_loss_only

    path = tmp_path / "full_run_data.pth"
    write_nanda_like(path)
    run = grokviz.load_run(path)
    assert is_loss_only(run.history)
    phases = detect_phases(run.history, checkpoint_epochs=run.epochs)
    assert phases.basis == "loss bound"
    assert phases.memorised_epoch == 1400  # the test-loss peak
    test = np.asarray(run.history.test_loss)
    first_below = int(np.asarray(run.history.epoch)[np.nonzero(test < LOSS_BOUND)[0][0]])
    assert phases.grokked_epoch == first_below and 9000 < first_below <= 9400
    assert phases.cleanup_end_epoch is None and phases.summary()["cleanup_end"] == NEEDS_CHECKPOINTS
    last = max(run.epochs)
    assert last not in (phases.memorised_epoch, phases.grokked_epoch)  # nothing sits at the last checkpoint


def test_info_json_phases_on_a_losses_only_file(tmp_path, capsys):
    import json

    from grokviz.cli import main

    path = tmp_path / "full_run_data.pth"
    write_nanda_like(path)
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["phases"]["basis"] == "loss bound"
    assert info["phases"]["memorisation_end"] == 1400
    assert info["phases"]["cleanup_end"] == "unknown: needs checkpoints"
    assert info["grokked_epoch"] == info["phases"]["grokked_epoch"] < 14000


def test_accuracy_history_keeps_its_basis_and_no_cleanup_at_the_last_checkpoint():
    epochs = list(range(0, 5001, 1000))
    history = History.from_columns(epoch=epochs, train_loss=[1] * 6, test_loss=[1] * 6, train_acc=[1.0] * 6,
                                   test_acc=[0, 0, 0, 1.0, 1.0, 1.0])
    # the test loss has caught up and the norm is flat, but only the last checkpoint could confirm it
    table = make_table(epochs, [0.1] * 6, [1.0] * 6, [100, 90, 80, 70, 70, 70])
    phases = detect_phases(history, table)
    assert phases.basis == "accuracy" and phases.grokked_epoch == 3000
    assert phases.cleanup_end_epoch == 3000  # 4000 is a window later and flat
    late = make_table(epochs, [0.1] * 6, [1.0] * 6, [100, 90, 80, 70, 60, 50])
    assert detect_phases(history, late).cleanup_end_epoch is None  # never the last checkpoint for lack of data


def test_losses_only_cleanup_from_progress_when_checkpoints_exist(tmp_path):
    """Enough checkpoints after the loss bound: the clean-up end comes from the progress measures
    (here: random weights, so it has not ended), not "unknown", and never the last checkpoint."""
    import grokviz
    from grokviz.analysis.phases import NEEDS_CHECKPOINTS
    from grokviz.analysis.session import session_of

    path = tmp_path / "full_run_data.pth"
    epochs = (0, 1000, 10000, 11000, 12000, 13000)
    write_nanda_like(path, n_state_dicts=len(epochs), epochs=epochs)
    session = session_of(grokviz.load_run(path))
    phases = session.report("phases")
    assert phases.basis == "loss bound" and phases.memorised_epoch == 1400 and 9000 < phases.grokked_epoch <= 9400
    assert phases.cleanup_status != NEEDS_CHECKPOINTS and phases.cleanup_end_epoch != session.epochs[-1]
    assert phases.summary()["cleanup_end"] != NEEDS_CHECKPOINTS
    assert len(session.report("progress").table.epochs) == len(session.epochs)  # measured at every checkpoint
