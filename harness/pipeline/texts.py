"""The texts a cell builds for one question: what its teacher is asked (both Zero-shot-CoT steps),
the student's training pair and the prompt it is evaluated on.

A cell keeps them (``extra["texts"]``) and the gate (``ftcot check``) compares them with its
baseline's: a change of the pipeline's formats — another Zero-shot-CoT trigger, a lost
end-of-answer marker — fails the gate even where no accuracy shows it (an offline teacher does
not read its prompt; a student that stops on its end-of-sequence token needs no marker). Teacher
rationales differ between runs of a model teacher, so the texts hold ``{rationale}`` in their
place; the training pair is the decoder layout's (what the tiny students train on).

Where the training data cannot change between runs (vanilla fine-tuning, or a teacher that calls
no model: ``oracle``, ``replay``), ``train_data`` holds its size and a hash of its samples, so a
filter that keeps other completions changes it too.
"""

from __future__ import annotations

import dataclasses

from ftcot import formatting as fmt
from ftcot import registry
from ftcot.contracts.teacher import Generation
from ftcot.pipeline.cell import CellSpec, Sample
from ftcot.records import Example
from ftcot.store import content_key

RATIONALE = "{rationale}"


def cell_texts(spec: CellSpec, train: list[Example], test: list[Example], exemplars: str = "") -> dict[str, str]:
    """The texts of the first training and first test question (empty when there is none)."""
    texts: dict[str, str] = {}
    first = train[0] if train else None
    if spec.uses_teacher and first is not None:
        options = {k: v for k, v in spec.teacher_options.items() if k != "temperature"}
        generation = Generation.from_options(spec.temperature, options)
        prompt = generation.reasoning_prompt(first.question)
        texts["teacher_step1"] = prompt
        texts["teacher_step2"] = generation.answer_prompt(prompt, f" {RATIONALE}")
    if spec.trains and first is not None:
        pair = fmt.training_pair(first.question, RATIONALE if spec.uses_teacher else None, first.answer, fmt.DECODER)
        texts["train_input"], texts["train_target"] = pair.input, pair.target
    if test:
        question = test[0].question
        prompts = {
            fmt.ZERO_SHOT: lambda: fmt.zero_shot_prompt(question, False),
            fmt.ZERO_SHOT_COT: lambda: fmt.zero_shot_cot_prompt(question),
            fmt.FEW_SHOT_COT: lambda: fmt.few_shot_cot_prompt(exemplars, question),
        }
        texts["eval_prompt"] = prompts.get(spec.method, lambda: fmt.fine_tuned_prompt(question, False))()
        if spec.trains:
            texts["stop"] = fmt.STOP
    return texts


def training_data_text(spec: CellSpec, samples: list[Sample]) -> str | None:
    """``"N samples, HASH"`` of a trained cell's samples, where they are the same on every run (no
    teacher, or one that calls no model); None otherwise."""
    if not spec.trains:
        return None
    if spec.uses_teacher and getattr(registry.registry().resolve("teacher", spec.teacher)[0], "calls_model", True):
        return None
    return f"{len(samples)} samples, {content_key([dataclasses.astuple(s) for s in samples])[:16]}"
