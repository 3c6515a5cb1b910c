"""Two runs side by side (issue 16, item 7): File › Compare with… in the app, ``grokviz export A B``.

* :mod:`.link` — the Qt-free :class:`~grokviz.gui.compare.link.EpochLink` (psygnal): which
  checkpoint of run B goes with which of run A, by the same epoch or the same fraction of training
  (the rule: :func:`grokviz.core.epochs.paired_epoch`),
  and whether one slider moves both.
* :mod:`.window` — the comparison window: a second :class:`~grokviz.gui.state.AppState` for run B and
  one instance of each view per run (the main window's own view factories), in two columns under one
  tab bar, each column with its checkpoint slider.
* :mod:`.figures` — the paired figure set of ``grokviz export A B --out DIR``.
"""
