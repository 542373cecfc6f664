"""Client-side limits of API teachers, shared by every teacher in the process that reaches the same
place: requests and tokens per minute (``RateLimiter``) and requests in flight (``Slots``).

Both work across threads and event loops: a matrix's teacher phase runs several ``teach`` calls
at once, each on its own thread (their requests on the one loop of ``ftcot.event_loop``), and
they share one budget per provider.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable

MINUTE = 60.0
# a waiting request looks again at least this often: tokens held by requests in flight come back
# (settled at their real usage) sooner than a wait computed from the estimate says
RECHECK_S = 0.05


class _Bucket:
    """A token bucket refilled at ``per_minute / 60`` a second, holding one second's worth (at
    least one request's worth may always start from a full bucket), so over any minute at most
    ``per_minute`` plus one second's worth go out."""

    def __init__(self, per_minute: float, now: float):
        self.rate = per_minute / MINUTE
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self, amount: float) -> float:
        """Seconds until ``amount`` may be taken (0: now)."""
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate


class RateLimiter:
    """Requests per minute and tokens per minute (either may be None: no limit).

    ``reserve(tokens)`` takes a request and its estimated tokens and returns 0, or the seconds to
    wait before asking again (nothing taken); ``settle(estimated, actual)`` corrects the tokens
    once the response says what was used. ``clock`` is injectable for tests.
    """

    def __init__(self, rpm: float | None = None, tpm: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and value <= 0:
                from ftcot.errors import UserError

                raise UserError(f"{name} must be above 0 (got {value})")
        self.clock = clock
        now = clock()
        self.requests = _Bucket(rpm, now) if rpm else None
        self.tokens = _Bucket(tpm, now) if tpm else None
        self._lock = threading.Lock()
        self.waiting = 0  # callers now waiting on a limit
        self.last_wait: str | None = None  # which limit made the last caller wait: "rpm" or "tpm"

    @property
    def active(self) -> bool:
        return self.requests is not None or self.tokens is not None

    def reserve(self, tokens: int) -> float:
        with self._lock:
            now = self.clock()
            waits = {}
            for name, bucket, amount in (("rpm", self.requests, 1), ("tpm", self.tokens, tokens)):
                if bucket is not None:
                    bucket.refill(now)
                    waits[name] = bucket.wait(amount)
            if waits and max(waits.values()) > 0:
                self.last_wait = max(waits, key=lambda k: waits[k])
                return max(waits.values())
            if self.requests is not None:
                self.requests.level -= 1
            if self.tokens is not None:
                self.tokens.level -= tokens
            return 0.0

    def settle(self, estimated: int, actual: int) -> None:
        """Count what a request really used instead of its estimate (the bucket may go below 0)."""
        if self.tokens is None:
            return
        with self._lock:
            self.tokens.refill(self.clock())
            self.tokens.level -= actual - estimated

    async def acquire(self, tokens: int, on_wait: Callable[[str | None], None] | None = None) -> None:
        """Wait until a request of about ``tokens`` tokens may go, and take it. ``on_wait`` is told
        which limit is holding requests back (``"rpm"``/``"tpm"``), and ``None`` when none is."""
        counted = False
        try:
            while (delay := self.reserve(tokens)) > 0:
                if not counted:
                    counted = True
                    with self._lock:
                        self.waiting += 1
                    if on_wait:
                        on_wait(self.last_wait)
                await asyncio.sleep(min(delay, RECHECK_S))
        finally:
            if counted:
                with self._lock:
                    self.waiting -= 1
                    idle = self.waiting == 0
                if idle and on_wait:
                    on_wait(None)


class Slots:
    """At most ``size`` holders at a time, across threads and event loops (an asyncio semaphore
    that several loops can share). ``size`` only grows: a later teacher asking for more raises it."""

    def __init__(self, size: int):
        self.size = size
        self.held = 0
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    def grow(self, size: int) -> None:
        with self._lock:
            self.size = max(self.size, size)
        self._wake()

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.held < self.size and not self._waiters:
                self.held += 1
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, future))
        try:
            await future  # the slot was handed over by release()
        except asyncio.CancelledError:
            with self._lock:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))
                    raise
            self.release()  # handed over just as we were cancelled: give it on
            raise

    def release(self) -> None:
        with self._lock:
            self.held -= 1
        self._wake()

    def _wake(self) -> None:
        while True:
            with self._lock:
                if self.held >= self.size or not self._waiters:
                    return
                loop, future = self._waiters.popleft()
                self.held += 1
            try:
                loop.call_soon_threadsafe(_hand_over, future)
            except RuntimeError:  # that loop is closed: the slot goes to the next waiter
                with self._lock:
                    self.held -= 1


def _hand_over(future: asyncio.Future[None]) -> None:
    if future.done():  # cancelled meanwhile: acquire() gives the slot on
        return
    future.set_result(None)


_SHARED_SLOTS: dict[str, Slots] = {}
_SHARED_RATES: dict[tuple[str, float | None, float | None], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_slots(place: str, size: int) -> Slots:
    """The process's one concurrency budget for ``place`` (a provider and address)."""
    with _SHARED_LOCK:
        slots = _SHARED_SLOTS.get(place)
        if slots is None:
            slots = _SHARED_SLOTS[place] = Slots(size)
    slots.grow(size)
    return slots


def shared_rate(place: str, rpm: float | None, tpm: float | None) -> RateLimiter:
    """The process's one rate limiter for ``place`` (a model and address) with these limits."""
    key = (place, rpm, tpm)
    with _SHARED_LOCK:
        if key not in _SHARED_RATES:
            _SHARED_RATES[key] = RateLimiter(rpm, tpm)
        return _SHARED_RATES[key]
