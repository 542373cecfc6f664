"""Client-side rate limits and the shared concurrency budget of API teachers: the limiter under an
injected clock, the progress line's note, and (slow) a one-minute run against the local server."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from openai_server import EchoResponder, OpenAIServer

from ftcot import registry as plugins
from ftcot.contracts.teacher import Generation
from ftcot.errors import UserError
from ftcot.limits import RateLimiter, Slots
from ftcot.pipeline.teach import create_teacher, teach
from ftcot.store import Store

MODEL = "litellm:hosted_vllm/test-model"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drive(limiter: RateLimiter, clock: Clock, seconds: float, tokens=lambda i: 0, actual=None) -> list[tuple]:
    """A caller that asks as soon as the limiter lets it: (time, tokens used) of every request."""
    sent: list[tuple] = []
    end = clock.now + seconds
    while clock.now < end:
        want = tokens(len(sent))
        wait = limiter.reserve(want)
        if wait > 0:
            clock.now += wait
            continue
        used = want if actual is None else actual(len(sent))
        limiter.settle(want, used)
        sent.append((clock.now, used))
    return [s for s in sent if s[0] < end]


def worst_minute(sent: list[tuple], of=lambda s: 1) -> float:
    return max(sum(of(t) for t in sent if start <= t[0] < start + 60) for start, _ in sent)


def test_requests_per_minute_hold_in_every_window():
    clock = Clock()
    sent = drive(RateLimiter(rpm=120, clock=clock), clock, 300)
    assert 0.9 * 120 * 5 <= len(sent) <= 1.1 * 120 * 5
    assert worst_minute(sent) <= 120 * 1.1  # at most a second's worth above the limit
    assert worst_minute(sent) >= 120


def test_tokens_per_minute_count_what_was_used_not_the_estimate():
    clock = Clock()
    # every request is estimated at 100 tokens but uses 250: the limiter goes by the usage
    sent = drive(RateLimiter(tpm=6000, clock=clock), clock, 300, tokens=lambda i: 100, actual=lambda i: 250)
    used = sum(u for _, u in sent)
    assert 0.9 * 6000 * 5 <= used <= 1.1 * 6000 * 5
    assert worst_minute(sent, of=lambda s: s[1]) <= 6000 * 1.1


def test_a_request_larger_than_a_seconds_worth_still_goes():
    clock = Clock()
    limiter = RateLimiter(tpm=600, clock=clock)  # 10 tokens a second, a 500-token request
    sent = drive(limiter, clock, 240, tokens=lambda i: 500)
    assert 4 <= len(sent) <= 6  # about 600 a minute: one every 50 s
    fresh = RateLimiter(tpm=600, clock=clock)
    assert fresh.reserve(500) == 0  # from a full bucket
    assert fresh.reserve(500) == pytest.approx(50.0) and fresh.last_wait == "tpm"  # 490 owed, then 10 more


def test_both_limits_and_which_one_waits():
    clock = Clock()
    limiter = RateLimiter(rpm=60, tpm=60_000, clock=clock)
    assert limiter.reserve(10) == 0
    assert limiter.reserve(10) == pytest.approx(1.0) and limiter.last_wait == "rpm"
    with pytest.raises(UserError):
        RateLimiter(rpm=0)


def test_slots_are_one_budget_across_threads_and_loops():
    slots = Slots(3)
    held, peak = [0], [0]
    lock = threading.Lock()

    async def holder() -> None:
        await slots.acquire()
        with lock:
            held[0] += 1
            peak[0] = max(peak[0], held[0])
        await asyncio.sleep(0.002)
        with lock:
            held[0] -= 1
        slots.release()

    async def many() -> None:
        await asyncio.gather(*(holder() for _ in range(20)))

    threads = [threading.Thread(target=asyncio.run, args=(many(),)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert peak[0] == 3 and held[0] == 0 and slots.held == 0


class RecordingSink:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.done = 0

    def reserve(self, job, bound):
        return True

    def release(self, job):
        pass

    def emit(self, job, completion):
        self.done += 1

    def emit_many(self, pairs):
        for job, completion in pairs:
            self.emit(job, completion)

    def note(self, text: str) -> None:
        self.notes.append(text)


def test_the_progress_line_says_when_the_run_waits_on_a_limit(tmp_path):
    task = plugins.create_task("coin_flip:flips=2,train=3,test=2", data_dir=tmp_path)
    with OpenAIServer() as server:
        teacher = create_teacher(MODEL, {"api_base": server.url, "rpm": 240})  # one request every 0.25 s
        generation = Generation()
        jobs = teacher.plan(task, task.train_examples(), 1, generation)
        teacher.prepare(task, generation)
        sink = RecordingSink()
        teacher.run(jobs, sink, generation)
        assert len(server.log) == 6
    # a second's worth (4) go at once, the rest wait: the line says so, and is cleared after
    assert sink.done == 3
    assert "waiting on rpm limit" in sink.notes and sink.notes[-1] == ""


@pytest.mark.slow
@pytest.mark.parametrize("limit", ["rpm", "tpm"])
def test_limits_hold_within_ten_percent_over_a_minute(tmp_path, limit):
    """A run with a little more work than a minute allows (about 140 requests or 7,000 tokens):
    what the server saw in the run's first minute, against the limit."""
    task = plugins.create_task("coin_flip:flips=2,train=70,test=2", data_dir=tmp_path)
    target = 120 if limit == "rpm" else 6000
    with OpenAIServer() as server:
        start = time.time()
        result = teach(Store(tmp_path / "s.db"), task, MODEL, task.train_examples(), progress=False,
                       options={"api_base": server.url, "concurrency": 32, limit: target})
        took = time.time() - start
        minute = [r for r in server.log if r.answered and r.time - start < 60]
    assert result.new == 70 and took > 60
    if limit == "rpm":
        measured = len(minute)
    else:  # the server's usage: prompt words and answer words
        measured = sum(len(r.prompt.split()) + len(EchoResponder()(r.prompt, r.body).split()) for r in minute)
    assert 0.9 * target <= measured <= 1.1 * target, (limit, measured)
