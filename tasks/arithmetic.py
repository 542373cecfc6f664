"""The arithmetic word-problem tasks: SingleEq, AddSub, MultiArith, SVAMP and GSM8K.

Questions and answers follow the paper's unified data (reasoning-teacher): the answer is the
string the paper stores (``43.0`` for SingleEq and SVAMP, ``43`` for AddSub and MultiArith,
GSM8K's text after ``#### ``). Under the ``paper`` rules SingleEq, AddSub and SVAMP compare as
floats, MultiArith and GSM8K as strings (see ``ftcot.scoring``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ftcot.api import RawFile, field, json_array, malformed, read_json, read_json_lines
from ftcot.tasks.coin_flip import KOJIMA
from ftcot.tasks.paper import PaperDataset

Row = tuple[str, str, None, str | None]


class _ArrayTask(PaperDataset):
    """A task whose one file is a JSON array of problem records."""

    answer_type = "number"

    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[Row]:
        for i, record in enumerate(json_array(read_json(path, self.name), self.name, path)):
            yield self._row(record, path, f"record {i}")

    def _row(self, record: dict, path: Path, where: str) -> Row:
        raise NotImplementedError

    def _solution(self, record: dict, path: Path, where: str) -> object:
        solutions = field(record, "lSolutions", list, self.name, path, where)
        if not solutions:
            raise malformed(self.name, path, where, "lSolutions is empty")
        return solutions[0]


class SingleEq(_ArrayTask):
    """SingleEq (Koncel-Kedziorski et al.): one-equation arithmetic word problems."""

    name = "single_eq"
    files = (RawFile("questions.json", 508,
                     "051507bd2b489c257057b485774a83d2710c23a4bc0f4a58e1822ae2773ef05e",
                     f"{KOJIMA}/dataset/SingleEq/questions.json"),)

    def _row(self, record: dict, path: Path, where: str) -> Row:
        question = field(record, "sQuestion", str, self.name, path, where)
        value = self._solution(record, path, where)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise malformed(self.name, path, where, f"solution {value!r} is not a number")
        return question, str(float(value)), None, None


class AddSub(_ArrayTask):
    """AddSub (Hosseini et al.): addition and subtraction word problems."""

    name = "addsub"
    files = (RawFile("AddSub.json", 395,
                     "21930fa90385c72b5a15f4b9a4dda27276b889ae9ff44285505cdd9fa0a20df8",
                     f"{KOJIMA}/dataset/AddSub/AddSub.json"),)

    def _row(self, record: dict, path: Path, where: str) -> Row:
        question = field(record, "sQuestion", str, self.name, path, where).strip()
        value = self._solution(record, path, where)
        return question, str(value), None, None


class MultiArith(_ArrayTask):
    """MultiArith (Roy & Roth): multi-step arithmetic word problems."""

    name = "multiarith"
    paper_float = False
    split_names = ("default", "template")
    files = (RawFile("MultiArith.json", 600,
                     "dc9db1b6cc68b1ecc2dec830d15aaf8c9a0932aa31d5ffce88ef3628179d36f4",
                     f"{KOJIMA}/dataset/MultiArith/MultiArith.json"),)

    def _row(self, record: dict, path: Path, where: str) -> Row:
        question = field(record, "sQuestion", str, self.name, path, where).strip()
        value = self._solution(record, path, where)
        try:
            answer = str(int(value))  # type: ignore[call-overload]  # errors are caught below
        except (TypeError, ValueError):
            raise malformed(self.name, path, where, f"solution {value!r} is not a number") from None
        return question, answer, None, None


class Svamp(_ArrayTask):
    """SVAMP (Patel et al.): arithmetic word problems with varied structure."""

    name = "svamp"
    files = (RawFile("SVAMP.json", 1000,
                     "5be77703a6d891ae476d7c082787ad361392aa02453b132516cdd5f4e7934e3e",
                     f"{KOJIMA}/dataset/SVAMP/SVAMP.json"),)

    def _row(self, record: dict, path: Path, where: str) -> Row:
        body = field(record, "Body", str, self.name, path, where)
        ask = field(record, "Question", str, self.name, path, where)
        value = field(record, "Answer", (int, float), self.name, path, where)
        return body.strip() + " " + ask.strip(), str(float(value)), None, None


GSM8K_URL = "https://github.com/openai/grade-school-math/raw/3101c7d/grade_school_math/data"


class Gsm8k(PaperDataset):
    """GSM8K (Cobbe et al.): grade-school math; official train/test split."""

    name = "gsm8k"
    answer_type = "number"
    paper_float = False
    files = (
        RawFile("train.jsonl", 7473, "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
                f"{GSM8K_URL}/train.jsonl"),
        RawFile("test.jsonl", 1319, "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
                f"{GSM8K_URL}/test.jsonl"),
    )

    def _parse(self, path: Path, raw_file: RawFile) -> Iterator[Row]:
        for lineno, record in read_json_lines(path, self.name):
            where = f"line {lineno}"
            question = field(record, "question", str, self.name, path, where)
            solution = field(record, "answer", str, self.name, path, where)
            reference, sep, answer = solution.rpartition("#### ")
            if not sep:
                raise malformed(self.name, path, where, "answer has no '#### ' final answer")
            yield question, answer.strip(), None, reference.strip()
