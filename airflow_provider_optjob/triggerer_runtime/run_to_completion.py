"""Work in the triggerer that cancelling its trigger must not cut in half.

Two kinds of work of ours go on after their trigger is cancelled:

- **Exchanges with the supervisor.** Up to Airflow 3.2, the trigger runner's channel to its supervisor
  writes a request and then reads the next response, under one lock. A trigger cancelled between the two (a
  person clears or marks its task, the task times out, the trigger moves to another triggerer) leaves its
  response unread. The next exchange, often the runner's own state sync, then reads that response instead of
  its own, raises "Response read out of order", and the trigger runner dies with every trigger of the
  deployment. Airflow 3.3 matches responses to requests by id. So every exchange of ours (a connection
  lookup, a blocking call in a worker thread that may mask secrets, a read of the task's state) runs to
  its end. The event trigger's asset state store is left out: Airflow has it on 3.3 only, and on 3.3.0 and
  3.3.1 it is reached through the greenback portal of the trigger's own task, which a task of its own
  would not have.
- **Stopping a job from** ``on_kill``. Airflow 3.3 cancels a trigger that a person ended, then awaits its
  ``on_kill``; it sends the same cancellation again at its next state sync, about a second later, which
  cancels an ``on_kill`` still running. A stop that was decided must still reach SageMaker.

:func:`run_to_completion` runs such work as a task of its own, shielded from its caller's cancellation: a
cancelled caller stops waiting at once, and the work finishes in the background, its result dropped.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable

_Result = TypeVar("_Result")

#: Work whose caller was cancelled: referenced here until it ends, as the event loop keeps only weak references.
_running: set[asyncio.Future[Any]] = set()


async def run_to_completion(work: Awaitable[_Result]) -> _Result:
    """
    Await ``work`` to its end, even if the caller is cancelled meanwhile; return its result.

    If the caller is cancelled, :class:`asyncio.CancelledError` reaches it at once, and ``work`` goes on in
    its own task; its result or error is then dropped.

    :param work: a coroutine or future (an exchange with the supervisor, a call to AWS).
    """
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(_forget)
    return await asyncio.shield(task)


def _forget(task: asyncio.Future[Any]) -> None:
    _running.discard(task)
    if not task.cancelled():
        task.exception()  # marks an abandoned task's error as seen: asyncio would log it as never retrieved
