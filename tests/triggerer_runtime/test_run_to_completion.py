"""Exchanges with the supervisor finish even when the trigger that started them is cancelled."""

from __future__ import annotations

import asyncio
import gc

import pytest

from airflow_provider_optjob.triggerer_runtime.run_to_completion import run_to_completion


class LockedChannel:
    """A channel like the trigger runner's up to Airflow 3.2: a request, then the next response, under one lock."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.responses: asyncio.Queue[int] = asyncio.Queue()
        self.next_id = 0
        self.in_flight = asyncio.Event()

    async def send(self) -> int:
        request_id = self.next_id
        self.next_id += 1
        async with self.lock:
            self.in_flight.set()
            asyncio.get_running_loop().call_later(0.05, self.responses.put_nowait, request_id)
            response_id = await self.responses.get()
            if response_id != request_id:
                raise RuntimeError(f"Response read out of order! Got {response_id}, expected {request_id}")
            return response_id


async def test_a_cancelled_caller_leaves_no_response_unread():
    channel = LockedChannel()

    async def trigger() -> int:
        return await run_to_completion(channel.send())

    cancelled = asyncio.create_task(trigger())
    await channel.in_flight.wait()  # the request is written, its response not yet read
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled

    assert await channel.send() == 1  # the next exchange reads its own response


async def test_without_it_the_next_exchange_reads_the_wrong_response():
    """The failure it prevents, on the same channel: a sanity check of the stand-in."""
    channel = LockedChannel()
    cancelled = asyncio.create_task(channel.send())
    await channel.in_flight.wait()
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled

    with pytest.raises(RuntimeError, match="out of order"):
        await channel.send()


async def test_the_caller_stops_waiting_at_once_and_the_exchange_ends_later():
    started = asyncio.Event()
    answered = asyncio.Event()  # the exchange's answer arrives when the test says, not after a timer
    finished = asyncio.Event()

    async def slow_exchange() -> str:
        started.set()
        await answered.wait()
        finished.set()
        return "done"

    caller = asyncio.create_task(run_to_completion(slow_exchange()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert not finished.is_set()

    answered.set()
    await asyncio.wait_for(finished.wait(), 60)


async def test_results_and_errors_reach_a_caller_that_waits(caplog):
    async def answer() -> int:
        return 42

    async def refuse() -> None:
        raise LookupError("no such connection")

    assert await run_to_completion(answer()) == 42
    with pytest.raises(LookupError, match="no such connection"):
        await run_to_completion(refuse())


async def test_an_abandoned_exchange_error_is_not_logged_as_never_retrieved(caplog):
    gate = asyncio.Event()

    async def failing_later() -> None:
        await gate.wait()
        raise LookupError("late failure")

    caller = asyncio.create_task(run_to_completion(failing_later()))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    gate.set()
    await asyncio.sleep(0.01)
    gc.collect()
    await asyncio.sleep(0)

    assert "never retrieved" not in caplog.text
