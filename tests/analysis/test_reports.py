"""The report registry on a really trained run: every report runs, has a JSON form, and the
composed reports agree with the ones they are made of."""

import json
import math

import pytest

from grokviz.analysis import reports
from grokviz.analysis.reports import ReportCancelled
from grokviz.analysis.session import RunSession, open_session, session_of
from grokviz.cli import main


@pytest.fixture(scope="module")
def session(small_run):
    return RunSession(small_run)


@pytest.mark.parametrize("name", reports.names())
def test_every_report_runs_and_is_json(session, name):
    spec = reports.get(name)
    value = session.report(name)
    text = json.dumps(reports.to_json(value), allow_nan=False)
    assert len(text) > 2
    assert session.report(name) is value  # cached: computed once
    if spec.per_checkpoint:  # another checkpoint is another value
        assert session.report(name, session.epochs[0]) is not value


def test_registry_lists_the_reports_each_view_needs():
    assert {"summary", "spectrum", "symmetry", "attention", "progress", "phases", "neurons", "key_frequencies",
            "measures", "analyze"} <= set(reports.names())
    assert not reports.get("progress").per_checkpoint and not reports.get("phases").per_checkpoint
    assert reports.get("symmetry").per_checkpoint


def test_composed_reports_agree_with_their_parts(session, small_run):
    final = session.epochs[-1]
    analyze = session.report("analyze", final)
    symmetry = session.report("symmetry", final)
    assert analyze["symmetry"] == symmetry.scores()
    assert analyze["key_freqs"] == session.report("key_frequencies", final).frequencies
    assert analyze["test_loss"] == session.report("measures", final)["test_loss"]
    summary = session.report("summary")
    assert summary["key_freqs"] == analyze["key_freqs"] and summary["grokked_epoch"] == small_run.grokked_epoch()
    # the run-wide table's final row is the one-checkpoint measures (same key frequencies, same code)
    progress = session.report("progress")
    assert math.isclose(progress.table.columns["restricted_loss"][-1], analyze["restricted_loss"], rel_tol=1e-9)
    neurons = session.report("neurons", final)
    assert sum(neurons.cluster_sizes.values()) == int((neurons.cluster > 0).sum()) == analyze["neurons_clustered"]
    # constant hooks: no score and no c/2 fit (one rule)
    for hook, constant, explained in zip(symmetry.hooks, symmetry.constant, symmetry.explained):
        assert not constant or math.isnan(explained), hook


def test_progress_options_and_cancel(small_run):
    session = RunSession(small_run)
    seen = []
    with pytest.raises(ReportCancelled):
        session.report("progress", max_checkpoints=3, on_progress=lambda f, t: seen.append(f), cancel=lambda: bool(seen))
    assert seen == [1 / 3]
    table = session.report("progress", max_checkpoints=3).table  # not cached when cancelled: computed now
    assert list(table.epochs) == [small_run.epochs[0], small_run.epochs[2], small_run.epochs[-1]]


def test_session_of_is_shared_and_open_session_reads_a_file(small_run, small_run_file):
    assert session_of(small_run) is session_of(small_run)
    import grokviz

    opened = grokviz.open_session(small_run_file)
    assert opened is session_of(opened.run) and opened is not session_of(small_run)
    assert opened.report("key_frequencies").frequencies == session_of(small_run).report("key_frequencies").frequencies
    assert open_session is not None


def test_analyze_one_report_and_list(small_run_file, capsys):
    assert main(["analyze", "--list"]) == 0
    listing = capsys.readouterr().out
    for name in reports.names():
        assert name in listing
    assert "run-wide" in listing and "per checkpoint" in listing
    assert main(["analyze", str(small_run_file), "--report", "attention", "--json"]) == 0
    attention = json.loads(capsys.readouterr().out)
    assert len(attention["mean"]) == 2 and len(attention["mean"][0]) == 3
    assert main(["analyze", str(small_run_file), "--report", "phases", "--max-checkpoints", "2"]) == 0
    assert "grokked_epoch" in capsys.readouterr().out
    assert main(["analyze", str(small_run_file), "--report", "no-such"]) == 2
    assert "unknown report" in capsys.readouterr().err
    assert main(["analyze"]) == 2


def test_info_uses_the_summary_report(small_run_file, capsys):
    assert main(["info", str(small_run_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    session = open_session(small_run_file)
    assert info == json.loads(json.dumps(reports.to_json(session.report("summary"))))
    assert info["key_freqs"] == session.report("key_frequencies").frequencies
