"""Sweep specifications: a grid of training runs from a TOML / YAML file or command-line flags.

A spec is a flat mapping (optionally with ``[model]`` and ``[train]`` tables merged in)::

    task = "pow"            # add, sub, mul, div, pow
    m = "1..3"              # pow exponents: an int, a list, "1..3" or "1,2,5"
    n = [1, 2, 3]
    p = 31                  # one or more moduli
    seeds = 999             # model init seeds
    data_seeds = 598        # split seeds
    epochs = 3000
    frac_train = 0.5        # any training option; lr, weight_decay, frac_train may be lists
    grokfast = true
    loss = "stablemax"      # or "cross_entropy" (default); optimizer = "orthoadamw" or "adamw"
    save_every = 20         # seconds between crash-safe saves of each run file

    [model]
    d_model = 128

Every key with several values is a grid axis; the cells are the Cartesian product.
Unknown keys and bad values raise :class:`ParameterError` (one line).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grokviz.core.errors import ParameterError

# keys that may take several values (grid axes), in cell-name order
AXES = ("task", "m", "n", "p", "seeds", "data_seeds", "frac_train", "lr", "weight_decay", "grokfast_lambda")
INT_AXES = {"m", "n", "p", "seeds", "data_seeds"}
FLOAT_AXES = {"frac_train", "lr", "weight_decay", "grokfast_lambda"}
SCALARS = {
    # name: (type, default)
    "epochs": (int, 25_000),
    "split": (str, "randperm"),
    "grokfast": (bool, False),
    "grokfast_alpha": (float, 0.98),
    "warmup": (int, 0),
    "eval_every": (int, 10),
    "checkpoint_every": (int, 100),
    "save_every": (float, 20.0),
    "device": (str, "auto"),
    "d_model": (int, 128),
    "n_heads": (int, 4),
    "d_head": (int, 32),
    "d_mlp": (int, 512),
    "loss": (str, "cross_entropy"),
    "optimizer": (str, "adamw"),
}
AXIS_DEFAULTS = {"task": ["add"], "m": [1], "n": [1], "p": [113], "seeds": [999], "data_seeds": [598],
                 "frac_train": [0.3], "lr": [1e-3], "weight_decay": [1.0], "grokfast_lambda": [2.0]}
ALIASES = {"seed": "seeds", "data_seed": "data_seeds", "tasks": "task", "grokfast_lamb": "grokfast_lambda",
           "save_every_seconds": "save_every", "warmup_steps": "warmup"}
NESTED = ("model", "train", "training")
MAX_CELLS = 10_000

_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*(?::\s*(\d+))?\s*$")


def parse_values(key: str, value) -> list:
    """One axis' values: scalar, list, ``"a..b"`` (inclusive, optional ``:step``) or ``"a,b,c"``."""
    kind = int if key in INT_AXES else float if key in FLOAT_AXES else str
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, str) and kind is str:
        items = value.split(",")
    elif isinstance(value, str):
        match = _RANGE.match(value)
        if match:
            start, stop, step = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
            if kind is not int:
                raise ParameterError(key, f"a range {value!r} needs integer values")
            if stop < start or step < 1:
                raise ParameterError(key, f"empty range {value!r}")
            count = (stop - start) // step + 1
            if count > MAX_CELLS:  # counted before it is expanded
                raise ParameterError(key, f"the range {value!r} has {count:,} values, more than a sweep's "
                                          f"{MAX_CELLS:,} cells")
            items = list(range(start, stop + 1, step))
        else:
            items = [s for s in value.split(",")]
    else:
        items = [value]
    if not items:
        raise ParameterError(key, "needs at least one value")
    if len(items) > MAX_CELLS:
        raise ParameterError(key, f"{len(items):,} values, more than a sweep's {MAX_CELLS:,} cells")
    out, seen = [], set()
    for item in items:
        if isinstance(item, bool) or isinstance(item, (dict, list)):
            raise ParameterError(key, f"invalid value {item!r}")
        try:
            if kind is int:
                if isinstance(item, float) and not item.is_integer():
                    raise ValueError
                converted = int(str(item).strip()) if isinstance(item, str) else int(item)
            elif kind is float:
                converted = float(str(item).strip()) if isinstance(item, str) else float(item)
            else:
                converted = str(item).strip()
        except (TypeError, ValueError):
            raise ParameterError(key, f"expected {'integers' if kind is int else 'numbers' if kind is float else 'names'}, got {item!r}") from None
        if converted not in seen:
            seen.add(converted)
            out.append(converted)
    return out


def _scalar(key: str, value):
    kind = SCALARS[key][0]
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ParameterError(key, f"expected true or false, got {value!r}")
    if isinstance(value, (list, dict, bool)):
        raise ParameterError(key, f"expected one {kind.__name__}, got {value!r}")
    try:
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise ParameterError(key, f"expected {kind.__name__}, got {value!r}") from None


@dataclass(frozen=True)
class Cell:
    """One run of the grid: all parameters needed to train it (plain values, picklable)."""

    task: str
    m: int
    n: int
    p: int
    seed: int
    data_seed: int
    frac_train: float
    lr: float
    weight_decay: float
    grokfast_lambda: float
    options: tuple  # sorted (key, value) pairs of the scalar options
    name: str = ""

    def option(self, key):
        return dict(self.options)[key]

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("options")
        data.update(dict(self.options))
        return data


@dataclass
class SweepSpec:
    axes: dict = field(default_factory=lambda: {k: list(v) for k, v in AXIS_DEFAULTS.items()})
    options: dict = field(default_factory=lambda: {k: d for k, (_, d) in SCALARS.items()})

    @classmethod
    def from_mapping(cls, data: dict, source: str = "spec") -> "SweepSpec":
        if not isinstance(data, dict):
            raise ParameterError(source, f"expected a table of settings, got {type(data).__name__}")
        flat = {}
        for key, value in data.items():
            key = str(key).replace("-", "_")
            if key in NESTED:
                if not isinstance(value, dict):
                    raise ParameterError(source, f"[{key}] must be a table")
                for inner, inner_value in value.items():
                    flat[str(inner).replace("-", "_")] = inner_value
            else:
                flat[key] = value
        spec = cls()
        for key, value in flat.items():
            key = ALIASES.get(key, key)
            if key in AXES:
                spec.axes[key] = parse_values(key, value)
            elif key in SCALARS:
                spec.options[key] = _scalar(key, value)
            else:
                known = ", ".join(sorted(set(AXES) | set(SCALARS)))
                raise ParameterError(source, f"unknown key {key!r} (known: {known})")
        spec.validate()
        return spec

    def validate(self) -> None:
        from grokviz.core.tasks import TASK_NAMES

        for name in self.axes["task"]:
            if name not in TASK_NAMES:
                raise ParameterError("task", f"unknown task {name!r} (choose from {', '.join(TASK_NAMES)})")
        for key in ("m", "n", "p"):
            bad = [v for v in self.axes[key] if v < (2 if key == "p" else 1)]
            if bad:
                raise ParameterError(key, f"must be >= {2 if key == 'p' else 1}, got {bad[0]}")
        for key in ("epochs", "eval_every", "checkpoint_every", "d_model", "n_heads", "d_head", "d_mlp"):
            if self.options[key] < 1:
                raise ParameterError(key, f"must be >= 1, got {self.options[key]}")
        if self.options["save_every"] <= 0:
            raise ParameterError("save_every", f"must be > 0 seconds, got {self.options['save_every']}")
        if self.options["split"] not in ("randperm", "shuffle"):
            raise ParameterError("split", f"unknown split {self.options['split']!r} (randperm or shuffle)")
        if self.options["device"] not in ("auto", "cpu", "cuda") and not self.options["device"].startswith("cuda:"):
            raise ParameterError("device", f"must be auto, cpu or cuda, got {self.options['device']!r}")
        for value in self.axes["frac_train"]:
            if not 0 < value < 1:
                raise ParameterError("frac_train", f"must lie strictly between 0 and 1, got {value}")
        count = self.cell_count()
        if count > MAX_CELLS:  # counted from the axes, before the grid is built
            raise ParameterError("spec", f"{count:,} cells is more than {MAX_CELLS:,}")
        self._check_values()

    def _check_values(self) -> None:
        """Every axis value and option as the trainer would check it, and the largest model's memory,
        so a bad value is one line now rather than a failed cell later."""
        from grokviz.core.config import (GrokfastConfig, ModelConfig, TrainConfig, check_memory_budget,
                                         check_seed)

        opts = self.options
        dims = {k: opts[k] for k in ("d_model", "n_heads", "d_head", "d_mlp")}
        for p in self.axes["p"]:
            ModelConfig(p=p, **dims)
        for name, key in (("seeds", "seeds"), ("data_seeds", "data_seeds")):
            for seed in self.axes[key]:
                check_seed(name, seed)
        for lamb in self.axes["grokfast_lambda"]:
            GrokfastConfig(opts["grokfast"], opts["grokfast_alpha"], lamb)
        recipe = dict(epochs=opts["epochs"], checkpoint_every=opts["checkpoint_every"], eval_every=opts["eval_every"],
                      warmup_steps=opts["warmup"], device=opts["device"], save_every_seconds=opts["save_every"],
                      loss=opts["loss"], optimizer=opts["optimizer"])
        for lr in self.axes["lr"]:
            TrainConfig(lr=lr, **recipe)
        for weight_decay in self.axes["weight_decay"]:
            TrainConfig(weight_decay=weight_decay, **recipe)
        largest = TrainConfig(grokfast=GrokfastConfig(opts["grokfast"], opts["grokfast_alpha"]), **recipe)
        check_memory_budget(ModelConfig(p=max(self.axes["p"]), **dims), largest, max(self.axes["frac_train"]))

    def cell_count(self) -> int:
        """The number of cells :meth:`cells` builds: exponents count only for pow."""
        other = math.prod(len(self.axes[k]) for k in AXES if k not in ("task", "m", "n"))
        exponents = len(self.axes["m"]) * len(self.axes["n"])
        return other * sum(exponents if task == "pow" else 1 for task in self.axes["task"])

    def cells(self) -> list[Cell]:
        """The grid in a stable order; exponents collapse to 1 for tasks other than pow."""
        swept = {k for k, v in self.axes.items() if len(v) > 1}
        options = tuple(sorted(self.options.items()))
        cells, seen = [], set()
        for values in itertools.product(*(self.axes[k] for k in AXES)):
            params = dict(zip(AXES, values))
            if params["task"] != "pow":
                params["m"] = params["n"] = 1
            key = tuple(params.values())
            if key in seen:
                continue
            seen.add(key)
            cells.append(Cell(
                task=params["task"], m=params["m"], n=params["n"], p=params["p"], seed=params["seeds"],
                data_seed=params["data_seeds"], frac_train=params["frac_train"], lr=params["lr"],
                weight_decay=params["weight_decay"], grokfast_lambda=params["grokfast_lambda"],
                options=options, name=cell_name(params, swept),
            ))
        return cells

    def to_dict(self) -> dict:
        return {**{k: list(v) for k, v in self.axes.items()}, **self.options}


def _fmt(value) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace("+", "").replace("-", "m")


def cell_name(params: dict, swept: set) -> str:
    """File stem: task, exponents, p, seeds always; the other axes when they are swept."""
    name = params["task"] + (f"_m{params['m']}_n{params['n']}" if params["task"] == "pow" else "")
    name += f"_p{params['p']}_seed{params['seeds']}_data{params['data_seeds']}"
    short = {"frac_train": "frac", "lr": "lr", "weight_decay": "wd", "grokfast_lambda": "gfl"}
    for key, label in short.items():
        if key in swept:
            name += f"_{label}{_fmt(params[key])}"
    return name


def load_spec(path) -> SweepSpec:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) spec file."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError("SPEC", f"{path}: no such file")
    text = path.read_bytes()
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python < 3.11
                import tomli as tomllib
            data = tomllib.loads(text.decode("utf-8"))
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text.decode("utf-8"))
        else:
            raise ParameterError("SPEC", f"{path}: expected a .toml, .yaml or .yml file")
    except ParameterError:
        raise
    except Exception as error:  # noqa: BLE001 - parser errors become one line
        message = " ".join(str(error).split())
        raise ParameterError("SPEC", f"{path}: cannot parse: {message}") from None
    return SweepSpec.from_mapping(data if data is not None else {}, source=f"{path.name}")


FLAG_KEYS = tuple(AXES) + tuple(SCALARS)


def spec_from_flags(values: dict, base: SweepSpec | None = None) -> SweepSpec:
    """Merge command-line values (``None`` = not given) over a spec (or the defaults)."""
    data = base.to_dict() if base is not None else {}
    data.update({k: v for k, v in values.items() if v is not None})
    return SweepSpec.from_mapping(data, source="flags")
