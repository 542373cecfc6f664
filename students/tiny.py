"""Tiny students built from a config: random weights from the seed and a byte-level BPE trained on
the run's own text. No download, so tests, CI and the offline demo use these.

``tiny-llama:layers=2,dim=128,heads=4,ffn=320,vocab=512`` (the default, about 0.44M parameters)
learned step-by-step rationales about twice as fast as a GPT-2 of the same size on this CPU.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ftcot.api import Param, Student, StudentModel, UserError, declared_params, parse_params

# torch and transformers load on first use, so listing plugins stays fast.


def _size_params(ffn: int) -> tuple[Param, ...]:
    """The size parameters every tiny family takes (``ffn``'s default differs)."""
    return (
        Param("layers", int, 2, "transformer layers"),
        Param("dim", int, 128, "hidden size (a multiple of heads)"),
        Param("heads", int, 4, "attention heads"),
        Param("ffn", int, ffn, "feed-forward size"),
        Param("vocab", int, 512, "BPE vocabulary size, trained on the run's text"),
    )


_DROPOUT = Param("dropout", float, 0.0, "dropout rate in [0, 1)")


class TinyStudent(Student):
    """Shared by the tiny families: size options, canonical key, loading."""

    params: ClassVar[tuple[Param, ...]] = ()
    seq2seq: ClassVar[bool] = False

    def __init__(self, params: dict[str, Any], *, threads: int | None = None, device: str | None = None):
        self.sizes = params
        self.threads = threads
        self.device = device
        self.key = f"{self.name}:" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                              for k, v in params.items())

    @classmethod
    def from_spec(cls, argument: str | None, *, threads: int | None = None, device: str | None = None,
                  **_: Any) -> TinyStudent:
        declared = declared_params(cls)
        params = {p.name: p.default for p in declared} | parse_params(argument, declared, cls.name)
        for name in ("layers", "dim", "heads", "ffn", "vocab"):
            if params[name] < 1:
                raise UserError(f"{cls.name}: {name} must be >= 1, got {params[name]}")
        if params["dim"] % params["heads"]:
            raise UserError(f"{cls.name}: dim ({params['dim']}) must be a multiple of heads ({params['heads']})")
        if not 0.0 <= params["dropout"] < 1.0:
            raise UserError(f"{cls.name}: dropout must be in [0, 1), got {params['dropout']}")
        return cls(params, threads=threads, device=device)

    def load(self, corpus: list[str], seed: int) -> StudentModel:
        import torch

        from ftcot.students.model import CausalStudentModel, Seq2SeqStudentModel
        from ftcot.students.runtime import set_threads
        from ftcot.students.tokenizer import train_bpe

        set_threads(self.threads)
        family = Seq2SeqStudentModel if self.seq2seq else CausalStudentModel
        tokenizer = train_bpe(corpus, self.sizes["vocab"], bos=not self.seq2seq)
        torch.manual_seed(seed)
        model = family.auto_class.from_config(self.config(len(tokenizer), tokenizer))
        return family(model, tokenizer, key=self.key, device=self.device, threads=self.threads)

    def config(self, vocab_size: int, tokenizer: Any) -> Any:
        """The ``transformers`` config of this size, for a tokenizer of ``vocab_size`` tokens."""
        raise NotImplementedError


class TinyGPT2(TinyStudent):
    name = "tiny-gpt2"
    description = "GPT-2 built from a config (learned positions), random weights, in-process BPE"
    params = _size_params(ffn=512) + (Param("positions", int, 1024, "learned positions (longest input)"),
                                      _DROPOUT)

    def config(self, vocab_size: int, tokenizer: Any) -> Any:
        from transformers import GPT2Config

        p = self.sizes
        return GPT2Config(
            vocab_size=vocab_size, n_positions=p["positions"], n_embd=p["dim"], n_layer=p["layers"],
            n_head=p["heads"], n_inner=p["ffn"], resid_pdrop=p["dropout"], embd_pdrop=p["dropout"],
            attn_pdrop=p["dropout"], bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )


class TinyLlama(TinyStudent):
    name = "tiny-llama"
    description = "Llama-style decoder (rotary positions) built from a config, random weights, in-process BPE"
    params = _size_params(ffn=320) + (_DROPOUT,)

    def config(self, vocab_size: int, tokenizer: Any) -> Any:
        from transformers import LlamaConfig

        p = self.sizes
        return LlamaConfig(
            vocab_size=vocab_size, hidden_size=p["dim"], intermediate_size=p["ffn"],
            num_hidden_layers=p["layers"], num_attention_heads=p["heads"], num_key_value_heads=p["heads"],
            max_position_embeddings=4096, attention_dropout=p["dropout"], tie_word_embeddings=True,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )


class TinyT5(TinyStudent):
    name = "tiny-t5"
    description = "T5 encoder-decoder built from a config, random weights, in-process BPE"
    params = _size_params(ffn=256) + (_DROPOUT,)
    seq2seq = True

    def config(self, vocab_size: int, tokenizer: Any) -> Any:
        from transformers import T5Config

        p = self.sizes
        return T5Config(  # type: ignore[call-arg]  # T5Config takes model kwargs through **kwargs
            vocab_size=vocab_size, d_model=p["dim"], d_kv=p["dim"] // p["heads"], d_ff=p["ffn"],
            num_layers=p["layers"], num_decoder_layers=p["layers"], num_heads=p["heads"],
            dropout_rate=p["dropout"], pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
