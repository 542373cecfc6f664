"""``vllm:<model or local path>``: the offline ``vllm.LLM`` engine on a local GPU, batched, with
``n`` samples per prompt.

Options: ``tensor_parallel_size`` (default 1), ``gpu_memory_utilization``, ``max_model_len``,
``dtype``, ``seed`` (default 0), ``batch_size`` (prompts per ``generate`` call, stored after each;
default 512). Needs the ``gpu`` extra (``pip install 'ftcot[gpu]'``).

To use a model served by ``vllm serve <model>`` instead (another machine, or a server shared by
several runs), use the litellm teacher: ``litellm:hosted_vllm/<model> --api-base http://HOST:8000/v1``.
"""

from __future__ import annotations

from typing import Any

from ftcot.api import Generation, Param, UserError
from ftcot.teachers.local import Generated, LocalTeacher
from ftcot.validation import check_teacher_options

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
        Param("batch_size", int, 512, "prompts per generate call"),
        Param("seed", int, 0, "sampling seed"),
        Param("tensor_parallel_size", int, 1, "GPUs to shard the model over"),
        Param("gpu_memory_utilization", float, None, "vLLM's share of GPU memory"),
        Param("max_model_len", int, None, "longest context vLLM allocates for"),
        Param("dtype", str, None, "weights' dtype, e.g. bfloat16"),
    )

    def __post_init__(self) -> None:
        check_teacher_options(self.options)
        self.batch_size = self.option("batch_size")
        self.seed = self.option("seed")
        self._llm: Any = None

    def parameters(self) -> dict[str, Any]:
        return {"seed": self.seed}

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
        outputs = self._llm.generate(prompts, params, use_tqdm=False)
        results = []
        for out in outputs:
            prompt_tokens = len(out.prompt_token_ids or [])
            results.append([
                Generated(o.text, prompt_tokens, len(o.token_ids), o.finish_reason) for o in out.outputs
            ])
        return results
