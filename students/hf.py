"""``hf:<hub name or local directory>``: any Hugging Face causal or encoder-decoder model.

The family is read from the model's config (``is_encoder_decoder``); ``hf-causal:`` and
``hf-seq2seq:`` force one. Without network a hub name is looked up in the local cache only, and
a miss is one line naming the model and the fix, found in about a second rather than after the
hub client's long timeouts.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from ftcot.api import Student, StudentModel, UserError

_TRUE = {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """True when the hub cannot be used: ``HF_HUB_OFFLINE`` is set or its host does not answer."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=3):
            return False
    except OSError:
        return True


def looks_like_path(name: str) -> bool:
    """Hub names are ``model`` or ``owner/model``; anything else is meant as a directory."""
    return name.startswith(("/", ".", "~")) or name.rstrip("/").count("/") > 1


class HFStudent(Student):
    name = "hf"
    description = "any Hugging Face causal or encoder-decoder model, by hub name or local directory"
    family: ClassVar[str | None] = None  # "causal" or "seq2seq"; None: decided from the config

    def __init__(self, source: str, *, local: bool, threads: int | None = None, device: str | None = None):
        self.source = source
        self.local = local
        self.threads = threads
        self.device = device
        self.key = f"{self.name}:{source}"

    @classmethod
    def from_spec(cls, argument: str | None, *, threads: int | None = None, device: str | None = None,
                  **_: Any) -> HFStudent:
        if not argument:
            raise UserError(f"{cls.name} needs a model: {cls.name}:gpt2, {cls.name}:google/flan-t5-small "
                            f"or {cls.name}:/path/to/saved/model")
        path = Path(argument).expanduser()
        if path.is_dir():
            return cls(str(path.resolve()), local=True, threads=threads, device=device)
        if looks_like_path(argument):
            raise UserError(f"no model directory at {argument!r}: give an existing directory or a hub name")
        return cls(argument, local=False, threads=threads, device=device)

    def load(self, corpus: list[str], seed: int) -> StudentModel:
        """The model in fp32 whatever its checkpoint's dtype (fp32 master weights for training)."""
        import torch
        from transformers import AutoConfig, AutoTokenizer

        from ftcot.students.model import CausalStudentModel, Seq2SeqStudentModel
        from ftcot.students.runtime import set_threads

        set_threads(self.threads)
        local_only = self.local or hub_offline()
        try:
            config = AutoConfig.from_pretrained(self.source, local_files_only=local_only)
        except (OSError, ValueError) as exc:
            raise self._not_found(exc, local_only) from None
        seq2seq = getattr(config, "is_encoder_decoder", False) if self.family is None else self.family == "seq2seq"
        family = Seq2SeqStudentModel if seq2seq else CausalStudentModel
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.source, local_files_only=local_only)
            model = family.auto_class.from_pretrained(self.source, local_files_only=local_only, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise self._not_found(exc, local_only) from None
        student = family(model, tokenizer, key=self.key, device=self.device, threads=self.threads)
        student.base_source = self.source
        return student

    def _not_found(self, exc: Exception, local_only: bool) -> UserError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self.local:
            return UserError(f"cannot load the model in {self.source}: {first}")
        if local_only:
            return UserError(
                f"model {self.source!r} is not in the local Hugging Face cache and the hub is unreachable "
                f"(no network or HF_HUB_OFFLINE=1): use a local directory (hf:/path/to/model) "
                f"or download it where there is network"
            )
        return UserError(f"cannot load {self.source!r} from the Hugging Face hub: {first}")


class HFCausalStudent(HFStudent):
    name = "hf-causal"
    description = "a Hugging Face decoder-only model (GPT-2, Llama, Qwen, SmolLM...), by hub name or directory"
    family = "causal"


class HFSeq2SeqStudent(HFStudent):
    name = "hf-seq2seq"
    description = "a Hugging Face encoder-decoder model (T5, Flan-T5, BART...), by hub name or directory"
    family = "seq2seq"
