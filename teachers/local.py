"""Shared driver of local-model teachers (``hf:``, ``vllm:``): both steps in batches.

Jobs are grouped by prompt; step 1 asks for as many samples of a prompt as it lacks
(``num_return_sequences``/``n``), step 2 answers every new rationale greedily, and each batch is
stored before the next one starts. At temperature 0 one greedy rationale serves every index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftcot.api import Generation, Job, Sink, Teacher


@dataclass
class Generated:
    """One generated text with its token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


def group_by_prompt(jobs: list[Job]) -> list[list[Job]]:
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.reasoning_prompt, []).append(job)
    return list(groups.values())


class LocalTeacher(Teacher):
    """A teacher that runs a model in this process; subclasses implement ``generate``."""

    runs_locally = True
    batch_size: int = 8  # prompts per generate call

    def generate(self, prompts: list[str], n: int, temperature: float, max_tokens: int) -> list[list[Generated]]:
        """``n`` samples for each prompt (greedy when temperature is 0)."""
        raise NotImplementedError

    def render(self, prompt: str, messages: list[dict[str, str]]) -> str:
        """The text the model continues for one step: the plain prompt (base models); a chat
        model's teacher renders ``messages`` with its chat template instead."""
        return prompt

    def run(self, jobs: list[Job], sink: Sink, generation: Generation) -> None:
        groups = group_by_prompt(jobs)
        for start in range(0, len(groups), self.batch_size):
            batch = groups[start:start + self.batch_size]
            sink.emit_many(self._complete_batch(batch, generation))

    def _complete_batch(self, groups: list[list[Job]], gen: Generation) -> list[tuple[Job, Any]]:
        # step 1, for the jobs without a rationale from an earlier, failed try
        need = [[j for j in group if not (j.prior and j.prior.rationale)] for group in groups]
        asked = [g for g in need if g]
        rationales: dict[str, Generated] = {}
        if asked:
            n = 1 if gen.temperature <= 0 else max(len(g) for g in asked)
            texts = [self.render(g[0].reasoning_prompt, gen.reasoning_messages(g[0].reasoning_prompt)) for g in asked]
            outputs = self.generate(texts, n, gen.temperature, gen.max_tokens)
            for group, samples in zip(asked, outputs):
                for k, job in enumerate(group):
                    rationales[job.key] = samples[k % len(samples)]
        for group in groups:
            for job in group:
                if job.key not in rationales:
                    p = job.prior
                    assert p is not None  # jobs without a prior rationale were asked above
                    rationales[job.key] = Generated(p.rationale, p.prompt_tokens, p.completion_tokens, p.finish_reason)
        # step 2, greedy
        flat = [job for group in groups for job in group]
        answer_prompts = [gen.answer_prompt(job.reasoning_prompt, rationales[job.key].text) for job in flat]
        answers = self.generate([
            self.render(prompt, gen.answer_messages(job.reasoning_prompt, rationales[job.key].text))
            for job, prompt in zip(flat, answer_prompts)], 1, 0.0, gen.answer_max_tokens)
        results = []
        for job, prompt, answer in zip(flat, answer_prompts, answers):
            first = rationales[job.key]
            results.append((job, job.blank(
                self.label, gen,
                rationale=first.text, answer_prompt=prompt, answer_text=answer[0].text,
                finish_reason=first.finish_reason,
                prompt_tokens=first.prompt_tokens + answer[0].prompt_tokens,
                completion_tokens=first.completion_tokens + answer[0].completion_tokens,
            )))
        return results
