"""Batch mode of the ``litellm:`` teacher (option ``batch``): both Zero-shot-CoT steps as provider
batch jobs through litellm's files and batches API (the OpenAI batch protocol).

Step 1 is one batch of reasoning requests (a question's samples in one request with ``n`` where
the provider takes it; at temperature 0 one request per question), step 2 one batch of answer
requests for the rationales step 1 returned. A request's ``custom_id`` is its step and the store
key of the (first) completion it answers, and each result is stored under the same key as in
normal mode, so either mode reuses what the other stored. Every batch is recorded through the sink
before it is created (status ``submitting``, under its uploaded input file's id, with the keys it
answers; never an address or a key) and again once created (under the batch id): a run that was
killed, or comes back later, polls it instead of submitting again; a submitting one is looked up
among the provider's batches by its input file and adopted, or created from that file when the
provider has none.

One pass submits what no batch covers, polls the open batches and takes the results of finished
ones; with ``batch_wait`` it polls every ``batch_poll`` seconds until every batch is done.
Results are priced at the batch price (``BATCH_PRICE_FACTOR`` of the normal one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ftcot.api import BATCH_SUBMITTING, BatchRecord, Completion, Generation, Job, Redactor, Sink, UserError, describe, one_line
from ftcot.teachers import retry
from ftcot.teachers.litellm_teacher import Answer, completed, read_choices, share_usage
from ftcot.teachers.local import group_by_prompt

if TYPE_CHECKING:
    from ftcot.teachers.litellm_teacher import LiteLLMTeacher

BATCH_PROVIDERS = ("openai", "text-completion-openai")  # litellm providers that speak the OpenAI batch protocol
ENDPOINTS = {"chat": "/v1/chat/completions", "text": "/v1/completions"}
REASONING, ANSWER = "reasoning", "answer"  # a batch's step
COMPLETION_WINDOW = "24h"
NO_LITELLM_BATCH_PRICING = {"batch_ignore_default_logging": True}
ADOPT_WINDOW_S = 86_400.0  # a submitting job's batch is looked for among those created since a day before it


def batch_model(teacher: LiteLLMTeacher) -> str:
    """The model name as the provider knows it (``openai/gpt-4o-mini`` -> ``gpt-4o-mini``);
    UserError for a provider without OpenAI-protocol batch jobs."""
    lib = teacher._lib
    try:
        name, provider, _, _ = lib.get_llm_provider(teacher.model)
    except lib.BadRequestError:  # litellm's error for a model no provider claims
        name, provider = teacher.model, "unknown"
    if provider not in BATCH_PROVIDERS:
        raise UserError(f"teacher {teacher.label}: batch jobs need an OpenAI-protocol provider (a plain OpenAI "
                        f"model, openai/NAME or text-completion-openai/NAME), not {provider}: drop --batch")
    return str(name)


def custom_id(step: str, key: str) -> str:
    """A request's id in its batch: the step and the store key of the first completion it answers."""
    return f"{step}-{key}"


class BatchRun:
    """One ``run`` of a batch-mode teacher over ``jobs``."""

    def __init__(self, teacher: LiteLLMTeacher, jobs: list[Job], sink: Sink, gen: Generation):
        self.teacher, self.sink, self.gen = teacher, sink, gen
        self.jobs = {job.key: job for job in jobs}
        self.chat = teacher._endpoint() == "chat"
        self.endpoint = ENDPOINTS["chat" if self.chat else "text"]
        self.model = batch_model(teacher)
        self.wait = teacher.option("batch_wait")
        self.poll_s = teacher.option("batch_poll")
        self.redact = Redactor(teacher.options.get("api_key"), addresses=(teacher.api_base,))
        options = teacher._request_options()
        self.call_options: dict[str, Any] = {k: options[k] for k in ("api_base", "api_key", "timeout") if k in options}
        self.call_options.update(custom_llm_provider="openai", max_retries=0)
        self.firsts: dict[str, Answer] = {}  # step-1 results not yet handed to a step-2 batch
        self.emitted: set[str] = set()
        self.refused: set[str] = set()  # jobs not asked: the cost limit was reached
        self.taken: set[str] = set()  # finished batches whose results this run took
        self.batches = {b.id: b for b in sink.open_batches() if set(b.pending) & self.jobs.keys()}
        for job in jobs:
            if job.prior is not None and job.prior.rationale:
                p = job.prior
                self.firsts[job.key] = Answer(p.rationale, p.finish_reason, p.prompt_tokens, p.completion_tokens,
                                              p.cost_usd)

    async def run(self) -> None:
        """Submit, poll and collect until nothing is left to do now (``batch_wait``: until done)."""
        try:
            while True:
                progressed = await self._pass()
                if not self._running():
                    if not self._unasked():
                        return
                    continue  # samples a batch did not return: asked again
                if progressed:
                    continue  # a batch was just submitted or collected: poll the next at once
                if not self.wait:
                    return
                self.sink.note("; ".join(f"batch {b.status} {b.completed}/{b.requests}" for b in self._running()))
                await asyncio.sleep(self.poll_s)
        finally:
            for key in self.jobs.keys() - self.emitted:
                self.sink.release(self.jobs[key])

    async def _pass(self) -> bool:
        for batch in [b for b in self._running() if b.status == BATCH_SUBMITTING]:
            await self._create(batch, adopt=True)  # a run killed while submitting it
        self._hand_over()
        progressed = await self._submit_reasoning()
        for batch in sorted(self._running(), key=lambda b: b.step != REASONING):
            if not batch.done:
                await self._poll(batch)
            if batch.done:
                await (self._collect_reasoning(batch) if batch.step == REASONING else self._collect_answers(batch))
                self.taken.add(batch.id)
                progressed = True
        return await self._submit_answers() or progressed

    # -- what is covered ---------------------------------------------------------------------------
    def _open(self) -> list[BatchRecord]:
        """The batches with results still to take for these jobs."""
        return [b for b in self.batches.values() if (set(b.pending) & self.jobs.keys()) - self.emitted]

    def _running(self) -> list[BatchRecord]:
        """The open batches whose results this run has not taken yet."""
        return [b for b in self._open() if b.id not in self.taken]

    def _covered(self, step: str) -> set[str]:
        return {k for b in self._open() if b.step == step for k in b.pending}

    def _unasked(self) -> list[Job]:
        """Jobs that need step 1 and that no batch covers."""
        skip = self.firsts.keys() | self.emitted | self.refused | self._covered(REASONING) | self._covered(ANSWER)
        return [job for key, job in self.jobs.items() if key not in skip]

    def _reserve(self, jobs: list[Job]) -> list[Job]:
        """The jobs the cost limit allows (in order, up to the first refused)."""
        allowed: list[Job] = []
        for job in jobs:
            if not self.sink.reserve(job, self.teacher.cost_bound(job, self.gen)):
                self.refused.update(j.key for j in jobs[len(allowed):])
                break
            allowed.append(job)
        return allowed

    # -- submitting ----------------------------------------------------------------------------------
    async def _submit_reasoning(self) -> bool:
        jobs = self._reserve(self._unasked())
        if not jobs:
            return False
        sampling = self.gen.temperature > 0
        per = self.teacher.samples_per_request() if sampling else len(jobs)
        requests = []
        for group in group_by_prompt(jobs):
            chunks = [group[i:i + per] for i in range(0, len(group), per)] if sampling else [group]
            for chunk in chunks:
                body = self._body(chunk[0].reasoning_prompt, self.gen.reasoning_messages(chunk[0].reasoning_prompt),
                                  self.gen.temperature, self.gen.max_tokens)
                if sampling:
                    body["seed"] = chunk[0].index  # the k-th sample of a prompt, as in normal mode
                    if len(chunk) > 1:
                        body["n"] = len(chunk)
                requests.append((custom_id(REASONING, chunk[0].key), [j.key for j in chunk], body))
        await self._submit(REASONING, requests, {})
        return True

    async def _submit_answers(self) -> bool:
        skip = self._covered(ANSWER) | self.emitted | self.refused
        waiting = [key for key in self.firsts if key not in skip]
        reserved = [self.jobs[k] for k in waiting if self._from_batch(k)]  # when step 1 was submitted
        ready = reserved + self._reserve([self.jobs[k] for k in waiting if not self._from_batch(k)])
        if not ready:
            return False
        requests, carried = [], {}
        for job in ready:
            first = self.firsts[job.key]
            body = self._body(self.gen.answer_prompt(job.reasoning_prompt, first.text),
                              self.gen.answer_messages(job.reasoning_prompt, first.text), 0.0,
                              self.gen.answer_max_tokens)
            requests.append((custom_id(ANSWER, job.key), [job.key], body))
            carried[job.key] = dataclasses.asdict(first)
        await self._submit(ANSWER, requests, carried)
        self._hand_over()
        return True

    def _hand_over(self) -> None:
        """Drop from step-1 batches (and ``firsts``) the keys a recorded step-2 batch carries: their
        step-1 results now live there (also after a run killed between the two records)."""
        handed = {k for b in self.batches.values() if b.step == ANSWER for k in b.pending}
        for batch in list(self.batches.values()):
            if batch.step == REASONING and handed & set(batch.pending):
                batch.pending = [k for k in batch.pending if k not in handed]
                self.sink.record_batch(batch)
        for key in handed & self.firsts.keys():
            self.firsts.pop(key)

    def _from_batch(self, key: str) -> bool:
        """Whether the job's rationale came from a step-1 batch rather than a stored failure."""
        return any(b.step == REASONING and key in b.pending for b in self.batches.values())

    def _body(self, prompt: str, messages: list[dict[str, str]], temperature: float, max_tokens: int) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "temperature": temperature, "max_tokens": max_tokens,
                                **self.teacher.request_params()}
        if self.chat:
            body["messages"] = messages
        else:
            body["prompt"] = prompt
        return body

    async def _submit(self, step: str, requests: list[tuple[str, list[str], dict[str, Any]]],
                      carried: dict[str, dict[str, Any]]) -> None:
        lib = self.teacher._lib
        lines = "".join(json.dumps({"custom_id": cid, "method": "POST", "url": self.endpoint, "body": body},
                                   ensure_ascii=False) + "\n" for cid, _, body in requests)
        upload = await self._call(lib.acreate_file, file=(f"ftcot-{step}.jsonl", lines.encode()), purpose="batch")
        keys = [k for _, members, _ in requests for k in members]
        batch = BatchRecord(
            id=str(upload.id), teacher=self.teacher.label, task=self.jobs[keys[0]].example.task, step=step,
            status=BATCH_SUBMITTING, requests=len(requests), input_file=str(upload.id),
            endpoint=self.endpoint, created=time.time(), members={cid: members for cid, members, _ in requests},
            pending=keys, carried=carried,
        )
        self.batches[batch.id] = batch
        self.sink.record_batch(batch)  # before the batch exists: a rerun finds it by its input file
        await self._create(batch, adopt=False)

    async def _create(self, batch: BatchRecord, adopt: bool) -> None:
        """Create the batch of a recorded submitting job from its uploaded input file and record it
        under its id; ``adopt``: first look for one a killed run created from that file."""
        created = await self._created_from(batch) if adopt else None
        if created is None:
            created = await self._call(self.teacher._lib.acreate_batch, completion_window=COMPLETION_WINDOW,
                                       endpoint=batch.endpoint or self.endpoint, input_file_id=batch.input_file)
        old = batch.id
        batch.id, batch.status = str(created.id), str(created.status or "validating")
        self.batches.pop(old, None)
        self.batches[batch.id] = batch
        self.sink.record_batch(batch, replaces=old)

    async def _created_from(self, batch: BatchRecord) -> Any | None:
        """The provider's batch made from the job's input file, if any (newest first, back to a
        day before the job was recorded)."""
        after: str | None = None
        while True:
            page = await self._call(self.teacher._lib.alist_batches, after=after, limit=100)
            items = list(getattr(page, "data", None) or [])
            for item in items:
                if getattr(item, "input_file_id", None) == batch.input_file:
                    return item
            older = [i for i in items if (getattr(i, "created_at", 0) or 0) < batch.created - ADOPT_WINDOW_S]
            if not items or older or not getattr(page, "has_more", False):
                return None
            after = str(items[-1].id)

    # -- polling and collecting ----------------------------------------------------------------------
    async def _poll(self, batch: BatchRecord) -> None:
        # litellm would price a finished batch itself by downloading its output file again, from
        # its default address rather than api_base; the teacher prices every line from usage
        state = await self._call(self.teacher._lib.aretrieve_batch, batch_id=batch.id,
                                 litellm_metadata=NO_LITELLM_BATCH_PRICING)
        counts = getattr(state, "request_counts", None)
        batch.status = str(state.status)
        batch.completed = int(getattr(counts, "completed", 0) or 0)
        batch.failed = int(getattr(counts, "failed", 0) or 0)
        batch.output_file = getattr(state, "output_file_id", None)
        batch.error_file = getattr(state, "error_file_id", None)
        errors = getattr(getattr(state, "errors", None), "data", None)
        if errors:
            batch.error = "; ".join(str(getattr(e, "message", e)) for e in errors)
        self.sink.record_batch(batch)

    async def _outcomes(self, batch: BatchRecord) -> dict[str, list[Answer] | str]:
        """Each request's answers, or the reason it failed, from the batch's output and error files."""
        outcomes: dict[str, list[Answer] | str] = {}
        for file_id in (batch.error_file, batch.output_file):
            if not file_id:
                continue
            content = await self._call(self.teacher._lib.afile_content, file_id=file_id)
            data = getattr(content, "content", content)
            text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
            for line in text.splitlines():
                if line.strip():
                    cid, outcome = self._outcome(json.loads(line))
                    outcomes[cid] = outcome
        return outcomes

    def _outcome(self, line: dict[str, Any]) -> tuple[str, list[Answer] | str]:
        cid = str(line.get("custom_id"))
        response = line.get("response") or {}
        error = line.get("error") or (response.get("body") or {}).get("error")
        if error or response.get("status_code") != 200:
            message = error.get("message") if isinstance(error, dict) else error
            return cid, one_line(f"batch request failed ({response.get('status_code')}): {message}", self.redact)
        body = json.loads(json.dumps(response.get("body")), object_hook=lambda d: SimpleNamespace(**d))
        try:
            return cid, read_choices(body, self.chat, self.teacher._cost)
        except retry.Malformed as exc:
            return cid, f"malformed batch answer: {exc}"

    def _missing(self, batch: BatchRecord) -> str:
        why = f": {batch.error}" if batch.error else ""
        return f"batch {batch.id} ended {batch.status} without an answer to this request{why}"

    async def _collect_reasoning(self, batch: BatchRecord) -> None:
        """Rationales of a finished step-1 batch (kept in the batch until step 2 is submitted);
        failures are stored at once, samples that did not come back are asked again."""
        outcomes = await self._outcomes(batch)
        failed, dropped = [], set()
        for cid, keys in batch.members.items():
            ours = [k for k in keys if k in self.jobs and k in batch.pending and k not in self.emitted]
            if not ours:
                continue
            outcome = outcomes.get(cid, self._missing(batch))
            if isinstance(outcome, str):
                failed += [(self.jobs[k], self.jobs[k].blank(self.teacher.label, self.gen, error=outcome)) for k in ours]
                continue
            if len(outcome) == 1 and len(keys) > 1 and self.gen.temperature <= 0:  # one greedy rationale for all
                outcome = share_usage(outcome[0], len(keys), [1] * len(keys), self.teacher._cost)
            answers = dict(zip(keys, outcome))
            for key in ours:
                if key in answers:
                    self.firsts[key] = answers[key]
                else:
                    dropped.add(key)  # fewer choices than asked
        self._emit(failed)
        gone = dropped | {job.key for job, _ in failed}
        if gone:
            batch.pending = [k for k in batch.pending if k not in gone]
            self.sink.record_batch(batch)

    async def _collect_answers(self, batch: BatchRecord) -> None:
        """The completions of a finished step-2 batch, stored under their keys."""
        outcomes = await self._outcomes(batch)
        pairs: list[tuple[Job, Completion]] = []
        for cid, (key,) in batch.members.items():
            if key not in self.jobs or key not in batch.pending or key in self.emitted:
                continue
            outcome = outcomes.get(cid, self._missing(batch))
            second = outcome if isinstance(outcome, str) else outcome[0]
            pairs.append((self.jobs[key], completed(self.teacher.label, self.jobs[key], self.gen,
                                                    Answer(**batch.carried[key]), second)))
        self._emit(pairs)
        done = {job.key for job, _ in pairs}
        batch.pending = [k for k in batch.pending if k not in done]
        self.sink.record_batch(batch)

    def _emit(self, pairs: list[tuple[Job, Completion]]) -> None:
        if pairs:
            self.sink.emit_many(pairs)
            self.emitted.update(job.key for job, _ in pairs)

    async def _call(self, function: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        """One files or batches API call with the retry policy; UserError after the last try."""
        teacher = self.teacher
        for attempt in range(1, teacher.max_tries + 1):
            try:
                return await function(**kwargs, **self.call_options)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                kind = retry.classify(exc)
                if "batch_id" in kwargs and getattr(exc, "status_code", None) == 404:
                    raise UserError(f"teacher {teacher.label}: the provider no longer knows batch {kwargs['batch_id']} "
                                    f"({describe(exc, self.redact)}); give it up with `ftcot batches --abandon "
                                    f"{kwargs['batch_id']}` and run again (its requests are asked again)") from None
                if kind in (retry.FATAL, retry.REJECTED) or attempt == teacher.max_tries:
                    raise UserError(f"teacher {teacher.label}: the batch API refused or failed "
                                    f"({describe(exc, self.redact)}); what is done is stored, "
                                    f"run the command again") from None
                delay = retry.retry_after(exc) if kind == retry.RATE_LIMITED else None
                await asyncio.sleep(retry.capped_wait(delay, teacher.max_wait) if delay is not None
                                    else retry.backoff(attempt, teacher.backoff))
        raise AssertionError("unreachable: max_tries >= 1")
