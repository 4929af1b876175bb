"""A bounded cache that computes what it misses, for values derived from a few distinct keys
(realm names, event types, rendered templates)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 10_000
"""The most entries a memo keeps; when full, it starts over. Keys are few in practice: the bound
only guards against unbounded custom values."""


class Memo(dict[K, V], Generic[K, V]):
    """``memo[key]`` is ``compute(key)``, computed on the first lookup and kept.

    A hit is one C-level ``dict`` lookup, so ``map(memo.__getitem__, keys)`` looks up a whole
    batch without a Python call per key.
    """

    def __init__(self, compute: Callable[[K], V]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: K) -> V:
        if len(self) >= LIMIT:
            self.clear()
        value = self[key] = self._compute(key)
        return value
