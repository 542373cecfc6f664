"""The evaluate stage: generate answers for test questions with the method's prompts and score
each with the task's rules; stored outputs of a fine-tuned model are scored again."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ftcot import formatting as fmt
from ftcot.contracts.student import StudentModel
from ftcot.pipeline.cell import (
    BASELINE_MAX_NEW_TOKENS,
    Answer,
    CellInputs,
    EvalItem,
)


@contextlib.contextmanager
def status_line(enabled: bool, text: str) -> Iterator[None]:
    """A spinner on stderr while ``text`` is going on (nothing when ``enabled`` is False)."""
    if not enabled:
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(text):
        yield


def _generate(model: StudentModel, prompts: list[str], max_new_tokens: int, batch_size: int, stop: str | None) -> list[str]:
    if not prompts:
        return []
    return list(model.generate(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, stop=stop))


def evaluate(model: StudentModel, inputs: CellInputs, items: list[EvalItem]) -> list[Answer]:
    """Generate for ``items`` with the method's prompts; score each output with the task's rules."""
    method, cfg = inputs.method, inputs.config
    ed = bool(model.is_encoder_decoder)
    batch, limit = int(cfg.get("eval_batch_size", 32)), int(cfg.get("max_new_tokens", 1024))

    def cap(name: str) -> int:
        return min(limit, BASELINE_MAX_NEW_TOKENS[name])

    if method in fmt.TRAINED_METHODS:
        if model.text_format == "openai":
            prompts = [fmt.openai_record(i.question, None, None)["prompt"] for i in items]
        else:
            prompts = [fmt.fine_tuned_prompt(i.question, ed) for i in items]
        texts = [fmt.cut_at_stop(t) for t in _generate(model, prompts, limit, batch, fmt.STOP)]
        read = texts
    elif method == fmt.ZERO_SHOT:
        prompts = [fmt.zero_shot_prompt(i.question, ed) for i in items]
        texts = read = _generate(model, prompts, cap("zero-shot"), batch, None)
    elif method == fmt.ZERO_SHOT_COT:
        step1 = [fmt.zero_shot_cot_prompt(i.question) for i in items]
        rationales = _generate(model, step1, cap("zero-shot-cot"), batch, None)
        step2 = [fmt.zero_shot_cot_answer_prompt(p, r) for p, r in zip(step1, rationales)]
        read = _generate(model, step2, cap("zero-shot-cot-answer"), batch, None)
        texts = [f"{r}{fmt.ZS_COT_ANSWER_TRIGGER}{a}" for r, a in zip(rationales, read)]
    elif method == fmt.FEW_SHOT_COT:
        prompts = [fmt.few_shot_cot_prompt(inputs.exemplars, i.question) for i in items]
        texts = read = _generate(model, prompts, cap("few-shot-cot"), batch, "\nQ:")
    else:  # CellSpec checks methods; this is a programming error
        raise ValueError(method)
    mode = fmt.EXTRACTION_MODE[method]
    return [_answer(inputs, mode, item.sample_index, text, answer_text, item.gold)
            for item, text, answer_text in zip(items, texts, read)]


def _answer(inputs: CellInputs, mode: str, sample_index: int, text: str, answer_text: str, gold: str) -> Answer:
    """``text`` as the record keeps it, with the answer read from ``answer_text`` and scored."""
    prediction, correct = inputs.scorer.score(answer_text, mode, gold)
    return Answer(sample_index, text, prediction, bool(correct))


def accuracy(answers: list[Answer]) -> float:
    return sum(a.correct for a in answers) / len(answers) if answers else 0.0


def rescore(texts: list[dict[str, Any]], inputs: CellInputs) -> list[Answer]:
    """Stored outputs of a fine-tuned model, scored again (only those methods are cached)."""
    gold = {e.sample_index: e.gold for e in inputs.test}
    mode = fmt.EXTRACTION_MODE[inputs.method]
    return [_answer(inputs, mode, item["sample_index"], item["text"], item["text"], gold[item["sample_index"]])
            for item in texts]
