"""Limits on what a file may make the loader do (issue 18): memory and time stay within a small
multiple of the run the file describes, whatever the file declares.

Every limit is checked *before* the work or allocation it bounds. They are read at call time, so
a legitimately larger run can be opened by raising one, e.g.
``grokviz.core.importers.budgets.MAX_WALK_NODES = 50_000_000``; each refusal names its limit.
"""

from __future__ import annotations

# -- the file as a whole ------------------------------------------------------------------------
MAX_FILE_BYTES = 8 * 1024**3
"""No run grokviz can work with is larger (a p = 4096 model is ~100 MB a checkpoint)."""

# -- zip archives (torch's format) ----------------------------------------------------------------
MAX_ZIP_ENTRIES = 1_000_000
"""Records in one archive (one per tensor storage; a 250-checkpoint Nanda file has ~4,000)."""
MAX_INFLATION = 4
"""A compressed record may expand to at most this many times the whole file's size (torch
itself never compresses; a zip bomb expands a few KB into GB)."""

# -- the pickle (data.pkl) ------------------------------------------------------------------------
MAX_PICKLE_BYTES = 512 * 1024**2
"""The pickled structure itself (tensor data lives in separate records); ours are < 1 MB."""
MAX_PICKLE_OBJECTS = 20_000_000
"""Objects the unpickler may create, counting copies (``set(x)`` counts ``len(x)``). About
100 bytes each, this bounds the Python heap of any file to ~2 GB; real files need < 10⁵."""
MAX_KEY_NODES = 10_000
"""Nodes in one dict key or set element, counting shared references once per use: hashing a
tuple walks all of it, so a 40-level ``(node, node)`` key would take 2⁴⁰ steps."""
MAX_INT_BITS = 64
"""Integers in a run file are counts, sizes and seeds; anything wider is refused."""

# -- the loaded structure -------------------------------------------------------------------------
MAX_WALK_NODES = 5_000_000
"""Entries of the loaded structure *expanded*, i.e. counting a shared list once per reference.
Bounding this bounds every later walk (validation, repr, JSON, ``copy.deepcopy``). A 40-level
``[node, node]`` structure is 41 objects in the file but 2⁴¹ entries expanded."""

# -- work done on the weights ---------------------------------------------------------------------
LOGIT_CHUNK_ELEMENTS = 1 << 22
"""Logits (p² inputs × p classes) are computed in chunks of about this many values (16 MB), so a
p = 4093 model with a tiny width needs MBs, not the 274 GB of all [p², p] logits at once."""
MAX_DEPTH = 32
"""Nesting depth of the loaded structure (a run file's is about 6)."""
MAX_EVALUATION_ROWS = 1 << 14
"""Inputs per split on which imported weights are evaluated (accuracy, final loss); past this a
fixed random sample is used (p = 113: 3,831 train / 8,938 test, all evaluated)."""
