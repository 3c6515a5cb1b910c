"""Import of Neel Nanda's ``full_run_data.pth`` (design.md §5.3).

Epoch convention (``Run``: checkpoint/row ``e`` = weights after ``e`` steps): ``epochs`` are taken
as step counts as stored; ``train_losses[i]`` after ``i`` steps, ``test_losses[j]`` after ``j·s``
steps where ``s = len(train_losses) / len(test_losses)`` (10).
"""

from __future__ import annotations

import math
import re

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
    int_list,
    _is_int,
    _is_number,
    _positive_int,
    _require_keys,
    _state,
    _tensor,
)
from grokviz.core.run import Run
from grokviz.core.tasks import MAX_P, Task

SOURCE_NANDA = "nanda"

# Nanda's layout (design.md §5.3); shapes as functions of the config.
NANDA_WEIGHT_KEYS = (
    "embed.W_E",
    "pos_embed.W_pos",
    "blocks.0.attn.W_Q",
    "blocks.0.attn.W_K",
    "blocks.0.attn.W_V",
    "blocks.0.attn.W_O",
    "blocks.0.mlp.W_in",
    "blocks.0.mlp.b_in",
    "blocks.0.mlp.W_out",
    "blocks.0.mlp.b_out",
    "unembed.W_U",
)
NANDA_FN_NAMES = {
    "add": "add",
    "+": "add",
    "sub": "sub",
    "subtract": "sub",
    "minus": "sub",
    "-": "sub",
    "mul": "mul",
    "multiply": "mul",
    "times": "mul",
    "*": "mul",
    "div": "div",
    "divide": "div",
    "/": "div",
}
NANDA_DEFAULTS = {"n_heads": 4, "d_head": 32, "d_mlp": 512}


def nanda_shapes(cfg: ModelConfig) -> dict:
    """Expected shapes of Nanda's layout (design.md §5.3)."""
    d, h, e, m, v, c = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.p + 1, cfg.n_ctx
    return {
        "embed.W_E": (d, v),
        "pos_embed.W_pos": (c, d),
        "blocks.0.attn.W_Q": (h, e, d),
        "blocks.0.attn.W_K": (h, e, d),
        "blocks.0.attn.W_V": (h, e, d),
        "blocks.0.attn.W_O": (d, h * e),
        "blocks.0.mlp.W_in": (m, d),
        "blocks.0.mlp.b_in": (m,),
        "blocks.0.mlp.W_out": (d, m),
        "blocks.0.mlp.b_out": (d,),
        "unembed.W_U": (d, v),
    }


def convert_nanda_state(state: dict, cfg: ModelConfig) -> dict:
    """Nanda's layout → §2 (no validation; see :func:`_convert_nanda_state`)."""
    h, e, d = cfg.n_heads, cfg.d_head, cfg.d_model
    dtype = state["embed.W_E"].dtype
    return {
        "embed.W_E": state["embed.W_E"].t().contiguous(),
        "pos_embed.W_pos": state["pos_embed.W_pos"].contiguous(),
        "blocks.0.attn.W_Q": state["blocks.0.attn.W_Q"].transpose(1, 2).contiguous(),
        "blocks.0.attn.W_K": state["blocks.0.attn.W_K"].transpose(1, 2).contiguous(),
        "blocks.0.attn.W_V": state["blocks.0.attn.W_V"].transpose(1, 2).contiguous(),
        "blocks.0.attn.W_O": state["blocks.0.attn.W_O"].t().reshape(h, e, d).contiguous(),
        "blocks.0.attn.b_Q": torch.zeros(h, e, dtype=dtype),
        "blocks.0.attn.b_K": torch.zeros(h, e, dtype=dtype),
        "blocks.0.attn.b_V": torch.zeros(h, e, dtype=dtype),
        "blocks.0.attn.b_O": torch.zeros(d, dtype=dtype),
        "blocks.0.attn.mask": torch.tril(torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool)),
        "blocks.0.attn.IGNORE": torch.tensor(-float("inf")),
        "blocks.0.mlp.W_in": state["blocks.0.mlp.W_in"].t().contiguous(),
        "blocks.0.mlp.b_in": state["blocks.0.mlp.b_in"].contiguous(),
        "blocks.0.mlp.W_out": state["blocks.0.mlp.W_out"].t().contiguous(),
        "blocks.0.mlp.b_out": state["blocks.0.mlp.b_out"].contiguous(),
        "unembed.W_U": state["unembed.W_U"][:, :-1].contiguous(),
        "unembed.b_U": torch.zeros(cfg.p, dtype=dtype),
    }


def _convert_nanda_state(path, state, cfg: ModelConfig, what: str, ignored: set) -> dict:
    state = _state(path, state, what)
    for key in NANDA_WEIGHT_KEYS:
        if key not in state:
            _fail(path, f"{what} lacks {key} (Nanda layout)")
    for key, shape in nanda_shapes(cfg).items():
        tensor = state[key]
        if not isinstance(tensor, torch.Tensor):
            _fail(path, f"{what}: {key} is a {type(tensor).__name__}, not a tensor")
        if tuple(tensor.shape) != shape:
            _fail(path, f"{what}: {key} has shape {list(tensor.shape)}, expected {list(shape)} (Nanda layout, p = {cfg.p})")
        if not tensor.is_floating_point():
            _fail(path, f"{what}: {key} has dtype {tensor.dtype}, expected floating point")
        if not bool(torch.isfinite(tensor).all()):
            _fail(path, f"{what}: {key} contains NaN or infinite values")
    mask = state.get("blocks.0.attn.mask")
    if isinstance(mask, torch.Tensor) and tuple(mask.shape) == (cfg.n_ctx, cfg.n_ctx):
        if not torch.equal(mask.to(torch.bool), torch.tril(torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool))):
            _fail(path, f"{what}: blocks.0.attn.mask is not the causal (lower-triangular) mask")
    for key in state:
        if key in NANDA_WEIGHT_KEYS:
            continue
        if key.startswith("blocks.") and not key.startswith("blocks.0."):
            _fail(path, f"{what} has {key}: grokviz reads 1-layer models only")
        if re.search(r"(^|\.)(ln|norm|layer_?norm)", key, re.IGNORECASE) and key.split(".")[-1] not in ("mask", "IGNORE"):
            _fail(path, f"{what} has {key}: grokviz reads models without layer norm only")
        if key not in ("blocks.0.attn.mask", "blocks.0.attn.IGNORE"):
            ignored.add(key)
    converted = convert_nanda_state(state, cfg)
    check_state_dict(path, converted, cfg, what)
    return converted


def _import_nanda(path, data: dict, task) -> Run:
    label = "Nanda full_run_data"
    _require_keys(path, data, ("config", "train_losses", "test_losses"), label)
    if "state_dicts" not in data and "model" not in data:
        _fail(path, f"missing key 'state_dicts' for a {label} file (it needs config, train_losses, test_losses, state_dicts or model)")
    config = data["config"]
    if not isinstance(config, dict):
        _fail(path, f"config is a {type(config).__name__}, expected a dict")
    notes = []

    # -- sizes: the config's p against the weights, before anything is allocated from it
    p = _config_value(path, config, "p", "config", _positive_int, "a positive integer")
    if p is None:
        _fail(path, "config lacks p (the modulus)")
    state_dicts = data.get("state_dicts", [])
    if not isinstance(state_dicts, (list, tuple)):
        _fail(path, f"state_dicts is a {type(state_dicts).__name__}, expected a list of state dicts")
    has_model = data.get("model") is not None
    if not state_dicts and not has_model:
        _fail(path, "state_dicts is empty and there is no model")
    final_raw = _state(path, data["model"] if has_model else state_dicts[-1], "model" if has_model else f"state_dicts[{len(state_dicts) - 1}]")
    what = "model" if has_model else f"state_dicts[{len(state_dicts) - 1}]"
    W_E = _tensor(path, final_raw, "embed.W_E", what, 2)
    W_Q = _tensor(path, final_raw, "blocks.0.attn.W_Q", what, 3)
    W_in = _tensor(path, final_raw, "blocks.0.mlp.W_in", what, 2)
    W_pos = _tensor(path, final_raw, "pos_embed.W_pos", what, 2)
    weight_p = int(W_E.shape[1]) - 1
    if p != weight_p:
        _fail(path, f"config p = {p} disagrees with the weights ({what}: embed.W_E has shape {list(W_E.shape)}, i.e. p = {weight_p})")
    if p > MAX_P:
        _fail(path, f"p = {p} is larger than grokviz supports ({MAX_P})")
    task = coerce_task(task, p)  # a bad user-given task is a ParameterError, not a file error
    sizes = {
        "d_model": (("d_model",), int(W_E.shape[0]), "embed.W_E", W_E),
        "n_heads": (("n_heads", "num_heads"), int(W_Q.shape[0]), "blocks.0.attn.W_Q", W_Q),
        "d_head": (("d_head",), int(W_Q.shape[1]), "blocks.0.attn.W_Q", W_Q),
        "d_mlp": (("d_mlp",), int(W_in.shape[0]), "blocks.0.mlp.W_in", W_in),
        "n_ctx": (("n_ctx",), int(W_pos.shape[0]), "pos_embed.W_pos", W_pos),
        "d_vocab": (("d_vocab",), p + 1, "embed.W_E", W_E),
    }
    derived = {}
    for name, (names, value, key, tensor) in sizes.items():
        declared = _config_value(path, config, names, "config", _positive_int, "a positive integer")
        if declared is not None and declared != value:
            _fail(path, f"config {name} = {declared} disagrees with the weights ({key} has shape {list(tensor.shape)}, i.e. {name} = {value})")
        if declared is None and name in NANDA_DEFAULTS and value != NANDA_DEFAULTS[name]:
            notes.append(f"config has no {name}; {value} taken from the weights")
        derived[name] = value
    layers = _config_value(path, config, ("n_layers", "num_layers"), "config", _positive_int, "a positive integer")
    if layers is not None and layers != 1:
        _fail(path, f"config num_layers = {layers} is not supported (grokviz reads 1-layer models only)")
    act = config.get("act_type", config.get("act_fn"))
    if act is not None and not (isinstance(act, str) and act.lower() == "relu"):
        _fail(path, f"config act_type = {brief(act)} is not supported (grokviz reads relu MLPs only)")
    if config.get("use_ln"):
        _fail(path, "config use_ln is set: grokviz reads models without layer norm only")

    seed = _config_value(path, config, "seed", "config", _is_int, "an integer", default=0)
    frac_train = _config_value(path, config, "frac_train", "config", _is_number, "a number")
    if frac_train is None:
        _fail(path, "config lacks frac_train (needed for the train/test split)")
    try:
        cfg = ModelConfig(
            p=p,
            d_model=derived["d_model"],
            n_heads=derived["n_heads"],
            d_head=derived["d_head"],
            d_mlp=derived["d_mlp"],
            n_ctx=derived["n_ctx"],
            seed=seed,
        )
        split = SplitSpec("shuffle", seed, float(frac_train))
    except ParameterError as error:
        _config_error(path, error, "Nanda")

    # -- losses and epochs
    train_losses = _float_array(path, data["train_losses"], "train_losses")
    test_losses = _float_array(path, data["test_losses"], "test_losses")
    n_epochs, n_tests = len(train_losses), len(test_losses)
    stride = max(1, round(n_epochs / n_tests))
    if n_tests > n_epochs or math.ceil(n_epochs / stride) != n_tests:
        _fail(path, f"test_losses has {n_tests} entries, which is neither one per epoch nor one every k epochs of {n_epochs} train_losses")

    if "epochs" in data:
        epochs = int_list(path, data["epochs"], "epochs")
    else:
        every = _config_value(path, config, "save_every", "config", _positive_int, "a positive integer")
        if every is None and len(state_dicts) > 1:
            _fail(path, "missing key 'epochs' and config has no save_every to derive the checkpoint epochs")
        epochs = [i * (every or 1) for i in range(len(state_dicts))]
    if len(state_dicts) == 1 and len(epochs) > 1:
        notes.append(f"the file keeps only the last of {len(epochs)} checkpoints")
        epochs = epochs[-1:]
    if len(epochs) != len(state_dicts):
        _fail(path, f"{len(epochs)} epochs but {len(state_dicts)} state_dicts")

    ignored: set = set()
    converted = []
    for index in range(len(state_dicts)):
        converted.append(_convert_nanda_state(path, state_dicts[index], cfg, f"state_dicts[{index}] (epoch {epochs[index]})", ignored))
    if has_model:
        final = _convert_nanda_state(path, final_raw, cfg, "model", ignored)
        final_epoch = n_epochs
        if epochs and epochs[-1] > final_epoch:
            _fail(path, f"checkpoint epoch {epochs[-1]} is after the end of training ({n_epochs} train_losses)")
    else:
        final, final_epoch = converted[-1], epochs[-1]
    if ignored:
        notes.append(f"ignored extra keys: {', '.join(sorted(ignored)[:6])}")

    # -- task and split
    named = None
    fn_name = config.get("fn_name")
    if fn_name is not None:
        if not isinstance(fn_name, str):
            _fail(path, f"config fn_name = {brief(fn_name)} is not a string")
        if fn_name.lower() in NANDA_FN_NAMES:
            try:
                named = Task(NANDA_FN_NAMES[fn_name.lower()], p)
            except ParameterError as error:
                _config_error(path, error, "Nanda")
        elif task is None:
            notes.append(f"config fn_name {brief(fn_name)} is not a grokviz task")
    try:
        spec_task = task or named or Task("add", p)
        train_rows, test_rows = split_indices(spec_task, split)
    except ParameterError as error:
        _config_error(path, error, "Nanda")
    evaluator = _Evaluator(cfg)
    task = _resolve_task(path, task, p, named, evaluator, final, train_rows, notes)
    if task.name == "div" and spec_task.name != "div":  # inferred div: rows with b = 0 drop out
        train_rows, test_rows = split_indices(task, split)

    accuracies, computed = _evaluate(evaluator, task, train_rows, test_rows, final_epoch, final, notes)

    def train_loss_at(epoch):
        return float(train_losses[epoch]) if 0 <= epoch < n_epochs else float("nan")

    def test_loss_at(epoch):
        if epoch % stride:
            return float("nan")
        index = epoch // stride
        return float(test_losses[index]) if 0 <= index < n_tests else float("nan")

    loss_epochs = range(0, n_epochs, HISTORY_STRIDE if stride == 1 else stride)
    history = _build_history(_history_epochs(loss_epochs, epochs, final_epoch), train_loss_at, test_loss_at, accuracies, computed)

    # -- training config
    lr = _config_value(path, config, "lr", "config", _is_number, "a number", default=1e-3)
    weight_decay = _config_value(path, config, "weight_decay", "config", _is_number, "a number", default=1.0)
    num_epochs = _config_value(path, config, "num_epochs", "config", _positive_int, "a positive integer", default=n_epochs)
    save_every = _config_value(path, config, "save_every", "config", _positive_int, "a positive integer", default=100)
    betas = config.get("betas", (0.9, 0.98))
    if not (isinstance(betas, (list, tuple)) and len(betas) == 2 and all(_is_number(b) for b in betas)):
        _fail(path, f"config betas = {brief(betas)} is not two numbers")
    try:
        train_config = TrainConfig(
            epochs=num_epochs,
            lr=float(lr),
            weight_decay=float(weight_decay),
            betas=tuple(betas),
            checkpoint_every=save_every,
            eval_every=stride,
            warmup_steps=10,
        )
    except ParameterError as error:
        _config_error(path, error, "Nanda")

    weights = (epochs, converted, final, final_epoch)
    return _finished_run(path, SOURCE_NANDA, task, cfg, train_config, split, history, weights, notes)
