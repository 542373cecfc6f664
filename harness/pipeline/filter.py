"""The filter stage: parse filter specs, create the filters and run them in order on a cell's
teacher completions. Failed teacher calls are always dropped first, by the ``failed`` step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ftcot import registry
from ftcot.contracts.filter import Drop, Filter, FilterContext, FilterResult, FilterStep
from ftcot.contracts.task import Task
from ftcot.errors import UserError
from ftcot.pipeline.cell import CellSpec, Sample
from ftcot.pipeline.train import corpus_for, load_student
from ftcot.records import Completion, Example

FAILED_STEP = "failed"


def parse_filter_specs(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"correct,max-tokens:128"`` (or several such strings) -> ``("correct", "max-tokens:128")``.

    ``none`` means no filters; an empty list (``--filters ''``) is refused, since it would turn the
    ``correct`` filter off unnoticed. A piece with ``=`` and no ``:`` continues the previous
    filter's argument, so ``myfilter:a=1,b=2`` stays one spec.
    """
    if text is None:
        return ()
    chunks = [text] if isinstance(text, str) else list(text)
    specs: list[str] = []
    for chunk in chunks:
        if not chunk.replace(",", "").strip():
            raise UserError("--filters is empty: name the filters (e.g. correct,dedupe), or write --filters none "
                            "to train on every completion")
        for piece in chunk.split(","):
            piece = piece.strip()
            if not piece or piece.lower() == "none":
                continue
            if specs and "=" in piece and ":" not in piece and ":" in specs[-1]:
                specs[-1] += "," + piece
            else:
                specs.append(piece)
    return tuple(specs)


def create_filters(specs: Iterable[str]) -> list[Filter]:
    """Instantiate filter plugins by spec (UserError for unknown names or bad arguments)."""
    return [registry.create_filter(spec) for spec in specs]


def needs_tokens(filters: Iterable[Filter]) -> bool:
    return any(getattr(f, "needs_tokens", False) for f in filters)


def apply_filters(
    completions: Iterable[Completion], filters: Sequence[Filter], context: FilterContext
) -> FilterResult:
    """Run ``filters`` in order; failed teacher calls are dropped first (step ``failed``)."""
    current = list(completions)
    dropped: list[Drop] = []
    steps: list[FilterStep] = []

    def run_step(spec: str, reasons: Sequence[str | None]) -> None:
        nonlocal current
        if len(reasons) != len(current):
            raise RuntimeError(f"filter {spec!r} returned {len(reasons)} decisions for {len(current)} completions")
        kept: list[Completion] = []
        before = len(dropped)
        for c, reason in zip(current, reasons):
            if reason is None:
                kept.append(c)
            else:
                dropped.append(Drop(c.task, c.sample_index, c.index, c.teacher, spec, str(reason)))
        steps.append(FilterStep(spec, len(current), len(kept), len(dropped) - before))
        current = kept

    run_step(FAILED_STEP, [f"teacher call failed: {c.error}" if c.failed else None for c in current])
    for f in filters:
        run_step(f.spec, f.reasons(current, context))
    return FilterResult(current, dropped, steps)


def filter_completions(
    spec: CellSpec, task: Task, examples: list[Example], completions: list[Completion], scoring: str
) -> FilterResult:
    """Run the cell's filters. ``max-tokens`` counts tokens of the student built on every
    completion's text; a tiny student then trains its tokenizer on the kept ones only, so its
    counts may differ by a few tokens from the ones the filter saw."""
    filters = create_filters(spec.filters)
    context = FilterContext(task=task, examples={e.sample_index: e for e in examples}, scoring=scoring)
    if needs_tokens(filters):
        by_index = context.examples
        texts = [
            Sample(c.sample_index, c.index, by_index[c.sample_index].question,
                   by_index[c.sample_index].answer, c.rationale)
            for c in completions if c.sample_index in by_index and not c.failed
        ]
        context.count_tokens = load_student(spec.student, corpus_for(texts, spec.method), spec.seed).count_tokens
    return apply_filters(sorted(completions, key=lambda c: (c.sample_index, c.index)), filters, context)
