"""The process's one event loop for teacher requests, on a daemon thread of its own.

``run_coroutine(coro)`` runs a coroutine there and blocks the calling thread until it is done, so
a matrix's teacher phase, whose groups call ``teach`` on several threads at once, sends every
request from one loop. Async clients that belong to one loop (litellm's cached HTTP clients and
its process-wide logging worker) then never see a second loop or a closed one; one loop also
spends less CPU than one per thread. A child process made by ``fork`` starts its own loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
# how long an interrupted caller waits for its coroutine to finish cancelling (requests in flight
# give their reservations back and what is done is stored)
CANCEL_WAIT_S = 10.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def shared_loop() -> asyncio.AbstractEventLoop:
    """The running shared loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            started = threading.Event()
            thread = threading.Thread(target=_serve, args=(loop, started), name="ftcot-event-loop", daemon=True)
            thread.start()
            started.wait()
            _loop, _thread = loop, thread
        return _loop


def _serve(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(started.set)
    loop.run_forever()


def on_shared_loop() -> bool:
    """Whether the caller runs on the shared loop's thread."""
    return _thread is threading.current_thread()


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the shared loop and return its result (or raise its exception). If the
    caller is interrupted (KeyboardInterrupt), the coroutine is cancelled and given
    ``CANCEL_WAIT_S`` to finish before the interrupt goes on."""
    if on_shared_loop():  # a loop cannot wait on itself: a fresh loop on a helper thread
        return _run_beside(coro)
    loop = shared_loop()
    done = threading.Event()
    tasks: list[asyncio.Task[T]] = []

    def start() -> None:
        task = loop.create_task(coro)
        task.add_done_callback(lambda _: done.set())
        tasks.append(task)

    loop.call_soon_threadsafe(start)
    try:
        done.wait()
    except BaseException:
        loop.call_soon_threadsafe(lambda: tasks[0].cancel())  # runs after start(): the task exists
        done.wait(CANCEL_WAIT_S)
        raise
    return tasks[0].result()


def _run_beside(coro: Coroutine[Any, Any, T]) -> T:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _forget_after_fork() -> None:
    global _loop, _thread, _lock
    _loop, _thread, _lock = None, None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
