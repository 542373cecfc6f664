"""StrategyQA (Geva et al., BIG-bench version): yes/no questions that need implicit multi-step
reasoning. The answer is ``Yes``/``No``; the dataset's explanation is kept as the reference
rationale (its ``target`` without the leading ``Yes. ``/``No. ``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ftcot.api import RawFile, examples_list, field, malformed, read_json
from ftcot.tasks.coin_flip import KOJIMA
from ftcot.tasks.paper import PaperDataset


class StrategyQa(PaperDataset):
    """StrategyQA (BIG-bench): yes/no questions needing implicit reasoning steps."""

    name = "strategy_qa"
    answer_type = "yes_no"
    files = (RawFile("task.json", 2290, "60af9081fed20102fd8bb1e02dc7d9f12238efcba33e4c1a56b4d61cb6409803",
                     f"{KOJIMA}/dataset/StrategyQA/task.json"),)

    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[tuple[str, str, None, str | None]]:
        for i, record in enumerate(examples_list(read_json(path, self.name), self.name, path)):
            where = f"record {i}"
            question = field(record, "input", str, self.name, path, where).strip()
            scores = field(record, "target_scores", dict, self.name, path, where)
            right = [k for k, v in scores.items() if v == 1]
            if len(right) != 1 or right[0] not in ("Yes", "No"):
                raise malformed(self.name, path, where, "target_scores must mark exactly one of Yes/No")
            answer = right[0]
            target = record.get("target")
            rationale = None
            if isinstance(target, str):
                rationale = target[len(answer) + 2:] if target.startswith(answer + ". ") else target
            yield question, answer, None, rationale
