"""A plugin's declared ``params`` are the one declaration of its options: ``Param`` bounds and
choices, unknown options refused on ``ftcot teach -o``, on cells and in a matrix's tables, and a
third-party teacher's options checked and keyed exactly as the built-ins' are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ftcot.api import CORE_TEACHER_PARAMS, Param, Teacher
from ftcot.cli import main
from ftcot.errors import UserError
from ftcot.matrix.config import parse_config
from ftcot.pipeline.cell import CellSpec, cell_key
from ftcot.testing import registered

TASK = "coin_flip:flips=2,train=8,test=4,seed=0"
STUDENT = "tiny-gpt2:layers=1,dim=32,heads=2,ffn=64,vocab=300"


class Styled(Teacher):
    """A third-party teacher with options of its own (one of them not part of the result)."""

    name = "styled"
    params = (
        Param("style", str, "plain", "how rationales read", choices=("plain", "terse")),
        Param("depth", int, 1, "steps per rationale", ge=1, le=5),
        Param("endpoint_url", str, None, "where it runs", keyed=False),
    )

    def run(self, jobs: Any, sink: Any, generation: Any) -> None:
        for job in jobs:
            sink.emit(job, job.blank(self.label, generation, rationale=f"{self.option('style')} {job.example.question}"))


@pytest.fixture
def styled() -> Iterator[None]:
    with registered(Styled):
        yield


# (param, value, the problem it reports; None: accepted)
PROBLEMS = [
    (Param("n", int, ge=1), 0, "must be >= 1, got 0"),
    (Param("n", int, ge=1), 1, None),
    (Param("n", int, ge=1), True, "must be an integer, got True"),
    (Param("n", int, ge=1), "4", "must be an integer, got '4'"),
    (Param("t", float, gt=0), 0.0, "must be > 0, got 0.0"),
    (Param("t", float, gt=0), 3, None),
    (Param("t", float, gt=0), float("nan"), "must be a finite number, got nan"),
    (Param("t", float, ge=0), float("inf"), "must be a finite number, got inf"),
    (Param("p", float, gt=0, le=1), 1.5, "must be <= 1, got 1.5"),
    (Param("e", str, choices=("chat", "text")), "fax", "must be one of chat, text, got 'fax'"),
    (Param("e", str, choices=("chat", "text")), None, None),
    (Param("b", bool), "yes", "must be true or false, got 'yes'"),
    (Param("u", str, check=lambda v: "must not be empty" if not v else None), "", "must not be empty"),
]


@pytest.mark.parametrize(("param", "value", "problem"), PROBLEMS)
def test_param_problem(param: Param, value: Any, problem: str | None) -> None:
    assert param.problem(value) == problem


def run_cli(argv: list[str], capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[int, str]:
    monkeypatch.setenv("FTCOT_STORE", str(tmp_path / "ftcot.db"))
    monkeypatch.setenv("FTCOT_STATE_DIR", str(tmp_path / "state"))
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capfd.readouterr()
    return status, out + err


# (teacher, extra arguments, the one error line's text)
TEACH_REFUSALS = [
    ("oracle", ["-o", "colour=red"], "teacher oracle: unknown option(s) colour; known: temperature, max_tokens"),
    ("oracle", ["-o", "max_tokens=0"], "bad teacher options: max_tokens must be >= 1, got 0"),
    ("oracle", ["--timeout", "0"], "bad teacher options: timeout must be > 0, got 0.0"),
    ("oracle", ["-o", "api_base=http://h"], "teacher oracle: unknown option(s) api_base"),
    ("litellm:openai/m", ["-o", "max_n=999"], "bad teacher options: max_n must be <= 128, got 999"),
    ("litellm:openai/m", ["-o", "endpoint=fax"], "bad teacher options: endpoint must be one of chat, text"),
    ("replay:x.json", ["--match", "fuzzy"], "bad teacher options: match must be one of index, question"),
    ("styled:m", ["-o", "style=loud"], "bad teacher options: style must be one of plain, terse, got 'loud'"),
    ("styled:m", ["-o", "depth=9"], "bad teacher options: depth must be <= 5, got 9"),
    ("styled:m", ["-o", "colour=red"], "teacher styled: unknown option(s) colour; known: temperature"),
]


@pytest.mark.parametrize(("teacher", "extra", "says"), TEACH_REFUSALS)
def test_teach_refuses_bad_options(styled: None, teacher: str, extra: list[str], says: str, tmp_path: Path,
                                   capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    status, output = run_cli(["teach", TASK, "--teacher", teacher, "--no-progress", *extra], capfd, monkeypatch,
                             tmp_path)
    assert status == 1, output
    errors = [line for line in output.splitlines() if "error:" in line]
    assert len(errors) == 1 and says in errors[0], output


def test_third_party_options_reach_the_teacher(styled: None, tmp_path: Path, capfd: pytest.CaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    export = tmp_path / "out.jsonl"
    status, output = run_cli(["teach", TASK, "--teacher", "styled:m", "--no-progress", "-o", "style=terse",
                              "-o", "depth=2", "--export", str(export)], capfd, monkeypatch, tmp_path)
    assert status == 0, output
    rationales = [line for line in export.read_text().splitlines() if line.strip()]
    assert len(rationales) == 8 and all('terse ' in line for line in rationales)


def test_a_cell_refuses_unknown_and_bad_options(styled: None) -> None:
    with pytest.raises(UserError, match=r"teacher oracle: unknown option\(s\) style"):
        CellSpec(task=TASK, teacher="oracle", student=STUDENT, method="fine-tune-cot", teacher_options={"style": "x"})
    with pytest.raises(UserError, match="depth must be >= 1, got 0"):
        CellSpec(task=TASK, teacher="styled:m", student=STUDENT, method="fine-tune-cot", teacher_options={"depth": 0})


def test_a_stored_spec_keeps_an_option_its_teacher_does_not_declare(styled: None) -> None:
    """Older matrices gave shared options to every teacher: such a stored spec is read back with
    its key unchanged, and bad values of declared options are still refused."""
    stored = {"task": TASK, "teacher": "oracle", "student": STUDENT, "method": "fine-tune-cot",
              "teacher_options": {"style": "terse", "temperature": 0.0}}
    with pytest.raises(UserError, match=r"unknown option\(s\) style"):
        CellSpec.from_dict(stored)
    spec = CellSpec.from_stored(stored)
    assert spec.teacher_options == {"style": "terse", "temperature": 0.0}
    assert cell_key(spec, "paper") != cell_key(CellSpec.from_stored({**stored, "teacher_options": {}}), "paper")
    with pytest.raises(UserError, match="temperature"):
        CellSpec.from_stored({**stored, "teacher_options": {"temperature": -1.0}})
    with pytest.raises(UserError, match="unknown option"):  # reading the store leaves new specs strict
        CellSpec.from_dict(stored)


def test_keyed_false_options_stay_out_of_the_cell_key(styled: None) -> None:
    def key(**options: Any) -> str:
        return cell_key(CellSpec(task=TASK, teacher="styled:m", student=STUDENT, method="fine-tune-cot",
                                 teacher_options=options), "paper")

    assert key(endpoint_url="http://a") == key(endpoint_url="http://b") == key()
    assert key(concurrency=2, max_cost=1.0, batch_poll=5.0) == key()
    assert key(style="terse") != key()
    assert key(depth=2) != key()
    assert key(max_wait=10.0) != key()  # keyed since it was first stored


def test_core_params_are_declared_once() -> None:
    names = [p.name for p in CORE_TEACHER_PARAMS]
    assert len(names) == len(set(names))
    assert {p.name for p in CORE_TEACHER_PARAMS if not p.keyed} == {
        "concurrency", "timeout", "max_tries", "backoff", "rpm", "tpm", "max_cost", "batch", "batch_wait", "batch_poll"}


MATRIX = f'tasks = ["{TASK}"]\nstudents = ["{STUDENT}"]\nmethods = ["fine-tune-cot"]\n'
# (the rest of the file, what the one problem says; None: valid)
MATRIX_CASES = [
    ('teachers = ["oracle"]\n[teacher]\ncolour = "red"\n', "unknown teacher option 'colour': no teacher of the matrix reads it"),
    ('teachers = ["oracle"]\n[teacher]\nconcurrency = 0\n', "teacher option concurrency must be >= 1, got 0"),
    ('teachers = ["oracle"]\n[teacher]\nstyle = "terse"\n', "unknown teacher option 'style'"),
    ('teachers = ["oracle", "styled:m"]\n[teacher]\nstyle = "terse"\n', None),
    ('teachers = ["oracle", "styled:m"]\n[teacher]\nstyle = "loud"\n', "teacher option style must be one of plain, terse"),
    ('[teachers.oracle]\nstyle = "terse"\n', "teacher option style is not an option of this teacher"),
    ('[teachers."styled:m"]\ndepth = 0\n', "teacher option depth must be >= 1, got 0"),
    ('[teachers."styled:m"]\ndepth = 3\nmax_tokens = 64\n', None),
]


@pytest.mark.parametrize(("rest", "says"), MATRIX_CASES)
def test_matrix_teacher_tables(styled: None, rest: str, says: str | None) -> None:
    if says is None:
        parse_config(MATRIX + rest, Path("m.toml"))
        return
    with pytest.raises(UserError) as raised:
        parse_config(MATRIX + rest, Path("m.toml"))
    assert "has 1 problem" in str(raised.value) and says in str(raised.value)


def test_a_shared_option_reaches_only_the_teachers_that_read_it(styled: None) -> None:
    config = parse_config(MATRIX + 'teachers = ["oracle", "styled:m"]\n[teacher]\nstyle = "terse"\nmax_tokens = 64\n',
                          Path("m.toml"))
    assert config.teacher_options_for("oracle") == {"max_tokens": 64}
    assert config.teacher_options_for("styled:m") == {"style": "terse", "max_tokens": 64}
