"""Accuracies at the checkpoints of a losses-only history, stored by ``grokviz convert`` (and by a save
after the report ran) and read back by the ``checkpoint_accuracy`` report instead of recomputed."""

import pytest
import torch

from grokviz.cli import main


def _nanda_file(tmp_path):
    from tests.analysis.test_phases import write_nanda_like

    path = tmp_path / "full_run_data.pth"
    write_nanda_like(path, n_state_dicts=5)  # p = 7: checkpoints 0 … 4000 and the final weights
    return path, None


def _demo_file(tmp_path):
    from tests.core.test_importers import (DEMO_P, demo_config, demo_payload, small_model, state_of,
                                           write_demo_files)

    models = [small_model(DEMO_P, seed) for seed in (1, 2, 3)]
    rows = torch.randperm(DEMO_P * DEMO_P, generator=torch.Generator().manual_seed(598))
    payload = demo_payload(state_of(models[2]), [state_of(m) for m in models[:2]], [99, 199], 250, rows[:14], rows[14:])
    torch.save(payload, tmp_path / "plain.pt")
    path = tmp_path / "demo.pth"
    write_demo_files([{"input": str(tmp_path / "plain.pt"), "output": str(path), "config": demo_config(DEMO_P)}],
                     tmp_path)
    return path, "add"


FILES = {"nanda": _nanda_file, "demo": _demo_file}


def _report(run):
    from grokviz.analysis.session import RunSession

    return RunSession(run).report("checkpoint_accuracy")


def _values(report):
    return report.epochs, report.train_acc, report.test_acc


def no_computing(monkeypatch):
    """The accuracies' computation fails the test if it is called."""
    from grokviz.core.importers import evaluate

    def refuse(*args, **kwargs):
        raise AssertionError("checkpoint accuracies recomputed")

    monkeypatch.setattr(evaluate, "checkpoint_accuracies", refuse)


def _counting(monkeypatch) -> list:
    """The epochs the report asks to compute (the real computation still runs)."""
    from grokviz.core.importers import evaluate

    asked, real = [], evaluate.checkpoint_accuracies

    def counted(run, epochs=None, **kwargs):
        asked.extend(epochs)
        return real(run, epochs, **kwargs)

    monkeypatch.setattr(evaluate, "checkpoint_accuracies", counted)
    return asked


def _converted(tmp_path, kind):
    from grokviz.core.runfile import load_run

    source, task = FILES[kind](tmp_path)
    out = tmp_path / f"{kind}_grokviz.pt"
    assert main(["convert", str(source), str(out)] + (["--task", task] if task else [])) == 0
    return load_run(source, task=task), out


@pytest.mark.parametrize("kind", sorted(FILES))
def test_convert_stores_the_accuracies_and_a_reopen_reads_them(tmp_path, monkeypatch, kind):
    from grokviz.core.runfile import load_run

    original, out = _converted(tmp_path, kind)
    expected = _report(original)  # computed from the foreign file's weights
    assert len(expected.epochs) == len(original.epochs) >= 3 and not expected.recorded
    no_computing(monkeypatch)
    reopened = load_run(out)
    assert reopened.checkpoint_accuracy["epochs"] == reopened.epochs
    report = _report(reopened)
    assert _values(report) == _values(expected) and not report.recorded
    assert not any("checkpoint accuracies" in note for note in reopened.notes)


def test_a_save_after_the_report_ran_stores_it(tmp_path, monkeypatch):
    """What the app's Save as… writes for a Nanda file whose Training tab showed its points."""
    from grokviz.core.runfile import load_run, save_run

    source, _ = _nanda_file(tmp_path)
    run = load_run(source)
    expected = _report(run)
    save_run(run, tmp_path / "saved.pt")
    no_computing(monkeypatch)
    assert _values(_report(load_run(tmp_path / "saved.pt"))) == _values(expected)


def _rewritten(path, out, entry):
    """``path``'s run dict with ``entry`` as its checkpoint_accuracy, re-checksummed (a foreign writer)."""
    from grokviz.core.importers.checksum import KEY, checksum_entry

    data = torch.load(path, weights_only=True)
    data["checkpoint_accuracy"] = entry
    del data[KEY]
    data[KEY] = checksum_entry(data)
    torch.save(data, out)
    return out


def _malformed(entry):
    n = len(entry["epochs"])
    return {
        "not a dict": "accuracies",
        "short column": {**entry, "train_acc": entry["train_acc"][:-1]},
        "accuracy above 1": {**entry, "test_acc": [1.5] * n},
        "epochs not increasing": {**entry, "epochs": entry["epochs"][::-1]},
        "tensor definition": {**entry, "definition": torch.tensor([1, 1])},
        "tensor column": {**entry, "train_acc": torch.zeros(n)},
        "other definition": {**entry, "definition": 2},
        "notes not strings": {**entry, "notes": [3]},
    }


def test_a_file_without_the_entry_computes_them_without_a_note(tmp_path, monkeypatch):
    """Files from before the entry existed: nothing to read, nothing to say, the report computes."""
    from grokviz.core.runfile import load_run

    original, out = _converted(tmp_path, "nanda")
    data = torch.load(out, weights_only=True)
    del data["checkpoint_accuracy"], data["checksum"]["keys"][data["checksum"]["keys"].index("checkpoint_accuracy")]
    torch.save(data, tmp_path / "old.pt")
    run = load_run(tmp_path / "old.pt")
    assert run.checkpoint_accuracy is None and not any("accuracies" in n for n in run.notes)
    expected = _values(_report(original))
    asked = _counting(monkeypatch)
    assert _values(_report(run)) == expected and asked == run.epochs


def test_a_malformed_entry_is_ignored_with_a_note(tmp_path, monkeypatch):
    from grokviz.core.runfile import load_run

    original, out = _converted(tmp_path, "nanda")
    expected = _values(_report(original))
    entry = load_run(out).checkpoint_accuracy
    asked = _counting(monkeypatch)
    for name, bad in _malformed(entry).items():
        run = load_run(_rewritten(out, tmp_path / "bad.pt", bad))
        assert run.checkpoint_accuracy is None, name
        assert any(n.startswith("stored checkpoint accuracies ignored") for n in run.notes), name
        del asked[:]
        assert _values(_report(run)) == expected and asked == run.epochs, name


def test_values_that_do_not_describe_the_checkpoints_are_recomputed(tmp_path, monkeypatch):
    """Only the checkpoint whose weights changed, or epochs the file does not have, are computed again."""
    from grokviz.core.runfile import load_run, save_run

    _, out = _converted(tmp_path, "nanda")
    run = load_run(out)
    run.checkpoints[1] = {k: -v if k == "unembed.W_U" else v for k, v in run.checkpoints[1].items()}
    save_run(run, tmp_path / "edited.pt")  # through the Python API: the stored entry goes along unchanged
    edited = load_run(tmp_path / "edited.pt")
    asked = _counting(monkeypatch)
    report = _report(edited)
    assert asked == [run.epochs[1]]
    by_epoch = dict(zip(report.epochs, report.test_acc))
    stored = dict(zip(run.checkpoint_accuracy["epochs"], run.checkpoint_accuracy["test_acc"]))
    assert {e: by_epoch[e] for e in run.epochs if e != run.epochs[1]} == {e: stored[e] for e in run.epochs
                                                                          if e != run.epochs[1]}

    shifted = {**run.checkpoint_accuracy, "epochs": [e + 1 for e in run.checkpoint_accuracy["epochs"]]}
    reopened = load_run(_rewritten(out, tmp_path / "shifted.pt", shifted))
    assert reopened.checkpoint_accuracy is not None  # well formed, it just describes other epochs
    del asked[:]
    _report(reopened)
    assert asked == reopened.epochs
