"""Multiple-choice tasks: AQUA-RAT, CommonsenseQA and Date Understanding. Choices are rendered
into the question as the paper's data does: ``<q> Answer choices: (A) c1, (B) c2, ... .``;
the answer is the letter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ftcot.api import RawFile, examples_list, field, malformed, read_json, read_json_lines
from ftcot.tasks.coin_flip import KOJIMA
from ftcot.tasks.paper import PaperDataset, render_choices

Row = tuple[str, str, list[str], str | None]
AQUA_URL = "https://github.com/deepmind/AQuA/raw/26b64ed"


class Aqua(PaperDataset):
    """AQUA-RAT (Ling et al.): algebra word problems with five choices.

    The paper trains on 10,000 rows sampled from the 97,467-row ``train.json`` and tests on
    ``test.json``. Without ``train.json`` the task can be evaluated but not distilled.
    """

    name = "aqua"
    answer_type = "letter"
    letters = "ABCDE"
    files = (
        RawFile("train.json", 97467, None, f"{AQUA_URL}/train.json",
                git_sha1="a805bddefde8d70fdb66ff7ab85a1999bdc3eece", optional=True),
        RawFile("test.json", 254, "de41581881ef95c5588c44ddc701c77fd480839241dd422a0d181262af24520c",
                f"{AQUA_URL}/test.json"),
    )

    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[Row]:
        for lineno, record in read_json_lines(path, self.name):
            where = f"line {lineno}"
            question = field(record, "question", str, self.name, path, where)
            options = field(record, "options", list, self.name, path, where)
            if not options or not all(isinstance(o, str) for o in options):
                raise malformed(self.name, path, where, "options must be a list of strings")
            answer = field(record, "correct", str, self.name, path, where)
            rationale = record.get("rationale") if isinstance(record.get("rationale"), str) else None
            choices = [o[2:] for o in options]
            yield render_choices(question.strip(), choices), answer, [c.strip() for c in choices], rationale


class CommonsenseQa(PaperDataset):
    """CommonsenseQA (Talmor et al.): five-way commonsense questions; the dev set is the test set."""

    name = "commonsense_qa"
    answer_type = "letter"
    letters = "ABCDE"
    files = (
        RawFile("train_rand_split.jsonl", 9741,
                "58ffa3c8472410e24b8c43f423d89c8a003d8284698a6ed7874355dedd09a2fb",
                f"{KOJIMA}/dataset/CommonsenseQA/train_rand_split.jsonl"),
        RawFile("dev_rand_split.jsonl", 1221,
                "3210497fdaae614ac085d9eb873dd7f4d49b6f965a93adadc803e1229fd8a02a",
                f"{KOJIMA}/dataset/CommonsenseQA/dev_rand_split.jsonl"),
    )

    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[Row]:
        for lineno, record in read_json_lines(path, self.name):
            where = f"line {lineno}"
            body = field(record, "question", dict, self.name, path, where)
            stem = field(body, "stem", str, self.name, path, where)
            items = field(body, "choices", list, self.name, path, where)
            choices = [field(c, "text", str, self.name, path, where) for c in items]
            answer = field(record, "answerKey", str, self.name, path, where)
            yield render_choices(stem.strip(), choices), answer, [c.strip() for c in choices], None


class DateUnderstanding(PaperDataset):
    """Date Understanding (BIG-bench): date arithmetic with up to six choices.

    The choices are shuffled as the paper's data was: one ``numpy.random.RandomState(0)`` for the
    whole file, per example ``perm = rs.permutation(k)``, choice j goes to position ``perm[j]``.
    """

    name = "date_understanding"
    answer_type = "letter"
    letters = "ABCDEF"
    split_names = ("default", "template")
    files = (RawFile("task.json", 369, "ff716f0e399109146db3a998281c39954907b78268a9b633a95582d63847822f",
                     f"{KOJIMA}/dataset/Bigbench_Date/task.json"),)

    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[Row]:
        rs = np.random.RandomState(0)
        for i, record in enumerate(examples_list(read_json(path, self.name), self.name, path)):
            where = f"record {i}"
            text = field(record, "input", str, self.name, path, where)
            scores: dict[str, Any] = field(record, "target_scores", dict, self.name, path, where)
            keys = list(scores)
            right = [j for j, k in enumerate(keys) if scores[k] == 1]
            if len(right) != 1 or not 2 <= len(keys) <= len(self.letters):
                raise malformed(self.name, path, where, "target_scores must mark exactly one of 2 to 6 choices")
            perm = rs.permutation(len(keys))
            choices = [""] * len(keys)
            for j, k in enumerate(keys):
                choices[perm[j]] = (k[:-1] if k.endswith(".") else k).strip()
            answer = self.letters[perm[right[0]]]
            yield render_choices(text.strip() + "\nWhich choice is true?", choices), answer, choices, None
