"""``litellm:<model>``: any model litellm reaches — OpenAI, Anthropic, Gemini, or a local server.

Examples: ``litellm:gpt-4o-mini`` (OPENAI_API_KEY), ``litellm:text-completion-openai/davinci-002``
(the plain completions endpoint), ``litellm:hosted_vllm/<name> --api-base http://host:8000/v1``
for a model served with ``vllm serve <name>`` (no key needed), ``litellm:openai/<name>
--api-base URL`` for any other OpenAI-compatible server (llama.cpp, ...).

Step 1 asks for all of a question's missing samples in one request (``n``) where the provider
supports it (``max_n`` caps it; 1 turns it off), asks again for choices that did not come back, and
splits the request's usage among its samples (the prompt is billed once). Step 2 is one request per
sample. Requests run on the process's one event loop (``ftcot.event_loop``) with ``concurrency``
questions in flight. litellm's and the OpenAI SDK's own retries are off (``max_retries=0``):
``teachers.retry`` is the one retry policy. A completion whose every try failed is recorded as failed with the reason; the run goes on and a later run retries it.
Usage and cost are recorded per completion (prices from litellm's cost map, read offline, or the
``input_cost_per_token``/``output_cost_per_token`` options). ``api_base`` and API keys are not
part of a completion's key: the same model behind another address is the same teacher.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ftcot.api import (
    Completion,
    Generation,
    Job,
    Param,
    RateLimiter,
    Redactor,
    Sink,
    Slots,
    Teacher,
    UserError,
    describe,
    load_litellm,
    public_address,
    run_coroutine,
    shared_rate,
)
from ftcot.teachers import retry
from ftcot.teachers.local import group_by_prompt
from ftcot.teachers.usage import BATCH_PRICE_FACTOR, split_by_weight, split_evenly

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
log = logging.getLogger(__name__)

MAX_N = 128  # the most samples one request asks for (OpenAI's limit)
# providers that speak the OpenAI protocol and insist on some key even for a local server
_KEYED_OPENAI_PROVIDERS = ("openai", "text-completion-openai")


# sampling options passed to every request as they are, and part of the completions' key when
# given (a completion sampled with other settings is another completion): one line each
REQUEST_PARAMS: tuple[Param, ...] = (
    Param("top_p", float, None, "nucleus sampling: the probability mass sampled from", gt=0, le=1),
)


def _address_problem(value: str) -> str | None:
    return "must not be empty" if not value.strip() else None


def _litellm() -> Any:
    return load_litellm("the litellm teacher")


class _Failed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Answer:
    """One step's text with its share of the request's usage and cost."""

    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost: float = 0.0


class LiteLLMTeacher(Teacher):
    """Any model litellm reaches (OpenAI, Anthropic, Gemini, vLLM or llama.cpp servers, ...)."""

    name = "litellm"
    supports_batch = True
    description = "Any model litellm reaches: OpenAI, Anthropic, Gemini, a local vLLM or llama.cpp server"
    params = (
        Param("api_base", str, None, "API base URL (a local server)", keyed=False, check=_address_problem),
        Param("api_key", str, None, "API key (default: the provider's key variable)", keyed=False),
        Param("endpoint", str, None, "chat or text (default: from the model)", choices=("chat", "text")),
        Param("max_n", int, None, "samples per step-1 request at most (1: one request per sample)",
              ge=1, le=MAX_N, keyed=False),
        Param("input_cost_per_token", float, None, "USD per prompt token (default: litellm's cost map)", ge=0),
        Param("output_cost_per_token", float, None, "USD per completion token", ge=0),
        *REQUEST_PARAMS,
    )

    @classmethod
    def from_spec(cls, argument: str | None = None, **options: Any) -> LiteLLMTeacher:
        if not argument:
            raise UserError("teacher 'litellm' needs a model: write litellm:MODEL, e.g. litellm:gpt-4o-mini")
        return cls(model=argument, options=options)

    def __post_init__(self) -> None:
        self.concurrency = self.option("concurrency")
        self.timeout = self.option("timeout")
        self.max_tries = self.option("max_tries")
        self.backoff = self.option("backoff")
        self.max_wait = self.option("max_wait")
        self.api_base = self.option("api_base")
        self.endpoint = self.option("endpoint")  # chat | text; None: from the model
        self.rpm = self.option("rpm")
        self.tpm = self.option("tpm")
        self.slots: Slots | None = None  # a shared concurrency budget (a matrix's teacher phase)
        self.max_n = self.option("max_n")
        self.batch = self.option("batch")
        self.price_factor = BATCH_PRICE_FACTOR if self.batch else 1.0
        self._prices: tuple[float, float] | None = None
        self._lib: Any = None

    # -- identity and settings -----------------------------------------------------------------
    def parameters(self) -> dict[str, Any]:
        return {"endpoint": self._endpoint(), **self.request_params()}

    def request_params(self) -> dict[str, Any]:
        """The ``REQUEST_PARAMS`` given, as every request carries them."""
        return {p.name: self.option(p.name) for p in REQUEST_PARAMS if self.options.get(p.name) is not None}

    def _endpoint(self) -> str:
        if not self.endpoint:
            self.endpoint = self._guess_endpoint()
        return self.endpoint

    def _guess_endpoint(self) -> str:
        provider = self.model.split("/", 1)[0] if "/" in self.model else ""
        if provider.startswith("text-completion-"):
            return "text"
        if self._lib is None:
            self._lib = _litellm()
        try:
            mode = self._lib.get_model_info(self.model).get("mode")
        except Exception as exc:  # unmapped: litellm raises ModelNotMappedError or a bare Exception
            log.debug("no litellm mode for %s, using the chat endpoint: %s", self.model, describe(exc, Redactor()))
            mode = None
        return "text" if mode == "completion" else "chat"

    def prepare(self, task: Any, generation: Generation) -> None:
        self._lib = self._lib or _litellm()
        self._prices = self._lookup_prices()
        self._endpoint()
        if self.batch:
            from ftcot.teachers.litellm_batch import batch_model

            batch_model(self)  # UserError for a provider without OpenAI-protocol batch jobs

    def _lookup_prices(self) -> tuple[float, float] | None:
        given_in = self.option("input_cost_per_token")
        given_out = self.option("output_cost_per_token")
        if given_in is not None or given_out is not None:
            return float(given_in or 0.0), float(given_out or 0.0)  # one given: the other is free
        try:
            info = self._lib.get_model_info(self.model)
        except Exception as exc:  # unmapped: litellm raises ModelNotMappedError or a bare Exception
            log.debug("no litellm prices for %s: %s", self.model, describe(exc, Redactor()))
            return None
        price_in, price_out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
        if price_in is None and price_out is None:
            return None
        return float(price_in or 0.0), float(price_out or 0.0)

    @property
    def priced(self) -> bool:
        return self._prices is not None

    def estimate_cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """From the given prices or litellm's offline cost map; None where the model has none."""
        self._lib = self._lib or _litellm()
        prices = self._lookup_prices()
        if prices is None:
            return None
        return (prompt_tokens * prices[0] + completion_tokens * prices[1]) * self.price_factor

    def _cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for this usage; at the batch price in batch mode."""
        if self._prices is None:
            return 0.0
        return (prompt_tokens * self._prices[0] + completion_tokens * self._prices[1]) * self.price_factor

    def cost_bound(self, job: Job, generation: Generation) -> float:
        """Worst case of both steps: a token is at least one byte, so bytes bound prompt tokens."""
        if self._prices is None:
            return 0.0
        prompt = len(job.reasoning_prompt.encode()) + 16
        bound = 0.0
        if not (job.prior and job.prior.rationale):
            bound += self._cost(prompt, generation.max_tokens)
        answer_prompt = prompt + generation.max_tokens + len(generation.answer_trigger.encode()) + 16
        return bound + self._cost(answer_prompt, generation.answer_max_tokens)

    # -- running -------------------------------------------------------------------------------
    def place(self) -> str:
        """Where requests go: the provider and address (one concurrency budget each)."""
        provider = self.model.split("/", 1)[0] if "/" in self.model else "openai"
        return f"{provider} {public_address(self.api_base or '')}".strip()

    def supports_n(self) -> bool:
        """Whether the provider takes ``n`` (several samples of one prompt in one request)."""
        self._lib = self._lib or _litellm()
        try:
            _, provider, _, _ = self._lib.get_llm_provider(self.model)
            params = self._lib.get_supported_openai_params(model=self.model, custom_llm_provider=provider)
        except Exception as exc:  # an unknown provider, or a provider config that cannot say
            log.debug("cannot tell whether %s takes n, assuming not: %s", self.model, describe(exc, Redactor()))
            return False
        return bool(params) and "n" in params

    def samples_per_request(self) -> int:
        """The most step-1 samples one request asks for: ``max_n``, else all a question lacks
        (up to ``MAX_N``) where the provider supports ``n``, else 1."""
        if self.max_n is not None:
            return self.max_n
        return MAX_N if self.supports_n() else 1

    def run(self, jobs: list[Job], sink: Sink, generation: Generation) -> None:
        if self.batch:
            from ftcot.teachers.litellm_batch import BatchRun

            coro = BatchRun(self, jobs, sink, generation).run()
        else:
            coro = self._run_all(jobs, sink, generation)
        run_coroutine(coro)  # the process's one loop: litellm's clients and logging worker are per loop

    async def _run_all(self, jobs: list[Job], sink: Sink, generation: Generation) -> None:
        self._redact = Redactor(self.options.get("api_key"), addresses=(self.api_base,))
        self._pause_until = 0.0
        self._reached = False  # whether any request got an answer yet
        self._call_options = self._request_options()
        self._per_request = self.samples_per_request()
        self._rate: RateLimiter | None = None
        if self.rpm or self.tpm:
            self._rate = shared_rate(f"{self.model} {self.api_base or ''}", self.rpm, self.tpm)
        note = getattr(sink, "note", None)
        self._note = note or (lambda text: None)
        self._on_wait = (lambda limit: note(f"waiting on {limit} limit" if limit else "")) if note else None
        slots = self.slots or Slots(self.concurrency)
        queue = iter(group_by_prompt(jobs))

        async def worker() -> None:
            for group in queue:
                reserved = []
                for job in group:
                    if not sink.reserve(job, self.cost_bound(job, generation)):
                        break
                    reserved.append(job)
                await slots.acquire()
                try:
                    if reserved:
                        await self._complete_group(reserved, sink, generation)
                except BaseException:
                    for job in reserved:
                        sink.release(job)  # a no-op for jobs already emitted
                    raise
                finally:
                    slots.release()
                if len(reserved) < len(group):
                    return

        groups = len({job.reasoning_prompt for job in jobs})
        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.concurrency, groups))]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _request_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"timeout": self.timeout, "max_retries": 0, "drop_params": True,
                                   **self.request_params()}
        if self.api_base:
            options["api_base"] = self.api_base
        key = self.options.get("api_key")
        if not key and self.api_base:
            provider = self.model.split("/", 1)[0] if "/" in self.model else "openai"
            if provider in _KEYED_OPENAI_PROVIDERS and not os.environ.get("OPENAI_API_KEY"):
                key = "EMPTY"  # a local OpenAI-compatible server takes any key
        if key:
            options["api_key"] = key
        return options

    async def _complete_group(self, jobs: list[Job], sink: Sink, gen: Generation) -> None:
        """Step 1 for the jobs of one prompt (``n`` samples per request where supported), then
        step 2 for every sample at once; each completion is emitted as it is done."""
        firsts: dict[str, Answer] = {}
        for job in jobs:
            prior = job.prior
            if prior is not None and prior.rationale:
                firsts[job.key] = Answer(prior.rationale, prior.finish_reason, prior.prompt_tokens,
                                          prior.completion_tokens, prior.cost_usd)
        need = [job for job in jobs if job.key not in firsts]
        failure = await self._reason(need, gen, firsts) if need else None
        chat = self._endpoint() == "chat"

        async def finish(job: Job) -> None:
            first = firsts.get(job.key)
            if first is None:
                sink.emit(job, job.blank(self.label, gen, error=failure or "no rationale"))
                return
            sink.emit(job, await self._answer(chat, job, first, gen))

        await asyncio.gather(*(finish(job) for job in jobs))

    async def _reason(self, jobs: list[Job], gen: Generation, firsts: dict[str, Answer]) -> str | None:
        """Step 1: rationales for ``jobs`` (one prompt), ``samples_per_request`` to a request, the
        requests at once; choices that did not come back are asked for again. At temperature 0 one
        greedy rationale serves every index. Returns the failure reason of the jobs left without
        a rationale, if any."""
        chat = self._endpoint() == "chat"
        prompt, messages = jobs[0].reasoning_prompt, gen.reasoning_messages(jobs[0].reasoning_prompt)
        sampling = gen.temperature > 0
        pending = list(jobs) if sampling else jobs[:1]
        per = self._per_request
        reason = None
        while pending:
            chunks = [pending[i:i + per] for i in range(0, len(pending), per)]
            replies = await asyncio.gather(*(
                self._ask(chat, prompt, messages, gen.temperature, gen.max_tokens, seed=chunk[0].index, n=len(chunk))
                for chunk in chunks), return_exceptions=True)
            pending = []
            for chunk, reply in zip(chunks, replies):
                if isinstance(reply, _Failed):
                    reason = reply.reason
                    continue
                if isinstance(reply, BaseException):
                    raise reply
                for job, answer in zip(chunk, reply):
                    firsts[job.key] = answer
                pending += chunk[len(reply):]  # fewer choices than asked: ask again for the rest
        if not sampling and jobs[0].key in firsts:  # one greedy rationale; its usage shared by the indices
            shares = share_usage(firsts[jobs[0].key], len(jobs), [1] * len(jobs), self._cost)
            firsts.update((job.key, share) for job, share in zip(jobs, shares))
        return reason

    async def _answer(self, chat: bool, job: Job, first: Answer, gen: Generation) -> Completion:
        """Step 2 for one sample (greedy, one request)."""
        try:
            (second,) = await self._ask(
                chat, gen.answer_prompt(job.reasoning_prompt, first.text),
                gen.answer_messages(job.reasoning_prompt, first.text), 0.0, gen.answer_max_tokens, seed=None,
            )
        except _Failed as exc:
            return completed(self.label, job, gen, first, exc.reason)
        return completed(self.label, job, gen, first, second)

    def _refuse_unreachable(self, exc: BaseException) -> None:
        """UserError when no connection to the teacher can be made and none was made yet: every
        other request would fail the same way (a later refusal is retried as a dropped connection)."""
        reason = retry.unreachable(exc)
        if reason is None or self._reached:
            return
        if self.api_base:
            raise UserError(f"cannot reach the teacher at {public_address(self.api_base)} ({reason}): start the "
                            f"server there, or fix --api-base (option api_base)")
        raise UserError(f"cannot reach the provider of teacher {self.label} ({reason}): check the network "
                        f"connection, or give the server's address with --api-base (option api_base)")

    async def _ask(self, chat: bool, prompt: str, messages: list[dict[str, str]], temperature: float,
                   max_tokens: int, seed: int | None, n: int = 1) -> list[Answer]:
        """One request, with the retry policy: its choices (at least one), the request's usage
        split among them. Raises _Failed after the last try."""
        lib = self._lib
        kwargs = dict(self._call_options, model=self.model, temperature=temperature, max_tokens=max_tokens)
        if seed is not None and temperature > 0:
            kwargs["seed"] = seed  # the k-th sample of a prompt: reproducible where the server allows
        if n > 1:
            kwargs["n"] = n
        estimate = len(prompt) // 4 + 1 + max_tokens * n  # tokens, for a tokens-per-minute limit
        last: BaseException | None = None
        for attempt in range(1, self.max_tries + 1):
            wait = self._pause_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                self._note("")
            if self._rate is not None:
                await self._rate.acquire(estimate, self._on_wait)
            used = estimate
            try:
                if chat:
                    call = lib.acompletion(messages=messages, **kwargs)
                else:
                    call = lib.atext_completion(prompt=prompt, **kwargs)
                # a backstop: the client enforces the timeout, this catches a request that hangs anyway
                response = await asyncio.wait_for(call, self.timeout * 2 + 5)
                self._reached = True
                answers = read_choices(response, chat, self._cost)
                used = sum(a.prompt_tokens + a.completion_tokens for a in answers)
                return answers
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._refuse_unreachable(exc)
                kind = retry.classify(exc)
                if kind == retry.FATAL:
                    raise UserError(
                        f"teacher {self.label} refused the request ({describe(exc, self._redact)}); "
                        f"check the model name, --api-base and the provider's API key variable"
                    ) from None
                if kind == retry.REJECTED:
                    raise _Failed(f"rejected: {describe(exc, self._redact)}") from None
                last = exc
                if attempt == self.max_tries:
                    break
                delay = retry.retry_after(exc) if kind == retry.RATE_LIMITED else None
                if delay is not None:
                    delay = retry.capped_wait(delay, self.max_wait)
                    self._pause_until = max(self._pause_until, time.monotonic() + delay)
                    self._note(f"rate limited: waiting {delay:.0f} s")
                else:
                    delay = retry.backoff(attempt, self.backoff)
                await asyncio.sleep(delay)
            finally:
                if self._rate is not None:
                    self._rate.settle(estimate, used)
        assert last is not None  # max_tries >= 1
        raise _Failed(f"{self.max_tries} tries failed; last: {describe(last, self._redact)}")


def completed(label: str, job: Job, gen: Generation, first: Answer, second: Answer | str) -> Completion:
    """The completion of ``job`` from its step-1 rationale and its step-2 answer, or the reason
    step 2 failed (the rationale is kept, so a later run asks only step 2)."""
    answer_prompt = gen.answer_prompt(job.reasoning_prompt, first.text)
    fields = dict(rationale=first.text, answer_prompt=answer_prompt, finish_reason=first.finish_reason)
    if isinstance(second, str):
        return job.blank(label, gen, error=second, prompt_tokens=first.prompt_tokens,
                         completion_tokens=first.completion_tokens, cost_usd=first.cost, **fields)
    return job.blank(
        label, gen, answer_text=second.text,
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        cost_usd=first.cost + second.cost, **fields,
    )


def share_usage(whole: Answer, parts: int, weights: list[int], cost: Callable[[int, int], float]) -> list[Answer]:
    """``whole``'s usage in ``parts`` (completion tokens by ``weights``), each priced by ``cost``."""
    prompts = split_evenly(whole.prompt_tokens, parts)
    outputs = split_by_weight(whole.completion_tokens, weights)
    return [Answer(whole.text, whole.finish_reason, p, c, cost(p, c)) for p, c in zip(prompts, outputs)]


def read_choices(response: Any, chat: bool, cost: Callable[[int, int], float]) -> list[Answer]:
    """The choices of a response, in order; the usage is split among them: the prompt evenly
    (sent once, billed once), the completion tokens by text length."""
    try:
        choices = sorted(response.choices, key=lambda c: getattr(c, "index", 0) or 0)
        texts = [c.message.content if chat else c.text for c in choices]
    except (AttributeError, KeyError, TypeError) as exc:
        raise retry.Malformed(f"response without choices: {exc}") from None
    if not texts:
        raise retry.Malformed("response without a choice")
    if not all(isinstance(t, str) for t in texts):
        raise retry.Malformed("response without text")
    usage = getattr(response, "usage", None)
    whole = Answer("", None, int(getattr(usage, "prompt_tokens", 0) or 0),
                   int(getattr(usage, "completion_tokens", 0) or 0), 0.0)
    shares = share_usage(whole, len(texts), [len(t) for t in texts], cost)
    return [Answer(text, getattr(choice, "finish_reason", None), s.prompt_tokens, s.completion_tokens, s.cost)
            for text, choice, s in zip(texts, choices, shares)]
