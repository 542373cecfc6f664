"""Coin Flip (Kojima et al., 2022): does a coin that starts heads up stay heads up after N people
each flip it or not? Answer ``yes``/``no``. The paper's dataset has N=4, 500 questions.

``coin_flip`` reads ``raw/coin_flip/coin_flip.json``; ``coin_flip:flips=4,train=350,test=150,seed=0``
generates questions in the same format (parameters may be omitted; these are the defaults).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftcot.api import Example, GeneratedTask, Param, RawFile, UserError, examples_list, field, malformed, read_json
from ftcot.tasks.paper import PaperDataset
from ftcot.tasks.words import NAMES

KOJIMA = "https://github.com/kojima-takeshi188/zero_shot_cot/raw/5ef330f"
QUESTION_END = 'Is the coin still heads up? Note that "flip" here means "reverse".'
_STEP = re.compile(r"^(?P<who>.+?) (?P<act>flips|does not flip) the coin$")


def question_for(people: list[str], flips: list[bool]) -> str:
    steps = " ".join(f"{p} {'flips' if f else 'does not flip'} the coin." for p, f in zip(people, flips))
    return f"A coin is heads up. {steps} {QUESTION_END}"


def parse_question(question: str) -> tuple[list[str], list[bool]] | None:
    """(people, flips) of a coin-flip question in the paper's format; None if it is not one."""
    text = question.strip()
    start = "A coin is heads up."
    if not text.startswith(start) or not text.endswith(QUESTION_END):
        return None
    body = text[len(start): -len(QUESTION_END)].strip()
    people, flips = [], []
    for sentence in filter(None, (s.strip() for s in body.split("."))):
        m = _STEP.match(sentence)
        if not m:
            return None
        people.append(m.group("who"))
        flips.append(m.group("act") == "flips")
    return (people, flips) if people else None


def rationales(people: list[str], flips: list[bool], misread: int | None = None) -> list[str]:
    """Step-by-step rationales: state after every person (canonical), then the paper's counting style.

    ``misread``: the step a mistaken rationale gets wrong (that person's flip read the other way),
    and carries through to the end."""
    if misread is not None:
        flips = [f != (i == misread) for i, f in enumerate(flips)]
    side, steps = "heads", []
    for person, flipped in zip(people, flips):
        if flipped:
            side = "tails" if side == "heads" else "heads"
            steps.append(f"{person} flips: {side}.")
        else:
            steps.append(f"{person} does not flip: {side}.")
    canonical = "Start: heads. " + " ".join(steps) + f" The coin ends {side} up."
    flippers = [p for p, f in zip(people, flips) if f]
    n = len(flippers)
    who = "no one" if not flippers else (
        flippers[0] if n == 1 else ", ".join(flippers[:-1]) + " and " + flippers[-1])
    parity = "even" if n % 2 == 0 else "odd"
    end = "it will still be heads up" if n % 2 == 0 else "it will be tails up"
    counting = (f"The coin was flipped by {who}. So the coin was flipped {n} times, which is an {parity} "
                f"number. The coin started heads up, so after an {parity} number of flips, {end}.")
    short = f"{n} flips in all, an {parity} number, so the coin is {side} up."
    return [canonical, counting, short]


class CoinFlipGenerated(GeneratedTask):
    """Coin Flip, generated: N people flip or do not flip a coin that starts heads up."""

    name = "coin_flip"
    answer_type = "yes_no"
    params = (
        Param("flips", int, 4, "people who flip the coin or not"),
        Param("train", int, 350, "training examples (sample indices 0..train-1)"),
        Param("test", int, 150, "test examples (the next ones)"),
        Param("seed", int, 0, "generator seed"),
    )

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.values["flips"] <= len(NAMES):
            raise UserError(f"task coin_flip: flips must be between 1 and {len(NAMES)}")

    def _size_hint(self) -> str:
        return "flips"

    def _generate(self, rng: Any) -> tuple[str, str, None, dict[str, Any]]:
        people = rng.sample(NAMES, self.values["flips"])
        flips = [rng.random() < 0.5 for _ in people]
        answer = "yes" if sum(flips) % 2 == 0 else "no"
        return question_for(people, flips), answer, None, {"people": people, "flips": flips}

    def oracle_rationales(self, example: Example) -> list[str]:
        return rationales(example.meta["people"], example.meta["flips"])

    def oracle_mistake(self, example: Example, rng: Any) -> tuple[list[str], str]:
        flips = example.meta["flips"]
        step = rng.randrange(len(flips))
        wrong = "no" if example.answer == "yes" else "yes"  # one misread flip changes the parity
        return rationales(example.meta["people"], flips, misread=step), wrong


class CoinFlip(PaperDataset):
    """Coin Flip (Kojima et al.): is the coin still heads up after 4 people flip it or not?"""

    name = "coin_flip"
    answer_type = "yes_no"
    generator = CoinFlipGenerated
    files = (RawFile("coin_flip.json", 500,
                     "68cf201737a1463ef6bed5419622805a8934d92bff6a28a9dfbf83be3135ba5a",
                     f"{KOJIMA}/dataset/coin_flip/coin_flip.json"),)

    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[tuple[str, str, None, None]]:
        for i, row in enumerate(examples_list(read_json(path, self.name), self.name, path)):
            where = f"record {i}"
            question = field(row, "question", str, self.name, path, where)
            answer = field(row, "answer", str, self.name, path, where)
            if answer not in ("yes", "no"):
                raise malformed(self.name, path, where, f"answer {answer!r} is not yes/no")
            yield question, answer, None, None

    def oracle_rationales(self, example: Example) -> list[str]:
        parsed = parse_question(example.question)
        if parsed is None:
            raise UserError(f"task coin_flip: sample {example.sample_index} is not in the coin-flip format")
        return rationales(*parsed)

