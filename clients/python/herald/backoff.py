"""Exponential reconnect delays with jitter for the worker's stream."""

from __future__ import annotations

import random


class Backoff:
    """Delays double from `initial` up to `maximum`; each is drawn from [d/2, d] so workers spread out."""

    def __init__(self, initial: float = 0.5, maximum: float = 15.0, rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self._initial = initial
        self._maximum = maximum
        self._failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The delay before the next attempt; grows with each call until reset()."""
        ceiling = min(self._maximum, self._initial * (2 ** min(self._failures, 30)))
        self._failures += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        """Called after a successful connection: the next delay starts small again."""
        self._failures = 0
