"""``oracle``: rationales computed from the question by the generated tasks (coin flip, last
letters, shuffled objects), with the gold answer as the step-2 answer.

Reports label it ``oracle``: it is an upper bound for studying students apart from teacher noise,
and it lets the whole pipeline run offline. At temperature 0 every completion is the canonical
rationale; above 0 each (example, index) draws one of the task's phrasings, seeded by the question
and the index, so diverse reasoning (degree > 1) means something offline too. Completions are
recomputed on every run (it costs nothing), so a change of the task's phrasings is picked up.
"""

from __future__ import annotations

import random
from typing import Any

from ftcot.api import Example, Generation, Job, Sink, Teacher, UserError
from ftcot.store import content_key

BATCH = 256


class OracleTeacher(Teacher):
    """Rationales computed from the question (generated tasks); the gold answer as the answer."""

    name = "oracle"
    description = "Step-by-step rationales computed from the question, for the generated tasks"
    cacheable = False
    calls_model = False

    @classmethod
    def from_spec(cls, argument: str | None = None, **options: Any) -> OracleTeacher:
        if argument:
            raise UserError(f"teacher 'oracle' takes no argument (got {argument!r}); write just oracle")
        return cls(model="", options=options)

    def prepare(self, task: Any, generation: Generation) -> None:
        self._task = task

    def plan(self, task: Any, examples: list[Example], degree: int, generation: Generation) -> list[Job]:
        if examples:
            task.oracle_rationales(examples[0])  # UserError for tasks without oracle rationales
        return super().plan(task, examples, degree, generation)

    def rationale(self, example: Example, index: int, temperature: float) -> str:
        phrasings = self._task.oracle_rationales(example)
        if not phrasings:
            raise UserError(f"task {self._task.key} gave no oracle rationale for sample {example.sample_index}")
        if temperature <= 0 or len(phrasings) == 1:
            return phrasings[0]
        seed = int(content_key(example.question, index)[:16], 16)
        return random.Random(seed).choice(phrasings)

    def run(self, jobs: list[Job], sink: Sink, generation: Generation) -> None:
        batch = []
        for job in jobs:
            rationale = " " + self.rationale(job.example, job.index, generation.temperature).strip()
            batch.append((job, job.blank(
                self.label, generation,
                rationale=rationale,
                answer_prompt=generation.answer_prompt(job.reasoning_prompt, rationale),
                answer_text=f" {job.example.answer}.",
                finish_reason="stop",
            )))
            if len(batch) >= BATCH:
                sink.emit_many(batch)
                batch = []
        if batch:
            sink.emit_many(batch)
