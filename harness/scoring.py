"""Answer extraction and comparison: the two rule sets, ``paper`` and ``strict``, in one place.

A task declares an :class:`AnswerFormat` (its answer type plus, for letter tasks, the choice
letters); every task gets both rule sets from it.

Output format (``mode``) decides *which* candidate is the prediction:

======== ============================ =====================================================
mode     answer prefix                candidate taken
======== ============================ =====================================================
direct   none                         the first candidate in the whole text
cot      ``Therefore, the answer is`` prefix found: the first candidate after its first
fs-cot   ``The answer is``            occurrence; prefix missing: the last candidate in
ft-cot   ``-->``                      the whole text
======== ============================ =====================================================

``paper`` reproduces the evaluator of Ho et al. (reasoning-teacher), quirks included:

- letter: every capital letter of the task's set anywhere (``[ABCDE]``; ``In August (C)`` gives
  ``A`` first, from "August").
- number: all commas removed, then ``-?\\d+(?:\\.\\d+)?`` (so ``5-3`` reads ``5``, ``-3``).
  Gold answers lose their commas. SingleEq, AddSub and SVAMP compare as floats within 1e-6;
  every other number task compares strings (``3.0`` is not ``3``).
- yes_no: lower-case; quotes, newlines, periods, whitespace, colons and commas become spaces;
  split on single spaces; keep the words equal to ``yes`` or ``no`` (``yes!`` is dropped).
  Gold is lower-cased.
- text: one candidate, the whole text with quotes, newlines, periods and whitespace removed;
  compared as a string.

``strict`` keeps the prefix rules and fixes the quirks:

- letter: only choice markers count: ``(B)``, ``B)``, ``B.``, ``B:`` or a lone ``B`` (no
  letter or digit beside it). A lone ``A`` followed by a space and a lower-case word is the
  article, not a choice.
- number: an optional ``$``, thousands separators (``1,234``), an optional sign (a ``-`` right
  after a digit or letter is a dash, not a sign), decimals; a trailing period is not a decimal
  point. Every number task compares as floats within 1e-6 (``3.0`` equals ``3``).
- yes_no: the words ``yes``/``no`` in any case, with any punctuation around them.
- text: tokens split on whitespace, stripped of surrounding quotes and punctuation, compared
  case-insensitively.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ftcot.errors import UserError
from ftcot.formatting import ANSWER_ARROW, FEW_SHOT_ANSWER_PREFIX, ZS_COT_ANSWER_TRIGGER

RULE_SETS = ("paper", "strict")
ANSWER_TYPES = ("number", "letter", "yes_no", "text")
MODES: dict[str, str | None] = {
    "direct": None,
    "cot": ZS_COT_ANSWER_TRIGGER.strip(),
    "fs-cot": FEW_SHOT_ANSWER_PREFIX,
    "ft-cot": ANSWER_ARROW.strip(),
}
TOLERANCE = 1e-6


@dataclass(frozen=True)
class AnswerFormat:
    """What a task's answers look like.

    ``letters``: the choice letters (letter tasks). ``paper_float``: whether the paper's evaluator
    compares this number task as floats (SingleEq, AddSub, SVAMP) rather than as strings.
    """

    answer_type: str
    letters: str = "ABCDE"
    paper_float: bool = True

    def __post_init__(self) -> None:
        if self.answer_type not in ANSWER_TYPES:
            raise ValueError(f"unknown answer type {self.answer_type!r}; one of {', '.join(ANSWER_TYPES)}")


def check_mode(mode: str) -> str | None:
    """The answer prefix of ``mode``; UserError for an unknown mode."""
    if mode not in MODES:
        raise UserError(f"unknown output mode {mode!r}; use one of {', '.join(MODES)}")
    return MODES[mode]


def check_rules(scoring: str) -> str:
    if scoring not in RULE_SETS:
        raise UserError(f"unknown scoring rule set {scoring!r}; use --scoring paper or --scoring strict")
    return scoring


# -- candidates -------------------------------------------------------------------------------

_PAPER_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PAPER_YES_NO_SEPARATORS = re.compile(r"\"|'|\n|\.|\s|:|,")
_PAPER_TEXT_REMOVED = re.compile(r"\"|'|\n|\.|\s")

_STRICT_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>-)?\$?(?P<sign2>-)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
)
_STRICT_TEXT_STRIP = "\"'`.,;:!?()[]{}<>*"


def _paper_candidates(text: str, fmt: AnswerFormat) -> list[str]:
    kind = fmt.answer_type
    if kind == "letter":
        return re.findall(f"[{re.escape(fmt.letters)}]", text)
    if kind == "number":
        return _PAPER_NUMBER.findall(text.replace(",", ""))
    if kind == "yes_no":
        words = _PAPER_YES_NO_SEPARATORS.sub(" ", text.lower()).split(" ")
        return [w for w in words if w in ("yes", "no")]
    return [_PAPER_TEXT_REMOVED.sub("", text)]


def _strict_letters(text: str, letters: str) -> list[str]:
    cls = f"[{re.escape(letters)}]"
    pattern = re.compile(
        rf"\((?P<a>{cls})\)"  # (B)
        rf"|(?<![A-Za-z0-9])(?P<b>{cls})(?![A-Za-z0-9])"  # B) B. B: or a lone B
    )
    found = []
    for m in pattern.finditer(text):
        letter = m.group("a") or m.group("b")
        if m.group("b") == "A" and re.match(r" [a-z]", text[m.end():m.end() + 2]):
            continue  # the article "A something"
        found.append(letter)
    return found


def _strict_numbers(text: str) -> list[str]:
    out = []
    for m in _STRICT_NUMBER.finditer(text):
        # a '-' directly after a digit or letter ("5-3", "x-2") is a dash, not a sign
        negative = bool(m.group("sign") or m.group("sign2"))
        if m.group("sign") and m.start() > 0 and text[m.start() - 1].isalnum():
            negative = False
        num = m.group("num").replace(",", "")
        out.append(_canonical_number(("-" if negative else "") + num))
    return out


def _canonical_number(raw: str) -> str:
    """``"1234.50"`` -> ``"1234.5"``, ``"3.0"`` -> ``"3"``, ``"-0"`` -> ``"0"``."""
    try:
        value = float(raw)
    except ValueError:
        return raw
    if not math.isfinite(value):  # more digits than a float holds: compared as written
        return raw
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _strict_candidates(text: str, fmt: AnswerFormat) -> list[str]:
    kind = fmt.answer_type
    if kind == "letter":
        return _strict_letters(text, fmt.letters)
    if kind == "number":
        return _strict_numbers(text)
    if kind == "yes_no":
        return [w for w in re.findall(r"[a-z]+", text.lower()) if w in ("yes", "no")]
    tokens = (t.strip(_STRICT_TEXT_STRIP) for t in text.split())
    return [t.lower() for t in tokens if t]


def candidates(text: str, fmt: AnswerFormat, scoring: str = "paper") -> list[str]:
    """Every answer candidate in ``text`` under a rule set, in order of appearance."""
    if check_rules(scoring) == "paper":
        return _paper_candidates(text, fmt)
    return _strict_candidates(text, fmt)


def extract(text: str, fmt: AnswerFormat, mode: str, scoring: str = "paper") -> str | None:
    """The prediction in a model output ``text`` written in output format ``mode``; None if none."""
    prefix = check_mode(mode)
    first = True
    region = text or ""
    if prefix is not None:
        at = region.find(prefix)
        if at == -1:
            first = False
        else:
            region = region[at + len(prefix):]
    found = candidates(region, fmt, scoring)
    if not found:
        return None
    return found[0] if first else found[-1]


# -- comparison -------------------------------------------------------------------------------


def clean_gold(gold: str, fmt: AnswerFormat, scoring: str = "paper") -> str:
    """The gold answer as the rule set compares it."""
    gold = str(gold)
    if fmt.answer_type == "number":
        gold = gold.replace(",", "")
        return _canonical_number(gold.strip()) if scoring == "strict" else gold
    if fmt.answer_type == "yes_no":
        return gold.lower().strip() if scoring == "strict" else gold.lower()
    if fmt.answer_type == "text" and scoring == "strict":
        return gold.strip().lower()
    return gold


def _as_float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def is_correct(prediction: str | None, gold: str, fmt: AnswerFormat, scoring: str = "paper") -> bool:
    """Whether an extracted ``prediction`` matches the ``gold`` answer under a rule set."""
    check_rules(scoring)
    if prediction is None:
        return False
    target = clean_gold(gold, fmt, scoring)
    if fmt.answer_type == "number" and (scoring == "strict" or fmt.paper_float):
        a, b = _as_float(prediction.replace(",", "")), _as_float(target)
        if b is None:
            raise UserError(f"gold answer {gold!r} is not a number; check the task's data")
        return a is not None and abs(a - b) <= TOLERANCE
    if scoring == "strict" and fmt.answer_type in ("yes_no", "text"):
        return prediction.strip().lower() == target
    return prediction == target
