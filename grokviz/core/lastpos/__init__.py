"""The last-position (``=``) forward family (design.md §2): every way grokviz computes the model's
output at the one position the loss and the analyses read, from one set of attention tables.

- :mod:`~grokviz.core.lastpos.tables` — the score and value→output tables (:func:`table_parts`)
  and the per-input mix of their rows: the shared first half of every variant;
- :mod:`~grokviz.core.lastpos.layout` — a fixed set of inputs prepared for the mix;
- :mod:`~grokviz.core.lastpos.forward` — :func:`last_position_logits` with autograd (the training
  step on CUDA, evaluation, importers) and the shared MLP read-out :func:`mlp_logits`;
- :mod:`~grokviz.core.lastpos.handwritten` and :mod:`~grokviz.core.lastpos.step` — the CPU
  training step with hand-written gradients (:class:`TrainStep`);
- :mod:`~grokviz.core.lastpos.grid` — read-outs over all p² inputs for the analysis (:class:`GridReadout`);
- :mod:`~grokviz.core.lastpos.batched` — plain indexing for ``vmap`` over a stack of models (ensembles).

The hooked :class:`grokviz.core.model.GrokTransformer` stays the reference: one parametrised test
(``tests/core/test_lastpos_family.py``) checks every variant's outputs against ``run_with_cache``.
"""

from grokviz.core.lastpos.forward import fast_path_flops, full_forward_flops, last_position_logits, mlp_logits
from grokviz.core.lastpos.layout import InputLayout
from grokviz.core.lastpos.tables import TableParts, attention_tables, table_parts

__all__ = ["InputLayout", "TableParts", "attention_tables", "fast_path_flops", "full_forward_flops",
           "last_position_logits", "mlp_logits", "table_parts"]
