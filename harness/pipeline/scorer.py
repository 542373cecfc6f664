"""``Scorer``: reads answers out of model outputs with a task's own rules, for teacher
completions and student predictions alike. Picklable (it travels to workers with a cell) and
remembering what it has read: a teacher's answer texts repeat a lot (`` no.``, `` (B)``)."""

from __future__ import annotations

from typing import Any

from ftcot import scoring as rules
from ftcot.contracts.task import Task
from ftcot.records import Completion, Example


class Scorer:
    """A task's extraction and comparison under one rule set.

    Keeps only the task's ``AnswerFormat`` when the task uses the shared rules, else the task
    object itself (a plugin that overrides ``extract`` or ``is_correct``)."""

    def __init__(self, task: Task, scoring: str):
        self.scoring = scoring
        shared = type(task).extract is Task.extract and type(task).is_correct is Task.is_correct
        self.answer_format: rules.AnswerFormat | None = task.answer_format if shared else None
        self.task: Task | None = None if shared else task
        self._predictions: dict[tuple[str, str], str | None] = {}
        self._verdicts: dict[tuple[str, str], bool] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"scoring": self.scoring, "answer_format": self.answer_format, "task": self.task}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _predictions={}, _verdicts={})

    def extract(self, text: str, mode: str) -> str | None:
        """The prediction in ``text`` read as a ``mode`` output (``ftcot.scoring`` has the modes)."""
        key = (text, mode)
        if key not in self._predictions:
            if self.task is not None:
                self._predictions[key] = self.task.extract(text, mode, self.scoring)
            else:
                assert self.answer_format is not None
                self._predictions[key] = rules.extract(text, self.answer_format, mode, self.scoring)
        return self._predictions[key]

    def is_correct(self, prediction: str | None, gold: str) -> bool:
        if prediction is None:
            return False
        key = (prediction, gold)
        if key not in self._verdicts:
            if self.task is not None:
                self._verdicts[key] = bool(self.task.is_correct(prediction, gold, self.scoring))
            else:
                assert self.answer_format is not None
                self._verdicts[key] = rules.is_correct(prediction, gold, self.answer_format, self.scoring)
        return self._verdicts[key]

    def score(self, text: str, mode: str, gold: str) -> tuple[str | None, bool]:
        """(prediction, correct) for one output."""
        prediction = self.extract(text, mode)
        return prediction, self.is_correct(prediction, gold)

    def label(self, example: Example, completion: Completion) -> Completion:
        """A teacher completion labelled with this task's example and scored from its step-2
        answer text, read as a direct answer as in the paper (a copy where anything changes)."""
        prediction: str | None = None
        correct: bool | None = None
        if not completion.failed:
            prediction, correct = self.score(completion.answer_text, "direct", example.answer)
        c = completion
        if (c.task, c.sample_index, c.prediction, c.correct, c.scoring) == (
                example.task, example.sample_index, prediction, correct, self.scoring):
            return c
        c = object.__new__(Completion)  # a shallow copy, cheaper than copy.copy
        c.__dict__.update(completion.__dict__)
        c.task, c.sample_index, c.prediction, c.correct, c.scoring = (
            example.task, example.sample_index, prediction, correct, self.scoring)
        return c
