"""The one retry policy of API teachers: which errors are retried, and how long to wait.

- 429: wait what ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms`` says, at most
  ``max_wait`` seconds (a core teacher option, ``CORE_TEACHER_PARAMS``), else back off;
- 5xx, timeouts, dropped connections, malformed responses: exponential backoff with jitter;
- a request the provider rejects as such (400, 413, 422: too long, content policy): not retried,
  recorded as failed;
- authentication, permission or unknown model (401, 403, 404): the run stops with a user error,
  since every other request would fail the same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable

RATE_LIMITED = "rate_limited"
TRANSIENT = "transient"
REJECTED = "rejected"
FATAL = "fatal"

MAX_BACKOFF_S = 60.0


class Malformed(Exception):
    """A response that arrived but cannot be read (no choices, no text)."""


def classify(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    if status == 429 or kind == "RateLimitError":
        return RATE_LIMITED
    if status in (401, 403, 404) or kind in ("AuthenticationError", "PermissionDeniedError", "NotFoundError"):
        return FATAL
    if status in (400, 413, 422) or kind in (
        "BadRequestError", "ContextWindowExceededError", "ContentPolicyViolationError",
        "UnsupportedParamsError", "UnprocessableEntityError",
    ):
        return REJECTED
    return TRANSIENT


def retry_after(exc: BaseException, now: float | None = None) -> float | None:
    """Seconds the server asked to wait, from the error's response headers (``now``: the
    current time as a Unix timestamp, for an HTTP-date value; default the clock's)."""
    for headers in (
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "litellm_response_headers", None),
        getattr(exc, "headers", None),
    ):
        if not headers:
            continue
        try:
            lowered = {str(k).lower(): v for k, v in dict(headers).items()}
        except (TypeError, ValueError):
            continue
        try:
            if "retry-after-ms" in lowered:
                return max(0.0, float(lowered["retry-after-ms"]) / 1000)
            if "retry-after" in lowered:
                return _seconds_or_date(str(lowered["retry-after"]), now)
        except (TypeError, ValueError, OverflowError):
            continue  # unreadable: fall back to backoff
    return None


def _seconds_or_date(value: str, now: float | None) -> float:
    """A ``Retry-After`` value, seconds or an HTTP date, as seconds from ``now``."""
    import math
    import time
    from email.utils import parsedate_to_datetime

    try:
        seconds = float(value)
    except ValueError:
        when = parsedate_to_datetime(value)  # raises ValueError (TypeError before 3.10) if not a date
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        raise ValueError(value)
    return max(0.0, seconds)


def capped_wait(seconds: float, max_wait: float) -> float:
    """A server-requested wait, at most ``max_wait`` seconds."""
    return min(seconds, max_wait)


def backoff(attempt: int, base: float, draw: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: a uniform draw in [d/2, d], d = base * 2**(attempt-1)."""
    delay = min(MAX_BACKOFF_S, base * 2 ** (attempt - 1))
    return delay / 2 + draw() * delay / 2


def unreachable(exc: BaseException) -> str | None:
    """Why no connection could be made (``Connection refused``, an unknown host), when that is
    what ``exc`` (or an error under it) says; None for any other error."""
    import socket

    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ConnectionRefusedError):
            return "Connection refused"
        if isinstance(error, socket.gaierror):
            return f"unknown host: {error.strerror or error}"
        error = error.__cause__ or error.__context__
    return None
