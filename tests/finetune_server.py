"""A fake OpenAI fine-tuning service on 127.0.0.1 for tests: files, fine-tuning jobs with status
changes, and completions for the fine-tuned model's name.

- ``POST /v1/files`` (multipart) keeps the uploaded JSONL; ``GET /v1/files/{id}``.
- ``POST /v1/fine_tuning/jobs`` creates a job (``validating_files``); ``GET
  /v1/fine_tuning/jobs/{id}`` moves it one status on per poll: ``validating_files`` ->
  ``queued`` -> ``running`` -> ``succeeded`` (or ``failed`` when the base model's name or a
  training line holds ``FAIL_MARKER``). While ``hold`` is set, a running job stays running; ``release()`` lets it finish.
  ``GET /v1/fine_tuning/jobs`` lists the jobs.
- ``POST /v1/completions`` and ``/v1/chat/completions`` answer only for a succeeded job's
  ``fine_tuned_model``: the completion trained for the prompt when there is one, else a
  rationale and ``answers[question]`` in the paper's GPT-3 format.

With ``refuse=True`` every request gets a 401 whose message echoes the key it was sent, as
OpenAI's does.

Events a test waits on (``threading.Event``, never a sleep): ``job_created`` and ``polled_running``
(a client has seen its job running, so it has recorded the job id).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAIL_MARKER = "FAIL-THIS-JOB"
STATUSES = ("validating_files", "queued", "running", "succeeded")


@dataclass
class Job:
    id: str
    model: str
    training_file: str
    hyperparameters: dict[str, Any]
    suffix: str | None
    seed: int | None
    status: str = "validating_files"
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "object": "fine_tuning.job", "model": self.model, "created_at": 1700000000,
                "finished_at": None, "fine_tuned_model": self.fine_tuned_model, "organization_id": "org-test",
                "result_files": [], "status": self.status, "validation_file": None,
                "training_file": self.training_file, "hyperparameters": self.hyperparameters,
                "trained_tokens": self.trained_tokens, "error": self.error, "seed": self.seed or 0,
                "suffix": self.suffix}


@dataclass
class FineTuneServer:
    answers: dict[str, str] = field(default_factory=dict)
    hold: bool = False
    refuse: bool = False
    refuse_list: bool = False  # the job list alone answers 401, naming the key
    files: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    completions: list[dict[str, Any]] = field(default_factory=list)  # bodies of completion requests

    def __post_init__(self) -> None:
        self.job_created = threading.Event()
        self.polled_running = threading.Event()
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def __enter__(self) -> FineTuneServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._route(self, "GET")

            def do_POST(self) -> None:
                server._route(self, "POST")

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def release(self) -> None:
        """Let held jobs finish."""
        self.hold = False

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p == path)

    # -- routing ------------------------------------------------------------------------------
    def _route(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?")[0].removeprefix("/v1")
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((method, path if not path.startswith("/fine_tuning/jobs/") else "/fine_tuning/jobs/ID"))
        key = (handler.headers.get("authorization") or "").removeprefix("Bearer ")
        try:
            if self.refuse or (self.refuse_list and (method, path) == ("GET", "/fine_tuning/jobs")):
                raise PermissionError(key)
            status, payload = self._answer(method, path, raw, handler.headers.get("content-type", ""))
        except PermissionError:
            status, payload = 401, {"error": {"message": f"Incorrect API key provided: {key}",
                                              "type": "invalid_request_error", "code": "invalid_api_key"}}
        except KeyError as exc:
            status, payload = 404, {"error": {"message": f"no such object {exc}", "type": "invalid_request_error"}}
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, method: str, path: str, raw: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/files":
            content, filename = _multipart_file(raw, content_type)
            with self._lock:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = content
            return 200, {"id": file_id, "object": "file", "bytes": len(content), "created_at": 1700000000,
                         "filename": filename, "purpose": "fine-tune", "status": "processed"}
        if method == "GET" and path.startswith("/files/"):
            file_id = path.rsplit("/", 1)[1]
            content = self.files[file_id]
            return 200, {"id": file_id, "object": "file", "bytes": len(content), "created_at": 1700000000,
                         "filename": "train.jsonl", "purpose": "fine-tune", "status": "processed"}
        if method == "POST" and path == "/fine_tuning/jobs":
            body = json.loads(raw)
            self.files[body["training_file"]]
            with self._lock:
                job = Job(f"ftjob-{len(self.jobs) + 1}", body["model"], body["training_file"],
                          body.get("hyperparameters") or {}, body.get("suffix"), body.get("seed"))
                self.jobs[job.id] = job
            self.job_created.set()
            return 200, job.to_dict()
        if method == "GET" and path == "/fine_tuning/jobs":
            return 200, {"object": "list", "data": [j.to_dict() for j in reversed(self.jobs.values())],
                         "has_more": False}
        if method == "GET" and path.startswith("/fine_tuning/jobs/"):
            return 200, self._advance(self.jobs[path.rsplit("/", 1)[1]]).to_dict()
        if method == "POST" and path in ("/completions", "/chat/completions"):
            return self._complete(json.loads(raw), chat=path == "/chat/completions")
        return 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}}

    def _advance(self, job: Job) -> Job:
        """One status further per poll (a held job stays running)."""
        with self._lock:
            if job.status in ("succeeded", "failed"):
                return job
            if job.status == "running" and self.hold:
                self.polled_running.set()
                return job
            job.status = STATUSES[STATUSES.index(job.status) + 1]
            if job.status == "running":
                self.polled_running.set()
            lines = self.files[job.training_file].decode().splitlines()
            if job.status == "queued" and (FAIL_MARKER in job.model or any(FAIL_MARKER in line for line in lines)):
                job.status = "failed"
                job.error = {"code": "invalid_training_file", "message": "training file has a bad line",
                             "param": "training_file"}
            if job.status == "succeeded":
                epochs = job.hyperparameters.get("n_epochs", 1)
                job.trained_tokens = sum(len(line.split()) for line in lines) * int(epochs)
                job.fine_tuned_model = f"ft:{job.model}:test-org::{job.id}"
        return job

    def _complete(self, body: dict[str, Any], chat: bool) -> tuple[int, dict[str, Any]]:
        self.completions.append(body)
        models = {j.fine_tuned_model for j in self.jobs.values() if j.fine_tuned_model}
        if body.get("model") not in models:
            return 404, {"error": {"message": f"The model {body.get('model')} does not exist",
                                   "type": "invalid_request_error", "code": "model_not_found"}}
        prompt = body["messages"][-1]["content"] if chat else body["prompt"]
        prompt = prompt[0] if isinstance(prompt, list) else prompt
        question = prompt.removesuffix("\n\n###\n\n")
        text = f" We look at it.\n\n-->\n\n{self.answers.get(question, 'none')} END"
        stop = body.get("stop")
        for marker in [stop] if isinstance(stop, str) else (stop or []):
            text = text.split(marker, 1)[0]
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choice: dict[str, Any] = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                                  if chat else {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"})
        return 200, {"id": "cmpl-test", "object": "chat.completion" if chat else "text_completion",
                     "created": 1700000000, "model": body["model"], "choices": [choice], "usage": usage}


def _multipart_file(raw: bytes, content_type: str) -> tuple[bytes, str]:
    """The uploaded file's bytes and name from a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    for part in message.iter_parts():
        if part.get_filename() is not None or part.get_param("name", header="content-disposition") == "file":
            return part.get_payload(decode=True), part.get_filename() or "upload.jsonl"
    raise KeyError("file")
