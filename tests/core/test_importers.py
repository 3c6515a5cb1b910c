"""Importers (design.md §5.2, §5.3): Grokking-demo and Nanda look-alikes written to disk and read back.

The Grokking-demo file holds a pickled ``transformer_lens.HookedTransformerConfig`` object. That
module no longer exists in TransformerLens 4, so a fake one is installed in a *subprocess*
(:data:`DEMO_WRITER`) which pickles the config with ``torch.save``; the test process never
imports it, and checks that loading does not either.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import grokviz
from grokviz.core import importers, runfile
from grokviz.core.config import ModelConfig
from grokviz.core.data import SplitSpec, all_tokens, split_indices
from grokviz.core.errors import ParameterError, RunFileError
from grokviz.core.lastpos import InputLayout, last_position_logits
from grokviz.core.model import GrokTransformer
from grokviz.core.tasks import Task

TL_CONFIG_MODULE = "transformer_lens.HookedTransformerConfig"
SMALL = dict(d_model=16, n_heads=2, d_head=8, d_mlp=32)

# ---------------------------------------------------------------------------------------------
# Writing Grokking-demo files (subprocess with a fake transformer_lens.HookedTransformerConfig)
# ---------------------------------------------------------------------------------------------

DEMO_WRITER = r'''
import copyreg, json, os, sys, types
import numpy as np
import torch

CONFIG_SOURCE = """
from dataclasses import dataclass
from typing import Optional
import numpy as np
import torch

@dataclass
class HookedTransformerConfig:
    n_layers: int
    d_model: int
    n_ctx: int
    d_head: int
    model_name: str = "custom"
    n_heads: int = -1
    d_mlp: Optional[int] = None
    act_fn: Optional[str] = None
    d_vocab: int = -1
    eps: float = 1e-5
    use_attn_result: bool = False
    use_attn_scale: bool = True
    use_split_qkv_input: bool = False
    use_local_attn: bool = False
    original_architecture: Optional[str] = None
    from_checkpoint: bool = False
    checkpoint_index: Optional[int] = None
    checkpoint_label_type: Optional[str] = None
    checkpoint_value: Optional[int] = None
    tokenizer_name: Optional[str] = None
    window_size: Optional[int] = None
    attn_types: Optional[list] = None
    init_mode: str = "gpt2"
    normalization_type: Optional[str] = "LN"
    device: Optional[str] = None
    n_devices: int = 1
    attention_dir: str = "causal"
    attn_only: bool = False
    seed: Optional[int] = None
    initializer_range: float = -1.0
    init_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False
    positional_embedding_type: str = "standard"
    final_rms: bool = False
    d_vocab_out: int = -1
    parallel_attn_mlp: bool = False
    rotary_dim: Optional[int] = None
    n_params: Optional[int] = None
    use_hook_tokens: bool = False
    gated_mlp: bool = False
    default_prepend_bos: bool = True
    dtype: torch.dtype = torch.float32
    tokenizer_prepends_bos: Optional[bool] = None

    def __post_init__(self):
        if self.initializer_range < 0:  # a numpy.float64, exactly as TransformerLens computes it
            self.initializer_range = 0.8 / np.sqrt(self.d_model)
        if self.d_vocab_out == -1:
            self.d_vocab_out = self.d_vocab
        self.n_params = self.n_layers * (4 * self.d_model * self.d_head * self.n_heads + 2 * self.d_model * self.d_mlp)
"""

OTHER_SOURCE = """
class HookedTransformer:
    def __init__(self):
        self.cfg_name = "fake model object"
"""


def fake_module(name, source):
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, name, "exec"), module.__dict__)
    return module


package = types.ModuleType("transformer_lens")
package.__path__ = []
sys.modules["transformer_lens"] = package
config_module = fake_module("transformer_lens.HookedTransformerConfig", CONFIG_SOURCE)
other_module = fake_module("transformer_lens.HookedTransformer", OTHER_SOURCE)
HookedTransformerConfig = config_module.HookedTransformerConfig
assert HookedTransformerConfig.__module__ == "transformer_lens.HookedTransformerConfig"


class Payload:
    """Unpickling this runs a shell command (what a malicious checkpoint would do)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def shared_nodes(depth):
    """depth levels of [node, node]: depth + 1 lists in the pickle, 2^(depth+1) entries expanded."""
    node = []
    for _ in range(depth):
        node = [node, node]
    return node


for job in json.load(open(sys.argv[1])):
    data = torch.load(job["input"], weights_only=True)
    config = HookedTransformerConfig(**job["config"])
    extras = job.get("extras", [])
    depth = job.get("depth", 40)
    if "nodes_beside" in extras:
        data["extra_nodes"] = shared_nodes(depth)
    if "nodes_in_config" in extras:
        config.tokenizer_name = shared_nodes(depth)
    if "bare_config" in extras:
        config.tokenizer_name = shared_nodes(depth)
        torch.save(config, job["output"])
        continue
    if "state_not_a_dict" in extras:
        copyreg.pickle(HookedTransformerConfig, lambda obj: (copyreg.__newobj__, (HookedTransformerConfig,), ["not", "a", "dict"]))
    if "payload" in extras:
        data["notes"] = Payload("touch " + job["sentinel"])
    if "other_tl_object" in extras:
        data["model_object"] = other_module.HookedTransformer()
    data["config"] = config
    for key in job.get("drop", []):
        del data[key]
    torch.save(data, job["output"])
    copyreg.dispatch_table.pop(HookedTransformerConfig, None)
'''


def demo_config(p: int, **overrides) -> dict:
    """Keyword arguments of the notebook's HookedTransformerConfig (sizes as in SMALL)."""
    config = dict(
        n_layers=1,
        n_heads=SMALL["n_heads"],
        d_model=SMALL["d_model"],
        d_head=SMALL["d_head"],
        d_mlp=SMALL["d_mlp"],
        act_fn="relu",
        normalization_type=None,
        d_vocab=p + 1,
        d_vocab_out=p,
        n_ctx=3,
        init_weights=True,
        device="cpu",
        seed=999,
    )
    config.update(overrides)
    return config


def write_demo_files(jobs: list[dict], directory: Path) -> None:
    """Run :data:`DEMO_WRITER` once for all ``jobs`` (input: a plain dict already saved)."""
    jobs_file = directory / "demo_jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    result = subprocess.run([sys.executable, "-c", DEMO_WRITER, str(jobs_file)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def demo_payload(final_state: dict, checkpoints: list[dict], raw_epochs: list[int], n_epochs: int, train_rows, test_rows) -> dict:
    """The notebook's torch.save dict, without ``config`` (the writer adds the pickled object)."""
    return {
        "model": {k: v.clone() for k, v in final_state.items()},
        "checkpoints": [{k: v.clone() for k, v in state.items()} for state in checkpoints],
        "checkpoint_epochs": list(raw_epochs),
        "test_losses": [float(x) for x in np.linspace(4.0, 0.5, n_epochs)],
        "train_losses": [float(x) for x in np.linspace(3.0, 0.1, n_epochs)],
        "train_indices": train_rows.clone(),
        "test_indices": test_rows.clone(),
    }


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def small_model(p: int, seed: int, biases: bool = True) -> GrokTransformer:
    """An untrained GrokTransformer; with ``biases`` every bias is non-zero."""
    model = GrokTransformer(ModelConfig(p=p, seed=seed, **SMALL))
    if biases:
        generator = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.split(".")[-1].startswith("b_"):
                    parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
    return model.eval()


@contextmanager
def one_thread():
    """Tiny models: OpenMP threads only add overhead (and spin badly on a loaded machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_tiny(task: Task, train_rows: torch.Tensor, steps: int = 200) -> GrokTransformer:
    """Memorise the training set with a plain full-batch AdamW loop on the fast path."""
    model = GrokTransformer(ModelConfig(p=task.p, d_model=32, n_heads=2, d_head=16, d_mlp=64, seed=1))
    model.freeze_biases()
    labels = task.labels()[train_rows]
    layout = InputLayout.from_rows(train_rows, task.p)
    optimizer = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-2, weight_decay=0.0)
    with one_thread():
        for _ in range(steps):
            loss = F.cross_entropy(last_position_logits(model, layout).double(), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def full_logits(model: GrokTransformer) -> torch.Tensor:
    """The hooked forward's last-position logits for all p² inputs."""
    with torch.no_grad():
        return model(all_tokens(model.cfg.p))[:, -1]


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float(-logits.double().log_softmax(-1).gather(-1, labels[:, None]).mean())


def state_of(model: GrokTransformer) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------------------------------
# Nanda layout: the inverse of the §5.3 table, written here independently of the importer
# ---------------------------------------------------------------------------------------------


def to_nanda(state: dict, cfg: ModelConfig, eq_column: torch.Tensor) -> dict:
    h, e, d = cfg.n_heads, cfg.d_head, cfg.d_model
    return {
        "embed.W_E": state["embed.W_E"].T.contiguous(),  # [d_model, p+1]
        "pos_embed.W_pos": state["pos_embed.W_pos"].clone(),
        "blocks.0.attn.W_K": state["blocks.0.attn.W_K"].transpose(1, 2).contiguous(),  # [h, d_head, d_model]
        "blocks.0.attn.W_Q": state["blocks.0.attn.W_Q"].transpose(1, 2).contiguous(),
        "blocks.0.attn.W_V": state["blocks.0.attn.W_V"].transpose(1, 2).contiguous(),
        "blocks.0.attn.W_O": state["blocks.0.attn.W_O"].reshape(h * e, d).T.contiguous(),  # [d_model, h·d_head]
        "blocks.0.attn.mask": torch.tril(torch.ones(cfg.n_ctx, cfg.n_ctx)),  # float, as Nanda's buffer
        "blocks.0.mlp.W_in": state["blocks.0.mlp.W_in"].T.contiguous(),  # [d_mlp, d_model]
        "blocks.0.mlp.b_in": state["blocks.0.mlp.b_in"].clone(),
        "blocks.0.mlp.W_out": state["blocks.0.mlp.W_out"].T.contiguous(),  # [d_model, d_mlp]
        "blocks.0.mlp.b_out": state["blocks.0.mlp.b_out"].clone(),
        "unembed.W_U": torch.cat([state["unembed.W_U"], eq_column[:, None]], dim=1),  # [d_model, p+1]
    }


def nanda_model(p: int, seed: int) -> GrokTransformer:
    """A model expressible in Nanda's layout: MLP biases non-zero, attention biases and b_U zero."""
    model = small_model(p, seed, biases=False)
    generator = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        model.blocks[0].mlp.b_in.copy_(0.1 * torch.randn(SMALL["d_mlp"], generator=generator))
        model.blocks[0].mlp.b_out.copy_(0.1 * torch.randn(SMALL["d_model"], generator=generator))
    return model


def shuffle_split(p: int, seed: int, frac_train: float) -> tuple[list, list]:
    """Nanda's split exactly as written in his code (design.md §3)."""
    pairs = [(i, j, p) for i in range(p) for j in range(p)]
    random.seed(seed)
    random.shuffle(pairs)
    div = int(frac_train * len(pairs))
    return [a * p + b for a, b, _ in pairs[:div]], [a * p + b for a, b, _ in pairs[div:]]


NANDA_P, NANDA_SEED, NANDA_FRAC = 7, 3, 0.4
NANDA_EPOCHS = [0, 10, 20, 30, 40]
NANDA_N = 50  # train losses (one per epoch); test losses every 10 epochs → 5


def nanda_dict(models: list[GrokTransformer], final: GrokTransformer | None, config_extra: dict | None = None) -> dict:
    """A full_run_data-like dict; the losses at the final weights are computed from the model."""
    p = NANDA_P
    cfg = models[0].cfg
    config = {
        "lr": 1e-3,
        "weight_decay": 1.0,
        "p": p,
        "d_model": cfg.d_model,
        "fn_name": "add",
        "frac_train": NANDA_FRAC,
        "num_epochs": NANDA_N,
        "save_models": False,
        "save_every": 10,
        "stopping_thresh": -1,
        "seed": NANDA_SEED,
        "num_layers": 1,
        "batch_style": "full",
        "d_vocab": p + 1,
        "n_ctx": 3,
        "d_mlp": cfg.d_mlp,
        "num_heads": cfg.n_heads,
        "d_head": cfg.d_head,
        "act_type": "ReLU",
        "device": "cpu",
        "use_ln": False,
    }
    config.update(config_extra or {})
    generator = torch.Generator().manual_seed(11)
    train_losses = [float(x) for x in np.linspace(2.0, 0.2, NANDA_N)]
    test_losses = [float(x) for x in np.linspace(3.0, 1.0, NANDA_N // 10)]
    if final is None:  # the last state dict is the final model (epoch 40): store its true losses
        train_rows, test_rows = shuffle_split(p, NANDA_SEED, NANDA_FRAC)
        labels = Task("add", p).labels()
        logits = full_logits(models[-1])
        train_losses[40] = cross_entropy(logits[train_rows], labels[train_rows])
        test_losses[4] = cross_entropy(logits[test_rows], labels[test_rows])
    data = {
        "config": config,
        "train_losses": train_losses,
        "test_losses": test_losses,
        "epochs": list(NANDA_EPOCHS),
        "state_dicts": [to_nanda(state_of(m), cfg, torch.randn(cfg.d_model, generator=generator)) for m in models],
    }
    if final is not None:
        data["model"] = to_nanda(state_of(final), cfg, torch.randn(cfg.d_model, generator=generator))
    return data


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with one_thread():
        yield

DEMO_P = 7
DEMO_RAW_EPOCHS = [99, 199]
DEMO_N = 250  # the final model (after 250 steps) is not a checkpoint
INFER_TASK = Task("pow", 11, 2, 3)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Grokking-demo files written by the subprocess; models kept for comparison."""
    directory = tmp_path_factory.mktemp("demo")
    models = [small_model(DEMO_P, seed) for seed in (1, 2, 3)]  # checkpoints 100, 200; final 250
    generator = torch.Generator().manual_seed(598)
    perm = torch.randperm(DEMO_P * DEMO_P, generator=generator)
    cut = int(DEMO_P * DEMO_P * 0.3)
    train_rows, test_rows = perm[:cut], perm[cut:]
    payload = demo_payload(state_of(models[2]), [state_of(m) for m in models[:2]], DEMO_RAW_EPOCHS, DEMO_N, train_rows, test_rows)
    torch.save(payload, directory / "plain.pt")

    trained_train, trained_test = split_indices(INFER_TASK, SplitSpec("randperm", 598, 0.5))
    trained = train_tiny(INFER_TASK, trained_train)
    trained_payload = demo_payload(state_of(trained), [], [], 200, trained_train, trained_test)
    torch.save(trained_payload, directory / "plain_trained.pt")
    untrained = GrokTransformer(ModelConfig(p=INFER_TASK.p, **SMALL))
    torch.save(demo_payload(state_of(untrained), [], [], 10, trained_train, trained_test), directory / "plain_untrained.pt")

    jobs = [
        {"input": str(directory / "plain.pt"), "output": str(directory / "demo.pt"), "config": demo_config(DEMO_P)},
        {"input": str(directory / "plain_trained.pt"), "output": str(directory / "trained.pt"), "config": demo_config(11, d_model=32, d_head=16, d_mlp=64)},
        {"input": str(directory / "plain_untrained.pt"), "output": str(directory / "untrained.pt"), "config": demo_config(11)},
    ]
    write_demo_files(jobs, directory)
    return {
        "path": directory / "demo.pt",
        "trained": directory / "trained.pt",
        "untrained": directory / "untrained.pt",
        "models": models,
        "trained_model": trained,
        "payload": payload,
        "train_rows": train_rows,
        "test_rows": test_rows,
    }


# ---------------------------------------------------------------------------------------------
# Grokking demo
# ---------------------------------------------------------------------------------------------


def test_demo_file_is_realistic(demo):
    """The fixture really is what defeats plain weights-only loading."""
    with pytest.raises(Exception, match="HookedTransformerConfig"):
        torch.load(demo["path"], weights_only=True)


def test_demo_config_read_as_plain_data(demo):
    data = importers.read_any(demo["path"])
    config = data["config"]
    assert type(config) is dict
    assert config["d_vocab"] == DEMO_P + 1 and config["d_vocab_out"] == DEMO_P and config["seed"] == 999
    assert config["dtype"] is torch.float32
    assert type(config["initializer_range"]) is float  # was a numpy.float64 in the pickle
    assert config["initializer_range"] == pytest.approx(0.8 / 4.0)
    assert TL_CONFIG_MODULE not in sys.modules


def test_demo_load(demo):
    run = grokviz.load_run(demo["path"], task="add")
    assert TL_CONFIG_MODULE not in sys.modules
    assert not any(name.startswith("transformer_lens.HookedTransformerConfig") for name in sys.modules)
    assert run.source_format == importers.SOURCE_DEMO
    assert run.task == Task("add", DEMO_P)
    cfg = run.model_config
    assert (cfg.p, cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.n_ctx, cfg.seed) == (DEMO_P, 16, 2, 8, 32, 3, 999)
    # 0-based loop indices 99, 199 → after 100, 200 steps; the final model after 200 steps
    assert run.checkpoint_epochs == [100, 200]
    assert run.epochs_trained == DEMO_N
    assert run.epochs == [100, 200, DEMO_N]
    # weights: every checkpoint and the final model give the original logits (non-zero biases included)
    for epoch, original in ((100, demo["models"][0]), (200, demo["models"][1]), (None, demo["models"][2])):
        assert torch.equal(full_logits(run.model(epoch)), full_logits(original))
    for key in ("blocks.0.attn.b_Q", "blocks.0.mlp.b_in", "unembed.b_U"):
        assert torch.count_nonzero(run.final_state_dict[key]) > 0
    for state in [run.final_state_dict, *run.checkpoints]:
        runfile.check_state_dict(demo["path"], state, cfg, "state")
    # split: the stored indices, which are the notebook's randperm(598) split
    train, test = run.indices()
    assert torch.equal(train, demo["train_rows"]) and torch.equal(test, demo["test_rows"])
    assert run.split.kind == "randperm" and run.split.seed == 598
    assert run.split.frac_train == 0.3  # the shortest fraction giving the stored train size
    assert torch.equal(split_indices(run.task, run.split)[0], train)
    assert any("randperm split" in note for note in run.notes)


def test_demo_history(demo):
    run = grokviz.load_run(demo["path"], task="add")
    history, payload = run.history, demo["payload"]
    epochs = list(history.epoch)
    assert epochs == list(range(10, DEMO_N + 1, 10))
    row = epochs.index(10)  # weights after 10 steps: train_losses[10] and test_losses[9]
    assert history.train_loss[row] == payload["train_losses"][10]
    assert history.test_loss[row] == payload["test_losses"][9]
    last = len(history) - 1
    assert history.epoch[last] == DEMO_N
    assert history.test_loss[last] == payload["test_losses"][DEMO_N - 1]
    # the final train loss is not logged by the notebook: recomputed from the final weights
    labels = Task("add", DEMO_P).labels()
    logits = full_logits(demo["models"][2])
    train, test = demo["train_rows"], demo["test_rows"]
    assert history.train_loss[last] == pytest.approx(cross_entropy(logits[train], labels[train]), rel=1e-5)
    # the history holds the final weights' accuracy only (loading evaluates nothing else); the
    # checkpoint_accuracy report gives it at every stored checkpoint (100, 200 and the final 250)
    from grokviz.analysis.session import session_of

    assert int(np.isfinite(np.asarray(history.test_acc)).sum()) == 1
    report = session_of(run).report("checkpoint_accuracy")
    assert report.epochs == [100, 200, DEMO_N] == run.epochs and not report.recorded
    for i, model in enumerate(demo["models"]):
        logits = full_logits(model)
        train_acc = float((logits[train].argmax(-1) == labels[train]).double().mean())
        test_acc = float((logits[test].argmax(-1) == labels[test]).double().mean())
        assert report.train_acc[i] == pytest.approx(train_acc) and report.test_acc[i] == pytest.approx(test_acc)
    assert history.train_acc[last] == pytest.approx(report.train_acc[-1])
    assert np.isnan(history.train_acc[epochs.index(100)])


def test_checkpoint_accuracies_grid_and_chunked_paths_agree(demo, monkeypatch):
    """Small p takes the table read-out over all p² inputs; large p (or sampled rows) the chunked
    evaluator: both give the same accuracies."""
    from grokviz.core.importers import evaluate

    run = grokviz.load_run(demo["path"], task="add")
    grid, _ = evaluate.checkpoint_accuracies(run)
    monkeypatch.setattr(evaluate, "GRID_MAX_LOGITS", 0)
    chunked, _ = evaluate.checkpoint_accuracies(run)
    assert grid.keys() == chunked.keys() == set(run.epochs)
    for epoch in run.epochs:
        assert grid[epoch] == pytest.approx(chunked[epoch])


def test_demo_task_inferred_from_trained_model(demo):
    run = grokviz.load_run(demo["trained"])
    assert run.task == INFER_TASK
    inferred = [note for note in run.notes if note.startswith("task inferred:")]
    assert inferred and inferred[0].startswith("task inferred: pow:m=2,n=3 (train accuracy 100.0 %")
    assert torch.equal(full_logits(run.model()), full_logits(demo["trained_model"]))


def test_demo_given_task_overrides_inference(demo):
    run = grokviz.load_run(demo["trained"], task="sub")
    assert run.task == Task("sub", 11)
    assert not any(note.startswith("task inferred") for note in run.notes)
    run = grokviz.load_run(demo["trained"], task=Task("pow", 11, 2, 3))
    assert run.task == INFER_TASK


def test_demo_untrained_model_cannot_be_inferred(demo):
    with pytest.raises(RunFileError, match="cannot infer the task") as info:
        grokviz.load_run(demo["untrained"])
    assert str(demo["untrained"]) in str(info.value)
    assert grokviz.load_run(demo["untrained"], task="mul").task == Task("mul", 11)


def test_demo_bad_given_task_is_a_parameter_error(demo):
    with pytest.raises(ParameterError):
        grokviz.load_run(demo["path"], task="frobnicate")
    with pytest.raises(ParameterError):
        grokviz.load_run(demo["path"], task=Task("add", 13))


def test_imported_run_round_trips_through_a_grokviz_file(demo, tmp_path):
    run = grokviz.load_run(demo["path"], task="add")
    runfile.save_run(run, tmp_path / "converted.pt")
    again = grokviz.load_run(tmp_path / "converted.pt")
    assert again.checkpoint_epochs == run.checkpoint_epochs and again.task == run.task
    assert torch.equal(full_logits(again.model()), full_logits(run.model()))
    np.testing.assert_array_equal(again.history.train_loss, run.history.train_loss)


# ---------------------------------------------------------------------------------------------
# Nanda
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nanda_models():
    return [nanda_model(NANDA_P, seed) for seed in range(10, 10 + len(NANDA_EPOCHS))]


def test_nanda_round_trip(nanda_models, tmp_path):
    path = tmp_path / "full_run_data.pth"
    torch.save(nanda_dict(nanda_models, final=None), path)
    run = grokviz.load_run(path)
    assert run.source_format == importers.SOURCE_NANDA
    assert run.task == Task("add", NANDA_P)
    cfg = run.model_config
    assert (cfg.p, cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.seed) == (NANDA_P, 16, 2, 8, 32, NANDA_SEED)
    assert run.checkpoint_epochs == NANDA_EPOCHS and run.epochs_trained == 40
    for epoch, model in zip(NANDA_EPOCHS, nanda_models):
        original = state_of(model)
        converted = run.state_dict(epoch)
        assert set(converted) == set(original)
        for key in original:
            assert torch.equal(converted[key], original[key]), key
        assert torch.equal(full_logits(run.model(epoch)), full_logits(model))
    # training config from the Nanda config
    train_config = run.train_config
    assert (train_config.lr, train_config.weight_decay, train_config.epochs) == (1e-3, 1.0, NANDA_N)
    assert (train_config.warmup_steps, train_config.checkpoint_every, train_config.eval_every) == (10, 10, 10)
    # split: Nanda's random.seed(seed); random.shuffle(pairs)
    assert run.split == SplitSpec("shuffle", NANDA_SEED, NANDA_FRAC)
    expected_train, expected_test = shuffle_split(NANDA_P, NANDA_SEED, NANDA_FRAC)
    train, test = run.indices()
    assert train.tolist() == expected_train and test.tolist() == expected_test


def test_nanda_final_losses_match_the_weights(nanda_models, tmp_path):
    path = tmp_path / "full_run_data.pth"
    data = nanda_dict(nanda_models, final=None)
    torch.save(data, path)
    run = grokviz.load_run(path)
    history = run.history
    assert list(history.epoch) == [0, 10, 20, 30, 40]  # test losses every 10 epochs
    np.testing.assert_array_equal(history.train_loss, [data["train_losses"][e] for e in (0, 10, 20, 30, 40)])
    np.testing.assert_array_equal(history.test_loss, data["test_losses"])
    # the stored final losses are the cross-entropy (float64, last position) of the final weights
    train, test = run.indices()
    labels = run.labels()
    logits = full_logits(run.model())
    assert history.train_loss[-1] == pytest.approx(cross_entropy(logits[train], labels[train]), rel=1e-6, abs=1e-9)
    assert history.test_loss[-1] == pytest.approx(cross_entropy(logits[test], labels[test]), rel=1e-6, abs=1e-9)
    assert history.train_acc[-1] == pytest.approx(float((logits[train].argmax(-1) == labels[train]).double().mean()))


def test_nanda_with_model_and_derived_sizes(nanda_models, tmp_path):
    final = nanda_model(NANDA_P, 99)
    data = nanda_dict(nanda_models, final=final)
    for key in ("num_heads", "d_head", "d_mlp"):
        del data["config"][key]
    path = tmp_path / "with_model.pth"
    torch.save(data, path)
    run = grokviz.load_run(path, task="sub")
    assert run.task == Task("sub", NANDA_P)
    assert any("the file says add" in note for note in run.notes)
    assert (run.model_config.n_heads, run.model_config.d_head, run.model_config.d_mlp) == (2, 8, 32)
    assert run.epochs_trained == NANDA_N and run.epochs == NANDA_EPOCHS + [NANDA_N]
    assert torch.equal(full_logits(run.model()), full_logits(final))
    # final row (epoch 50): no stored losses, computed from the final weights
    train, test = run.indices()
    labels = run.labels()
    logits = full_logits(final)
    assert run.history.epoch[-1] == NANDA_N
    assert run.history.test_loss[-1] == pytest.approx(cross_entropy(logits[test], labels[test]), rel=1e-5)


def test_nanda_only_last_state_dict(nanda_models, tmp_path):
    data = nanda_dict(nanda_models, final=None)
    data["state_dicts"] = data["state_dicts"][-1:]
    path = tmp_path / "last_only.pth"
    torch.save(data, path)
    run = grokviz.load_run(path)
    assert run.checkpoint_epochs == [40] and run.epochs_trained == 40
    assert torch.equal(full_logits(run.model()), full_logits(nanda_models[-1]))


def test_nanda_unknown_fn_name_is_inferred(tmp_path):
    """fn_name outside grokviz's tasks and no task given: inferred from the predictions."""
    task = Task("sub", 11)
    train_rows = torch.tensor(shuffle_split(11, 0, 0.5)[0])
    model = train_tiny(task, train_rows, steps=200)
    cfg = model.cfg
    data = {
        "config": {"p": 11, "d_model": cfg.d_model, "fn_name": "minus_mod", "frac_train": 0.5, "seed": 0, "save_every": 100},
        "train_losses": [1.0] * 100,
        "test_losses": [1.0] * 10,
        "epochs": [99],
        "state_dicts": [to_nanda(state_of(model), cfg, torch.zeros(cfg.d_model))],
    }
    path = tmp_path / "minus.pth"
    torch.save(data, path)
    run = grokviz.load_run(path)
    assert run.task == task
    assert any(note.startswith("task inferred: sub (train accuracy 100.0 %") for note in run.notes)


# ---------------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------------


def test_coerce_task():
    assert importers.coerce_task(None, 7) is None
    assert importers.coerce_task("add", 7) == Task("add", 7)
    assert importers.coerce_task("pow:m=4,n=3", 7) == Task("pow", 7, 4, 3)
    assert importers.coerce_task(Task("div", 7), 7) == Task("div", 7)
    with pytest.raises(ParameterError):
        importers.coerce_task(Task("add", 11), 7)
    with pytest.raises(ParameterError):
        importers.coerce_task(3, 7)
    with pytest.raises(ParameterError):
        importers.coerce_task("pow:m=0", 7)


def test_infer_task_from_label_tables():
    """Perfect predictions of each candidate are recognised (first in tie-break order)."""
    p = 7
    rows = torch.arange(p * p)
    for task in (Task("add", p), Task("sub", p), Task("mul", p), Task("pow", p, 4, 3), Task("pow", p, 2, 2)):
        labels = task.labels()
        best, accuracy, _ = importers.infer_task(labels.clamp(min=0), rows, p)
        assert best == task and accuracy == 1.0


def test_read_any_reads_grokviz_files(tmp_path):
    model = GrokTransformer(ModelConfig(p=7, **SMALL))
    torch.save({"x": state_of(model)}, tmp_path / "plain.pt")
    data = importers.read_any(tmp_path / "plain.pt")
    assert torch.equal(data["x"]["embed.W_E"], model.embed.W_E.detach())
