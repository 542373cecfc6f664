"""``oracle``: rationales computed from the question by the generated tasks (coin flip, last
letters, shuffled objects), with the gold answer as the step-2 answer.

``oracle:error=P`` is a teacher that makes mistakes: each completion independently, with
probability P, goes wrong at one random step of its rationale and carries the wrong state through
to a wrong answer (the task's ``oracle_mistake``), seeded by the question and the completion
index. Its accuracy is about 1 - P; the ``correct`` filter then matters, diverse reasoning (D > 1)
raises the share of questions with at least one correct rationale, and a student can beat it.

Reports label it ``oracle``: it is an upper bound for studying students apart from teacher noise,
and it lets the whole pipeline run offline. At temperature 0 every completion is the canonical
rationale; above 0 each (example, index) draws one of the task's phrasings, seeded by the question
and the index, so diverse reasoning (degree > 1) means something offline too. Completions are
recomputed on every run (it costs nothing), so a change of the task's phrasings is picked up.
"""

from __future__ import annotations

import random
from typing import Any

from ftcot.api import Example, Generation, Job, Param, Sink, Task, Teacher, UserError, content_key, parse_params

BATCH = 256


class OracleTeacher(Teacher):
    """Rationales computed from the question (generated tasks); the gold answer as the answer, or
    with ``error=P`` a wrong rationale and answer in a share P of the completions."""

    name = "oracle"
    description = "Step-by-step rationales computed from the question, for the generated tasks (error=P: a noisy teacher)"
    cacheable = False
    calls_model = False
    params = (Param("error", float, 0.0, "chance that a completion goes wrong at one step (0 <= P < 1)"),)

    error: float = 0.0

    @classmethod
    def from_spec(cls, argument: str | None = None, **options: Any) -> OracleTeacher:
        if "error" in options:  # it names the teacher (its label and completions), so it sits in the spec
            raise UserError("oracle's error is part of its spec: write oracle:error=P, not an option error=P")
        error = float(parse_params(argument, cls.params, "teacher oracle").get("error", 0.0))
        if not 0.0 <= error < 1.0:
            raise UserError(f"oracle error must be in [0, 1): the chance a rationale goes wrong (got {error})")
        teacher = cls(model=f"error={error:g}" if error else "", options=options)
        teacher.error = error
        return teacher

    def parameters(self) -> dict[str, Any]:
        return {"error": self.error} if self.error else {}

    def prepare(self, task: Task, generation: Generation) -> None:
        self._task = task

    def plan(self, task: Task, examples: list[Example], degree: int, generation: Generation) -> list[Job]:
        if examples:
            task.oracle_rationales(examples[0])  # UserError for tasks without oracle rationales
            if self.error:
                task.oracle_mistake(examples[0], random.Random(0))  # ... or without mistakes
        return super().plan(task, examples, degree, generation)

    def completion(self, example: Example, index: int, temperature: float) -> tuple[str, str]:
        """(rationale, answer) of completion ``index``: wrong with probability ``error``."""
        answer = example.answer
        if self.error and random.Random(content_key("mistake", example.question, index)).random() < self.error:
            phrasings, answer = self._task.oracle_mistake(
                example, random.Random(content_key("slip", example.question, index)))
        else:
            phrasings = self._task.oracle_rationales(example)
        if not phrasings:
            raise UserError(f"task {self._task.key} gave no oracle rationale for sample {example.sample_index}")
        if temperature <= 0 or len(phrasings) == 1:
            return phrasings[0], answer
        seed = int(content_key(example.question, index)[:16], 16)
        return random.Random(seed).choice(phrasings), answer

    def run(self, jobs: list[Job], sink: Sink, generation: Generation) -> None:
        batch = []
        for job in jobs:
            text, answer = self.completion(job.example, job.index, generation.temperature)
            rationale = " " + text.strip()
            batch.append((job, job.blank(
                self.label, generation,
                rationale=rationale,
                answer_prompt=generation.answer_prompt(job.reasoning_prompt, rationale),
                answer_text=f" {answer}.",
                finish_reason="stop",
            )))
            if len(batch) >= BATCH:
                sink.emit_many(batch)
                batch = []
        if batch:
            sink.emit_many(batch)
