"""Tracking Shuffled Objects (BIG-bench, three objects): people each hold an object, trade them in
K pairwise swaps; which object does one of them hold at the end? Answer a letter.

``tracking_shuffled_objects`` reads BIG-bench's ``task.json`` (750 questions, 3 people,
3 swaps). ``tracking_shuffled_objects:objects=3,swaps=3,train=525,test=225,seed=0,people=fixed,order=start``
generates questions (parameters may be omitted; these are the defaults):

- ``objects`` N people (2..7) each holding a distinct coloured ball, ``swaps`` K random pairwise swaps;
- ``people=fixed``: always Alice, Bob, Claire, ... in that order; ``people=random``: N names drawn
  per question;
- ``order=start``: the choices list the balls in starting order (person i starts with choice i);
  ``order=shuffled``: in a random order per question.

``preset=demo`` is the configuration a tiny from-scratch student learns on a CPU:
``objects=5,swaps=5,train=2000,test=500,seed=0,people=fixed,order=start``; further parameters
override the preset's (``preset=demo,seed=1``).

Answers are letters among the first N (``A``..``C`` for the dataset); the ``paper`` rules look
for those capital letters, as the paper's evaluator does with ``[ABC]``.

The oracle rationale writes the whole state after every swap as the choice letters each person
holds (``Bob and Dave swap: Alice A, Bob D, Claire C, Dave B, Eve E. ... Dave has C.``); a tiny
student learns that format, and fails to learn one written in object names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftcot.api import Example, GeneratedTask, Param, RawFile, UserError, examples_list, field, malformed, read_json
from ftcot.tasks.coin_flip import KOJIMA
from ftcot.tasks.paper import PaperDataset, render_choices
from ftcot.tasks.words import COLORS, NAMES, PLAYERS

LETTERS = "ABCDEFG"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def rationales(people: list[str], start: list[int], swaps: list[tuple[int, int]], target: int,
               choices: list[str] | None = None, applied: list[tuple[int, ...]] | None = None) -> list[str]:
    """Rationales from the structure of a question, every one stating the whole state after each
    swap in choice letters (a state in object names leaves a small student unable to map the
    final object back to its letter); the phrasings differ only in wording.

    ``start[i]``: index of the choice person i holds at first; ``swaps``: pairs of person indices
    in order; ``target``: the person asked about; ``choices`` is accepted for symmetry with the
    other tasks and not used. ``applied``: the swaps the states follow where they differ from the
    ones named (a mistaken rationale; an empty tuple is a swap left out).
    """
    held = list(start)
    moves = applied if applied is not None else list(swaps)

    def state() -> str:
        return ", ".join(f"{p} {LETTERS[c]}" for p, c in zip(people, held))

    initial = state()
    states = []
    for (a, b), move in zip(swaps, moves):
        if move:
            x, y = move
            held[x], held[y] = held[y], held[x]
        states.append((people[a], people[b], state()))
    letter = LETTERS[held[target]]
    who = people[target]
    canonical = " ".join(f"{a} and {b} swap: {s}." for a, b, s in states) + f" {who} has {letter}."
    return [
        canonical,
        f"Start: {initial}. " + canonical,
        " ".join(f"After {a} and {b} swap: {s}." for a, b, s in states) + f" So {who} has {letter}.",
        f"At first: {initial}. " + " ".join(f"{a} swaps with {b}: {s}." for a, b, s in states)
        + f" In the end {who} has {letter}.",
    ]


def final_letter(start: list[int], moves: list[tuple[int, ...]], target: int) -> str:
    """The choice letter ``target`` holds after ``moves`` (an empty move changes nothing)."""
    held = list(start)
    for move in moves:
        if move:
            x, y = move
            held[x], held[y] = held[y], held[x]
    return LETTERS[held[target]]


def mistaken(people: list[str], start: list[int], swaps: list[tuple[int, int]], target: int,
             rng: Any) -> tuple[list[str], str]:
    """A rationale that gets one swap wrong (left out, or made with the wrong person) and follows
    the wrong state to a wrong letter; the step and the slip are drawn with ``rng``."""
    gold = final_letter(start, list(swaps), target)
    slips: list[tuple[int, tuple[int, ...]]] = []
    for step, (a, b) in enumerate(swaps):
        slips.append((step, ()))
        slips += [(step, (a, c)) for c in range(len(people)) if c not in (a, b)]
        slips += [(step, (b, c)) for c in range(len(people)) if c not in (a, b)]
    rng.shuffle(slips)
    for step, slip in slips:
        moves: list[tuple[int, ...]] = list(swaps)
        moves[step] = slip
        letter = final_letter(start, moves, target)
        if letter != gold:
            return rationales(people, start, swaps, target, applied=moves), letter
    raise UserError("no single slip changes this question's answer; the oracle cannot get it wrong")


class ShuffledObjectsGenerated(GeneratedTask):
    """Tracking Shuffled Objects, generated: N people, K swaps of coloured balls."""

    name = "tracking_shuffled_objects"
    answer_type = "letter"
    params = (
        Param("objects", int, 3, "people, each holding one ball (2..7)"),
        Param("swaps", int, 3, "random pairwise swaps"),
        Param("train", int, 525, "training examples (sample indices 0..train-1)"),
        Param("test", int, 225, "test examples (the next ones)"),
        Param("seed", int, 0, "generator seed"),
        Param("people", str, "fixed", "fixed: Alice, Bob, ... in order; random: names drawn per question"),
        Param("order", str, "start", "start: choices in starting order; shuffled: a random order"),
    )
    presets = {"demo": {"objects": 5, "swaps": 5, "train": 2000, "test": 500, "seed": 0,
                        "people": "fixed", "order": "start"}}

    def __init__(self, **values: Any):
        super().__init__(**values)
        self.letters = LETTERS[: self.values["objects"]]

    def validate(self) -> None:
        super().validate()
        n = self.values["objects"]
        if not 2 <= n <= len(PLAYERS):
            raise UserError(f"task {self.name}: objects must be between 2 and {len(PLAYERS)}")
        if self.values["swaps"] < 1:
            raise UserError(f"task {self.name}: swaps must be at least 1")
        if self.values["people"] not in ("fixed", "random"):
            raise UserError(f"task {self.name}: people must be fixed or random")
        if self.values["order"] not in ("start", "shuffled"):
            raise UserError(f"task {self.name}: order must be start or shuffled")

    def _size_hint(self) -> str:
        return "objects or swaps"

    def _generate(self, rng: Any) -> tuple[str, str, list[str], dict[str, Any]]:
        n, k = self.values["objects"], self.values["swaps"]
        people = list(PLAYERS[:n]) if self.values["people"] == "fixed" else rng.sample(NAMES, n)
        balls = [f"{c} ball" for c in rng.sample(COLORS, n)]  # balls[i]: what person i starts with
        swaps = []
        for _ in range(k):
            a, b = rng.sample(range(n), 2)
            swaps.append((a, b))
        target = rng.randrange(n)
        if self.values["order"] == "start":
            position = list(range(n))  # ball i is choice position[i]
        else:
            position = rng.sample(range(n), n)
        choices = [""] * n
        for i, ball in enumerate(balls):
            choices[position[i]] = ball
        held = list(range(n))
        for a, b in swaps:
            held[a], held[b] = held[b], held[a]
        answer = LETTERS[position[held[target]]]
        holdings = ", ".join(f"{p} has {_article(b)} {b}" for p, b in zip(people, balls))
        moves = " ".join(f"{people[a]} and {people[b]} swap." for a, b in swaps)
        question = render_choices(
            f"{_join(people)} each hold a ball: {holdings}. Then, in turn: {moves} "
            f"Which ball does {people[target]} have at the end?", choices)
        meta = {"people": people, "start": position, "swaps": [list(s) for s in swaps], "target": target}
        return question, answer, choices, meta

    def oracle_rationales(self, example: Example) -> list[str]:
        m = example.meta
        return rationales(m["people"], m["start"], [tuple(s) for s in m["swaps"]], m["target"], example.choices)

    def oracle_mistake(self, example: Example, rng: Any) -> tuple[list[str], str]:
        m = example.meta
        return mistaken(m["people"], m["start"], [(s[0], s[1]) for s in m["swaps"]], m["target"], rng)


_PEOPLE = re.compile(r"^(?P<people>[A-Z]\w+(?:, [A-Z]\w+)*,? and [A-Z]\w+) are ")
_SWAP = re.compile(r"(?:First|Then|Finally), (?P<a>[A-Z]\w+) and (?P<b>[A-Z]\w+) (?:swap|switch|trade)")
_TARGET = re.compile(r"At the end of the \w+, (?P<who>[A-Z]\w+) ")


def parse_bigbench(text: str) -> tuple[list[str], list[tuple[int, int]], int] | None:
    """(people, swaps, target person) of a BIG-bench shuffled-objects input; None if unparsable."""
    m = _PEOPLE.match(text)
    if not m:
        return None
    people = [p.strip() for p in re.split(r",? and |, ", m.group("people"))]
    index = {p: i for i, p in enumerate(people)}
    try:
        swaps = [(index[s.group("a")], index[s.group("b")]) for s in _SWAP.finditer(text)]
        t = _TARGET.search(text)
        target = index[t.group("who")] if t else None
    except KeyError:
        return None
    if not swaps or target is None:
        return None
    return people, swaps, target


class ShuffledObjects(PaperDataset):
    """Tracking Shuffled Objects, three objects (BIG-bench): who holds what after 3 swaps?"""

    name = "tracking_shuffled_objects"
    answer_type = "letter"
    letters = "ABC"
    generator = ShuffledObjectsGenerated
    files = (RawFile("task.json", 750,
                     "74b74d3c8827c0387a3f24ee9efa7edd90b2d53af3daacb9961341af66f750a0",
                     f"{KOJIMA}/dataset/Bigbench_object_tracking/task.json"),)

    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[tuple[str, str, list[str], None]]:
        for i, row in enumerate(examples_list(read_json(path, self.name), self.name, path)):
            where = f"record {i}"
            text = field(row, "input", str, self.name, path, where)  # not stripped: ends in a space
            scores = field(row, "target_scores", dict, self.name, path, where)
            keys = list(scores)
            right = [j for j, k in enumerate(keys) if scores[k] == 1]
            if len(right) != 1 or len(keys) > len(self.letters):
                raise malformed(self.name, path, where, "target_scores must mark exactly one of up to 3 choices")
            choices = [k[:-1] if k.endswith(".") else k for k in keys]
            question = render_choices(text + "\nWhich choice is true?", choices)
            yield question, LETTERS[right[0]], choices, None

    def oracle_rationales(self, example: Example) -> list[str]:
        parsed = parse_bigbench(example.question)
        if parsed is None:
            raise UserError(f"task {self.name}: sample {example.sample_index} could not be parsed for an oracle")
        people, swaps, target = parsed
        return rationales(people, list(range(len(people))), swaps, target, example.choices)
