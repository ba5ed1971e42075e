"""Run blocking work from async code in a worker thread that may still talk to Airflow.

Blocking work of ours in the triggerer (building a client, refreshing assumed-role credentials) can reach
Airflow's channel to its supervisor without calling it directly: reading ``Connection.extra_dejson`` or
building a ``Connection`` masks secrets, and masking sends a message to the supervisor. How a worker thread
may use that channel depends on the version:

- Airflow 3.0: the synchronous ``send`` wraps the async exchange in asgiref's ``async_to_sync``. In a
  thread started by asgiref's ``sync_to_async`` it hands the exchange to the waiting event loop, where it
  runs under the channel's lock. In a plain worker thread (``asyncio.to_thread``) it reads the supervisor's
  socket from a second event loop and races the triggerer's own reads: "Response read out of order", then
  a dead trigger runner.
- Airflow 3.2: ``send`` holds a thread lock while the loop runs the exchange, so a send from the
  loop's own thread meanwhile stops the triggerer. The connection is therefore read on the loop there
  (:mod:`~airflow_provider_optjob.triggerer_runtime.connection_lookup`), and no work of ours in a thread reaches the
  channel.
- Airflow 3.3: ``send`` schedules the exchange on the triggerer's loop from any thread.
- Airflow 2: no channel; the work runs in a worker thread like any blocking call.

So every blocking call of ours goes through :func:`run_in_worker_thread`, never ``asyncio.to_thread``.

Handing a call to a thread costs the loop a fraction of a millisecond. When a triggerer starts a thousand of
our triggers in one turn of its loop, a thousand hand-offs in that turn would stall it for the better part of
a second; so at most :data:`CALLS_IN_THREADS_PER_LOOP` of our calls are in threads at once per event loop,
and the others wait their turn, which costs the loop next to nothing.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_optjob.triggerer_runtime.run_to_completion import run_to_completion

if TYPE_CHECKING:
    from collections.abc import Callable

_Result = TypeVar("_Result")

#: How many of our blocking calls one event loop hands to worker threads at once.
CALLS_IN_THREADS_PER_LOOP = 4

_slots_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def run_in_worker_thread(function: Callable[..., _Result], *args: Any) -> _Result:
    """
    Call ``function(*args)`` in a worker thread of the running loop's executor and return its result.

    Waits for one of the loop's :data:`CALLS_IN_THREADS_PER_LOOP` slots first. Once started, the call runs to
    its end even if the caller is cancelled (see :mod:`~airflow_provider_optjob.triggerer_runtime.run_to_completion`),
    and keeps its slot until then.

    Inside the call, Airflow's synchronous supervisor channel routes back to the waiting loop (see the
    module's docstring), so secret masking and connection lookups made there are safe.

    :param function: the blocking callable.
    :param args: its positional arguments.
    """
    from asgiref.sync import sync_to_async

    loop = asyncio.get_running_loop()
    slots = _slots_by_loop.get(loop)
    if slots is None:
        slots = _slots_by_loop[loop] = asyncio.Semaphore(CALLS_IN_THREADS_PER_LOOP)
    await slots.acquire()
    call = asyncio.ensure_future(sync_to_async(function, thread_sensitive=False)(*args))
    call.add_done_callback(lambda _: slots.release())
    return await run_to_completion(call)
