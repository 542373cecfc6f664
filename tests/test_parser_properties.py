"""Property tests of the three parsers that read user text: NAME=VALUE specs (``ftcot.specs``),
matrix TOML (``ftcot.matrix.config``) and ``ftcot score``'s JSON lines. Whatever the text, each
returns a value or raises ``UserError``; well-formed text reads back what was written."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftcot.commands.score import parse_output_line
from ftcot.errors import UserError
from ftcot.matrix.config import parse_config
from ftcot.specs import Param, parse_params, split_assignments

STUDENT = (Param("layers", int, 2), Param("dropout", float, 0.0), Param("name", str, None))
SIZES = (Param("layers", int, 2), Param("dim", int, 128))

NAMES = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)
VALUES = st.text(string.ascii_letters + string.digits + ".-+ ", max_size=10)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(st.lists(st.tuples(NAMES, VALUES), max_size=6))
def test_assignments_read_back(pairs: list[tuple[str, str]]) -> None:
    text = ",".join(f"{name}={value}" for name, value in pairs)
    assert split_assignments(text, "spec") == [(n, v.strip()) for n, v in pairs]


@FAST
@given(st.lists(st.tuples(NAMES, st.text(string.ascii_letters + ",", max_size=10)), min_size=1, max_size=4,
                unique_by=lambda p: p[0]))
def test_values_with_commas_stay_whole_with_known_names(pairs: list[tuple[str, str]]) -> None:
    text = ",".join(f"{name}={value}" for name, value in pairs)
    names = [n for n, _ in pairs]
    assert split_assignments(text, "spec", starts=names) == pairs


@FAST
@given(st.text(max_size=40))
def test_any_spec_text_parses_or_is_a_user_error(text: str) -> None:
    try:
        values = parse_params(text, STUDENT, "student")
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    assert set(values) <= {"layers", "dropout", "name"}
    assert all(isinstance(values[k], t) for k, t in (("layers", int), ("dropout", float), ("name", str))
               if k in values)


@FAST
@given(st.dictionaries(st.sampled_from(["layers", "dim"]), st.integers(-10**6, 10**6)))
def test_integer_options_read_back(values: dict[str, int]) -> None:
    text = ",".join(f"{k}={v}" for k, v in values.items())
    assert parse_params(text, SIZES, "student") == values


@FAST
@given(st.text(max_size=200))
def test_any_toml_text_is_a_config_or_a_user_error(text: str) -> None:
    try:
        parse_config(text, Path("m.toml"))
    except UserError as exc:
        first, *rest = str(exc).splitlines()
        assert first and all(line.startswith("  ") for line in rest)


TRAINING_VALUES = st.one_of(st.integers(-5, 50), st.floats(allow_nan=True, allow_infinity=True),
                            st.text(string.ascii_lowercase, max_size=4), st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["lr", "epochs", "batch_size", "max_steps", "warmup_steps", "colour"]),
                       TRAINING_VALUES, max_size=4))
def test_every_bad_training_setting_is_reported_at_its_line(training: dict) -> None:
    lines = ['tasks = ["coin_flip:flips=2,train=8,test=4"]', 'students = ["tiny-gpt2"]', 'methods = ["fine-tune"]',
             "[training]"]
    for name, value in training.items():
        lines.append(f"{name} = {json.dumps(value) if not isinstance(value, float) else _toml_float(value)}")
    text = "\n".join(lines) + "\n"
    bad = {name for name, value in training.items() if not _good(name, value)}
    try:
        parse_config(text, Path("m.toml"))
    except UserError as exc:
        rows = str(exc).splitlines()
        for name in bad:
            line = 5 + list(training).index(name)
            assert any(row.strip().startswith(f"line {line}:") and name in row for row in rows), str(exc)
        assert bad, str(exc)
        return
    assert not bad


def _toml_float(value: float) -> str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _good(name: str, value: object) -> bool:
    if name == "colour" or isinstance(value, (bool, str)):
        return False
    if name == "lr":
        return isinstance(value, (int, float)) and 0 < value < float("inf")
    if not isinstance(value, int):
        return False
    return value >= (0 if name == "warmup_steps" else 1)


@FAST
@given(st.integers(), st.text())
def test_score_lines_read_back(index: int, text: str) -> None:
    record = {"sample_index": index, "text": text}
    line = json.dumps(record)
    if len(str(abs(index))) > 4000:  # Python refuses to read such long integers
        with pytest.raises(UserError):
            parse_output_line(line, 1)
        return
    assert parse_output_line(line, 1) == record


@FAST
@given(st.text(max_size=80))
def test_any_score_line_is_a_record_nothing_or_a_user_error(line: str) -> None:
    try:
        record = parse_output_line(line, 7)
    except UserError as exc:
        assert str(exc).startswith("stdin line 7:") and "\n" not in str(exc)
        return
    if record is None:
        assert not line.strip()
    else:
        assert isinstance(record["sample_index"], int) and isinstance(record["text"], str)
