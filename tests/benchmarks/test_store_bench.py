"""Store write rate: completions written in batches (one transaction per batch, the way teachers
write them) against the same rows written one transaction each."""

from __future__ import annotations

import itertools
from pathlib import Path

from ftcot.records import Completion
from ftcot.store import Store, content_key

ROWS = 2_000
BATCH = 200
ROUNDS = 5


def completions(tag: str) -> list[tuple[str, Completion]]:
    """Rows shaped like a teacher's: a prompt, a rationale of a few sentences, usage and cost."""
    question = "Alice, Bob and Claire swap their balls twice. Which ball does Bob have at the end?"
    return [
        (content_key("bench", tag, i),
         Completion(task="bench", sample_index=i, teacher="oracle", index=i % 4,
                    reasoning_prompt=f"Q: {question}\nA: Let's think step by step.",
                    rationale="Alice and Bob swap, so Bob has the red ball. " * 4,
                    answer_prompt="Therefore, the answer is", answer_text=" (B).", prediction="B",
                    correct=True, prompt_tokens=40, completion_tokens=60, cost_usd=0.0001))
        for i in range(ROWS)
    ]


def test_store_writes_batched(figure, timer, tmp_path: Path) -> None:
    counter = itertools.count()
    state: dict[str, object] = {}

    def fresh(tag: str) -> None:  # a new store file and new keys for every round
        n = next(counter)
        state["store"] = Store(tmp_path / f"{tag}-{n}.db")
        state["rows"] = completions(f"{tag}-{n}")

    def batched() -> None:
        store, rows = state["store"], state["rows"]
        for start in range(0, ROWS, BATCH):
            store.put_completions(rows[start:start + BATCH])

    def single_row() -> None:
        store, rows = state["store"], state["rows"]
        for row in rows:
            store.put_completions([row])

    single = timer.median(single_row, rounds=ROUNDS, setup=lambda: fresh("single"))
    batch = timer.bench(batched, rounds=ROUNDS, setup=lambda: fresh("batched"))

    written = Store(tmp_path / f"batched-{next(counter) - 1}.db").completions(task="bench")
    assert len(written) == ROWS  # the timed path really wrote every row
    info = figure("store writes/s, batched", ROWS / batch, "writes/s", baseline=ROWS / single,
                  baseline_label="one transaction per row")
    assert info["ratio"] > 1.0
