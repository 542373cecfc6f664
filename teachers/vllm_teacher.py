"""``vllm:<model or local path>``: the offline ``vllm.LLM`` engine on a local GPU, batched, with
``n`` samples per prompt.

Options: ``tensor_parallel_size`` (default 1), ``gpu_memory_utilization``, ``max_model_len``,
``dtype``, ``seed`` (default 0), ``batch_size`` (prompts per ``generate`` call, stored after each;
default 512), ``chat`` (``auto``, the default: a model whose tokenizer has a chat template gets
both steps as messages rendered with it, as ``litellm:hosted_vllm/...`` gets them from ``vllm
serve``; other models get the plain prompts; ``true``/``false`` force it). Needs the ``gpu`` extra
(``pip install 'ftcot[gpu]'``).

The engine is built only when a ``teach`` call has work (after the store is checked), and the
teacher is reused by every call in the process with the same spec and options, so a model loads
at most once per process.

To use a model served by ``vllm serve <model>`` instead (another machine, or a server shared by
several runs), use the litellm teacher: ``litellm:hosted_vllm/<model> --api-base http://HOST:8000/v1``.
"""

from __future__ import annotations

from typing import Any

from ftcot.api import MAX_SEED, Generation, Param, UserError
from ftcot.teachers.local import Generated, LocalTeacher

INSTALL_HINT = "the vllm teacher needs vLLM, which is not installed: pip install 'ftcot[gpu]'"


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return vllm


class VLLMTeacher(LocalTeacher):
    """A model on a local GPU through vLLM's offline engine (batched, n samples per prompt)."""

    name = "vllm"
    description = "A model on a local GPU through vLLM's offline engine (needs the gpu extra)"
    params = (
        Param("batch_size", int, 512, "prompts per generate call", ge=1),
        Param("seed", int, 0, "sampling seed", ge=0, le=MAX_SEED),
        Param("tensor_parallel_size", int, 1, "GPUs to shard the model over", ge=1),
        Param("gpu_memory_utilization", float, None, "vLLM's share of GPU memory", gt=0, le=1),
        Param("max_model_len", int, None, "longest context vLLM allocates for", ge=1),
        Param("dtype", str, None, "weights' dtype, e.g. bfloat16"),
        Param("chat", object, "auto", "auto, true or false: both steps as chat messages (auto: if the model "
                                       "has a chat template)", choices=("auto", True, False, "true", "false")),
    )

    def __post_init__(self) -> None:
        self.batch_size = self.option("batch_size")
        self.seed = self.option("seed")
        chat = self.option("chat")
        self._chat_option = chat if chat == "auto" else chat in (True, "true")
        self._tokenizer: Any = None
        self._llm: Any = None

    def parameters(self) -> dict[str, Any]:
        # base models keep the keys they always had; chat-rendered completions are other completions
        return {"seed": self.seed, "chat": True} if self.chat else {"seed": self.seed}

    @property
    def chat(self) -> bool:
        """Whether both steps go to the model as chat messages (rendered with its template)."""
        if self._chat_option == "auto":
            self._chat_option = bool(getattr(self.tokenizer(), "chat_template", None))
        return bool(self._chat_option)

    def tokenizer(self) -> Any:
        """The model's tokenizer (no engine needed), for its chat template."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.model)
            except (OSError, ValueError) as exc:
                import_vllm()  # without vLLM, that is the thing to say
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(f"cannot load the tokenizer of vllm teacher {self.model!r} ({first})") from None
        return self._tokenizer

    def render(self, prompt: str, messages: list[dict[str, str]]) -> str:
        if not self.chat:
            return prompt
        return str(self.tokenizer().apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def prepare(self, task: Any, generation: Generation) -> None:
        vllm = import_vllm()
        if self._llm is not None:
            return
        engine: dict[str, Any] = {
            "model": self.model,
            "tensor_parallel_size": self.option("tensor_parallel_size"),
            "seed": self.seed,
        }
        for name in ("gpu_memory_utilization", "max_model_len", "dtype"):
            if self.option(name) is not None:
                engine[name] = self.option(name)
        self._vllm = vllm
        self._llm = vllm.LLM(**engine)

    def generate(self, prompts: list[str], n: int, temperature: float, max_tokens: int) -> list[list[Generated]]:
        params = self._vllm.SamplingParams(n=n, temperature=temperature, max_tokens=max_tokens)
        inputs: list[Any] = list(prompts)
        if self.chat:  # rendered by the template, special tokens included: not added a second time
            encode = self.tokenizer()
            inputs = [{"prompt_token_ids": encode(text, add_special_tokens=False)["input_ids"]} for text in prompts]
        outputs = self._llm.generate(inputs, params, use_tqdm=False)
        results = []
        for out in outputs:
            prompt_tokens = len(out.prompt_token_ids or [])
            results.append([
                Generated(o.text, prompt_tokens, len(o.token_ids), o.finish_reason) for o in out.outputs
            ])
        return results
