"""Last Letter Concatenation (Kojima et al., 2022): concatenate the last letters of N names.
Free-text answer (lower-case letters). The paper's dataset has N=4, 500 questions.

``last_letter_concatenation`` reads ``raw/last_letter_concatenation/last_letters.json``;
``last_letter_concatenation:words=4,train=350,test=150,seed=0`` generates questions in the same
format (parameters may be omitted; these are the defaults).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from ftcot.api import Example, GeneratedTask, Param, RawFile, UserError
from ftcot.datafiles import examples_list, field, read_json
from ftcot.tasks.coin_flip import KOJIMA
from ftcot.tasks.paper import PaperDataset
from ftcot.tasks.words import NAMES

_QUESTION = re.compile(r'^Take the last letters of each words in "(?P<words>[^"]+)" and concatenate them\.$')


def question_for(words: list[str]) -> str:
    return f'Take the last letters of each words in "{" ".join(words)}" and concatenate them.'


def parse_question(question: str) -> list[str] | None:
    m = _QUESTION.match(question.strip())
    return m.group("words").split() if m else None


def answer_for(words: list[str]) -> str:
    return "".join(w[-1] for w in words)


def rationales(words: list[str]) -> list[str]:
    """The paper's few-shot style (canonical), a running concatenation, and a terse list."""
    answer = answer_for(words)
    canonical = " ".join(f'The last letter of "{w}" is "{w[-1]}".' for w in words)
    canonical += f' Concatenating them is "{answer}".'
    running, so_far = [], ""
    for w in words:
        so_far += w[-1]
        running.append(f'"{w}" ends in "{w[-1]}", so far "{so_far}".')
    terse = ", ".join(f"{w} -> {w[-1]}" for w in words) + f". Together: {answer}."
    return [canonical, " ".join(running), terse]


class LastLettersGenerated(GeneratedTask):
    """Last Letter Concatenation, generated: the last letters of N names."""

    name = "last_letter_concatenation"
    answer_type = "text"
    params = (
        Param("words", int, 4, "words in the name whose last letters are joined"),
        Param("train", int, 350, "training examples (sample indices 0..train-1)"),
        Param("test", int, 150, "test examples (the next ones)"),
        Param("seed", int, 0, "generator seed"),
    )

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.values["words"] <= len(NAMES):
            raise UserError(f"task last_letter_concatenation: words must be between 1 and {len(NAMES)}")

    def _size_hint(self) -> str:
        return "words"

    def _generate(self, rng: Any) -> tuple[str, str, None, dict[str, Any]]:
        words = rng.sample(NAMES, self.values["words"])
        return question_for(words), answer_for(words), None, {"words": words}

    def oracle_rationales(self, example: Example) -> list[str]:
        return rationales(example.meta["words"])


class LastLetters(PaperDataset):
    """Last Letter Concatenation (Kojima et al.): join the last letters of 4 names."""

    name = "last_letter_concatenation"
    answer_type = "text"
    generator = LastLettersGenerated
    files = (RawFile("last_letters.json", 500,
                     "60e8d092d0a6423d3256e87e0c249b69aefea4cd27985082095fa4e93931fb02",
                     f"{KOJIMA}/dataset/last_letters/last_letters.json"),)

    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[tuple[str, str, None, None]]:
        for i, row in enumerate(examples_list(read_json(path, self.name), self.name, path)):
            where = f"record {i}"
            yield (field(row, "question", str, self.name, path, where),
                   field(row, "answer", str, self.name, path, where), None, None)

    def oracle_rationales(self, example: Example) -> list[str]:
        words = parse_question(example.question)
        if words is not None and answer_for(words) != example.answer:
            words = group_names(words, example.answer)
        if words is None:
            raise UserError(f"task {self.name}: sample {example.sample_index} is not in the last-letters format")
        return rationales(words)


def group_names(tokens: list[str], answer: str) -> list[str] | None:
    """Some names of the original data contain spaces ("Jose Antonio"): the grouping of
    ``tokens`` into ``len(answer)`` names whose last letters spell ``answer`` (the first found)."""
    n = len(answer)

    def search(start: int, k: int) -> list[str] | None:
        if k == n:
            return [] if start == len(tokens) else None
        for end in range(start + 1, len(tokens) - (n - k - 1) + 1):
            name = " ".join(tokens[start:end])
            if name[-1] == answer[k]:
                rest = search(end, k + 1)
                if rest is not None:
                    return [name] + rest
        return None

    return search(0, 0) if 0 < n <= len(tokens) else None
