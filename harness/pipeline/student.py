"""What a student is built from: the run's text (its tokenizer corpus), the training pairs in a
student's layout, and the student loaded for them. Shared by the filter stage (token counts) and
the train stage."""

from __future__ import annotations

import json
from typing import Any

from ftcot import formatting as fmt
from ftcot.contracts.student import StudentModel
from ftcot.pipeline.cell import Sample
from ftcot.registry import create_student

_CORPUS_MARKERS = " ".join((
    "Q: A: ### --> END question:", fmt.ZS_COT_TRIGGER + fmt.ZS_COT_ANSWER_TRIGGER, "The answer is",
))


def corpus_for(samples: list[Sample], method: str, extra: list[str] | None = None) -> list[str]:
    """The run's own text, on which tiny students train their tokenizer (decoder-formatted, so
    every piece of either architecture's format appears in it)."""
    texts = [_CORPUS_MARKERS]
    texts.extend(prompt + target for prompt, target in training_pairs(samples, fmt.DECODER))
    texts.extend(extra or [])
    return texts


def training_pairs(samples: list[Sample], layout: str) -> list[tuple[str, str]]:
    """(input, target) of every sample in ``layout`` (``formatting.PAIR_LAYOUTS``): what a
    student trains on, and what ``ftcot training-data`` writes."""
    pairs = []
    for s in samples:
        pair = fmt.training_pair(s.question, s.rationale, s.answer, layout)
        pairs.append((pair.input, pair.target))
    return pairs


def training_records(samples: list[Sample], layout: str) -> list[dict[str, Any]]:
    """The training pairs as ``{"prompt", "completion", "sample_index", "completion_index"}``."""
    return [
        {"prompt": prompt, "completion": completion, "sample_index": s.sample_index,
         "completion_index": s.completion_index}
        for s, (prompt, completion) in zip(samples, training_pairs(samples, layout))
    ]


def training_jsonl(samples: list[Sample], layout: str) -> str:
    """The training pairs as JSON lines: the file ``training-data`` writes and an API fine-tuning
    service takes."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in training_records(samples, layout))


def load_student(student_spec: str, corpus: list[str], seed: int) -> StudentModel:
    """The student named by ``student_spec``, built for this run's text and seed."""
    return create_student(student_spec).load(corpus, seed)
