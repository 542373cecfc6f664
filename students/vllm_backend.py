"""vLLM generation for decoder students on a GPU: the saved model folder (or its base model plus
LoRA adapter) in vLLM's offline engine, greedy decoding, stopping at the end marker.

``$FTCOT_GENERATION_BACKEND`` chooses: ``auto`` (the default: vLLM when it is installed, a GPU is
visible and the student is a decoder saved on disk; else Hugging Face ``generate``), ``hf`` or
``vllm`` (an error when vLLM cannot run). Prompts go in as the same token ids the Hugging Face
path feeds (special tokens, truncation), so both decode the same greedy continuation.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import torch

from ftcot.api import META_FILE, UserError

BACKENDS = ("auto", "hf", "vllm")


def requested_backend() -> str:
    """``$FTCOT_GENERATION_BACKEND`` (``auto`` when unset), checked."""
    value = (os.environ.get("FTCOT_GENERATION_BACKEND") or "auto").strip().lower()
    if value not in BACKENDS:
        raise UserError(f"FTCOT_GENERATION_BACKEND={value!r}: use one of {', '.join(BACKENDS)}")
    return value


def vllm_ready() -> str | None:
    """None when vLLM can generate here, else why not."""
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (pip install 'ftcot[gpu]')"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible"
    return None


def use_vllm(encoder_decoder: bool, saved: Path | None, device: torch.device) -> bool:
    """Whether a student's generation goes through vLLM (see the module docstring)."""
    backend = requested_backend()
    if backend == "hf":
        return False
    why = vllm_ready()
    if why is None and encoder_decoder:
        why = "vLLM serves decoder students only"
    if why is None and saved is None:
        why = "the student has no saved folder to load (generation during training)"
    if why is None and device.type != "cuda":
        why = "the student runs on the CPU"
    if why is not None and backend == "vllm":
        raise UserError(f"FTCOT_GENERATION_BACKEND=vllm, but {why}")
    return why is None


class VLLMGenerator:
    """One vLLM engine for a saved student folder; greedy ``generate`` on token-id prompts."""

    def __init__(self, folder: Path):
        import vllm
        from vllm.lora.request import LoRARequest

        meta = json.loads((folder / META_FILE).read_text())
        base = meta.get("base")
        engine: dict[str, Any] = {"tokenizer": str(folder), "seed": 0, "dtype": "auto",
                                  "gpu_memory_utilization": float(os.environ.get("FTCOT_VLLM_MEMORY", "0.5"))}
        self._lora = None
        if base:  # adapters on a base: the base in the engine, the adapter per request
            source = str(folder / base["source"]) if base.get("saved") else base["source"]
            engine.update(model=source, enable_lora=True, max_lora_rank=_lora_rank(folder))
            if base.get("revision") and not base.get("saved"):
                engine["revision"] = base["revision"]
            self._lora = LoRARequest("student", 1, str(folder / "adapter"))
        else:
            engine["model"] = str(folder)
        self._vllm = vllm
        self.llm = vllm.LLM(**engine)

    def generate(self, prompts: list[list[int]], max_new_tokens: list[int], stop: str | None) -> list[str]:
        """Greedy continuations of token-id prompts, each up to its own token budget, cut before ``stop``."""
        from vllm.inputs import TokensPrompt

        params = [self._vllm.SamplingParams(temperature=0.0, max_tokens=max(1, n), stop=[stop] if stop else None,
                                            skip_special_tokens=True) for n in max_new_tokens]
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in prompts], params,
                                    lora_request=self._lora, use_tqdm=False)
        return [out.outputs[0].text if n > 0 else "" for out, n in zip(outputs, max_new_tokens)]


def _lora_rank(folder: Path) -> int:
    config = json.loads((folder / "adapter" / "adapter_config.json").read_text())
    rank = int(config.get("r", 16))
    return next(r for r in (8, 16, 32, 64, 128, 256, 320, 512) if r >= rank)
