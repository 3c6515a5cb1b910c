"""The epoch link of a comparison (issue 16, item 7): Qt-free, checked without qtbot."""

import pytest

from grokviz.gui.compare.link import EpochLink
from grokviz.core.epochs import nearest_stored

A = [0, 200, 400, 600, 800]  # checkpoints every 200 of an 800-epoch run
B = [0, 1000, 2000, 3000, 4000, 5000, 6000]  # every 1000 of a 6000-epoch run


def recorder(signal):
    calls = []
    signal.connect(lambda *args: calls.append(args))
    return calls


def link(mode="epoch", linked=True):
    out = EpochLink(mode, linked)
    out.set_epochs("a", A)
    out.set_epochs("b", B)
    return out


def test_nearest_stored_snaps_with_ties_to_the_earlier():
    assert nearest_stored(A, 390) == 400 and nearest_stored(A, 300) == 200
    assert nearest_stored(A, -50) == 0 and nearest_stored(A, 10_000) == 800 and nearest_stored([], 5) is None


def test_same_epoch_pairs_the_nearest_stored_checkpoint():
    one = link("epoch")
    assert [one.map("a", e) for e in A] == [0, 0, 0, 1000, 1000]  # 400 is nearer 0 than 1000
    assert one.map("b", 3000) == 800 and one.map("b", 0) == 0


def test_same_fraction_pairs_the_same_stage_of_training():
    one = link("fraction")
    # 200/800 = 25 % → 1500 of 6000 → tie between 1000 and 2000: the earlier
    assert [one.map("a", e) for e in A] == [0, 1000, 3000, 4000, 6000]
    assert one.map("b", 3000) == 400 and one.map("b", 6000) == 800
    assert one.fraction("a", 600) == pytest.approx(0.75)


def test_linked_moves_follow_both_ways_without_echo():
    one = link("fraction")
    moves = recorder(one.epoch_changed)
    one.set_epoch("a", 400)
    assert moves == [("b", 3000)]
    one.set_epoch("b", 3000)  # the echo of B's state reporting what it was sent: nothing
    assert moves == [("b", 3000)]
    one.set_epoch("b", 6000)  # the other slider moved: A follows
    assert moves[-1] == ("a", 800) and one.current == {"a": 800, "b": 6000}
    one.set_mode("epoch")  # re-pairs B with A's epoch
    assert moves[-1] == ("b", 1000)


def test_unlinked_sides_move_alone_and_linking_resyncs_b():
    one = link("epoch", linked=False)
    moves = recorder(one.epoch_changed)
    one.set_epoch("a", 800)
    one.set_epoch("b", 5000)
    assert moves == [] and one.current == {"a": 800, "b": 5000}
    changed = recorder(one.linked_changed)
    one.set_linked(True)
    assert changed == [(True,)] and moves == [("b", 1000)]


def test_no_run_on_a_side_maps_to_nothing_and_bad_names_raise():
    one = EpochLink()
    one.set_epochs("a", A)
    moves = recorder(one.epoch_changed)
    one.set_epoch("a", 200)
    assert one.map("a", 200) is None and moves == []
    with pytest.raises(ValueError):
        one.set_mode("time")
    with pytest.raises(ValueError):
        one.set_epoch("c", 1)


def test_a_new_run_opens_at_the_partner_of_the_other_sides_epoch():
    one = EpochLink("fraction")
    one.set_epochs("a", A)
    one.set_epoch("a", 200)
    moves = recorder(one.epoch_changed)
    assert one.set_epochs("b", B) == 1000 and one.current["b"] == 1000
    one.set_epoch("b", 1000)  # B's state reports the epoch it opened at: A stays where it is
    assert moves == [] and one.current["a"] == 200
    one.set_linked(False)
    assert one.set_epochs("b", B) is None
