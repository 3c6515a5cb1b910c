"""Safe reading of any run file, and converters for the foreign formats (design.md §5.2, §5.3).

* :func:`read_any` loads a file with ``torch.load(weights_only=True)``. A TransformerLens
  Grokking-demo file holds a pickled ``HookedTransformerConfig``; weights-only loading refuses
  that class (and TransformerLens 4 no longer has its module). Only in that case the file is
  loaded again, still by torch's weights-only unpickler, with the config's class path mapped to
  an inert stand-in (:class:`PickledConfig`) whose fields become a plain dict. Nothing from the
  file is imported or executed: the only extra names allowed are the config class (and numpy's
  scalar/dtype reconstructors, which TransformerLens configs contain, e.g. ``initializer_range``
  is a ``numpy.float64``), each mapped to a small data-only function defined here.
* :func:`import_foreign` recognises a Grokking-demo dict or Nanda's ``full_run_data.pth`` dict
  and converts it to a :class:`~grokviz.core.run.Run`; everything else is a one-line
  :class:`~grokviz.core.errors.RunFileError`.

Epoch conventions of the converted runs (``Run``: checkpoint/row ``e`` = weights after ``e`` steps):

* Grokking demo: ``checkpoint_epochs`` are 0-based loop indices (99, 199, …) saved after the
  optimizer step, i.e. after 100, 200, … steps (+1). ``train_losses[i]`` is the loss of the
  weights after ``i`` steps (computed before step ``i``), ``test_losses[i]`` after ``i + 1``.
* Nanda: ``epochs`` are taken as step counts as stored; ``train_losses[i]`` after ``i`` steps,
  ``test_losses[j]`` after ``j·s`` steps where ``s = len(train_losses) / len(test_losses)`` (10).

Modules: :mod:`.budgets` (the limits every load stays within), :mod:`.archive` and
:mod:`.pickle_scan` (container checks and a dry run of the pickle before torch reads it),
:mod:`.walk` (one bounded pass over the loaded structure), :mod:`.checksum` (grokviz files'
tensor checksum), :mod:`.standins` (inert config stand-ins),
:mod:`.safe_load` (weights-only loading, load-error descriptions), :mod:`.validate`
(checkers of loaded values), :mod:`.inference` (the task: given, named or inferred),
:mod:`.evaluate` (accuracies and losses of imported weights), :mod:`.assemble` (history rows and
the finished Run), :mod:`.demo` and :mod:`.nanda` (the two formats), :mod:`.foreign` (format
detection and dispatch). This package re-exports their public names. It never imports :mod:`grokviz.core.runfile`
(which reads grokviz runs with it), so the two have no import cycle.
"""

from __future__ import annotations

from grokviz.core.importers import budgets, checksum
from grokviz.core.importers.assemble import HISTORY_STRIDE
from grokviz.core.importers.demo import DEMO_KEYS, SOURCE_DEMO
from grokviz.core.importers.evaluate import checkpoint_accuracies
from grokviz.core.importers.foreign import DEMO_DISTINCT_KEYS, NANDA_DISTINCT_KEYS, detect_format, import_foreign
from grokviz.core.importers.inference import (
    MAX_INFERENCE_EXPONENT,
    MIN_INFERENCE_ACCURACY,
    candidate_tasks,
    coerce_task,
    infer_task,
)
from grokviz.core.importers.nanda import (
    NANDA_DEFAULTS,
    NANDA_FN_NAMES,
    NANDA_WEIGHT_KEYS,
    SOURCE_NANDA,
    convert_nanda_state,
    nanda_shapes,
)
from grokviz.core.importers.safe_load import (
    CONFIG_CLASS_NAMES,
    CONFIG_MODULE_ROOTS,
    NUMPY_DTYPE_PATHS,
    NUMPY_SCALAR_PATHS,
    ZIP_MAGIC,
    PickledConfig,
    describe_load_error,
    read_any,
    verify_crcs,
)
from grokviz.core.importers.validate import check_state_dict

__all__ = [
    "CONFIG_CLASS_NAMES",
    "CONFIG_MODULE_ROOTS",
    "DEMO_DISTINCT_KEYS",
    "DEMO_KEYS",
    "HISTORY_STRIDE",
    "MAX_INFERENCE_EXPONENT",
    "MIN_INFERENCE_ACCURACY",
    "NANDA_DEFAULTS",
    "NANDA_DISTINCT_KEYS",
    "NANDA_FN_NAMES",
    "NANDA_WEIGHT_KEYS",
    "NUMPY_DTYPE_PATHS",
    "NUMPY_SCALAR_PATHS",
    "SOURCE_DEMO",
    "SOURCE_NANDA",
    "ZIP_MAGIC",
    "PickledConfig",
    "budgets",
    "candidate_tasks",
    "check_state_dict",
    "checkpoint_accuracies",
    "checksum",
    "coerce_task",
    "convert_nanda_state",
    "describe_load_error",
    "detect_format",
    "import_foreign",
    "infer_task",
    "nanda_shapes",
    "read_any",
    "verify_crcs",
]
