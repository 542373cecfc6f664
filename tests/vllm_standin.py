"""A stand-in for the ``vllm`` module where vLLM is not installed: ``LLM`` and ``SamplingParams``
with the parts the vllm teacher uses. It writes a fixed short text per sample and records what
it was given, so tests can check when the engine is built and what it is asked."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SamplingParams:
    n: int = 1
    temperature: float = 0.0
    max_tokens: int = 16


@dataclass
class _Sample:
    text: str
    token_ids: list[int]
    finish_reason: str = "stop"


@dataclass
class _Output:
    prompt_token_ids: list[int]
    outputs: list[_Sample] = field(default_factory=list)


class LLM:
    """Counts its constructions (``LLM.built``) and records its inputs (``LLM.inputs``)."""

    built = 0
    inputs: list[Any] = []

    def __init__(self, model: str, **engine: Any):
        type(self).built += 1
        self.model, self.engine = model, engine

    def generate(self, prompts: list[Any], params: SamplingParams, use_tqdm: bool = False) -> list[_Output]:
        type(self).inputs.extend(prompts)
        outputs = []
        for prompt in prompts:
            ids = prompt["prompt_token_ids"] if isinstance(prompt, dict) else list(range(len(str(prompt).split())))
            text = " yes." if isinstance(prompt, str) and prompt.rstrip().endswith("answer is") else " Heads, so yes."
            samples = [_Sample(f"{text} ({k})" if params.temperature > 0 else text, [1, 2, 3]) for k in range(params.n)]
            outputs.append(_Output(list(ids), samples))
        return outputs


def module() -> types.ModuleType:
    """A fresh ``vllm`` stand-in module (counters at zero)."""
    mod = types.ModuleType("vllm")
    llm = type("LLM", (LLM,), {"built": 0, "inputs": []})
    mod.LLM = llm  # type: ignore[attr-defined]
    mod.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    return mod
