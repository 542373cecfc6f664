"""Answer extraction and comparison under both rule sets (harness/scoring.py), table-driven."""

from __future__ import annotations

import pytest

from ftcot.errors import UserError
from ftcot.scoring import MODES, AnswerFormat, candidates, extract, is_correct

FIVE = AnswerFormat("letter", "ABCDE")
SIX = AnswerFormat("letter", "ABCDEF")
THREE = AnswerFormat("letter", "ABC")
FLOAT_NUMBER = AnswerFormat("number", paper_float=True)  # SingleEq, AddSub, SVAMP
STRING_NUMBER = AnswerFormat("number", paper_float=False)  # MultiArith, GSM8K
YES_NO = AnswerFormat("yes_no")
TEXT = AnswerFormat("text")

# (format, text, mode, paper prediction, strict prediction)
LETTER_CASES = [
    (FIVE, "(B)", "direct", "B", "B"),
    (FIVE, "B)", "direct", "B", "B"),
    (FIVE, "E.", "direct", "E", "E"),
    (FIVE, "In August (C)", "direct", "A", "C"),
    (FIVE, "Because Emma is older, choose C", "direct", "B", "C"),
    (FIVE, "A good choice is E", "direct", "A", "E"),
    (FIVE, "Answer: (A) 50", "direct", "A", "A"),
    (FIVE, "none of them", "direct", None, None),
    (FIVE, "It grows. The answer is B.", "fs-cot", "B", "B"),
    (FIVE, "Of the choices (A) and (D), so the answer is (D)", "fs-cot", "D", "D"),
    (FIVE, "Dave has C. --> E", "ft-cot", "E", "E"),
    (FIVE, "Bob and Dave swap: Alice A, Bob D, Claire C. Dave has C.", "ft-cot", "C", "C"),
    (FIVE, "Choice (B) fits. Therefore, the answer is (E).", "cot", "E", "E"),
    (FIVE, "Therefore, the answer is Definitely (B).", "cot", "D", "B"),
    (SIX, "(F) 05/01/2021", "direct", "F", "F"),
    (SIX, "Fine, then F", "ft-cot", "F", "F"),
    (THREE, "(E)", "direct", None, None),
    (THREE, "Claire has B.", "direct", "C", "B"),
]

NUMBER_CASES = [
    (FLOAT_NUMBER, "$1,234.50", "direct", "1234.50", "1234.5"),
    (FLOAT_NUMBER, "-3", "direct", "-3", "-3"),
    (FLOAT_NUMBER, "3.0", "direct", "3.0", "3"),
    (FLOAT_NUMBER, "It costs -$5 now", "direct", "5", "-5"),
    (FLOAT_NUMBER, "The answer is 8.", "fs-cot", "8", "8"),
    (FLOAT_NUMBER, "She had 23 - 15 = 8 dollars. The answer is 8.", "fs-cot", "8", "8"),
    (FLOAT_NUMBER, "She had 23-15=8 dollars, then 2 more.", "fs-cot", "2", "2"),
    (FLOAT_NUMBER, "5 apples and 3 pears", "direct", "5", "5"),
    (FLOAT_NUMBER, "15 + 6 = 21 --> 21", "ft-cot", "21", "21"),
    (FLOAT_NUMBER, "15 + 6 = 21, so 21 trees", "ft-cot", "21", "21"),
    (FLOAT_NUMBER, "Therefore, the answer is 1,000,000 people.", "cot", "1000000", "1000000"),
    (FLOAT_NUMBER, "Between 1,2 and 7", "direct", "12", "1"),
    (FLOAT_NUMBER, "is 8.5.", "direct", "8.5", "8.5"),
    (FLOAT_NUMBER, "no number here", "direct", None, None),
    (STRING_NUMBER, "Therefore, the answer is $12.", "cot", "12", "12"),
]

YES_NO_CASES = [
    (YES_NO, "Yes.", "direct", "yes", "yes"),
    (YES_NO, "YES!", "direct", None, "yes"),
    (YES_NO, "no-", "direct", None, "no"),
    (YES_NO, "(yes)", "direct", None, "yes"),
    (YES_NO, '"No"', "direct", "no", "no"),
    (YES_NO, "yes:no", "direct", "yes", "yes"),
    (YES_NO, "Nope, not sure", "direct", None, None),
    (YES_NO, "The answer is no.", "fs-cot", "no", "no"),
    (YES_NO, "Yes, it floats. The answer is no.", "fs-cot", "no", "no"),
    (YES_NO, "So yes, heads up. Therefore, the answer is no.", "cot", "no", "no"),
    (YES_NO, "Yes at first, but actually no.", "cot", "no", "no"),
    (YES_NO, "It ends heads up. --> yes", "ft-cot", "yes", "yes"),
]

TEXT_CASES = [
    (TEXT, '"nk"', "direct", "nk", "nk"),
    (TEXT, "nk.", "direct", "nk", "nk"),
    (TEXT, "NK", "direct", "NK", "nk"),
    (TEXT, "'ab'", "direct", "ab", "ab"),
    (TEXT, "ab\ncd", "direct", "abcd", "ab"),
    (TEXT, "The answer is nk.", "direct", "Theanswerisnk", "the"),
    (TEXT, "The answer is nk.", "fs-cot", "nk", "nk"),
    (TEXT, 'The last letter of "Bo" is "o". --> ok', "ft-cot", "ok", "ok"),
    (TEXT, 'Concatenating them is "yajo". Therefore, the answer is "yajo".', "cot", "yajo", "yajo"),
    (TEXT, 'Concatenating gives "yajo".', "cot", "Concatenatinggivesyajo", "yajo"),
    (TEXT, "--> yaeA", "ft-cot", "yaeA", "yaea"),
]

ALL_CASES = LETTER_CASES + NUMBER_CASES + YES_NO_CASES + TEXT_CASES


def test_every_answer_type_has_ten_cases():
    for cases in (LETTER_CASES, NUMBER_CASES, YES_NO_CASES, TEXT_CASES):
        assert len(cases) >= 10


@pytest.mark.parametrize("fmt,text,mode,paper,strict", ALL_CASES)
def test_extraction(fmt, text, mode, paper, strict):
    assert extract(text, fmt, mode, "paper") == paper
    assert extract(text, fmt, mode, "strict") == strict


# (format, prediction text, mode, gold, correct under paper, correct under strict)
CORRECTNESS = [
    (FLOAT_NUMBER, "3.0", "direct", "3", True, True),
    (STRING_NUMBER, "3.0", "direct", "3", False, True),
    (STRING_NUMBER, "3", "direct", "3.0", False, True),
    (FLOAT_NUMBER, "43", "direct", "43.0", True, True),
    (STRING_NUMBER, "1,080 pieces", "direct", "1,080", True, True),
    (STRING_NUMBER, "$1,234.50", "direct", "1234.5", False, True),
    (FLOAT_NUMBER, "$1,234.50", "direct", "1234.5", True, True),
    (FLOAT_NUMBER, "-3", "direct", "-3", True, True),
    (FLOAT_NUMBER, "3.0000001", "direct", "3", True, True),
    (FLOAT_NUMBER, "3.01", "direct", "3", False, False),
    (FIVE, "In August (C)", "direct", "C", False, True),
    (FIVE, "(B)", "direct", "B", True, True),
    (YES_NO, "Yes.", "direct", "Yes", True, True),
    (YES_NO, "YES!", "direct", "Yes", False, True),
    (YES_NO, "no", "direct", "yes", False, False),
    (TEXT, '"nk"', "direct", "nk", True, True),
    (TEXT, "NK", "direct", "nk", False, True),
    (TEXT, "nk", "direct", "nka", False, False),
]


@pytest.mark.parametrize("fmt,text,mode,gold,paper,strict", CORRECTNESS)
def test_correctness(fmt, text, mode, gold, paper, strict):
    for rules, expected in (("paper", paper), ("strict", strict)):
        assert is_correct(extract(text, fmt, mode, rules), gold, fmt, rules) is expected, rules


def test_no_prediction_is_never_correct():
    for fmt in (FIVE, FLOAT_NUMBER, YES_NO, TEXT):
        assert not is_correct(None, "A", fmt, "paper")
        assert not is_correct(None, "A", fmt, "strict")


def test_paper_candidates_keep_every_match_in_order():
    assert candidates("5-3=2", FLOAT_NUMBER, "paper") == ["5", "-3", "2"]
    assert candidates("5-3=2", FLOAT_NUMBER, "strict") == ["5", "3", "2"]
    assert candidates("A Bold Claim", FIVE, "paper") == ["A", "B", "C"]
    assert candidates("A Bold Claim", FIVE, "strict") == ["A"]
    assert candidates("A bold claim, (C)", FIVE, "strict") == ["C"]


def test_prefix_is_case_sensitive_like_the_paper():
    # "the answer is" (lower case) is not the prefix: the last candidate is taken
    assert extract("So the answer is 4, not 5", FLOAT_NUMBER, "fs-cot", "paper") == "5"


def test_modes_name_the_paper_prefixes():
    assert MODES == {"direct": None, "cot": "Therefore, the answer is", "fs-cot": "The answer is", "ft-cot": "-->"}


def test_unknown_mode_or_rules_is_a_user_error():
    with pytest.raises(UserError, match="mode"):
        extract("1", FLOAT_NUMBER, "zero-shot")
    with pytest.raises(UserError, match="scoring"):
        extract("1", FLOAT_NUMBER, "direct", "lenient")


def test_non_numeric_gold_is_reported():
    with pytest.raises(UserError, match="not a number"):
        is_correct("3", "three", FLOAT_NUMBER, "paper")
