"""Blocking calls from async code: in a worker thread, a few at a time per event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING

import pytest

from airflow_provider_optjob.triggerer_runtime.worker_thread import CALLS_IN_THREADS_PER_LOOP, run_in_worker_thread

if TYPE_CHECKING:
    from collections.abc import Callable

#: Bounds waits for things that happen anyway, long before this on any machine.
GENEROUS_SECONDS = 120.0
#: Room for a call that should not start to start anyway, were the limit broken. A correct implementation passes
#: whatever the machine's speed; a slow machine only makes a broken one less likely to show.
ROOM_SECONDS = 0.2


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait, without blocking the loop, until ``condition()`` holds (a bound only ends a wait that failed)."""
    deadline = time.monotonic() + GENEROUS_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what}: still not so after {GENEROUS_SECONDS} s"
        await asyncio.sleep(0.005)


async def test_the_call_runs_in_a_worker_thread_and_returns_its_result():
    def where(tag: str) -> tuple[str, int]:
        return tag, threading.get_ident()

    tag, thread = await run_in_worker_thread(where, "ok")

    assert tag == "ok"
    assert thread != threading.get_ident()


async def test_many_calls_at_once_take_turns_in_a_few_threads():
    lock = threading.Lock()
    running = 0
    most_at_once = 0
    release = threading.Event()
    slots_full = threading.Event()

    def blocking(index: int) -> int:
        nonlocal running, most_at_once
        with lock:
            running += 1
            most_at_once = max(most_at_once, running)
            if running == CALLS_IN_THREADS_PER_LOOP:
                slots_full.set()
        release.wait(GENEROUS_SECONDS)
        with lock:
            running -= 1
        return index

    calls = asyncio.gather(*(run_in_worker_thread(blocking, index) for index in range(50)))
    # The first calls are in their threads, the rest wait.
    assert await asyncio.to_thread(slots_full.wait, GENEROUS_SECONDS)
    await asyncio.sleep(ROOM_SECONDS)  # room for a call beyond the limit to start, were there no limit
    release.set()

    assert await calls == list(range(50))
    assert most_at_once == CALLS_IN_THREADS_PER_LOOP


async def test_an_error_in_the_call_is_raised_and_frees_its_slot():
    def failing() -> None:
        raise LookupError("no such thing")

    for _ in range(CALLS_IN_THREADS_PER_LOOP + 1):
        with pytest.raises(LookupError, match="no such thing"):
            await run_in_worker_thread(failing)
    assert await run_in_worker_thread(len, "free") == 4


async def test_a_cancelled_caller_lets_the_started_call_finish_and_keep_its_slot_until_then():
    first_started = threading.Event()
    release_first = threading.Event()
    first_finished = threading.Event()
    release_others = threading.Event()
    lock = threading.Lock()
    others_started = 0

    started_before_first_finished = 0

    def first() -> None:
        first_started.set()
        release_first.wait(GENEROUS_SECONDS)
        first_finished.set()

    def other() -> None:
        nonlocal others_started, started_before_first_finished
        with lock:
            others_started += 1
            started_before_first_finished += not first_finished.is_set()
        release_others.wait(GENEROUS_SECONDS)

    caller = asyncio.create_task(run_in_worker_thread(first))
    assert await asyncio.to_thread(first_started.wait, GENEROUS_SECONDS)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller

    others = asyncio.gather(*(run_in_worker_thread(other) for _ in range(CALLS_IN_THREADS_PER_LOOP)))
    await until(lambda: others_started >= CALLS_IN_THREADS_PER_LOOP - 1, "the calls with a free slot started")
    await asyncio.sleep(ROOM_SECONDS)  # room for one more call to start, were the cancelled call's slot free
    assert others_started == CALLS_IN_THREADS_PER_LOOP - 1  # the cancelled caller's call still holds a slot
    release_first.set()
    assert await asyncio.to_thread(first_finished.wait, GENEROUS_SECONDS)
    await until(lambda: others_started == CALLS_IN_THREADS_PER_LOOP, "the last call started once the slot was free")
    release_others.set()
    await others
    # Counted in the threads themselves: only the calls that had a free slot started while the first one ran.
    assert started_before_first_finished == CALLS_IN_THREADS_PER_LOOP - 1
