"""Last Letter Concatenation (Kojima et al., 2022): concatenate the last letters of N names.
Free-text answer (lower-case letters). The paper's dataset has N=4, 500 questions.

``last_letter_concatenation`` reads ``raw/last_letter_concatenation/last_letters.json``;
``last_letter_concatenation:words=4,train=350,test=150,seed=0`` generates questions in the same
format (parameters may be omitted; these are the defaults).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftcot.api import Example, GeneratedTask, Param, RawFile, UserError, examples_list, field, read_json
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


def rationales(words: list[str], letters: list[str] | None = None) -> list[str]:
    """The paper's few-shot style (canonical), a running concatenation, and a terse list.
    ``letters``: the letters a mistaken rationale reads (default: each word's last letter)."""
    letters = letters if letters is not None else [w[-1] for w in words]
    answer = "".join(letters)
    canonical = " ".join(f'The last letter of "{w}" is "{c}".' for w, c in zip(words, letters))
    canonical += f' Concatenating them is "{answer}".'
    running, so_far = [], ""
    for w, c in zip(words, letters):
        so_far += c
        running.append(f'"{w}" ends in "{c}", so far "{so_far}".')
    terse = ", ".join(f"{w} -> {c}" for w, c in zip(words, letters)) + f". Together: {answer}."
    return [canonical, " ".join(running), terse]


def mistaken(words: list[str], rng: Any) -> tuple[list[str], str]:
    """A rationale that reads one word's letter wrong (another letter of that word, drawn with
    ``rng``) and carries it into the concatenation; words of one repeated letter are skipped."""
    steps = [i for i, w in enumerate(words) if set(w.lower()) - {w[-1]}]
    if not steps:
        raise UserError("every word is one repeated letter; the oracle cannot get it wrong")
    step = rng.choice(steps)
    word = words[step]
    letters = [w[-1] for w in words]
    letters[step] = rng.choice(sorted(set(word.lower()) - {word[-1]}))
    return rationales(words, letters), "".join(letters)


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

    def oracle_mistake(self, example: Example, rng: Any) -> tuple[list[str], str]:
        return mistaken(example.meta["words"], rng)


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
