"""The evaluation cache of a fine-tuned model: the texts of its test outputs, kept in the model's
directory under what determines them, so that a rerun reads the answers again with today's rules
instead of generating them again."""

from __future__ import annotations

from pathlib import Path

from ftcot.fileio import read_json_or_none, write_json_atomic
from ftcot.pipeline.cell import PIPELINE_VERSION, Answer, CellInputs
from ftcot.pipeline.evaluate import rescore
from ftcot.store import content_key


def eval_key(inputs: CellInputs) -> str:
    """What determines a fine-tuned model's test outputs (the model's directory holds the rest)."""
    return content_key("eval", PIPELINE_VERSION, inputs.method, [(e.sample_index, e.question) for e in inputs.test],
                       inputs.config.get("max_new_tokens"))


class EvalCache:
    """The cached test outputs of the model in ``model_dir`` for ``inputs``."""

    def __init__(self, model_dir: Path, inputs: CellInputs):
        self.inputs = inputs
        self.path = model_dir / "evals" / f"{eval_key(inputs)[:24]}.json"

    def load(self) -> list[Answer] | None:
        """The cached outputs, scored with today's rules; None when nothing is cached."""
        cached = read_json_or_none(self.path)
        return None if cached is None else rescore(cached, self.inputs)

    def save(self, answers: list[Answer]) -> None:
        """Keep the texts (answers are read from them again on load)."""
        self.path.parent.mkdir(exist_ok=True)
        write_json_atomic(self.path, [{"sample_index": a.sample_index, "text": a.text} for a in answers])
