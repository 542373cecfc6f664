"""The built-in generated tasks, tiny students and filters, each run in one tiny cell through
``ftcot.testing.run_cell``, as a plugin author would test theirs."""

from __future__ import annotations

import pytest

from ftcot.testing import TINY_STUDENT, run_cell


@pytest.mark.parametrize("task", ["coin_flip:train=8,test=4", "last_letter_concatenation:words=2,train=8,test=4",
                                  "tracking_shuffled_objects:train=8,test=4"])
def test_generated_task_runs_with_the_oracle(task: str) -> None:
    cell = run_cell(task)
    assert (cell.status, cell.n, cell.train_samples, cell.teacher) == ("done", 4, 8, "oracle")
    assert cell.task.startswith(task.split(":")[0] + ":")


@pytest.mark.parametrize("student", ["tiny-llama:layers=1,dim=32,heads=2,ffn=64,vocab=300",
                                     "tiny-t5:layers=1,dim=32,heads=2,ffn=64,vocab=300"])
def test_tiny_students_train_and_evaluate(student: str) -> None:
    cell = run_cell("coin_flip:train=8,test=4", student=student)
    assert (cell.student, cell.n) == (student, 4)


def test_fine_tune_needs_no_teacher() -> None:
    cell = run_cell("coin_flip:train=8,test=4", method="fine-tune")
    assert (cell.teacher, cell.train_samples, cell.student) == ("none", 8, TINY_STUDENT)
