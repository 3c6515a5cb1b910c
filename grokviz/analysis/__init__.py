"""Analysis library (design.md §6): pure torch/numpy, no Qt.

Modules, one job each:

* ``fourier`` — Nanda's basis and transforms; ``fourier_axes`` — the same along named axes.
* ``labelled`` — :class:`LabelledTensor` / :class:`Axis`, the contract with the GUI views.
* ``cache`` — :class:`ActivationStore`: every hook (+ logits) over all p² inputs, LRU per checkpoint.
* ``reorder`` — [a, b] → [b, a], [c, a], [c, b], [a, c], [b, c] layouts with ragged-grid masks.
* ``lastpos`` — last-position activations over the [a, b] grid from small tables (fast).
* ``spectrum`` — key frequencies (W_E, cross-checked with W_U and neuron clusters).
* ``neurons`` — neuron frequency fraction / clusters, spectral filters, W_neur, W_logit, attention from ``=``.
* ``symmetry`` — symmetry scores about a = c/2 and the c/2 cosine model.
* ``progress`` — restricted / excluded loss, cos-coefficients, weight norms, Gini, per checkpoint.
* ``phases`` — memorisation, grokking and end of clean-up epochs.
* ``session`` — :class:`RunSession`: one run's models, activations and reports, cached and thread-safe.
* ``reports`` — the registry of reports (summary, spectrum, symmetry, attention, neurons, measures,
  progress, phases, analyze, …): every number a view, the CLI or export shows is computed there.
* ``cli`` — ``grokviz analyze``.
"""
