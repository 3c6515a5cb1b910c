"""Model and training configuration (design.md §2 and §4) as plain, serialisable dataclasses."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields

from grokviz.core.errors import ParameterError

# Stated ranges of the recipe's numbers (issue 18): outside them training only produces NaN or a
# file that cannot be opened. Seeds must fit torch's 64-bit generators.
SEED_LIMIT = 2**63  # seeds lie in [0, SEED_LIMIT)
LR_MAX = 10.0  # lr in (0, LR_MAX]
WEIGHT_DECAY_MAX = 100.0  # weight decay in [0, WEIGHT_DECAY_MAX]
GROKFAST_LAMBDA_MAX = 100.0  # λ in [0, GROKFAST_LAMBDA_MAX]; α in [0, 1)

# Training losses and optimisers (design.md §4, §6b): grokviz.core.losses, grokviz.core.orthograd
LOSSES = ("cross_entropy", "stablemax")
LOSS_TITLES = {"cross_entropy": "cross-entropy (softmax)", "stablemax": "StableMax cross-entropy"}
OPTIMIZERS = ("adamw", "orthoadamw")
OPTIMIZER_TITLES = {"adamw": "AdamW", "orthoadamw": "⊥AdamW (⊥Grad, then AdamW)"}


def check_choice(name: str, value, choices: tuple) -> str:
    if value not in choices:
        raise ParameterError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _positive_int(name: str, value, maximum: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ParameterError(name, f"must be an integer >= 1, got {value!r}")
    if maximum is not None and value > maximum:
        raise ParameterError(name, f"must be at most {maximum}, got {value}")


def check_seed(name: str, value) -> None:
    """A seed is an integer in [0, 2⁶³)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < SEED_LIMIT:
        raise ParameterError(name, f"must be an integer in [0, 2**63), got {value!r}")


def _number_in(name: str, value, low: float, high: float, low_open: bool = False, high_open: bool = False,
               what: str = "") -> float:
    """``value`` as a finite float within the stated interval, else a one-line ParameterError."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool):
        number = math.nan
    inside = (math.isfinite(number) and (number > low if low_open else number >= low)
              and (number < high if high_open else number <= high))
    if not inside:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ParameterError(name, f"{what + ' ' if what else ''}must be a finite number in {interval}, got {value!r}")
    return number


# Upper bounds keep a bad config (or file) from asking for absurd allocations.
MODEL_LIMITS = {"p": 4096, "d_model": 8192, "n_heads": 256, "d_head": 4096, "d_mlp": 65536, "n_ctx": 3}


@dataclass(frozen=True)
class ModelConfig:
    """A 1-layer HookedTransformer config: relu MLP, no normalisation, causal attention."""

    p: int
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    n_ctx: int = 3
    n_layers: int = 1
    act_fn: str = "relu"
    seed: int = 999

    def __post_init__(self):
        for name, maximum in MODEL_LIMITS.items():
            _positive_int(name, getattr(self, name), maximum)
        check_seed("seed", self.seed)
        if self.n_layers != 1:
            raise ParameterError("n_layers", f"grokviz models have exactly one layer, got {self.n_layers}")
        if self.act_fn != "relu":
            raise ParameterError("act_fn", f"only relu is supported, got {self.act_fn!r}")
        if self.n_ctx != 3:
            raise ParameterError("n_ctx", f"inputs are [a, b, =], so n_ctx must be 3, got {self.n_ctx}")

    @property
    def d_vocab(self) -> int:
        return self.p + 1

    @property
    def d_vocab_out(self) -> int:
        return self.p

    @property
    def initializer_range(self) -> float:
        return 0.8 / self.d_model**0.5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class GrokfastConfig:
    """Grokfast-EMA (arXiv 2405.20233): ``ema = α·ema + (1−α)·g; g += λ·ema``."""

    enabled: bool = False
    alpha: float = 0.98
    lamb: float = 2.0

    def __post_init__(self):
        _number_in("grokfast_alpha", self.alpha, 0.0, 1.0, high_open=True)
        _number_in("grokfast_lambda", self.lamb, 0.0, GROKFAST_LAMBDA_MAX)


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe; defaults are the Grokking-demo notebook's (design.md §4).

    ``loss``: ``cross_entropy`` (the notebooks') or ``stablemax``; ``optimizer``: ``adamw`` or
    ``orthoadamw`` (⊥Grad before AdamW) — Prieto et al.'s remedies for softmax collapse (design.md
    §6b; :mod:`grokviz.core.losses`, :mod:`grokviz.core.orthograd`). The history's train and test
    losses are the run's own ``loss``.
    """

    epochs: int = 25_000
    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple = (0.9, 0.98)
    checkpoint_every: int = 100
    eval_every: int = 10
    warmup_steps: int = 0
    grokfast: GrokfastConfig = field(default_factory=GrokfastConfig)
    device: str = "auto"
    save_every_seconds: float = 120.0
    loss: str = "cross_entropy"
    optimizer: str = "adamw"

    def __post_init__(self):
        check_choice("loss", self.loss, LOSSES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _positive_int("epochs", self.epochs)
        _positive_int("checkpoint_every", self.checkpoint_every)
        _positive_int("eval_every", self.eval_every)
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ParameterError("warmup_steps", f"must be an integer >= 0, got {self.warmup_steps!r}")
        _number_in("lr", self.lr, 0.0, LR_MAX, low_open=True, what="the learning rate")
        _number_in("weight_decay", self.weight_decay, 0.0, WEIGHT_DECAY_MAX)
        if not (isinstance(self.save_every_seconds, (int, float)) and float(self.save_every_seconds) > 0):
            raise ParameterError("save_every", f"must be a number of seconds > 0, got {self.save_every_seconds!r}")
        if len(self.betas) != 2 or not all(0 <= float(b) < 1 for b in self.betas):
            raise ParameterError("betas", f"must be two numbers in [0, 1), got {self.betas!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ParameterError("device", f"must be auto, cpu or cuda, got {self.device!r}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("grokfast"), dict):
            values["grokfast"] = GrokfastConfig(**values["grokfast"])
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)


def recipe_text(recipe: dict, separator: str = ", ") -> str:
    """A run's recipe in words: loss, optimiser, then lr, weight decay and Grokfast after ``separator``.

    ``recipe``: :meth:`TrainConfig.to_dict` or any dict with its keys loss, optimizer, lr,
    weight_decay and grokfast (a file without loss/optimizer was trained with the defaults)."""
    loss, optimizer = recipe.get("loss", "cross_entropy"), recipe.get("optimizer", "adamw")
    grokfast = recipe.get("grokfast") or {}
    numbers = f"lr {float(recipe['lr']):g}, weight decay {float(recipe['weight_decay']):g}"
    if grokfast.get("enabled"):
        numbers += f", Grokfast α {float(grokfast['alpha']):g} λ {float(grokfast['lamb']):g}"
    return (f"{LOSS_TITLES.get(loss, loss)}, {OPTIMIZER_TITLES.get(optimizer, optimizer)}{separator}{numbers}")


# -- memory budget ----------------------------------------------------------------------------

MEMORY_BUDGET_ENV = "GROKVIZ_MEMORY_BUDGET_GB"  # raise (or lower) the budget for one run


def parameter_count(cfg: ModelConfig) -> int:
    """Weights and biases of the 1-layer model (design.md §2)."""
    d, heads, d_head, d_mlp = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp
    attention = 4 * heads * d_head * d + 3 * heads * d_head + d
    return (cfg.d_vocab * d + cfg.n_ctx * d + attention + 2 * d * d_mlp + d_mlp + d
            + d * cfg.d_vocab_out + cfg.d_vocab_out)


def estimate_training_bytes(cfg: ModelConfig, train: TrainConfig, frac_train: float = 0.3) -> int:
    """Peak memory of training, roughly: weights with gradient, Adam moments and Grokfast EMA
    (float32), every kept checkpoint, and the full-batch activations of the training split (per
    row: logits in float32 and float64, the MLP's pre- and post-activations, a few residuals)."""
    params = parameter_count(cfg)
    copies = 4 + (1 if train.grokfast.enabled else 0)  # weights, grad, exp_avg, exp_avg_sq (+ ema)
    checkpoints = train.epochs // train.checkpoint_every + 2
    rows = int(frac_train * cfg.p * cfg.p) + 1
    per_row = 4 * (3 * cfg.p + 3 * cfg.d_mlp + 8 * cfg.d_model + cfg.n_heads * cfg.d_head * 3)
    return 4 * params * (copies + checkpoints) + rows * per_row


def memory_budget_bytes() -> int:
    """The memory a run may use: ``$GROKVIZ_MEMORY_BUDGET_GB`` if set, else the memory available now."""
    override = os.environ.get(MEMORY_BUDGET_ENV)
    if override:
        try:
            return int(float(override) * 1024**3)
        except ValueError:
            raise ParameterError(MEMORY_BUDGET_ENV, f"must be a number of GB, got {override!r}") from None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: no limit


def check_memory_budget(cfg: ModelConfig, train: TrainConfig, frac_train: float = 0.3) -> None:
    """Refuse (one line) a run whose estimated memory exceeds the budget, before anything is allocated."""
    needed, budget = estimate_training_bytes(cfg, train, frac_train), memory_budget_bytes()
    if needed > budget:
        raise ParameterError(
            "model", f"p {cfg.p}, d_model {cfg.d_model}, d_mlp {cfg.d_mlp}, {cfg.n_heads} × d_head {cfg.d_head} "
                     f"with {train.epochs // train.checkpoint_every + 1} checkpoints needs about "
                     f"{needed / 1024**3:.1f} GB, more than the {budget / 1024**3:.1f} GB available "
                     f"(use a smaller model, fewer checkpoints, or set {MEMORY_BUDGET_ENV})")
