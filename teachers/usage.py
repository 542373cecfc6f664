"""Splitting one request's usage among the samples it produced, so that the parts add up to the
whole: a prompt sent once is billed once, whichever samples share it; and the batch price."""

from __future__ import annotations

BATCH_PRICE_FACTOR = 0.5  # a batch job's price relative to the same requests one by one (OpenAI's Batch API)


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` integers that differ by at most one and sum to ``total``."""
    if parts <= 0:
        return []
    base, extra = divmod(max(0, total), parts)
    return [base + (i < extra) for i in range(parts)]


def split_by_weight(total: int, weights: list[int]) -> list[int]:
    """``total`` in integers proportional to ``weights`` (largest remainders), summing to ``total``;
    evenly when every weight is 0."""
    if not weights:
        return []
    mass = sum(max(0, w) for w in weights)
    if mass == 0:
        return split_evenly(total, len(weights))
    exact = [max(0, total) * max(0, w) / mass for w in weights]
    shares = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in order[: max(0, total) - sum(shares)]:
        shares[i] += 1
    return shares
