"""The process's one event loop for teacher requests (``ftcot.event_loop``)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from ftcot.event_loop import run_coroutine, shared_loop


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_every_thread_runs_its_coroutines_on_the_one_loop():
    with ThreadPoolExecutor(4) as pool:
        loops = list(pool.map(lambda _: run_coroutine(running_loop()), range(8)))
    assert set(map(id, loops)) == {id(shared_loop())}


def test_results_and_exceptions_reach_the_caller():
    async def fail() -> None:
        raise ValueError("boom")

    assert run_coroutine(asyncio.sleep(0, result=7)) == 7
    with pytest.raises(ValueError, match="boom"):
        run_coroutine(fail())


def test_async_callers_and_the_loop_itself_may_call_it():
    async def from_async_code() -> bool:  # a caller with a loop of its own, e.g. a notebook
        return run_coroutine(running_loop()) is shared_loop()

    async def nested() -> bool:  # the shared loop cannot wait on itself: a loop beside it runs this
        return run_coroutine(running_loop()) is not shared_loop()

    assert asyncio.run(from_async_code())
    assert run_coroutine(nested())
