"""A toy task the student tests train on: reverse a few letters."""

from __future__ import annotations

import random


def reverse_pairs(n: int, seed: int, longest: int = 5) -> list[tuple[str, str]]:
    """``n`` (source, target) pairs of 2 to ``longest`` letters, in the paper's decoder format."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        letters = rng.sample("abcdefgh", rng.randint(2, longest))
        out.append((f"reverse {' '.join(letters)} ###", f" {' '.join(reversed(letters))} END"))
    return out
