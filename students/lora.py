"""LoRA through peft: ``"r=16,alpha=32"`` (also ``dropout=0.05``, ``targets=q_proj+v_proj``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ftcot.api import UserError, parse_lora

if TYPE_CHECKING:
    import torch

def is_lora(model: torch.nn.Module) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def apply_lora(model: torch.nn.Module, spec: str, *, seq2seq: bool) -> torch.nn.Module:
    """``model`` wrapped with fresh LoRA adapters; only they are trainable."""
    from peft import LoraConfig, TaskType, get_peft_model

    values = parse_lora(spec)
    model_type = getattr(getattr(model, "config", None), "model_type", "")

    def config(targets: Any) -> LoraConfig:
        return LoraConfig(
            r=values["r"],
            lora_alpha=values["alpha"],
            lora_dropout=values["dropout"],
            target_modules=targets,
            fan_in_fan_out=model_type == "gpt2",  # GPT-2 stores its projections transposed
            task_type=TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM,
        )

    try:
        return get_peft_model(model, config(values["targets"]))
    except ValueError as exc:
        if values["targets"] is not None:
            raise UserError(f"bad --lora {spec!r}: {exc}") from None
        # peft knows default targets only for common architectures; adapt every linear layer.
        return get_peft_model(model, config("all-linear"))
