"""Import of a TransformerLens Grokking-demo file (design.md §5.3).

Epoch convention (``Run``: checkpoint/row ``e`` = weights after ``e`` steps): ``checkpoint_epochs``
are 0-based loop indices (99, 199, …) saved after the optimizer step, i.e. after 100, 200, …
steps (+1). ``train_losses[i]`` is the loss of the weights after ``i`` steps (computed before
step ``i``), ``test_losses[i]`` after ``i + 1``.
"""

from __future__ import annotations

import numpy as np
import torch

from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec, split_indices
from grokviz.core.errors import ParameterError
from grokviz.core.importers.assemble import HISTORY_STRIDE, _build_history, _finished_run, _history_epochs
from grokviz.core.importers.evaluate import _evaluate, _Evaluator
from grokviz.core.importers.inference import _resolve_task, coerce_task
from grokviz.core.importers.validate import (
    _config_error,
    brief,
    check_state_dict,
    _config_value,
    _fail,
    _float_array,
    _index_tensor,
    int_list,
    _is_int,
    _positive_int,
    _require_keys,
    _state,
    _tensor,
)
from grokviz.core.run import Run
from grokviz.core.tasks import MAX_P

DEMO_KEYS = (
    "model",
    "config",
    "checkpoints",
    "checkpoint_epochs",
    "train_losses",
    "test_losses",
    "train_indices",
    "test_indices",
)

SOURCE_DEMO = "tl-grokking-demo"


def _normalise_tl_state(path, state: dict, cfg: ModelConfig, what: str) -> dict:
    """A TL state dict checked against §2; mask/IGNORE buffers normalised or filled in."""
    state = dict(_state(path, state, what))
    mask_key, ignore_key = "blocks.0.attn.mask", "blocks.0.attn.IGNORE"
    causal = torch.tril(torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool))
    if mask_key in state:
        mask = state[mask_key]
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(causal.shape):
            shape = list(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            _fail(path, f"{what}: {mask_key} has shape {shape}, expected {list(causal.shape)}")
        if not torch.equal(mask.to(torch.bool), causal):
            _fail(path, f"{what}: {mask_key} is not the causal (lower-triangular) mask")
    state[mask_key] = causal
    ignore = state.get(ignore_key)
    if ignore is None:
        ignore = torch.tensor(-float("inf"))
    elif not isinstance(ignore, torch.Tensor) or ignore.numel() != 1 or not ignore.is_floating_point() or not float(ignore) <= -1e4:
        _fail(path, f"{what}: {ignore_key} should be a very negative scalar (-inf), got {brief(ignore)}")
    state[ignore_key] = ignore.reshape(())
    for name, tensor in state.items():
        if isinstance(tensor, torch.Tensor) and name.split(".")[-1].startswith(("W_", "b_")) and not tensor.is_floating_point():
            _fail(path, f"{what}: {name} has dtype {tensor.dtype}, expected floating point")
    check_state_dict(path, state, cfg, what)
    return state


def _demo_model_config(path, config: dict, state: dict) -> ModelConfig:
    what = "model"
    W_E = _tensor(path, state, "embed.W_E", what, 2)
    W_pos = _tensor(path, state, "pos_embed.W_pos", what, 2)
    W_Q = _tensor(path, state, "blocks.0.attn.W_Q", what, 3)
    W_in = _tensor(path, state, "blocks.0.mlp.W_in", what, 2)
    W_U = _tensor(path, state, "unembed.W_U", what, 2)
    p = int(W_U.shape[1])
    if W_E.shape[0] != p + 1:
        _fail(path, f"model: embed.W_E has shape {list(W_E.shape)}, expected [{p + 1}, d_model] for p = {p} (unembed.W_U has {p} columns)")
    if p > MAX_P:
        _fail(path, f"p = {p} is larger than grokviz supports ({MAX_P})")
    from_weights = {
        "d_model": (int(W_E.shape[1]), "embed.W_E", W_E),
        "n_heads": (int(W_Q.shape[0]), "blocks.0.attn.W_Q", W_Q),
        "d_head": (int(W_Q.shape[2]), "blocks.0.attn.W_Q", W_Q),
        "d_mlp": (int(W_in.shape[1]), "blocks.0.mlp.W_in", W_in),
        "d_vocab": (p + 1, "embed.W_E", W_E),
        "d_vocab_out": (p, "unembed.W_U", W_U),
        "n_ctx": (int(W_pos.shape[0]), "pos_embed.W_pos", W_pos),
    }
    for name, (value, key, tensor) in from_weights.items():
        declared = _config_value(path, config, name, "config", _positive_int, "a positive integer")
        if declared is not None and declared != value:
            _fail(path, f"config {name} = {declared} disagrees with the weights ({key} has shape {list(tensor.shape)}, i.e. {name} = {value})")
    expected = {
        "n_layers": (1, "grokviz reads 1-layer models only"),
        "act_fn": ("relu", "grokviz reads relu MLPs only"),
        "normalization_type": (None, "grokviz reads models without layer norm only"),
        "attn_only": (False, "the model has an MLP"),
        "attention_dir": ("causal", "attention must be causal"),
        "positional_embedding_type": ("standard", "grokviz reads learned positional embeddings only"),
        "gated_mlp": (False, "grokviz reads plain MLPs only"),
        "parallel_attn_mlp": (False, "grokviz reads sequential attention → MLP only"),
    }
    for name, (want, reason) in expected.items():
        if name in config and config[name] != want and not (want is None and config[name] in ("", None)):
            _fail(path, f"config {name} = {brief(config[name])} is not supported ({reason})")
    seed = config.get("seed")
    try:
        return ModelConfig(
            p=p,
            d_model=int(W_E.shape[1]),
            n_heads=int(W_Q.shape[0]),
            d_head=int(W_Q.shape[2]),
            d_mlp=int(W_in.shape[1]),
            n_ctx=int(W_pos.shape[0]),
            seed=seed if _is_int(seed) else 999,
        )
    except ParameterError as error:
        _config_error(path, error, "model")


def _round_fraction(n_train: int, total: int) -> float:
    """The shortest decimal ``frac`` with ``int(total·frac) == n_train`` (0.3 rather than 0.29994…)."""
    for digits in range(1, 7):
        frac = round(n_train / total, digits)
        if 0 < frac < 1 and int(total * frac) == n_train:
            return frac
    return n_train / total


def _import_demo(path, data: dict, task) -> Run:
    label = "TransformerLens Grokking-demo"
    _require_keys(path, data, DEMO_KEYS, label)
    config = data["config"]
    if not isinstance(config, dict):
        _fail(path, f"config is a {type(config).__name__}, expected a pickled HookedTransformerConfig")
    final_raw = _state(path, data["model"], "model")
    cfg = _demo_model_config(path, config, final_raw)
    p = cfg.p
    task = coerce_task(task, p)  # a bad user-given task is a ParameterError, not a file error
    notes = []

    train_losses = _float_array(path, data["train_losses"], "train_losses")
    test_losses = _float_array(path, data["test_losses"], "test_losses")
    n_epochs = len(train_losses)
    if len(test_losses) != n_epochs:
        _fail(path, f"train_losses has {n_epochs} entries but test_losses has {len(test_losses)} (the demo logs both every epoch)")

    raw_epochs = int_list(path, data["checkpoint_epochs"], "checkpoint_epochs")
    checkpoints = data["checkpoints"]
    if not isinstance(checkpoints, (list, tuple)):
        _fail(path, f"checkpoints is a {type(checkpoints).__name__}, expected a list of state dicts")
    if len(raw_epochs) != len(checkpoints):
        _fail(path, f"{len(raw_epochs)} checkpoint epochs but {len(checkpoints)} checkpoints")
    checkpoint_epochs = [e + 1 for e in raw_epochs]  # loop index 99 = after 100 steps
    if checkpoint_epochs and checkpoint_epochs[-1] > n_epochs:
        _fail(path, f"checkpoint epoch {raw_epochs[-1]} is after the last logged epoch ({n_epochs - 1})")

    train_rows = _index_tensor(path, data["train_indices"], "train_indices", p)
    test_rows = _index_tensor(path, data["test_indices"], "test_indices", p)
    overlap = np.intersect1d(train_rows.numpy(), test_rows.numpy())
    if len(overlap):
        _fail(path, f"train_indices and test_indices share {len(overlap)} rows (e.g. {int(overlap[0])})")

    final = _normalise_tl_state(path, final_raw, cfg, "model")
    checkpoints = [
        _normalise_tl_state(path, state, cfg, f"checkpoint {index} (epoch {raw_epochs[index]})")
        for index, state in enumerate(checkpoints)
    ]

    evaluator = _Evaluator(cfg)
    task = _resolve_task(path, task, p, None, evaluator, final, train_rows, notes)

    n_train, n_test = len(train_rows), len(test_rows)
    split = SplitSpec("randperm", 598, _round_fraction(n_train, n_train + n_test))
    try:
        notebook_train, _ = split_indices(task, split)
        if len(notebook_train) == n_train and torch.equal(notebook_train, train_rows):
            notes.append("split: the stored indices are the notebook's randperm split (data seed 598)")
        else:
            notes.append("split: the stored train/test indices are used (they are not randperm with seed 598)")
    except ParameterError:
        notes.append("split: the stored train/test indices are used")

    accuracies, computed = _evaluate(evaluator, task, train_rows, test_rows, n_epochs, final, notes)

    def train_loss_at(epoch):  # weights after `epoch` steps
        return float(train_losses[epoch]) if 0 <= epoch < n_epochs else float("nan")

    def test_loss_at(epoch):
        return float(test_losses[epoch - 1]) if 1 <= epoch <= n_epochs else float("nan")

    loss_epochs = range(HISTORY_STRIDE, n_epochs, HISTORY_STRIDE)
    history = _build_history(_history_epochs(loss_epochs, checkpoint_epochs, n_epochs), train_loss_at, test_loss_at, accuracies, computed)
    notes.append(f"final train loss recomputed from the weights (the demo logs it before each step); history every {HISTORY_STRIDE} epochs")

    every = checkpoint_epochs[1] - checkpoint_epochs[0] if len(checkpoint_epochs) > 1 else (checkpoint_epochs[0] if checkpoint_epochs else 100)
    try:
        train_config = TrainConfig(epochs=max(n_epochs, 1), checkpoint_every=max(int(every), 1), eval_every=HISTORY_STRIDE)
    except ParameterError as error:
        _config_error(path, error, "training")
    notes.append("training hyper-parameters are not stored in Grokking-demo files: the notebook recipe is assumed")

    weights = (checkpoint_epochs, checkpoints, final, n_epochs)
    return _finished_run(path, SOURCE_DEMO, task, cfg, train_config, split, history, weights, notes, (train_rows, test_rows))
