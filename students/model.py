"""Student models on Hugging Face ``transformers``: one class per family (causal decoder,
encoder-decoder), shared by the tiny students built from a config and by ``hf:`` models.

Formatting is the pipeline's; here a pair is tokenized as two pieces, so that training sees
exactly the prompt tokens that generation later starts from:
- decoder: ``[specials] input`` then ``target </s>``; the loss covers the second part only;
- encoder-decoder: ``input [specials]`` to the encoder, ``target </s>`` as labels.
Inputs longer than ``max_length`` lose their beginning (the end holds the ``###`` marker and the
question); targets lose their end.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    StoppingCriteria,
    StoppingCriteriaList,
)

from ftcot.api import META_FILE, EpochCallback, StudentModel, TrainConfig, UserError
from ftcot.students import lora as lora_support
from ftcot.students import training, vllm_backend
from ftcot.students.runtime import autocast, eval_mode, pick_device, set_threads

ADAPTER_DIR = "adapter"  # a LoRA student's saved adapters
BASE_DIR = "base"  # a LoRA student's base weights, when the base has no name to load it by

# Architectures with learned absolute positions cannot see past max_position_embeddings.
LEARNED_POSITIONS = {"gpt2", "gpt_neo", "opt", "gpt_bigcode", "biogpt", "xglm"}


class StopOnText(StoppingCriteria):
    """Marks a row done once its generated text holds ``stop``. Cheap per step: a row's tail is
    decoded only when its newest token can complete ``stop`` (its text holds the last character;
    ``table`` is that per token id, computed once); other rows are not done, and a done row stays
    done in ``generate``."""

    def __init__(self, tokenizer: Any, stop: str, start: int, can_end: torch.Tensor):
        self.tokenizer = tokenizer
        self.stop = stop
        self.start = start
        self.can_end = can_end
        self.window = len(stop) + 2  # tokens: enough to hold `stop` even split into single bytes

    @staticmethod
    def table(tokenizer: Any, stop: str, config: Any, device: torch.device) -> torch.Tensor:
        """Per token id: whether its text holds ``stop``'s last character (special tokens: no)."""
        size = max(len(tokenizer), int(getattr(config, "vocab_size", 0) or 0))
        pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))], skip_special_tokens=True)
        flags = torch.zeros(size, dtype=torch.bool)
        flags[: len(pieces)] = torch.tensor([stop[-1] in piece for piece in pieces], dtype=torch.bool)
        return flags.to(device)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        done = self.can_end[input_ids[:, -1]]
        if input_ids.shape[1] <= self.start or not bool(done.any()):
            return done & False  # type: ignore[return-value]
        rows = done.nonzero().flatten().tolist()
        begin = max(self.start, input_ids.shape[1] - self.window)
        tails = self.tokenizer.batch_decode(input_ids[rows, begin:], skip_special_tokens=True)
        done = torch.zeros_like(done)
        done[rows] = torch.tensor([self.stop in t for t in tails], dtype=torch.bool, device=done.device)
        return done  # type: ignore[return-value]


@dataclass
class Affixes:
    """The special tokens a tokenizer puts before and after a text (``<s>``, ``</s>``...)."""

    prefix: list[int]
    suffix: list[int]

    @classmethod
    def of(cls, tokenizer: Any) -> Affixes:
        plain = tokenizer("x y", add_special_tokens=False)["input_ids"]
        full = tokenizer("x y", add_special_tokens=True)["input_ids"]
        for start in range(len(full) - len(plain) + 1):
            if full[start : start + len(plain)] == plain:
                return cls(full[:start], full[start + len(plain) :])
        return cls([], [])


class HFStudentModel(StudentModel):
    """A ``transformers`` model and its tokenizer; training and generation shared by the families."""

    auto_class: Any = None

    def __init__(self, model: PreTrainedModel, tokenizer: Any, *, key: str, device: str | None = None,
                 threads: int | None = None, max_length: int = 512):
        set_threads(threads)
        self.key = key
        self.tokenizer = tokenizer
        self.device = pick_device(device)
        self.model = model.to(self.device)  # type: ignore[arg-type]  # transformers types .to narrowly
        self.model.eval()
        self.max_length = max_length
        self.history: list[dict[str, float]] = []
        self.lora: str | None = None
        self.revision: str | None = None  # the base model's hub commit, kept through save and load
        self.base_source: str | None = None  # hub name or directory the base loads from (None: built here)
        self._saved: tuple[Path, int] | None = None  # (folder, epochs trained then): the folder vLLM may load
        self._vllm: tuple[Path, Any] | None = None
        self._stop_table: tuple[str, torch.Tensor] | None = None
        self._affixes = Affixes.of(tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.eos_id = tokenizer.eos_token_id
        if self.eos_id is None or self.pad_id is None:
            raise UserError(f"student {key}: its tokenizer has no end-of-sequence token; pick another model")

    # ---- text <-> tokens -------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens (one batched call)."""
        return list(self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]) if texts else []

    def source_ids(self, body: list[int], max_length: int) -> list[int]:
        """An input's ids with its special tokens, its beginning cut to fit ``max_length``."""
        room = max(1, max_length - len(self._affixes.prefix) - len(self._affixes.suffix))
        return self._affixes.prefix + body[-room:] + self._affixes.suffix

    def target_ids(self, body: list[int], max_length: int) -> list[int]:
        """A target's ids and ``</s>``, its end cut to fit ``max_length``."""
        return body[: max(0, max_length - 1)] + [self.eos_id]

    def encode_pairs(self, pairs: Sequence[tuple[str, str]], max_length: int) -> list[tuple[list[int], list[int]]]:
        """Training examples: (input ids, target ids) of each pair."""
        sources = self.token_ids([s for s, _ in pairs])
        targets = self.token_ids([t for _, t in pairs])
        return [self._pair(s, t, max_length) for s, t in zip(sources, targets)]

    def encode_pair(self, source: str, target: str, max_length: int) -> tuple[list[int], list[int]]:
        return self.encode_pairs([(source, target)], max_length)[0]

    def _pair(self, source: list[int], target: list[int], max_length: int) -> tuple[list[int], list[int]]:
        return self.source_ids(source, max_length), self.target_ids(target, max_length)

    @property
    def parameter_count(self) -> int:
        base = self.model.get_base_model() if lora_support.is_lora(self.model) else self.model
        return sum(p.numel() for n, p in base.named_parameters() if "lora_" not in n)

    def describe(self) -> dict[str, Any]:
        base = self.model.get_base_model() if lora_support.is_lora(self.model) else self.model
        dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in base.parameters() if p.is_floating_point()})
        config = base.config
        return {
            "parameters": self.parameter_count,
            "dtype": "+".join(dtypes) or None,
            "revision": self.revision or getattr(config, "_commit_hash", None),
        }

    # ---- training -------------------------------------------------------------------------
    def train(self, pairs: list[tuple[str, str]], config: TrainConfig, checkpoint_dir: Path, seed: int,
              on_epoch: EpochCallback | None = None, progress: bool = True) -> None:
        self.max_length = config.max_length
        self._saved = None  # the weights are about to change
        training.train(self, pairs, config, checkpoint_dir, seed, on_epoch, progress)

    def trainable_module(self, config: TrainConfig, seed: int) -> torch.nn.Module:
        """The module to optimise: the model in fp32 for full fine-tuning, or wrapped with LoRA
        adapters when ``config.lora``; with activation checkpointing when asked."""
        if config.lora and not lora_support.is_lora(self.model):
            self.model = lora_support.apply_lora(self.model, config.lora, seq2seq=self.is_encoder_decoder)
            self.model.to(self.device)
            self.lora = config.lora
        elif not config.lora:
            self.model.float()  # fp32 master weights; autocast lowers the precision of the compute
        if config.gradient_checkpointing:
            if not getattr(self.model, "supports_gradient_checkpointing", True):
                raise UserError(f"student {self.key} does not support gradient_checkpointing; turn it off")
            enable = getattr(self.model, "activation_checkpointing_enable", None)  # its name from transformers 5.x
            if enable is not None:
                enable({"use_reentrant": False})
            else:
                self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        return self.model

    def example_length(self, example: Any) -> int:
        return len(example[0]) + len(example[1])

    def target_length(self, example: Any) -> int:
        """How many tokens of ``example`` the loss covers."""
        return len(example[1])

    # ---- generation -----------------------------------------------------------------------
    def generate(self, prompts: list[str], *, max_new_tokens: int, batch_size: int,
                 stop: str | None = "END") -> list[str]:
        if batch_size < 1 or max_new_tokens < 0:
            raise UserError("generation needs batch_size >= 1 and max_new_tokens >= 0")
        encoded = [self.source_ids(body, self.max_length) for body in self.token_ids(prompts)]
        if vllm_backend.use_vllm(self.is_encoder_decoder, self.saved_path, self.device):
            return self._generate_vllm(encoded, max_new_tokens, stop)
        # Similar lengths together: less padding; greedy outputs do not depend on the grouping.
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        results: list[str] = [""] * len(prompts)
        with eval_mode(self.model), autocast(self.device):
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                texts = self._generate_batch([encoded[i] for i in chunk], max_new_tokens, stop)
                for i, text in zip(chunk, texts):
                    results[i] = text
        return results

    def _generate_batch(self, batch: list[list[int]], max_new_tokens: int, stop: str | None) -> list[str]:
        raise NotImplementedError

    def _generate_vllm(self, encoded: list[list[int]], max_new_tokens: int, stop: str | None) -> list[str]:
        """The same greedy continuations through vLLM, from the saved folder (one engine per folder)."""
        assert self.saved_path is not None
        if self._vllm is None or self._vllm[0] != self.saved_path:
            self._vllm = (self.saved_path, vllm_backend.VLLMGenerator(self.saved_path))
        limit = getattr(self, "context_limit", None)
        budgets = [max_new_tokens if limit is None else min(max_new_tokens, max(0, limit - len(ids))) for ids in encoded]
        return self._cut(self._vllm[1].generate(encoded, budgets, stop), stop)

    def _generation_config(self, max_new_tokens: int) -> GenerationConfig:
        """Greedy decoding."""
        config = self.model.config
        return GenerationConfig(
            max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
            pad_token_id=self.pad_id, eos_token_id=self.eos_id,
            bos_token_id=getattr(config, "bos_token_id", None),
            decoder_start_token_id=getattr(config, "decoder_start_token_id", None),
        )

    def _stop_kwargs(self, stop: str | None, start: int) -> dict[str, Any]:
        """What ``generate`` needs to end a row once its new text (tokens from ``start``) holds ``stop``."""
        if not stop:
            return {}
        if self._stop_table is None or self._stop_table[0] != stop:
            self._stop_table = (stop, StopOnText.table(self.tokenizer, stop, self.model.config, self.device))
        return {"stopping_criteria": StoppingCriteriaList([StopOnText(self.tokenizer, stop, start, self._stop_table[1])])}

    @staticmethod
    def _cut(texts: list[str], stop: str | None) -> list[str]:
        if not stop:
            return texts
        return [t.split(stop, 1)[0] for t in texts]

    # ---- saving ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """The model, tokenizer and metadata. A LoRA model saves its adapters only
        (``adapter/``) and names its base (``base_source``, with its revision); a base that
        cannot be loaded again by name (tiny students, built from a config) is saved in ``base/``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        info = self.describe()
        self.revision = info["revision"]
        base: dict[str, Any] | None = None
        if lora_support.is_lora(self.model):
            self.model.save_pretrained(path / ADAPTER_DIR)
            if self.base_source is not None:
                base = {"source": self.base_source, "revision": self.revision}
            else:
                self.model.get_base_model().save_pretrained(path / BASE_DIR)
                base = {"source": BASE_DIR, "revision": None, "saved": True}
        else:
            self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        meta = {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "key": self.key,
            "info": info,
            "max_length": self.max_length,
            "is_encoder_decoder": self.is_encoder_decoder,
            "parameter_count": self.parameter_count,
            "lora": self.lora,
            "base": base,
            "history": self.history,
        }
        (path / META_FILE).write_text(json.dumps(meta, indent=2))
        self._saved = (path.resolve(), len(self.history))

    @property
    def saved_path(self) -> Path | None:
        """The folder ``save`` last wrote, while it still holds these weights (no epoch since)."""
        if self._saved is None or self._saved[1] != len(self.history):
            return None
        return self._saved[0]

    @classmethod
    def _read_saved(cls, path: Path, meta: dict[str, Any], **options: Any) -> HFStudentModel:
        tokenizer = AutoTokenizer.from_pretrained(path)
        base = meta.get("base")
        if base:  # LoRA adapters on a base model, folded in for generation
            from peft import PeftModel

            saved = bool(base.get("saved"))
            source = str(path / base["source"]) if saved else base["source"]
            model = cls.auto_class.from_pretrained(source, revision=base.get("revision"), dtype=torch.float32,
                                                   local_files_only=saved or _offline())
            model = PeftModel.from_pretrained(model, path / ADAPTER_DIR).merge_and_unload()
        else:
            model = cls.auto_class.from_pretrained(path)
        student = cls(model, tokenizer, key=meta.get("key", str(path)), device=options.get("device"),
                      threads=options.get("threads"), max_length=int(meta.get("max_length", 512)))
        student.history = list(meta.get("history", []))
        student.lora = meta.get("lora")
        student.revision = (meta.get("info") or {}).get("revision")
        student.base_source = base["source"] if base and not base.get("saved") else None
        student._saved = (Path(path).resolve(), len(student.history))
        return student


def _offline() -> bool:
    from ftcot.students.hf import hub_offline

    return hub_offline()


class CausalStudentModel(HFStudentModel):
    """Decoder-only students (GPT-2, Llama, Qwen, SmolLM...): prompt and target in one sequence."""

    is_encoder_decoder = False
    auto_class = AutoModelForCausalLM

    def __init__(self, model: PreTrainedModel, tokenizer: Any, **kwargs: Any):
        super().__init__(model, tokenizer, **kwargs)
        if getattr(model, "loss_type", None) is None:
            model.loss_type = "ForCausalLM"  # what transformers falls back to, without its warning
        config = model.config
        self.context_limit: int | None = (
            getattr(config, "max_position_embeddings", None) if config.model_type in LEARNED_POSITIONS else None
        )

    def _pair(self, source: list[int], target: list[int], max_length: int) -> tuple[list[int], list[int]]:
        prompt, answer = self.source_ids(source, max_length), self.target_ids(target, max_length)
        if self.context_limit is not None and len(prompt) + len(answer) > self.context_limit:
            answer = answer[: self.context_limit // 2]
            prompt = self.source_ids(source, self.context_limit - len(answer))
        return prompt, answer

    def collate(self, examples: Sequence[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
        """Right padding; labels are -100 on the prompt and on padding."""
        width = max(len(p) + len(a) for p, a in examples)
        ids, labels, mask = [], [], []
        for prompt, answer in examples:
            pad = width - len(prompt) - len(answer)
            ids.append(prompt + answer + [self.pad_id] * pad)
            labels.append([-100] * len(prompt) + answer + [-100] * pad)
            mask.append([1] * (width - pad) + [0] * pad)
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}

    def _generate_batch(self, batch: list[list[int]], max_new_tokens: int, stop: str | None) -> list[str]:
        """Left padding, so every row's next token comes right after its prompt."""
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            mask[row, width - len(ids) :] = 1
        if self.context_limit is not None:
            max_new_tokens = min(max_new_tokens, max(0, self.context_limit - width))
        if max_new_tokens == 0:
            return [""] * len(batch)
        out = self.model.generate(
            input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
            generation_config=self._generation_config(max_new_tokens), **self._stop_kwargs(stop, width),
        )
        texts = self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
        return self._cut(texts, stop)


class Seq2SeqStudentModel(HFStudentModel):
    """Encoder-decoder students (T5, Flan-T5, BART...): input to the encoder, target as labels."""

    is_encoder_decoder = True
    auto_class = AutoModelForSeq2SeqLM

    def collate(self, examples: Sequence[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
        """Right padding on both sides; padded labels are -100."""
        source_width = max(len(s) for s, _ in examples)
        target_width = max(len(t) for _, t in examples)
        ids = [s + [self.pad_id] * (source_width - len(s)) for s, _ in examples]
        mask = [[1] * len(s) + [0] * (source_width - len(s)) for s, _ in examples]
        labels = [t + [-100] * (target_width - len(t)) for _, t in examples]
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}

    def _generate_batch(self, batch: list[list[int]], max_new_tokens: int, stop: str | None) -> list[str]:
        if max_new_tokens == 0:
            return [""] * len(batch)
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        out = self.model.generate(
            input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
            generation_config=self._generation_config(max_new_tokens), **self._stop_kwargs(stop, 1),
        )
        texts = self.tokenizer.batch_decode(out[:, 1:], skip_special_tokens=True)
        return self._cut(texts, stop)
