"""``analyze --report progress`` straight from a run's stored records (no torch), equal to the report."""

import copy
import json
import subprocess
import sys

import pytest


def _with_stored_measures(run, path):
    """``run`` saved to ``path`` with the records a finished training run stores (every checkpoint
    measured at the final key frequencies, :meth:`grokviz.analysis.live.LiveProgress.finalize`)."""
    from grokviz.analysis.live import LiveProgress
    from grokviz.core.runfile import save_run

    run = copy.copy(run)
    run.progress = None
    LiveProgress(run.task, *run.indices()).finalize(run)
    save_run(run, path)
    return run


def _report_json(value):
    from grokviz.analysis.reports import to_json

    return json.dumps(to_json(value), sort_keys=True)


@pytest.fixture(scope="module")
def pow_unequal_run():
    """pow m = 3 ≠ n = 2 mod 23: b² is two-to-one, so the live key rule takes the full report's path."""
    from tests.conftest import _trained_at_23

    return _trained_at_23("pow", 3, 2)


@pytest.mark.parametrize("fixture", ["small_run", "pow_run", "pow_unequal_run", "mul_run"])
def test_stored_progress_equals_the_report(request, tmp_path, fixture):
    from grokviz.analysis.reports.progress import read_stored
    from grokviz.analysis.session import RunSession
    from grokviz.core.runfile import load_run

    path = tmp_path / "run.pt"
    _with_stored_measures(request.getfixturevalue(fixture), path)
    session = RunSession(load_run(path))
    for limit in (None, 3):
        stored = read_stored(path, limit)
        assert stored is not None
        # the final record's key frequencies (the live measures' rule) are the report's
        assert _report_json(stored) == _report_json(session.report("progress", max_checkpoints=limit))
    assert len(read_stored(path, 3).table.epochs) == 3


def test_records_at_other_frequencies_or_definitions_are_not_read(small_run, tmp_path):
    from grokviz.analysis import progress_table
    from grokviz.analysis.progress import progress_measures
    from grokviz.analysis.reports.progress import read_stored
    from grokviz.core.runfile import load_run, save_run

    run = _with_stored_measures(small_run, tmp_path / "run.pt")
    final_keys = run.progress[-1]["key_freqs"]
    stale = copy.copy(run)  # written under a later (or earlier) definition of the measures
    stale.progress = [{**r, "definition": progress_table.DEFINITION + 1} for r in run.progress]
    save_run(stale, tmp_path / "stale.pt")
    assert read_stored(tmp_path / "stale.pt") is None
    loaded = load_run(tmp_path / "stale.pt")
    table = progress_measures(loaded, key_freqs=final_keys)  # measured again, and kept at this definition
    assert table.complete and all(r["definition"] == progress_table.DEFINITION for r in loaded.progress)
    mixed = copy.copy(run)  # a cancelled run: earlier checkpoints at the key frequencies of their time
    mixed.progress = [{**r, "key_freqs": [*final_keys, 99]} if i == 1 else r for i, r in enumerate(run.progress)]
    save_run(mixed, tmp_path / "mixed.pt")
    assert read_stored(tmp_path / "mixed.pt") is None
    assert read_stored(tmp_path / "mixed.pt", 2) is not None  # only the first and the last are wanted
    no_final = copy.copy(run)
    no_final.progress = run.progress[:-1]
    save_run(no_final, tmp_path / "no_final.pt")
    assert read_stored(tmp_path / "no_final.pt") is None
    broken = copy.copy(run)
    broken.progress = [{k: v for k, v in r.items() if k != "cos_coeffs"} for r in run.progress]
    save_run(broken, tmp_path / "broken.pt")
    assert read_stored(tmp_path / "broken.pt") is None


def test_analyze_progress_reads_the_file_without_torch(small_run, tmp_path):
    path = tmp_path / "run.pt"
    _with_stored_measures(small_run, path)
    script = ("import sys; from grokviz.cli import main; code = main(['analyze', sys.argv[1], '--report', 'progress', "
              "'--json']); sys.stderr.write('torch imported' if 'torch' in sys.modules else 'no torch'); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.endswith("no torch")
    from grokviz.analysis.session import open_session

    assert json.loads(done.stdout) == json.loads(_report_json(open_session(path).report("progress")))
    bare = tmp_path / "bare.pt"  # no stored records: the report is computed (with torch), same command
    from grokviz.core.runfile import save_run

    bare_run = copy.copy(small_run)
    bare_run.progress = None  # the shared fixture: other tests' progress reports leave their records on it
    save_run(bare_run, bare)
    done = subprocess.run([sys.executable, "-c", script, str(bare)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr.endswith("torch imported"), done.stderr
    assert json.loads(done.stdout)["table"]["epochs"] == small_run.epochs
