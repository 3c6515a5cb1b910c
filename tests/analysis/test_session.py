"""RunSession: shared, cached, thread-safe derived data (design.md §9)."""

import json
import threading

import pytest

from grokviz.analysis import reports
from grokviz.analysis.session import RunSession, _KeyedCache


def test_keyed_cache_builds_each_key_once_across_threads():
    cache = _KeyedCache(8)
    calls = []
    barrier = threading.Barrier(4)

    def build():
        calls.append(1)
        return object()

    results = []

    def worker():
        barrier.wait()
        results.append(cache.get("k", build))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(r is results[0] for r in results)


def test_models_shared_and_concurrent(small_run):
    session = RunSession(small_run)
    epochs = session.epochs[-3:]
    found = {}

    def worker(index):
        for epoch in epochs * 3:
            found.setdefault((index, epoch), session.model(epoch))
            assert session.model(epoch) is found[(index, epoch)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for epoch in epochs:
        assert found[(0, epoch)].state_dict().keys() == found[(1, epoch)].state_dict().keys()


def test_unknown_report_names_the_known_ones(small_run):
    with pytest.raises(KeyError, match="unknown report"):
        RunSession(small_run).report("no-such-report")


def test_to_json_has_no_bare_nan():
    import torch

    text = json.dumps(reports.to_json({"x": float("nan"), "t": torch.tensor([1.0, float("inf")])}), allow_nan=False)
    assert json.loads(text) == {"x": None, "t": [1.0, None]}


def test_key_frequencies_report_matches_the_library_and_is_cached(small_run):
    from grokviz.analysis.spectrum import key_frequency_report

    session = RunSession(small_run)
    first = session.report("key_frequencies")
    assert session.report("key_frequencies", session.epochs[-1]) is first
    assert first.frequencies == key_frequency_report(small_run.model()).frequencies
    assert "key_frequencies" in reports.names()
    json.dumps(session.report_json("key_frequencies"), allow_nan=False)


def test_concurrent_models_and_reports_from_two_threads(small_run):
    """Regression (issue 14): the Explorer's worker and a tab's worker ask for models and reports at
    once; each key is computed once and every caller gets that one object."""
    session = RunSession(small_run)
    epochs = session.epochs[-3:]  # within the model LRU (an evicted model is rebuilt: a new object)
    barrier = threading.Barrier(2)
    got, errors = [{}, {}], []

    def worker(index):
        try:
            barrier.wait()
            order = epochs if index == 0 else epochs[::-1]
            for epoch in order:
                got[index][("model", epoch)] = session.model(epoch)
                got[index][("key_frequencies", epoch)] = session.report("key_frequencies", epoch)
                got[index][("attention", epoch)] = session.report("attention", epoch)
            got[index]["summary"] = session.report("summary")
        except Exception as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert got[0].keys() == got[1].keys()
    for key in got[0]:
        assert got[0][key] is got[1][key], key


def test_large_reports_are_kept_only_a_few_at_a_time(small_run):
    from grokviz.analysis.session import LARGE_REPORT_CACHE_SIZE

    session = RunSession(small_run)
    first = session.report("neuron_activations", session.epochs[0])
    fraction = session.report("neuron_fraction", session.epochs[0])
    for epoch in session.epochs[1:LARGE_REPORT_CACHE_SIZE + 1]:
        session.report("neuron_activations", epoch)
    assert session.report("neuron_activations", session.epochs[0]) is not first  # evicted, rebuilt
    assert session.report("neuron_fraction", session.epochs[0]) is fraction  # small reports stay
