"""Task coordinates (design.md §6a): every task is addition in a cyclic group Z_n.

Each task states maps φ(a), ψ(b), χ(c) from tokens into Z_n with χ(f(a, b)) = φ(a) + ψ(b) mod n
for every input where all three are defined:

=====  ==========  ===========  =========  =======
task   φ(a)        ψ(b)         χ(c)       n
=====  ==========  ===========  =========  =======
add    a           b            c          p
sub    a           −b           c          p
pow    a^m         b^n          c          p
mul    log_g a     log_g b      log_g c    p − 1
div    log_g a     −log_g b     log_g c    p − 1
=====  ==========  ===========  =========  =======

A :class:`CoordinateMap` holds one map as a tuple of values per token, −1 where the token lies
outside the group: for mul and div the token 0 (0 has no discrete logarithm; an input with
a = 0 or b = 0 has c = 0, outside the group too, so such inputs drop out of every fit in these
coordinates). For pow, a^m maps 0 to 0, a legitimate element of the additive group Z_p (0 is
outside only the *multiplicative* structure, which pow's coordinates do not use); a^m is
gcd(m, p − 1)-to-one on a ≠ 0, so the tokens group and the map is not a bijection.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from grokviz.core.modular import is_prime, primitive_root  # noqa: F401 - primitive_root is part of this API

# ``Task`` (grokviz.core.tasks) appears in annotations only: tasks import this module
# (Task.coordinates), so this one never imports tasks.

OUTSIDE = -1


@dataclass(frozen=True)
class CoordinateMap:
    """A map from the tokens 0 … p−1 into Z_n; ``values[t]`` is −1 where t is outside the group.

    ``name`` is the ordering (``additive``, ``negated``, ``power``, ``discrete_log``, …) and
    ``symbol`` the axis letter a view shows (u = φ(a), v = ψ(b), w = χ(c)).
    """

    name: str
    n: int
    values: tuple
    symbol: str = "u"
    formula: str = ""

    @property
    def p(self) -> int:
        return len(self.values)

    @property
    def in_group(self) -> tuple:
        return tuple(v != OUTSIDE for v in self.values)

    @property
    def is_identity(self) -> bool:
        return self.n == self.p and all(v == t for t, v in enumerate(self.values))

    @property
    def is_bijection(self) -> bool:
        """True when the tokens inside the group map one-to-one onto all of Z_n."""
        inside = [v for v in self.values if v != OUTSIDE]
        return len(inside) == self.n and len(set(inside)) == self.n

    def preimages(self) -> list:
        """[n] lists: the tokens with each coordinate value (empty where nothing maps)."""
        out = [[] for _ in range(self.n)]
        for token, value in enumerate(self.values):
            if value != OUTSIDE:
                out[value].append(token)
        return out

    def label(self, token_name: str = "a") -> str:
        """Axis label naming the coordinate, e.g. ``u = a^3 mod 113``, ``u = log_3 a (Z_112)``;
        the token itself (``a``) for the identity map."""
        if self.is_identity:
            return token_name
        if self.name == "discrete_log":
            return f"{self.symbol} = {self.formula} {token_name} (in Z_{self.n})"
        return f"{self.symbol} = {self.formula.replace('t', token_name)} mod {self.n}"

    def term(self, token_name: str = "a") -> str:
        """The map applied to a token, as written in a formula: ``a``, ``a^3``, ``−b``, ``log_3 a``."""
        if self.is_identity:
            return token_name
        if "t" in self.formula:
            return self.formula.replace("t", token_name)
        return f"{self.formula} {token_name}"

    def tick(self, value: int, token_name: str = "a") -> str:
        """Tick label with both coordinate and token(s), e.g. ``8 (a=2)`` or ``1 (a=1,112)``."""
        tokens = self.preimages()[value]
        if not tokens:
            return f"{value} (—)"
        shown = ",".join(str(t) for t in tokens[:3]) + ("…" if len(tokens) > 3 else "")
        return f"{value} ({token_name}={shown})"


@dataclass(frozen=True)
class TaskCoordinates:
    """φ, ψ, χ of one task (design.md §6a) with the group order n."""

    task: "Task | None"  # None: add's identity maps for a bare p
    phi: CoordinateMap
    psi: CoordinateMap
    chi: CoordinateMap

    @property
    def n(self) -> int:
        return self.phi.n

    @property
    def same_operand_maps(self) -> bool:
        """φ = ψ: both operands live on one axis, so c/2 mirrors exist (design.md §6a)."""
        return self.phi.values == self.psi.values

    @property
    def is_identity(self) -> bool:
        return self.phi.is_identity and self.psi.is_identity and self.chi.is_identity

    def operand(self, name: str) -> CoordinateMap:
        return {"a": self.phi, "b": self.psi, "c": self.chi}[name]

    def cos_argument(self) -> str:
        """φ(a) + ψ(b) − χ(c) in the task's own terms, the phase of the logits' cos cubes
        cos(w_k(φ(a) + ψ(b) − χ(c))) (design.md §6, §6a): ``a+b−c`` for add, ``a^3+b^2−c`` for pow."""
        psi = self.psi.term("b")
        return f"{self.phi.term('a')}{psi if psi.startswith('−') else '+' + psi}−{self.chi.term('c')}"


@functools.lru_cache(maxsize=64)
def discrete_log_map(p: int, symbol: str = "u", negate: bool = False) -> CoordinateMap:
    """log_g over the tokens (0 outside the group), n = p − 1; ``negate``: −log_g (div's ψ)."""
    g = primitive_root(p)
    n = p - 1
    values = [OUTSIDE] * p
    x = 1
    for k in range(n):
        values[x] = (-k) % n if negate else k
        x = x * g % p
    formula = f"{'−' if negate else ''}log_{g}"
    return CoordinateMap("discrete_log", n, tuple(values), symbol, formula)


@functools.lru_cache(maxsize=64)
def additive_map(p: int, symbol: str = "u", negate: bool = False) -> CoordinateMap:
    """The token itself (or −token), n = p."""
    values = tuple((-t) % p if negate else t for t in range(p))
    return CoordinateMap("negated" if negate else "additive", p, values, symbol, "−t" if negate else "t")


@functools.lru_cache(maxsize=64)
def power_map(p: int, exponent: int, symbol: str = "u") -> CoordinateMap:
    """t ↦ t^exponent mod p (0 ↦ 0), n = p; gcd(exponent, p − 1)-to-one on t ≠ 0."""
    return CoordinateMap("power", p, tuple(pow(t, exponent, p) for t in range(p)), symbol, f"t^{exponent}")


@functools.lru_cache(maxsize=64)
def task_coordinates(task: Task) -> TaskCoordinates:
    """φ, ψ, χ for ``task`` (design.md §6a table)."""
    p, name = task.p, task.name
    if name == "add":
        return TaskCoordinates(task, additive_map(p, "u"), additive_map(p, "v"), additive_map(p, "w"))
    if name == "sub":
        return TaskCoordinates(task, additive_map(p, "u"), additive_map(p, "v", negate=True), additive_map(p, "w"))
    if name == "pow":
        return TaskCoordinates(task, power_map(p, task.m, "u"), power_map(p, task.n, "v"), additive_map(p, "w"))
    if name in ("mul", "div"):
        if not is_prime(p):
            raise ValueError(f"{task.formula}: discrete-log coordinates need a prime p")
        return TaskCoordinates(task, discrete_log_map(p, "u"), discrete_log_map(p, "v", negate=name == "div"),
                               discrete_log_map(p, "w"))
    raise ValueError(f"no coordinates for task {name!r}")


def has_coordinates(task: Task) -> tuple[bool, str]:
    """Whether :func:`task_coordinates` exists for ``task``, with the reason when not."""
    if task.name in ("mul", "div") and not is_prime(task.p):
        return False, f"{task.formula}: p = {task.p} is not prime, so there are no discrete-log coordinates"
    return True, ""


def swap_symmetric(task: Task) -> tuple[bool, str]:
    """Whether f(a, b) = f(b, a) (operand-swap symmetry is defined), with the reason when not."""
    if task.name in ("add", "mul") or (task.name == "pow" and task.m == task.n):
        return True, ""
    why = {"sub": "a − b ≠ b − a", "div": "a · b⁻¹ ≠ b · a⁻¹"}.get(task.name, f"a^{task.m} + b^{task.n} ≠ b^{task.m} + a^{task.n}")
    return False, f"operand-swap symmetry is undefined for {task.formula}: {why}"


def token_orderings(task: Task, operand: str) -> dict:
    """The candidate orderings of one operand's tokens (design.md §6a, "which basis"):
    ``additive`` (the token), ``power`` (t^m for a, t^n for b; pow only) and ``discrete_log``
    (log_g t, token 0 left out; prime p only)."""
    p = task.p
    symbol = "u" if operand == "a" else "v"
    out = {"additive": additive_map(p, symbol)}
    if task.name == "pow":
        out["power"] = power_map(p, task.m if operand == "a" else task.n, symbol)
    if is_prime(p) and p > 2:
        out["discrete_log"] = discrete_log_map(p, symbol)
    return out


def gcd_note(task: Task) -> str:
    """For pow: how many tokens share a coordinate (gcd(m, p − 1), gcd(n, p − 1)); else ''."""
    if task.name != "pow":
        return ""
    ga, gb = math.gcd(task.m, task.p - 1), math.gcd(task.n, task.p - 1)
    if ga == gb == 1:
        return ""
    return (f"a^{task.m} is {ga}-to-one and b^{task.n} is {gb}-to-one on the non-zero tokens: tokens with equal "
            "coordinates group (ragged)")


def coordinates_of(coords, p: int) -> TaskCoordinates:
    """``coords`` itself, a task's coordinates when given a :class:`Task`, or add's identity maps for None."""
    if coords is None:
        return identity_coordinates(p)
    if not isinstance(coords, TaskCoordinates):  # a Task
        return analysis_coordinates(coords)
    return coords


@functools.lru_cache(maxsize=64)
def identity_coordinates(p: int) -> TaskCoordinates:
    """add's maps φ = ψ = χ = identity, n = p (design.md §6: every analysis's default)."""
    return TaskCoordinates(None, additive_map(p, "u"), additive_map(p, "v"), additive_map(p, "w"))


def analysis_coordinates(task: Task) -> TaskCoordinates:
    """The coordinates every analysis uses: :func:`task_coordinates`, or for the one task without
    them (mul with a composite p: no discrete logs) the additive maps, so analyses still run."""
    defined, _ = has_coordinates(task)
    if defined:
        return task_coordinates(task)
    p = task.p
    return TaskCoordinates(task, additive_map(p, "u"), additive_map(p, "v"), additive_map(p, "w"))
