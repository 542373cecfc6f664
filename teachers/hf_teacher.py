"""``hf:<name or path>``: a local transformers causal model as teacher.

For small local teachers, a GPU without vLLM, and CPU tests with a tiny model. Sampling is batched
(``num_return_sequences`` = the samples a prompt lacks). Options: ``batch_size`` (prompts per
call, default 8), ``device`` (default: cuda when available, else cpu), ``seed`` (default 0).
"""

from __future__ import annotations

from typing import Any

from ftcot.api import MAX_SEED, Generation, Param, UserError, content_key
from ftcot.teachers.local import Generated, LocalTeacher


class HFTeacher(LocalTeacher):
    """A local transformers causal model (batched sampling); for small teachers and CPU tests."""

    name = "hf"
    description = "A local transformers causal model (batched sampling), e.g. hf:gpt2 or hf:/path/to/model"
    params = (
        Param("batch_size", int, 8, "prompts per generation batch", ge=1),
        Param("seed", int, 0, "sampling seed", ge=0, le=MAX_SEED),
        Param("device", str, None, "cpu, cuda, cuda:1, ... (default: a GPU when there is one)"),
    )

    def __post_init__(self) -> None:
        self.batch_size = self.option("batch_size")
        self.seed = self.option("seed")
        self._model: Any = None

    def parameters(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def prepare(self, task: Any, generation: Generation) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.option("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model)
            model = AutoModelForCausalLM.from_pretrained(self.model)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(
                f"cannot load hf teacher {self.model!r} ({first}); give a local model directory "
                f"or a hub name that is in the local cache"
            ) from None
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._torch, self._tokenizer = torch, tokenizer
        self._model = model.to(device).eval()  # type: ignore[arg-type]
        self._device = device

    def generate(self, prompts: list[str], n: int, temperature: float, max_tokens: int) -> list[list[Generated]]:
        torch, tok, model = self._torch, self._tokenizer, self._model
        inputs = tok(prompts, return_tensors="pt", padding=True).to(self._device)
        sampling = temperature > 0
        torch.manual_seed(int(content_key(self.seed, prompts, n)[:8], 16))
        with torch.no_grad():
            output = model.generate(
                **inputs, max_new_tokens=max_tokens, do_sample=sampling,
                temperature=temperature if sampling else None, top_p=None, top_k=None,
                num_return_sequences=n, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
            )
        width = inputs["input_ids"].shape[1]
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        results: list[list[Generated]] = []
        for i in range(len(prompts)):
            samples = []
            for k in range(n):
                new = output[i * n + k, width:].tolist()
                stop = tok.eos_token_id in new
                if stop:
                    new = new[: new.index(tok.eos_token_id)]
                new = [t for t in new if t != tok.pad_token_id]
                text = str(tok.decode(new, skip_special_tokens=True))
                samples.append(Generated(text, int(prompt_tokens[i]), len(new),
                                         "stop" if stop or len(new) < max_tokens else "length"))
            results.append(samples)
        return results
