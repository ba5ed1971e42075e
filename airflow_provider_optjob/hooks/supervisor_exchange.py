"""Exchanges with the triggerer's supervisor that cancelling a trigger cannot cut in half.

Up to Airflow 3.2, the trigger runner's channel to its supervisor writes a request and then reads the next
response, under one lock. A trigger cancelled between the two (a person clears or marks its task, the task
times out, the trigger moves to another triggerer) leaves its response unread. The next exchange, often the
runner's own state sync, then reads that response instead of its own, raises "Response read out of order",
and the trigger runner dies with every trigger of the deployment. Airflow 3.3 matches responses to requests
by id and is safe either way.

So every exchange of ours (a connection lookup, a blocking call in a worker thread that may mask secrets, a
read of the task's state, the asset state store) runs as a task of its own, shielded from its caller's
cancellation: a cancelled caller stops waiting at once, and the exchange finishes in the background, its
result dropped.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable

_Result = TypeVar("_Result")


async def finish_exchange(exchange: Awaitable[_Result]) -> _Result:
    """
    Await ``exchange`` to its end, even if the caller is cancelled meanwhile; return its result.

    If the caller is cancelled, :class:`asyncio.CancelledError` reaches it at once, and ``exchange`` goes on
    in its own task; its result or error is then dropped.

    :param exchange: a coroutine or future that talks to the supervisor.
    """
    task = asyncio.ensure_future(exchange)
    task.add_done_callback(_retrieve_outcome)
    return await asyncio.shield(task)


def _retrieve_outcome(task: asyncio.Future[Any]) -> None:
    # Marks an abandoned exchange's error as seen: asyncio would log it as never retrieved.
    if not task.cancelled():
        task.exception()
