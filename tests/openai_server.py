"""A small, deterministic OpenAI-compatible HTTP server for tests and benchmarks.

It answers ``POST /v1/completions`` and ``POST /v1/chat/completions`` (``n`` samples per request;
``max_choices`` caps them) and ``GET /v1/models`` on 127.0.0.1, from its own thread and event
loop, so a test can drive it through litellm or a child process. It also runs OpenAI batch jobs:
``POST /v1/files`` (a multipart upload), ``GET /v1/files/{id}`` and ``/content``, ``POST
/v1/batches``, ``GET /v1/batches`` (newest first, ``after`` and ``limit``) and ``GET
/v1/batches/{id}``; a batch's lines get the answers the same requests get one by one, except the
lines ``batch_faults`` select, which go to the batch's error file (the message echoes the caller's
API key, as some providers do). A batch stays ``in_progress`` while ``hold_batches`` is set (a step
name: only batches of that step) and completes on the first poll after ``release_batches()``.
``stall_create=(step, "before" | "after")`` leaves the first create of a batch of that step
unanswered, before or after the batch is made, and sets ``create_stalled``: a test kills its client
then. Answers depend only on the request: a Zero-shot-CoT step-1 prompt gets a rationale,
a step-2 prompt (ending ``Therefore, the answer is``) gets an answer.

Usage::

    with OpenAIServer(answers={"Q text": "yes"}, faults=[Fault("500", rate=0.2)]) as server:
        ...  # api_base = server.url
        server.log          # every request, with the fault it got (if any)

Faults are chosen deterministically from a hash of the request body, and a faulted request fails
only on its first ``attempts`` tries (``attempts=None``: always), so a client that retries gets a
normal answer in the end. Kinds: ``429`` (with ``Retry-After``), ``500``, ``slow`` (answers after
``slow_seconds``, later than a client's timeout), ``malformed`` (200 with broken JSON), ``drop``
(closes the connection without an answer), ``empty`` (200 with no choices), and the client errors
``400`` (a rejected request) and ``401`` (a bad API key; the message echoes the key given).

Run it by hand: ``python tests/openai_server.py --port 8000 [--delay 0.5]``.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import hashlib
import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("429", "500", "slow", "malformed", "drop", "empty", "400", "401")
ANSWER_TRIGGER = "Therefore, the answer is"


@dataclass(frozen=True)
class Fault:
    """Requests whose hash falls in this fault's share (``rate``) fail their first ``attempts`` tries.

    ``when``: only requests whose prompt text contains this string (or each of these strings)
    are eligible; the share is then taken of those requests.
    """

    kind: str
    rate: float = 1.0
    attempts: int | None = 1
    when: str | tuple[str, ...] | None = None

    def applies_to(self, prompt: str) -> bool:
        if self.when is None:
            return True
        needles = (self.when,) if isinstance(self.when, str) else self.when
        return all(n in prompt for n in needles)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")


@dataclass
class LoggedRequest:
    """One request the server received and what it did with it."""

    path: str
    body: dict[str, Any]
    prompt: str
    identity: str  # hash of the request body: equal bodies are the same completion asked again
    attempt: int  # 1 for the first time this identity was seen
    fault: str | None  # the fault it got, None when answered normally
    step: str  # "reasoning" or "answer"
    time: float = field(default_factory=time.time)

    @property
    def answered(self) -> bool:
        return self.fault is None


Responder = Callable[[str, dict[str, Any]], str]


def question_of(prompt: str) -> str:
    """The question inside a ``Q: ...\\nA:`` prompt (the whole prompt when there is none)."""
    match = re.search(r"Q: (.*?)\nA:", prompt, re.S)
    return match.group(1) if match else prompt


class EchoResponder:
    """The default answers: a rationale naming a digest of the prompt (and seed, when sampling),
    and for step 2 the answer from ``answers[question]`` (else ``default_answer``)."""

    def __init__(self, answers: dict[str, str] | None = None, default_answer: str = "42"):
        self.answers = answers or {}
        self.default_answer = default_answer

    def __call__(self, prompt: str, body: dict[str, Any]) -> str:
        question = question_of(prompt)
        if prompt.rstrip().endswith(ANSWER_TRIGGER):
            return " " + self.answers.get(question, self.default_answer) + "."
        salt = f"{body.get('seed')}/{body.get('temperature')}" if body.get("temperature") else ""
        digest = hashlib.sha1(f"{question}|{salt}".encode()).hexdigest()[:8]
        words = len(question.split())
        return f" The question has {words} words. Its digest is {digest}. So we are done."


def _step(prompt: str) -> str:
    """A prompt's Zero-shot-CoT step: "answer" when it ends with the answer trigger, else "reasoning"."""
    return "answer" if prompt.rstrip().endswith(ANSWER_TRIGGER) else "reasoning"


def _prompt_text(path: str, body: dict[str, Any]) -> str:
    if path.endswith("/chat/completions"):
        return "\n".join(str(m.get("content") or "") for m in body.get("messages") or [])
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        prompt = prompt[0] if prompt else ""
    return str(prompt)


class OpenAIServer:
    """A deterministic OpenAI-compatible server on 127.0.0.1; ``start()``/``stop()`` or ``with``."""

    def __init__(
        self,
        *,
        responder: Responder | None = None,
        answers: dict[str, str] | None = None,
        faults: list[Fault] | None = None,
        delay: float = 0.0,
        retry_after: float = 0.05,
        slow_seconds: float = 2.0,
        max_choices: int | None = None,
        hold_batches: bool | str = False,
        batch_faults: list[Fault] | None = None,
        stall_create: tuple[str, str] | None = None,
        port: int = 0,
    ):
        self.responder = responder or EchoResponder(answers)
        self.faults = list(faults or [])
        self.delay = delay
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.max_choices = max_choices  # a request for more samples (``n``) gets only this many
        self.port = port
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_creates: list[dict[str, Any]] = []  # every POST /v1/batches body, in order
        self.batch_log: list[LoggedRequest] = []  # the lines of completed batches, as answered
        self._released = threading.Event()
        if not hold_batches:
            self._released.set()
        self.held_step = hold_batches if isinstance(hold_batches, str) else None  # None: every step
        self.batch_faults = list(batch_faults or [])
        if stall_create is not None and stall_create[1] not in ("before", "after"):
            raise ValueError(f"stall_create: (step, 'before' | 'after'), not {stall_create!r}")
        self.stall_create = stall_create
        self.create_stalled = threading.Event()  # set when the stalled create arrived
        self._ids = itertools.count(1)
        self.log: list[LoggedRequest] = []
        self.in_flight: Counter[str] = Counter()  # requests being answered now, per step
        self.peak_in_flight: Counter[str] = Counter()  # the most at once, per step
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The API base to hand to a client, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(target=self._run, name="openai-test-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"test server failed to start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def release_batches(self) -> None:
        """Let held batches complete: each does on its next poll."""
        self._released.set()

    def hold_batches(self) -> None:
        """Keep batches ``in_progress`` until ``release_batches()``."""
        self._released.clear()

    def reset_log(self) -> None:
        with self._lock:
            self.log.clear()

    # -- what the log says -------------------------------------------------------------------
    def answered(self) -> Counter[str]:
        """How many times each request identity got a normal answer."""
        return Counter(r.identity for r in self.log if r.answered)

    def fault_counts(self) -> Counter[str]:
        return Counter(r.fault for r in self.log if r.fault)

    # -- serving -----------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(length) if length else b""
                route, _, query = path.partition("?")
                if self._stalls(method, route, raw):
                    await asyncio.Event().wait()  # never answered: the client is killed meanwhile
                if "/files" in route or "/batches" in route:
                    self._batch_route(method, route, query, headers, raw, writer)
                    continue
                keep = await self._respond(method, route, raw, writer, headers.get("authorization", ""))
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def _respond(self, method: str, path: str, raw: bytes, writer: asyncio.StreamWriter,
                       authorization: str = "") -> bool:
        if method == "GET" and path.endswith("/models"):
            self._send(writer, 200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
            return True
        if method != "POST" or not path.endswith(("/completions",)):
            self._send(writer, 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})
            return True
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(writer, 400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return True
        chat = path.endswith("/chat/completions")
        prompt = _prompt_text(path, body)
        identity = hashlib.sha256(
            (path + json.dumps(body, sort_keys=True)).encode()
        ).hexdigest()
        with self._lock:
            self._seen[identity] += 1
            attempt = self._seen[identity]
        fault = self._fault_for(identity, prompt, attempt)
        step = _step(prompt)
        self.log.append(LoggedRequest(path, body, prompt, identity, attempt, fault, step))

        with self._lock:
            self.in_flight[step] += 1
            self.peak_in_flight[step] = max(self.peak_in_flight[step], self.in_flight[step])
        try:
            return await self._answer(writer, body, prompt, identity, fault, chat, authorization)
        finally:
            with self._lock:
                self.in_flight[step] -= 1

    async def _answer(self, writer: asyncio.StreamWriter, body: dict[str, Any], prompt: str, identity: str,
                      fault: str | None, chat: bool, authorization: str = "") -> bool:
        if self.delay:
            await asyncio.sleep(self.delay)
        if fault == "429":
            self._send(writer, 429, {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                       extra={"Retry-After": f"{self.retry_after:g}"})
            return True
        if fault in ("500", "400", "401"):
            kinds = {"500": "server_error", "400": "invalid_request_error", "401": "authentication_error"}
            message = f"fault {fault}"
            if fault == "401":  # as OpenAI does, the refusal echoes the key it was given
                message = f"Incorrect API key provided: {authorization.removeprefix('Bearer ')}"
            self._send(writer, int(fault), {"error": {"message": message, "type": kinds[fault]}})
            return True
        if fault == "drop":
            writer.transport.abort()
            return False
        if fault == "malformed":
            self._send_raw(writer, 200, b'{"id": "cmpl-x", "choices": [{"text": "unterminated')
            return True
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        if fault == "empty":
            self._send(writer, 200, {"id": "cmpl-empty", "object": "text_completion", "choices": []})
            return True
        self._send(writer, 200, self._payload(body, prompt, self._texts(prompt, body), chat, identity))
        return True

    # -- files and batches ---------------------------------------------------------------------
    def _stalls(self, method: str, route: str, raw: bytes) -> bool:
        """Whether this is the create ``stall_create`` leaves unanswered (made first when "after")."""
        if self.stall_create is None or self.create_stalled.is_set():
            return False
        if method != "POST" or not route.rstrip("/").endswith("/batches"):
            return False
        body = json.loads(raw or b"{}")
        step, when = self.stall_create
        with self._lock:
            if self._file_step(body.get("input_file_id", "")) != step:
                return False
            if when == "after":
                self._create_batch(body)
        self.create_stalled.set()
        return True

    def _file_step(self, file_id: str) -> str:
        """The step of the requests in an uploaded batch input file (of its first line)."""
        for line in self.files.get(file_id, b"").decode().splitlines():
            if line.strip():
                item = json.loads(line)
                return _step(_prompt_text(item["url"], item["body"]))
        return ""

    def _batch_route(self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes,
                     writer: asyncio.StreamWriter) -> None:
        parts = path.rstrip("/").split("/")
        with self._lock:
            if method == "POST" and parts[-1] == "files":
                self._send(writer, 200, self._upload(headers.get("content-type", ""), raw))
            elif method == "GET" and parts[-1] == "content" and parts[-2] in self.files:
                self._send_raw(writer, 200, self.files[parts[-2]], content_type="application/octet-stream")
            elif method == "GET" and parts[-2] == "files" and parts[-1] in self.files:
                self._send(writer, 200, self._file_object(parts[-1], "batch"))
            elif method == "POST" and parts[-1] == "batches":
                self._send(writer, 200, self._create_batch(json.loads(raw or b"{}")))
            elif method == "GET" and parts[-1] == "batches":
                self._send(writer, 200, self._list_batches(urllib.parse.parse_qs(query)))
            elif method == "GET" and parts[-2] == "batches" and parts[-1] in self.batches:
                self._send(writer, 200, self._poll_batch(parts[-1], headers.get("authorization", "")))
            else:
                self._send(writer, 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})

    def _file_object(self, file_id: str, purpose: str) -> dict[str, Any]:
        return {"id": file_id, "object": "file", "bytes": len(self.files[file_id]), "created_at": 1700000000,
                "filename": f"{file_id}.jsonl", "purpose": purpose, "status": "processed"}

    def _upload(self, content_type: str, raw: bytes) -> dict[str, Any]:
        """A multipart upload (fields ``purpose`` and ``file``), kept in memory."""
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + raw)
        fields = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                  for part in message.iter_parts()}
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = fields.get("file") or b""
        return self._file_object(file_id, (fields.get("purpose") or b"batch").decode())

    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        self.batch_creates.append(body)
        lines = self.files.get(body.get("input_file_id", ""), b"").decode().splitlines()
        batch = {"id": f"batch-{next(self._ids)}", "object": "batch", "endpoint": body.get("endpoint"),
                 "input_file_id": body.get("input_file_id"), "completion_window": "24h",
                 "status": "in_progress", "created_at": int(time.time()), "output_file_id": None,
                 "error_file_id": None, "metadata": body.get("metadata"),
                 "request_counts": {"total": len([ln for ln in lines if ln.strip()]), "completed": 0, "failed": 0}}
        self.batches[batch["id"]] = batch
        return batch

    def _list_batches(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """A page of batches, newest first, after the one ``after`` names."""
        newest = list(reversed(self.batches.values()))
        after = (query.get("after") or [None])[0]
        if after in self.batches:
            newest = newest[[b["id"] for b in newest].index(after) + 1:]
        limit = int((query.get("limit") or ["20"])[0])
        page = newest[:limit]
        return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None, "has_more": len(newest) > limit}

    def _poll_batch(self, batch_id: str, authorization: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        held = not self._released.is_set() and self.held_step in (None, self._file_step(batch["input_file_id"]))
        if batch["status"] == "in_progress" and not held:
            self._complete_batch(batch, authorization.removeprefix("Bearer "))
        return batch

    def _complete_batch(self, batch: dict[str, Any], key: str) -> None:
        """Answer every line as the same request alone would be answered, or fail it as
        ``batch_faults`` say (echoing ``key``); write the output and error files."""
        out, errors = [], []
        for line in self.files[batch["input_file_id"]].decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            url, body = item["url"], item["body"]
            prompt = _prompt_text(url, body)
            identity = hashlib.sha256((url + json.dumps(body, sort_keys=True)).encode()).hexdigest()
            fault = self._fault_for(identity, prompt, 1, self.batch_faults)
            self.batch_log.append(LoggedRequest(url, body, prompt, identity, 1, fault, _step(prompt)))
            line = {"id": f"batch_req_{identity[:12]}", "custom_id": item["custom_id"], "error": None}
            if fault is not None:
                status = int(fault) if fault.isdigit() else 500
                message = f"fault {fault} in this batch line\n(request made with the key {key})"
                line["response"] = {"status_code": status, "request_id": identity[:16],
                                    "body": {"error": {"message": message, "type": "server_error"}}}
                errors.append(line)
                continue
            payload = self._payload(body, prompt, self._texts(prompt, body), url.endswith("/chat/completions"),
                                    identity)
            line["response"] = {"status_code": 200, "request_id": identity[:16], "body": payload}
            out.append(line)
        files = {}
        for name, lines in (("output_file_id", out), ("error_file_id", errors)):
            if lines:
                files[name] = f"file-{next(self._ids)}"
                self.files[files[name]] = "".join(json.dumps(o) + "\n" for o in lines).encode()
        batch.update(status="completed", completed_at=int(time.time()), **files,
                     request_counts={"total": len(out) + len(errors), "completed": len(out), "failed": len(errors)})

    def _texts(self, prompt: str, body: dict[str, Any]) -> list[str]:
        """The answers to a request: ``n`` of them (at most ``max_choices``); the k-th is what a
        request with ``seed + k`` alone would get, so one request for n samples gives the same
        samples as n requests."""
        n = max(1, int(body.get("n") or 1))
        if self.max_choices is not None:
            n = min(n, self.max_choices)
        seed = body.get("seed")
        return [self.responder(prompt, body if k == 0 or seed is None else {**body, "seed": seed + k})
                for k in range(n)]

    def _fault_for(self, identity: str, prompt: str, attempt: int, faults: list[Fault] | None = None) -> str | None:
        bucket = int(identity[:8], 16) / 2**32
        start = 0.0
        for fault in self.faults if faults is None else faults:
            if not fault.applies_to(prompt):
                continue
            if fault.when is not None:  # a targeted fault: its own share of the requests it targets
                if bucket < fault.rate and (fault.attempts is None or attempt <= fault.attempts):
                    return fault.kind
                continue
            end = start + fault.rate
            if start <= bucket < end:
                if fault.attempts is None or attempt <= fault.attempts:
                    return fault.kind
                return None
            start = end
        return None

    @staticmethod
    def _payload(body: dict[str, Any], prompt: str, texts: list[str], chat: bool, identity: str) -> dict[str, Any]:
        """A completion response; usage counts the prompt once and every choice's words."""
        max_tokens = body.get("max_tokens")
        choices = []
        completion_tokens = 0
        for index, text in enumerate(texts):
            words = text.split(" ")
            finish = "stop"
            if isinstance(max_tokens, int) and len(words) > max_tokens:
                text, finish = " ".join(words[:max_tokens]), "length"
            completion_tokens += len(text.split())
            if chat:
                choices.append({"index": index, "message": {"role": "assistant", "content": text},
                                "finish_reason": finish})
            else:
                choices.append({"index": index, "text": text, "logprobs": None, "finish_reason": finish})
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": completion_tokens}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return {
            "id": "cmpl-" + identity[:12],
            "object": "chat.completion" if chat else "text_completion",
            "created": 1700000000,
            "model": body.get("model", "test-model"),
            "choices": choices,
            "usage": usage,
        }

    def _send(self, writer: asyncio.StreamWriter, status: int, payload: dict[str, Any],
              extra: dict[str, str] | None = None) -> None:
        self._send_raw(writer, status, json.dumps(payload).encode(), extra)

    @staticmethod
    def _send_raw(writer: asyncio.StreamWriter, status: int, data: bytes,
                  extra: dict[str, str] | None = None, content_type: str = "application/json") -> None:
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
                  500: "Internal Server Error"}.get(status, "Status")
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}",
                f"Content-Length: {len(data)}", "Connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)


class ServerProcess:
    """The same server in a child process, with its own interpreter: a benchmark's client then
    has this process to itself, as with a remote server. No request log; ``start``/``stop``
    or ``with``::

        with ServerProcess(delay=0.5) as server:
            ...  # api_base = server.url
    """

    def __init__(self, *, delay: float = 0.0):
        self.delay = delay
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--port", "0", "--delay", str(self.delay)],
            stdout=subprocess.PIPE, text=True,
        )
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("serving on "):
            self.stop()
            raise RuntimeError(f"test server process did not start: {line!r}")
        self.url = line.split("serving on ", 1)[1].strip()
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._proc = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="0: any free port (printed)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every answer")
    args = parser.parse_args(argv)
    server = OpenAIServer(port=args.port, delay=args.delay).start()
    print(f"serving on {server.url}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        server.stop()


if __name__ == "__main__":
    main()
