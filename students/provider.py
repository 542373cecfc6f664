"""``openai:<base model>[,option=value...]``: a student fine-tuned through a provider's API, as the
paper fine-tuned its GPT-3 students (``openai:babbage-002``, ``openai:davinci-002``,
``openai:gpt-4o-mini-2024-07-18`` for a chat model), through litellm's files and fine-tuning API.

Training writes the pairs in the paper's GPT-3 format (``formatting.openai_record``; chat models
get user/assistant messages), uploads the file and creates a job: ``epochs`` -> ``n_epochs``,
``batch_size`` -> ``batch_size``, ``lr`` -> ``learning_rate_multiplier`` = lr / 3e-4 (the
provider's ``auto`` at the default lr). The ledger ``provider-job.json`` in the checkpoint folder
keeps the file, job and model ids as soon as each exists, so a killed run polls the same job
instead of paying again; before creating a job, the provider's job list is searched for one on the
same file. Evaluation calls the completions (or chat) endpoint of the fine-tuned model.

Options: ``api_base`` (default ``$OPENAI_API_BASE`` or the
provider's), ``max_cost`` (USD for this model's training and evaluation together),
``train_cost_per_token`` (default: OpenAI's published training price where known),
``input_cost_per_token``/``output_cost_per_token`` (evaluation; default: litellm's cost map for
``ft:<base>``), ``chat`` (``true``/``false``; default from the model name), ``poll`` (seconds
between status checks, default 30), ``concurrency`` (evaluation requests in flight, default 8).
``api_base``, ``max_cost``, ``poll`` and ``concurrency`` do not change the result: they are left out
of the cell's key, its leaderboard label and the store. The API key comes from ``$OPENAI_API_KEY``
only; it is never written anywhere, and every provider error is redacted (``ftcot.api.describe``)
and reported as one line.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ftcot.api import (
    META_FILE,
    EpochCallback,
    Param,
    Redactor,
    Student,
    StudentModel,
    TrainConfig,
    UserError,
    describe,
    load_litellm,
    public_address,
    read_json_or_none,
    split_assignments,
    write_json_atomic,
)

log = logging.getLogger(__name__)
LEDGER = "provider-job.json"
TRAIN_FILE = "train.jsonl"
DEFAULT_LR = TrainConfig().lr
# USD per trained token (OpenAI's published fine-tuning prices)
TRAIN_PRICES = {"babbage-002": 0.4e-6, "davinci-002": 6e-6, "gpt-3.5-turbo": 8e-6, "gpt-3.5-turbo-0125": 8e-6,
                "gpt-4o-mini-2024-07-18": 3e-6, "gpt-4o-2024-08-06": 25e-6, "gpt-4.1-mini-2025-04-14": 5e-6,
                "gpt-4.1-nano-2025-04-14": 1.5e-6}
# the paper's sizes of the original GPT-3 models (parameters); 0 where a provider does not say
PARAMETERS = {"ada": 350_000_000, "babbage": 1_300_000_000, "curie": 6_700_000_000, "davinci": 175_000_000_000}
FINISHED = ("succeeded", "failed", "cancelled")


def _address_problem(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
    return None if host and parts.scheme in ("http", "https") else "write http(s)://HOST[:PORT]/v1"


# its options (``openai:BASE,NAME=VALUE,...``), all checked before any request; keyed=False: how it
# runs, not what it yields (kept out of cell keys, labels and the store)
PARAMS = (
    Param("api_base", str, None, "the provider's address (default: OpenAI)", keyed=False, check=_address_problem),
    Param("max_cost", float, None, "refuse a job whose training would cost more USD", ge=0, keyed=False),
    Param("train_cost_per_token", float, None, "USD per trained token (default: OpenAI's prices)", ge=0),
    Param("input_cost_per_token", float, None, "USD per prompt token when evaluating", ge=0),
    Param("output_cost_per_token", float, None, "USD per completion token when evaluating", ge=0),
    Param("poll", float, 30.0, "seconds between polls of the fine-tuning job", gt=0, keyed=False),
    Param("concurrency", int, 8, "evaluation requests in flight", ge=1, keyed=False),
    Param("chat", bool, None, "a chat model (default: gpt-3.5 and gpt-4 models are)"),
)
UNKEYED = frozenset(p.name for p in PARAMS if not p.keyed)
DEFAULT = {p.name: p.default for p in PARAMS}


def _litellm() -> Any:
    return load_litellm("the openai student")


class ProviderStudent(Student):
    name = "openai"
    description = "a model fine-tuned through OpenAI's fine-tuning API (the paper's GPT-3 students), via litellm"
    params = PARAMS

    def __init__(self, base: str, options: dict[str, Any]):
        self.base = base
        self.options = options
        self.key = f"{self.name}:{base}"

    @classmethod
    def from_spec(cls, argument: str | None, **_: Any) -> ProviderStudent:
        base, _sep, rest = (argument or "").partition(",")
        if not base.strip() or "=" in base:
            raise UserError("openai needs a base model: openai:babbage-002 or openai:gpt-4o-mini-2024-07-18[,max_cost=5]")
        by_name = {p.name: p for p in PARAMS}
        options: dict[str, Any] = {}
        for name, raw in split_assignments(rest, f"bad openai option (NAME one of {', '.join(by_name)})"):
            if name not in by_name:
                raise UserError(f"bad openai option {name!r}: NAME is one of {', '.join(by_name)}")
            if name in options:
                raise UserError(f"bad openai option {name!r}: given twice; give it once")
            options[name] = by_name[name].convert(raw, "bad openai option")
            problem = by_name[name].problem(options[name])
            if problem is not None:
                shown = public_address(raw) if name == "api_base" else raw
                raise UserError(f"bad openai option {name}={shown!r}: {problem}")
        return cls(base.strip(), options)

    def check_config(self, config: TrainConfig) -> None:
        """The provider trains for whole epochs: a step budget cannot be passed on."""
        if config.lora:
            raise UserError(f"student {self.key} is fine-tuned by the provider: remove the lora setting")
        if config.max_steps:
            raise UserError(f"student {self.key} is fine-tuned by the provider, which counts epochs, not steps: "
                            f"remove max_steps (--max-steps) and give epochs (--epochs)")

    def load(self, corpus: list[str], seed: int) -> StudentModel:
        return ProviderStudentModel(self.base, self.options, key=self.key)


class ProviderStudentModel(StudentModel):
    """A base model at the provider; after ``train``, its fine-tuned model."""

    text_format = "openai"

    def __init__(self, base: str, options: dict[str, Any], *, key: str, model: str | None = None):
        self.base = base
        self.options = dict(options)
        self.key = key
        self.model = model  # the fine-tuned model's name, once trained
        self.history: list[dict[str, Any]] = []
        self.train_cost_usd = 0.0
        self.eval_cost_usd = 0.0
        self.chat = bool(options.get("chat", base.startswith(("gpt-3.5", "gpt-4"))))

    # ---- provider calls -------------------------------------------------------------------
    def _call_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"custom_llm_provider": "openai"}
        api_base = self.options.get("api_base") or os.environ.get("OPENAI_API_BASE")
        if api_base:
            options["api_base"] = api_base
            if not os.environ.get("OPENAI_API_KEY"):
                options["api_key"] = "EMPTY"  # a local OpenAI-compatible server takes any key
        return options

    @contextlib.contextmanager
    def _provider(self, what: str) -> Iterator[None]:
        """Any error of the provider calls inside, as one redacted line (a user error)."""
        try:
            yield
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"student {self.key}: {what} failed ({describe(exc, self._redactor())}); "
                            "check api_base, the model name and $OPENAI_API_KEY") from None

    def _redactor(self) -> Redactor:
        """Removes the key and the address's credentials from a provider's error text."""
        return Redactor(os.environ.get("OPENAI_API_KEY"),
                        addresses=(self.options.get("api_base"), os.environ.get("OPENAI_API_BASE")))

    def _train_price(self) -> float:
        price = self.options.get("train_cost_per_token", TRAIN_PRICES.get(self.base))
        if price is None:
            raise UserError(f"no training price known for {self.base}: add train_cost_per_token=USD to the student spec")
        return float(price)

    # ---- training -------------------------------------------------------------------------
    def train(self, pairs: list[tuple[str, str]], config: TrainConfig, checkpoint_dir: Path, seed: int,
              on_epoch: EpochCallback | None = None, progress: bool = True) -> None:
        if not pairs:
            raise UserError("no training pairs: the filters dropped every sample; loosen --filters or add data")
        ProviderStudent(self.base, self.options).check_config(config)
        folder = Path(checkpoint_dir)
        folder.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(self._record(s, t), ensure_ascii=False) for s, t in pairs]
        data = ("\n".join(lines) + "\n").encode()
        digest = hashlib.sha256(data).hexdigest()
        hyper: dict[str, Any] = {"n_epochs": config.epochs, "batch_size": config.batch_size,
                                 "learning_rate_multiplier": "auto" if config.lr == DEFAULT_LR else config.lr / DEFAULT_LR}
        ledger_path = folder / LEDGER
        ledger = read_json_or_none(ledger_path) or {}
        if ledger.get("sha256") != digest or ledger.get("hyperparameters") != hyper or ledger.get("base") != self.base:
            ledger = {"base": self.base, "sha256": digest, "hyperparameters": hyper, "failed_jobs": []}
        lib, call = _litellm(), self._call_options()
        price = self._train_price()
        estimate = sum(max(1, len(line) // 4) for line in lines) * config.epochs * price
        if not ledger.get("job_id"):
            self._check_budget(estimate, "training (estimated)")
            if not ledger.get("file_id"):
                (folder / TRAIN_FILE).write_bytes(data)
                with open(folder / TRAIN_FILE, "rb") as fh, self._provider("uploading the training file"):
                    uploaded = lib.create_file(file=fh, purpose="fine-tune", **call)
                ledger["file_id"] = uploaded.id
                write_json_atomic(ledger_path, ledger)
            with self._provider("creating the fine-tuning job"):
                ledger["job_id"] = self._existing_job(lib, call, ledger) or lib.create_fine_tuning_job(
                    model=self.base, training_file=ledger["file_id"], hyperparameters=hyper, seed=seed,
                    suffix=f"ftcot-{digest[:8]}", **call).id
            write_json_atomic(ledger_path, ledger)
        with self._provider(f"polling fine-tuning job {ledger['job_id']} (a rerun polls it again)"):
            job = self._wait(lib, call, ledger["job_id"])
        if job.status != "succeeded":
            ledger["failed_jobs"] = [*ledger.get("failed_jobs", []), ledger.pop("job_id")]
            write_json_atomic(ledger_path, ledger)
            error = getattr(job, "error", None)
            message = (error.get("message") if isinstance(error, dict) else getattr(error, "message", None)) or job.status
            raise UserError(f"fine-tuning job {job.id} of {self.base} {job.status}: {message}")
        trained = int(getattr(job, "trained_tokens", 0) or 0)
        ledger.update(model=job.fine_tuned_model, trained_tokens=trained, train_cost_usd=trained * price)
        write_json_atomic(ledger_path, ledger)
        self.model = job.fine_tuned_model
        self.train_cost_usd = ledger["train_cost_usd"]
        self.history = [{"epoch": config.epochs, "step": 0, "trained_tokens": trained, "job": job.id}]
        if on_epoch is not None:
            on_epoch(config.epochs, self)

    def _record(self, source: str, target: str) -> dict[str, Any]:
        """A training-file line: the pair as prompt/completion, or user/assistant messages for chat."""
        if self.chat:
            return {"messages": [{"role": "user", "content": source}, {"role": "assistant", "content": target}]}
        return {"prompt": source, "completion": target}

    def _existing_job(self, lib: Any, call: dict[str, Any], ledger: dict[str, Any]) -> str | None:
        """A job already created on this file (a run killed before it wrote the job id down)."""
        try:
            jobs = lib.list_fine_tuning_jobs(limit=100, **call)
        except Exception as exc:  # the lookup is a precaution: say why it failed, then make a new job
            print(f"warning: student {self.key}: cannot list the fine-tuning jobs to find one already made from "
                  f"{ledger['file_id']} ({describe(exc, self._redactor())}); creating a new one", file=sys.stderr)
            return None
        for job in getattr(jobs, "data", None) or []:
            if getattr(job, "training_file", None) == ledger["file_id"] and job.id not in ledger.get("failed_jobs", []):
                return str(job.id)
        return None

    def _wait(self, lib: Any, call: dict[str, Any], job_id: str) -> Any:
        interval = float(self.options.get("poll", DEFAULT["poll"]))
        while True:
            job = lib.retrieve_fine_tuning_job(fine_tuning_job_id=job_id, **call)
            if job.status in FINISHED:
                return job
            time.sleep(interval)

    # ---- costs ----------------------------------------------------------------------------
    def spent(self) -> dict[str, float]:
        """USD this object paid: the training job (when it ran it) and evaluation requests."""
        return {"student_train": round(self.train_cost_usd, 6), "student_eval": round(self.eval_cost_usd, 6)}

    def _check_budget(self, more: float, what: str) -> None:
        limit = self.options.get("max_cost")
        total = self.train_cost_usd + self.eval_cost_usd + more
        if limit is not None and total > limit:
            raise UserError(f"student {self.key}: {what} would bring its cost to ${total:.4f}, over max_cost ${limit:g}")

    def _eval_prices(self) -> tuple[float, float]:
        given = (self.options.get("input_cost_per_token"), self.options.get("output_cost_per_token"))
        if given != (None, None):
            return float(given[0] or 0.0), float(given[1] or 0.0)
        try:
            info = _litellm().get_model_info(f"ft:{self.base}")
        except Exception as exc:  # unmapped: litellm raises ModelNotMappedError or a bare Exception
            log.debug("no litellm prices for ft:%s, evaluation counted free: %s", self.base, describe(exc, Redactor()))
            return 0.0, 0.0
        return float(info.get("input_cost_per_token") or 0.0), float(info.get("output_cost_per_token") or 0.0)

    # ---- generation -----------------------------------------------------------------------
    def generate(self, prompts: list[str], *, max_new_tokens: int, batch_size: int,
                 stop: str | None = "END") -> list[str]:
        lib, call = _litellm(), self._call_options()
        model = self.model or self.base
        price_in, price_out = self._eval_prices()

        def ask(prompt: str) -> tuple[str, float]:
            kwargs = dict(call, model=model, max_tokens=max_new_tokens, temperature=0.0, num_retries=3)
            if stop:
                kwargs["stop"] = [stop]
            if self.chat:
                response = lib.completion(messages=[{"role": "user", "content": prompt}], **kwargs)
                text = response.choices[0].message.content or ""
            else:
                response = lib.text_completion(prompt=prompt, **kwargs)
                text = response.choices[0].text or ""
            usage = getattr(response, "usage", None)
            cost = (int(getattr(usage, "prompt_tokens", 0) or 0) * price_in
                    + int(getattr(usage, "completion_tokens", 0) or 0) * price_out)
            return text, cost

        out: list[str] = []
        workers = max(1, int(self.options.get("concurrency", DEFAULT["concurrency"])))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool, self._provider(f"evaluating {model}"):
            for start in range(0, len(prompts), workers):
                self._check_budget(0.0, "evaluation")
                for text, cost in pool.map(ask, prompts[start : start + workers]):
                    self.eval_cost_usd += cost
                    out.append(text.split(stop, 1)[0] if stop else text)
        return out

    # ---- saving ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        options = {k: v for k, v in self.options.items() if k not in UNKEYED}
        if self.options.get("api_base"):  # where the fine-tuned model lives, without credentials
            options["api_base"] = public_address(self.options["api_base"])
        meta = {"class": f"{type(self).__module__}.{type(self).__qualname__}", "key": self.key, "base": self.base,
                "model": self.model, "options": options,
                "train_cost_usd": self.train_cost_usd, "history": self.history, "info": self.describe(),
                "parameter_count": self.parameter_count}
        (path / META_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def _read_saved(cls, path: Path, meta: dict[str, Any], **options: Any) -> ProviderStudentModel:
        model = cls(meta["base"], dict(meta.get("options") or {}), key=meta["key"], model=meta.get("model"))
        model.history = list(meta.get("history", []))
        return model

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4) if text else 0  # about four characters a token (no tokenizer offline)

    @property
    def parameter_count(self) -> int:
        return PARAMETERS.get(self.base, 0)

    def describe(self) -> dict[str, Any]:
        return {"parameters": self.parameter_count or None, "dtype": None, "revision": self.model or self.base}
