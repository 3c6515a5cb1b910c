"""Modular-arithmetic tasks (design.md §3): labels c = f(a, b) mod p for every input pair.

Rows are ordered ``i = a·p + b``; tokens are ``[a, b, p]`` (token p is ``=``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from grokviz.core.errors import ParameterError
from grokviz.core.modular import is_prime  # noqa: F401 - re-exported: tasks.is_prime is public

TASK_NAMES = ("add", "sub", "mul", "div", "pow")
MAX_P = 4096


@dataclass(frozen=True)
class Task:
    """A task ``name`` modulo ``p``; ``m`` and ``n`` are the exponents of ``pow`` (a^m + b^n)."""

    name: str
    p: int
    m: int = 1
    n: int = 1

    def __post_init__(self):
        if self.name not in TASK_NAMES:
            raise ParameterError("task", f"unknown task {self.name!r} (choose from {', '.join(TASK_NAMES)})")
        if not isinstance(self.p, int) or self.p < 2:
            raise ParameterError("p", f"the modulus must be an integer >= 2, got {self.p!r}")
        if self.p > MAX_P:
            raise ParameterError("p", f"the modulus must be at most {MAX_P}, got {self.p}")
        if self.name == "div" and not is_prime(self.p):
            raise ParameterError("p", f"div needs a prime modulus, {self.p} is not prime")
        if self.name == "pow":
            for label, value in (("m", self.m), ("n", self.n)):
                if not isinstance(value, int) or value < 1:
                    raise ParameterError(label, f"the exponent must be an integer >= 1, got {value!r}")
        elif (self.m, self.n) != (1, 1):
            object.__setattr__(self, "m", 1)
            object.__setattr__(self, "n", 1)

    # -- naming -----------------------------------------------------------------
    @property
    def spec(self) -> str:
        """Short spec accepted by :func:`parse_task`, e.g. ``add`` or ``pow:m=4,n=3``."""
        return f"pow:m={self.m},n={self.n}" if self.name == "pow" else self.name

    @property
    def expression(self) -> str:
        """The label's expression in a and b, e.g. ``a + b`` or ``a^4 + b^3``."""
        return {
            "add": "a + b",
            "sub": "a − b",
            "mul": "a · b",
            "div": "a · b⁻¹",
            "pow": f"a^{self.m} + b^{self.n}",
        }[self.name]

    @property
    def formula(self) -> str:
        """E.g. ``c = (a + b) mod 113``."""
        return f"c = ({self.expression}) mod {self.p}"

    def equation(self, a: int, b: int) -> str:
        """The concrete equation for one input, e.g. ``3 + 5 mod 113 = 8``."""
        c = self.label(a, b)
        shown = self.expression.replace("a", str(a), 1).replace("b", str(b), 1)
        return f"{shown} mod {self.p} = {'undefined' if c < 0 else c}"

    # -- labels -----------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return self.p * self.p

    def _ring(self, a, b):
        """add / sub / mul on ints or int64 tensors alike (None for div and pow)."""
        operation = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b}.get(self.name)
        return None if operation is None else operation() % self.p

    def label(self, a: int, b: int) -> int:
        """Label of one pair (−1 where undefined: div by b = 0)."""
        p = self.p
        ring = self._ring(a, b)
        if ring is not None:
            return ring
        if self.name == "div":
            return -1 if b % p == 0 else (a * pow(b, p - 2, p)) % p
        return (pow(a, self.m, p) + pow(b, self.n, p)) % p

    def labels(self) -> torch.Tensor:
        """Labels of all p² rows (int64, row ``a·p + b``); −1 marks undefined rows."""
        p = self.p
        a = torch.arange(p).repeat_interleave(p)
        b = torch.arange(p).repeat(p)
        ring = self._ring(a, b)
        if ring is not None:
            return ring
        if self.name == "div":
            inverse = torch.tensor([0] + [pow(x, p - 2, p) for x in range(1, p)])
            out = (a * inverse[b]) % p
            out[b == 0] = -1
            return out
        # Modular exponentiation per residue: no int64 overflow for any m, n.
        power_m = torch.tensor([pow(x, self.m, p) for x in range(p)])
        power_n = torch.tensor([pow(x, self.n, p) for x in range(p)])
        return (power_m[a] + power_n[b]) % p

    def valid_mask(self) -> torch.Tensor:
        """Boolean [p²]: which rows have a label."""
        return self.labels() >= 0

    def coordinates(self):
        """φ, ψ, χ into Z_n with χ(c) = φ(a) + ψ(b) (design.md §6a; :mod:`grokviz.core.coordinates`;
        mul with a composite p has none and gets the additive maps)."""
        from grokviz.core.coordinates import analysis_coordinates  # coordinates never import tasks: no cycle

        return analysis_coordinates(self)

    def to_dict(self) -> dict:
        return {"name": self.name, "p": self.p, "m": self.m, "n": self.n}

    @classmethod
    def from_dict(cls, data: dict) -> "Task":
        return cls(str(data["name"]), int(data["p"]), int(data.get("m", 1)), int(data.get("n", 1)))


_SPEC_RE = re.compile(r"^\s*([a-z]+)\s*(?::\s*(.*))?$")


def parse_task(spec: str, p: int, m: int | None = None, n: int | None = None) -> Task:
    """Parse ``add`` / ``pow:m=4,n=3`` (explicit ``m``/``n`` arguments override the spec)."""
    match = _SPEC_RE.match(str(spec).lower())
    if not match:
        raise ParameterError("task", f"cannot parse task {spec!r} (e.g. 'add' or 'pow:m=4,n=3')")
    name, rest = match.group(1), match.group(2)
    params = {}
    if rest:
        for item in rest.split(","):
            if "=" not in item:
                raise ParameterError("task", f"cannot parse {item!r} in {spec!r} (expected key=value)")
            key, value = (s.strip() for s in item.split("=", 1))
            if key not in ("m", "n"):
                raise ParameterError("task", f"unknown task parameter {key!r} in {spec!r}")
            try:
                params[key] = int(value)
            except ValueError:
                raise ParameterError(key, f"the exponent must be an integer, got {value!r}") from None
    if m is not None:
        params["m"] = m
    if n is not None:
        params["n"] = n
    return Task(name, p, params.get("m", 1), params.get("n", 1))
