"""Number theory the tasks and their coordinates share: primality and primitive roots."""

from __future__ import annotations


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    k = 3
    while k * k <= n:
        if n % k == 0:
            return False
        k += 2
    return True


def primitive_root(p: int) -> int:
    """The smallest primitive root modulo the prime ``p``."""
    if not is_prime(p):
        raise ValueError(f"{p} is not prime: no discrete logarithms")
    if p == 2:
        return 1
    order = p - 1
    factors, rest, f = set(), order, 2
    while f * f <= rest:
        while rest % f == 0:
            factors.add(f)
            rest //= f
        f += 1
    if rest > 1:
        factors.add(rest)
    for g in range(2, p):
        if all(pow(g, order // q, p) != 1 for q in factors):
            return g
    raise AssertionError("unreachable: every prime has a primitive root")
